/**
 * Runs one node in the foreground until SIGTERM or SIGINT, then stops it gracefully (daemon.ts `stop`):
 * the process entry `src/node/main.ts` (what `clusterUp` spawns) and `bftkv node` share it.
 */
import { jsonLog, startNode, type RunningNode } from './daemon.js';

/**
 * Starts the node in `dir` (rejects if it cannot start), calls `onStarted`, and resolves with the exit
 * code once a signal stopped it: 0 after a clean stop, 1 if stopping failed. The handlers are installed
 * before the node starts, so a signal that arrives while it starts (or right after `onStarted` announced
 * it) stops it too; after the first signal they are removed, so a second one ends the process at once.
 */
export async function runNodeUntilSignal(
  dir: string,
  onStarted: (node: RunningNode) => void = () => undefined,
): Promise<number> {
  let received: NodeJS.Signals | undefined;
  let wake = () => undefined as void;
  const onSignal = (signal: NodeJS.Signals) => {
    received = signal;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const node = await startNode(dir);
    onStarted(node);
    const signal =
      received ?? (await new Promise<NodeJS.Signals>((resolve) => (wake = () => resolve(received!))));
    jsonLog({ level: 'info', event: 'signal', signal, id: node.id });
    try {
      await node.stop();
      return 0;
    } catch (error) {
      jsonLog({ level: 'error', event: 'stop-failed', id: node.id, error: String(error) });
      return 1;
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
