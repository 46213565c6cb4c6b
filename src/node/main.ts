/**
 * Process entry of one or more nodes: `node --import tsx src/node/main.ts --dir DIR [--dir DIR …]`. Starts
 * the nodes and stops them gracefully on SIGTERM or SIGINT (exit 0); a failure to start exits 1.
 */
import { parseArgs } from 'node:util';
import { jsonLog } from './daemon.js';
import { runNodesUntilSignal } from './run.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string', multiple: true } }, strict: true });
  const dirs = values.dir ?? [];
  if (dirs.length === 0) {
    jsonLog({ level: 'error', event: 'usage', message: 'usage: main.ts --dir DIR [--dir DIR …]' });
    process.exitCode = 2;
    return;
  }
  let code: number;
  try {
    code = await runNodesUntilSignal(dirs);
  } catch (error) {
    jsonLog({ level: 'error', event: 'start-failed', dirs, error: String(error) });
    code = 1;
  }
  process.exit(code);
}

await main();
