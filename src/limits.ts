/**
 * Every bound in one place (docs/PROTOCOL.md §Limits). Decoders enforce these before allocating; handlers
 * enforce them before doing work. Changing one is a protocol change.
 */
export const LIMITS = {
  /** Variable (key) length. */
  keyBytesMax: 1024,
  /** Value length. */
  valueBytesMax: 1 << 20,
  /** UID length (an e-mail or URL). */
  uidBytesMax: 256,
  /** Network address length. */
  addressBytesMax: 256,
  /** Certifications carried by one certificate. */
  certificationsMax: 256,
  /** Signatures in one collective signature S. */
  collectiveSignersMax: 256,
  /** Certificates in one join response or gossip message. */
  certificatesPerMessageMax: 4096,
  /** Revocation proofs in one message. */
  proofsPerMessageMax: 1024,
  /** Records in one gossip message. */
  recordsPerGossipMax: 64,
  /** One encoded message (frame) — must hold a maximal value plus its certificates and signatures. */
  messageBytesMax: (1 << 20) + (1 << 20),
  /** Largest accepted timestamp step over the latest known version (write-once excluded). */
  timestampStepMax: 1_000_000n,
  /** Vertices a node keeps in its trust graph. */
  graphVerticesMax: 10_000,
  /** Maximal cliques enumerated per quorum computation before failing closed. */
  maximalCliquesMax: 100_000,
  /** Error message text carried in an error response. */
  errorTextBytesMax: 512,
} as const;

/** The write-once (sealed) timestamp, 2^64 − 1 (paper §4). */
export const SEALED_TIMESTAMP = (1n << 64n) - 1n;
