/**
 * A protocol-level connection to a local cluster made by `clusterUp` (tests and tools that drive
 * BftkvClient directly): the cluster's client identity (DIR/client) or another one, every certificate of
 * DIR/certs in its trust graph, a TlsTransport, the system clock and secure randomness. Built on the client
 * API's `connect`, without persisting client state.
 */
import { connect } from '../client/index.js';
import type { BftkvClient, ClientOptions } from '../protocol/client.js';
import type { TlsTransport } from '../transport/tls.js';

export interface ClusterConnection {
  readonly client: BftkvClient;
  readonly transport: TlsTransport;
  /** Closes the transport's connections (the process can then exit). */
  close(): Promise<void>;
}

/** Connects to the cluster in `clusterDir` as its client identity (or the identity in `identityDir`). */
export async function connectCluster(
  clusterDir: string,
  options: { identityDir?: string; clientOptions?: Partial<ClientOptions> } = {},
): Promise<ClusterConnection> {
  const kv = await connect({
    cluster: clusterDir,
    persist: false,
    ...(options.identityDir === undefined ? {} : { id: options.identityDir }),
    ...(options.clientOptions === undefined ? {} : { clientOptions: options.clientOptions }),
  });
  return { client: kv.protocol, transport: kv.transport, close: () => kv.close() };
}
