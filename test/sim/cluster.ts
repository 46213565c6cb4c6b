/**
 * A whole simulated cluster: servers (honest or Byzantine) over in-memory "disks", clients, the virtual
 * network, a gossip ticker, and crash/restart. Everything is driven by one Simulation and one seed.
 */
import { BftkvClient, type ClientOptions } from '../../src/protocol/client.js';
import { BftkvServer, type ServerOptions } from '../../src/protocol/server.js';
import { persistGraph } from '../../src/protocol/node-state.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { RequestHandler } from '../../src/transport/transport.js';
import type { Certificate, NodeId } from '../../src/trust/certificate.js';
import { TrustGraph } from '../../src/trust/graph.js';
import type { RevocationProof } from '../../src/trust/revocation.js';
import { Simulation } from './event-loop.js';
import { SimNetwork, type NetworkFaults } from './network.js';
import { SeededRandom } from './prng.js';
import { materialize, type Identity, type TopologyDesc } from './topology.js';

/** Wraps an honest server into a (possibly Byzantine) request handler. */
export type ServerBehaviour = {
  readonly name: string;
  wrap(server: BftkvServer, ctx: BehaviourContext): RequestHandler;
};

export interface BehaviourContext {
  readonly cluster: SimCluster;
  readonly self: Identity;
  readonly random: SeededRandom;
}

export interface RevocationEvent {
  readonly at: number;
  readonly by: string;
  readonly byHonest: boolean;
  readonly accused: NodeId;
  readonly accusedName: string;
  readonly kind: RevocationProof['kind'];
}

interface ServerSlot {
  readonly identity: Identity;
  readonly storage: MemoryStorage;
  behaviour: ServerBehaviour | undefined;
  server: BftkvServer | undefined;
  up: boolean;
}

export interface ClusterOptions {
  readonly seed: bigint | number | string;
  readonly topology: TopologyDesc;
  readonly faults?: Partial<NetworkFaults>;
  readonly behaviours?: ReadonlyMap<string, ServerBehaviour>;
  readonly server?: Partial<ServerOptions>;
  readonly client?: Partial<ClientOptions>;
  readonly gossipIntervalMs?: number;
  readonly trace?: boolean;
  /** Servers that start unknown to everyone (they join later). */
  readonly latecomers?: readonly string[];
}

export class SimCluster {
  readonly sim: Simulation;
  readonly random: SeededRandom;
  readonly net: SimNetwork;
  readonly ids: Map<string, Identity>;
  readonly byName = new Map<NodeId, string>();
  readonly revocations: RevocationEvent[] = [];
  /** NodeIds that run Byzantine code (servers and clients). */
  readonly byzantine = new Set<NodeId>();
  private readonly slots = new Map<string, ServerSlot>();
  private readonly clients = new Map<string, BftkvClient>();
  private gossipStopped = false;

  private constructor(readonly options: ClusterOptions) {
    this.sim = new Simulation({ trace: options.trace ?? false });
    this.random = new SeededRandom(options.seed);
    this.net = new SimNetwork(this.sim, this.random.fork('network'), options.faults);
    this.ids = materialize(options.topology, this.random.fork('keys'));
    for (const [name, id] of this.ids) this.byName.set(id.id, name);
  }

  /** Builds the cluster and starts every server; servers know every certificate except latecomers'. */
  static async start(options: ClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(options);
    const late = new Set(options.latecomers ?? []);
    const known = [...c.ids.values()].filter((i) => !late.has(i.name)).map((i) => i.cert);
    for (const identity of c.ids.values()) {
      if (identity.desc.address === '') continue;
      const storage = new MemoryStorage();
      const graph = new TrustGraph();
      graph.addCertificates(late.has(identity.name) ? [identity.cert] : known);
      await persistGraph(storage, graph);
      const behaviour = options.behaviours?.get(identity.name);
      if (behaviour !== undefined) c.byzantine.add(identity.id);
      c.slots.set(identity.name, { identity, storage, behaviour, server: undefined, up: false });
    }
    for (const name of c.slots.keys()) await c.boot(name);
    c.scheduleGossip();
    return c;
  }

  name(id: NodeId): string {
    return this.byName.get(id) ?? id.slice(0, 8);
  }

  identity(name: string): Identity {
    const i = this.ids.get(name);
    if (i === undefined) throw new RangeError(`name: unknown node ${name}`);
    return i;
  }

  /** The honest server object of `name` (undefined while crashed). */
  server(name: string): BftkvServer | undefined {
    return this.slots.get(name)?.server;
  }

  /** The disk of server `name` (tests that tamper with or copy durable state). */
  storage(name: string): MemoryStorage {
    const slot = this.slots.get(name);
    if (slot === undefined) throw new RangeError(`name: unknown server ${name}`);
    return slot.storage;
  }

  serverNames(): string[] {
    return [...this.slots.keys()];
  }

  isUp(name: string): boolean {
    return this.slots.get(name)?.up ?? false;
  }

  isHonest(id: NodeId): boolean {
    return !this.byzantine.has(id);
  }

  private recordRevocation(by: string, byHonest: boolean, accused: NodeId, proof: RevocationProof): void {
    this.revocations.push({
      at: this.sim.now,
      by,
      byHonest,
      accused,
      accusedName: this.name(accused),
      kind: proof.kind,
    });
    if (this.sim.tracing) this.sim.trace(`${by} revoked ${this.name(accused)} (${proof.kind})`);
  }

  private async boot(name: string): Promise<void> {
    const slot = this.slots.get(name)!;
    slot.storage.reopen();
    const server = await BftkvServer.open({
      key: slot.identity.key,
      certificate: slot.identity.cert,
      storage: slot.storage,
      clock: this.sim.clock,
      random: this.random.fork(`server/${name}/${this.sim.now}`),
      transport: this.net.transportFor(slot.identity.id),
      options: this.options.server,
      onRevoke: (accused, proof) => this.recordRevocation(name, slot.behaviour === undefined, accused, proof),
    });
    slot.server = server;
    const handler: RequestHandler =
      slot.behaviour === undefined
        ? (from, payload) => server.handle(from, payload)
        : slot.behaviour.wrap(server, {
            cluster: this,
            self: slot.identity,
            random: this.random.fork(`byz/${name}`),
          });
    this.net.register(slot.identity.id, handler);
    slot.up = true;
  }

  /** Crash: volatile state is lost, the disk (storage) is kept. */
  crash(name: string): void {
    const slot = this.slots.get(name);
    if (slot === undefined || !slot.up) return;
    this.net.unregister(slot.identity.id);
    void slot.storage.close();
    slot.server = undefined;
    slot.up = false;
    if (this.sim.tracing) this.sim.trace(`crash ${name}`);
  }

  /** Restart after a crash, from what the disk holds. */
  async restart(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (slot === undefined || slot.up) return;
    await this.boot(name);
    if (this.sim.tracing) this.sim.trace(`restart ${name}`);
  }

  /** A client acting as `name` (created once; it knows every certificate the servers start with). */
  client(name: string, options: { knowsAll?: boolean; byzantine?: boolean } = {}): BftkvClient {
    let c = this.clients.get(name);
    if (c !== undefined) return c;
    const identity = this.identity(name);
    if (options.byzantine === true) this.byzantine.add(identity.id);
    c = new BftkvClient({
      key: identity.key,
      certificate: identity.cert,
      clock: this.sim.clock,
      random: this.random.fork(`client/${name}`),
      transport: this.net.transportFor(identity.id),
      options: this.options.client,
      onRevoke: (accused, proof) =>
        this.recordRevocation(name, !this.byzantine.has(identity.id), accused, proof),
    });
    if (options.knowsAll !== false) {
      const late = new Set(this.options.latecomers ?? []);
      c.graph.addCertificates([...this.ids.values()].filter((i) => !late.has(i.name)).map((i) => i.cert));
    }
    this.clients.set(name, c);
    return c;
  }

  /** Certificates of the named nodes. */
  certs(names: readonly string[]): Certificate[] {
    return names.map((n) => this.identity(n).cert);
  }

  private scheduleGossip(): void {
    const interval = this.options.gossipIntervalMs ?? 20;
    const tick = () => {
      if (this.gossipStopped) return;
      for (const slot of this.slots.values()) {
        if (slot.up && slot.server !== undefined && slot.behaviour === undefined)
          void slot.server.gossipRound();
      }
      this.sim.schedule(interval, tick, 'gossip');
    };
    this.sim.schedule(interval, tick, 'gossip');
  }

  /** Stops the periodic gossip so the event queue can drain. */
  stopGossip(): void {
    this.gossipStopped = true;
  }

  /** Runs `task` inside the simulation until it settles (or the virtual time budget ends). */
  async run<T>(task: () => Promise<T>, maxTimeMs = 600_000): Promise<T> {
    let settled = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    task().then(
      (v) => {
        settled = true;
        value = v;
      },
      (e: unknown) => {
        settled = true;
        failed = true;
        error = e;
      },
    );
    const result = await this.sim.runUntil(() => settled, {
      maxTimeMs: this.sim.now + maxTimeMs,
      maxEvents: 50_000_000,
    });
    if (!settled) throw new Error(`simulation did not settle: ${result} at t=${this.sim.now}`);
    if (failed) throw error;
    return value as T;
  }

  /** Lets virtual time pass (gossip, late messages). */
  async settle(ms: number): Promise<void> {
    await this.sim.runFor(ms);
  }
}
