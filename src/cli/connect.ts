/**
 * A client connection to a local cluster made by `clusterUp`: the cluster's client identity (DIR/client),
 * every certificate of DIR/certs in its trust graph, a TlsTransport, the system clock and secure randomness.
 */
import { join } from 'node:path';
import { systemClock } from '../env/clock.js';
import { secureRandom } from '../env/random.js';
import { BftkvClient, type ClientOptions } from '../protocol/client.js';
import { TlsTransport } from '../transport/tls.js';
import { loadIdentity, readCertificateFile } from '../node/identity.js';
import { certificateFiles, CLIENT_NAME } from '../node/cluster.js';

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
  const identity = await loadIdentity(options.identityDir ?? join(clusterDir, CLIENT_NAME));
  const certs = await Promise.all((await certificateFiles(clusterDir)).map((f) => readCertificateFile(f)));
  const transport = new TlsTransport({ key: identity.key, clock: systemClock, random: secureRandom });
  const client = new BftkvClient({
    key: identity.key,
    certificate: identity.certificate,
    clock: systemClock,
    random: secureRandom,
    transport,
    ...(options.clientOptions === undefined ? {} : { options: options.clientOptions }),
  });
  client.graph.addCertificates(certs);
  return { client, transport, close: () => transport.close() };
}
