/**
 * Process entry of one node: `node --import tsx src/node/main.ts --dir DIR`. Starts the node in DIR and
 * stops it gracefully on SIGTERM or SIGINT (exit 0); a failure to start exits 1.
 */
import { parseArgs } from 'node:util';
import { jsonLog, startNode, type RunningNode } from './daemon.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' } }, strict: true });
  if (values.dir === undefined) {
    jsonLog({ level: 'error', event: 'usage', message: 'usage: main.ts --dir DIR' });
    process.exitCode = 2;
    return;
  }
  let node: RunningNode;
  try {
    node = await startNode(values.dir);
  } catch (error) {
    jsonLog({ level: 'error', event: 'start-failed', dir: values.dir, error: String(error) });
    process.exit(1);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    jsonLog({ level: 'info', event: 'signal', signal, id: node.id });
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        jsonLog({ level: 'error', event: 'stop-failed', id: node.id, error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

await main();
