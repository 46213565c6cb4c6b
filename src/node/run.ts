/**
 * Runs nodes in the foreground until SIGTERM or SIGINT, then stops them gracefully (daemon.ts `stop`): the
 * process entry `src/node/main.ts` (what `clusterUp` spawns) and `bftkv node` share it. One process may
 * host several nodes (a local cluster on a machine with fewer cores than nodes, docs/OPERATIONS.md): each
 * keeps its own identity, data directory, TLS listener and health endpoint; they share only the process.
 */
import { jsonLog, startNode, type RunningNode } from './daemon.js';

/**
 * Starts the nodes in `dirs` (rejects, after stopping those already started, if one cannot start), calls
 * `onStarted`, and resolves with the exit code once a signal stopped them: 0 after a clean stop, 1 if
 * stopping one failed. The handlers are installed before the nodes start, so a signal that arrives while
 * they start (or right after `onStarted` announced them) stops them too; after the first signal they are
 * removed, so a second one ends the process at once.
 */
export async function runNodesUntilSignal(
  dirs: readonly string[],
  onStarted: (nodes: readonly RunningNode[]) => void = () => undefined,
): Promise<number> {
  if (dirs.length === 0) throw new RangeError('no node directory');
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
  const nodes: RunningNode[] = [];
  const stopAll = async (): Promise<number> => {
    const results = await Promise.allSettled(nodes.map((n) => n.stop()));
    let code = 0;
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        jsonLog({ level: 'error', event: 'stop-failed', id: nodes[i]!.id, error: String(r.reason) });
        code = 1;
      }
    });
    return code;
  };
  try {
    try {
      for (const dir of dirs) nodes.push(await startNode(dir));
    } catch (error) {
      await stopAll();
      throw error;
    }
    onStarted(nodes);
    const signal =
      received ?? (await new Promise<NodeJS.Signals>((resolve) => (wake = () => resolve(received!))));
    for (const node of nodes) jsonLog({ level: 'info', event: 'signal', signal, id: node.id });
    return await stopAll();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** Runs the one node in `dir` (runNodesUntilSignal for a single directory). */
export function runNodeUntilSignal(
  dir: string,
  onStarted: (node: RunningNode) => void = () => undefined,
): Promise<number> {
  return runNodesUntilSignal([dir], (nodes) => onStarted(nodes[0]!));
}
