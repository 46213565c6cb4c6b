/**
 * Process entry of one node: `node --import tsx src/node/main.ts --dir DIR`. Starts the node in DIR and
 * stops it gracefully on SIGTERM or SIGINT (exit 0); a failure to start exits 1.
 */
import { parseArgs } from 'node:util';
import { jsonLog } from './daemon.js';
import { runNodeUntilSignal } from './run.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' } }, strict: true });
  if (values.dir === undefined) {
    jsonLog({ level: 'error', event: 'usage', message: 'usage: main.ts --dir DIR' });
    process.exitCode = 2;
    return;
  }
  let code: number;
  try {
    code = await runNodeUntilSignal(values.dir);
  } catch (error) {
    jsonLog({ level: 'error', event: 'start-failed', dir: values.dir, error: String(error) });
    code = 1;
  }
  process.exit(code);
}

await main();
