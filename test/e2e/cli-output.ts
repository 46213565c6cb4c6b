/**
 * The JSON lines the `bftkv` commands print with --json, as the CLI tests read them (bigints are decimal
 * strings). Only the fields the tests look at.
 */
export interface NodeRefJson {
  readonly id: string;
  readonly uid: string;
}

export interface FailureJson {
  readonly ok: false;
  readonly error: { readonly code: string; readonly message: string };
}

export interface InitJson {
  readonly id: string;
  readonly uid: string;
  readonly address: string;
}

export interface CertJson {
  readonly certificate: NodeRefJson & {
    readonly certifications: ReadonlyArray<NodeRefJson & { readonly verified: boolean }>;
  };
  readonly merged?: number;
}

export interface TrustJson {
  readonly certified: ReadonlyArray<NodeRefJson & { readonly file: string }>;
}

export interface StatusJson {
  readonly nodes: ReadonlyArray<NodeRefJson & { readonly role: string; readonly certifiedBy: string[] }>;
  readonly cliques: ReadonlyArray<{
    readonly members: readonly NodeRefJson[];
    readonly b: number;
    readonly certifiedSelf: number;
  }>;
  readonly kv: { readonly nodes: readonly NodeRefJson[]; readonly quorum: number };
  readonly canWrite: boolean;
  readonly revocations: readonly unknown[];
}

export interface JoinJson {
  readonly contacted: number;
  readonly answered: number;
}

export interface PutJson {
  readonly t: string;
  readonly sealed: boolean;
  readonly signers: readonly NodeRefJson[];
  readonly storedOn: readonly NodeRefJson[];
}

export interface GetJson {
  readonly value: string | null;
  readonly sealed: boolean;
  readonly writer: NodeRefJson;
}

export interface ClusterUpJson {
  readonly topology: string;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly id: string; readonly pid: number }>;
}

export interface ClusterStatusJson {
  readonly running: number;
  readonly nodes: ReadonlyArray<{ readonly accepting: boolean }>;
}

export interface ClusterDownJson {
  readonly stopped: readonly string[];
  readonly killed: readonly string[];
}

/** `bftkv demo` / `npm start -- --json`. */
export interface DemoJson {
  readonly ok: boolean;
  readonly nodes: number;
  readonly restarted: boolean;
  readonly started: number;
  readonly running: boolean;
  readonly cliques: ReadonlyArray<{ readonly members: readonly string[] }>;
  readonly writes: ReadonlyArray<{
    readonly value: string;
    readonly sealed: boolean;
    readonly signers: readonly string[];
    readonly storedOn: readonly string[];
  }>;
  readonly reads: ReadonlyArray<{ readonly value: string | null }>;
  readonly refusals: ReadonlyArray<{ readonly code: string }>;
  readonly stopped?: ClusterDownJson;
}
