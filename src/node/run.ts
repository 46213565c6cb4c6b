/**
 * Runs one node in the foreground until SIGTERM or SIGINT, then stops it gracefully (daemon.ts `stop`):
 * the process entry `src/node/main.ts` (what `clusterUp` spawns) and `bftkv node` share it.
 */
import { jsonLog, startNode, type RunningNode } from './daemon.js';

/**
 * Starts the node in `dir` (rejects if it cannot start), calls `onStarted`, and resolves with the exit
 * code once a signal stopped it: 0 after a clean stop, 1 if stopping failed.
 */
export async function runNodeUntilSignal(
  dir: string,
  onStarted: (node: RunningNode) => void = () => undefined,
): Promise<number> {
  const node = await startNode(dir);
  onStarted(node);
  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      jsonLog({ level: 'info', event: 'signal', signal, id: node.id });
      node.stop().then(
        () => resolve(0),
        (error: unknown) => {
          jsonLog({ level: 'error', event: 'stop-failed', id: node.id, error: String(error) });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
