/**
 * The network lab of the namespace test: Linux network namespaces joined by veth pairs to a bridge in a
 * dedicated switch namespace, plus the impairment (delay, jitter, loss) on every link. Everything is made
 * with iproute2 (`ip`, `tc`) inside namespaces named with one random prefix, so the host's own network is
 * never touched and `destroyLab` can remove exactly what was made.
 *
 * Two ways to impair the links (the layout of the namespaces is the same):
 *   netem  `tc qdisc … netem delay D J loss L` on every host's eth0 egress: each packet is delayed and
 *          dropped once, on the link of the host that sends it. Cluster addresses live on eth0.
 *   relay  for kernels built without sch_netem: every host's eth0 only carries a VXLAN underlay to
 *          test/netns/relay.ts, a userspace switch in the switch namespace that delays and drops each
 *          frame once with the same parameters. Cluster addresses live on vx0, the VXLAN overlay.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type ImpairMode = 'netem' | 'relay';

export interface Impairment {
  /** One-way delay added to every packet (netem: on the sender's link). */
  readonly delayMs: number;
  /** The delay is uniform in [delayMs − jitterMs, delayMs + jitterMs]. */
  readonly jitterMs: number;
  /** Probability that a packet is dropped, in percent. */
  readonly lossPercent: number;
}

export interface LabHost {
  /** Network namespace of this host. */
  readonly ns: string;
  /** The host's end of its veth pair in the switch namespace (what a cut takes down). */
  readonly port: string;
  /** The host's cluster IPv4 address (eth0 with netem, vx0 with the relay). */
  readonly ip: string;
  /** Relay mode: the host's eth0 address, which carries the VXLAN underlay. */
  readonly underlayIp: string | null;
}

export interface Lab {
  readonly prefix: string;
  readonly mode: ImpairMode;
  /** The /24 of the cluster addresses, e.g. 10.213.1.0/24. */
  readonly subnet: string;
  readonly switchNs: string;
  /** Host name (server names and `client`) → host. */
  readonly hosts: Readonly<Record<string, LabHost>>;
  /** Relay mode: where the relay listens and the underlay addresses it forwards to. */
  readonly relay: { readonly host: string; readonly port: number; readonly peers: readonly string[] } | null;
  readonly impairment: Impairment;
}

/** Port of the VXLAN underlay (IANA). */
const VXLAN_PORT = 4789;
const VXLAN_ID = 4213;
/** Bounds every ip/tc call: a wedged command must not hang the test. */
const COMMAND_TIMEOUT_MS = 10_000;

const RELAY = fileURLToPath(new URL('./relay.ts', import.meta.url));

/** Runs one command; rejects with its stderr when it fails. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: COMMAND_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
    });
  });
}

const ip = (...args: string[]) => run('ip', args);
/** The words of a command line made of names, addresses and numbers (none holds a space). */
const words = (line: string) => line.split(' ').filter((w) => w !== '');
const tc = (...args: string[]) => run('tc', args);

/** Whether the kernel has the netem qdisc (tried on the switch namespace's loopback, then removed). */
export async function netemAvailable(switchNs: string): Promise<boolean> {
  try {
    await tc('-n', switchNs, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms');
  } catch {
    return false;
  }
  await tc('-n', switchNs, 'qdisc', 'del', 'dev', 'lo', 'root');
  return true;
}

/**
 * The second octet of a 10.N.0.0/16 that the root namespace neither addresses nor routes (the lab's
 * namespaces are private, but a test that borrows a subnet in use would confuse whoever reads `ip` output).
 */
export async function freeSecondOctet(candidates: readonly number[]): Promise<number> {
  const seen = (await ip('-4', 'addr', 'show')) + (await ip('-4', 'route', 'show', 'table', 'all'));
  for (const n of candidates) if (!new RegExp(`\\b10\\.${n}\\.`).test(seen)) return n;
  throw new Error(`no free subnet among 10.{${candidates.join(',')}}.0.0/16 in the root namespace`);
}

/**
 * Creates the switch namespace and one namespace per host, each linked to the switch by a veth pair, with
 * addresses 10.N.1.H/24 (cluster) and, for the relay, 10.N.0.H/24 (underlay; the relay is 10.N.0.254).
 * `onNamespace` is called as each namespace is created, before anything can fail in it, so the caller
 * can always remove what exists.
 */
export async function createLab(options: {
  readonly prefix: string;
  readonly secondOctet: number;
  readonly hostNames: readonly string[];
  readonly mode: ImpairMode | 'auto';
  readonly impairment: Impairment;
  readonly onNamespace: (ns: string) => void;
}): Promise<Lab> {
  const { prefix, secondOctet: n, hostNames } = options;
  if (hostNames.length > 200) throw new RangeError(`hostNames: at most 200, got ${hostNames.length}`);
  const switchNs = `${prefix}-sw`;
  await ip('netns', 'add', switchNs);
  options.onNamespace(switchNs);
  await ip('-n', switchNs, 'link', 'set', 'lo', 'up');
  let mode: ImpairMode;
  if (options.mode === 'auto') mode = (await netemAvailable(switchNs)) ? 'netem' : 'relay';
  else if (options.mode === 'netem' && !(await netemAvailable(switchNs)))
    throw new Error('this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM); try --impair relay');
  else mode = options.mode;
  await ip('-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge');
  if (mode === 'relay') await ip('-n', switchNs, 'addr', 'add', `10.${n}.0.254/24`, 'dev', 'br0');
  await ip('-n', switchNs, 'link', 'set', 'br0', 'up');

  const hosts: Record<string, LabHost> = {};
  for (const [i, name] of hostNames.entries()) {
    const h = 10 + i;
    hosts[name] = {
      ns: `${prefix}-${name}`,
      port: `p-${name}`.slice(0, 15),
      ip: `10.${n}.1.${h}`,
      underlayIp: mode === 'relay' ? `10.${n}.0.${h}` : null,
    };
  }
  for (const host of Object.values(hosts)) {
    await ip('netns', 'add', host.ns);
    options.onNamespace(host.ns);
  }
  await Promise.all(
    Object.values(hosts).map(async (host) => {
      const inHost = (...args: string[]) => ip('-n', host.ns, ...args);
      await inHost('link', 'set', 'lo', 'up');
      await ip(
        '-n',
        switchNs,
        'link',
        'add',
        host.port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        host.ns,
      );
      await ip('-n', switchNs, 'link', 'set', host.port, 'master', 'br0', 'up');
      if (host.underlayIp === null) {
        await inHost('addr', 'add', `${host.ip}/24`, 'dev', 'eth0');
        await inHost('link', 'set', 'eth0', 'up');
        return;
      }
      await inHost('addr', 'add', `${host.underlayIp}/24`, 'dev', 'eth0');
      await inHost('link', 'set', 'eth0', 'up');
      // Every frame goes to the relay (the one remote); one frame per TCP segment (gso_max_segs 1), so
      // the relay delays and drops packets, not 64 KiB bursts.
      await inHost(
        ...words(
          `link add vx0 type vxlan id ${VXLAN_ID} remote 10.${n}.0.254 local ${host.underlayIp} dstport ${VXLAN_PORT} dev eth0`,
        ),
      );
      await inHost('link', 'set', 'vx0', 'gso_max_segs', '1');
      await inHost('addr', 'add', `${host.ip}/24`, 'dev', 'vx0');
      await inHost('link', 'set', 'vx0', 'up');
    }),
  );
  return {
    prefix,
    mode,
    subnet: `10.${n}.1.0/24`,
    switchNs,
    hosts,
    relay:
      mode === 'relay'
        ? {
            host: `10.${n}.0.254`,
            port: VXLAN_PORT,
            peers: Object.values(hosts).map((h) => h.underlayIp!),
          }
        : null,
    impairment: options.impairment,
  };
}

/** Cuts a host off (its switch port down: no carrier on its eth0), or heals it. */
export async function setLink(lab: Lab, host: string, up: boolean): Promise<void> {
  const h = lab.hosts[host];
  if (h === undefined) throw new RangeError(`host: no host named ${JSON.stringify(host)} in the lab`);
  await ip('-n', lab.switchNs, 'link', 'set', h.port, up ? 'up' : 'down');
}

/** A running relay (relay mode): impairment on or off, frame counters. */
export interface RelayHandle {
  readonly pid: number;
  impair(i: Impairment | null): Promise<void>;
  stats(): Promise<RelayStats>;
  /** Closes its stdin (it exits) and waits, SIGKILL after 2 s. */
  stop(): Promise<void>;
}

export interface RelayStats {
  readonly frames: number;
  readonly forwarded: number;
  readonly dropped: number;
  readonly checksumsFixed: number;
}

/** Starts test/netns/relay.ts in the switch namespace and waits until it listens. */
export async function startRelay(lab: Lab, seed: string): Promise<RelayHandle> {
  if (lab.relay === null) throw new Error('startRelay: the lab does not use the relay');
  const { host, port, peers } = lab.relay;
  const options = words(`--listen ${host}:${port} --peers ${peers.join(',')} --seed ${seed}`);
  const command = ['netns', 'exec', lab.switchNs, process.execPath, '--import', 'tsx', RELAY, ...options];
  const child: ChildProcess = spawn('ip', command, { stdio: ['pipe', 'pipe', 'inherit'] });
  if (child.pid === undefined) throw new Error('could not start the relay');
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  lines.on('line', (line) => {
    const next = waiting.shift();
    if (next !== undefined) next(JSON.parse(line) as Record<string, unknown>);
  });
  const ask = (command: Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error('the relay exited'));
      waiting.push(resolve);
      if (Object.keys(command).length > 0) child.stdin!.write(`${JSON.stringify(command)}\n`);
    });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const ready = await Promise.race([ask({}), gone.then(() => ({ event: 'exited' }))]);
    if (ready.event !== 'ready') throw new Error('the relay did not start');
  } finally {
    clearTimeout(timeout);
  }
  return {
    pid: child.pid,
    impair: async (i) => {
      await ask({ impairment: i ?? { delayMs: 0, jitterMs: 0, lossPercent: 0 } });
    },
    stats: async () => (await ask({ stats: true })) as unknown as RelayStats,
    stop: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Turns the impairment on (or off with null) on every host's link. */
export async function impair(lab: Lab, relay: RelayHandle | null, i: Impairment | null): Promise<void> {
  if (lab.mode === 'relay') {
    if (relay === null) throw new Error('impair: relay mode without a relay');
    return relay.impair(i);
  }
  await Promise.all(
    Object.values(lab.hosts).map((h) =>
      i === null
        ? tc('-n', h.ns, 'qdisc', 'del', 'dev', 'eth0', 'root')
        : tc(
            ...words(`-n ${h.ns} qdisc replace dev eth0 root netem`),
            ...words(`delay ${i.delayMs}ms ${i.jitterMs}ms loss ${i.lossPercent}%`),
          ),
    ),
  );
}

/** Pids of the processes in namespace `ns` (what `ip netns pids` reports). */
export async function namespacePids(ns: string): Promise<number[]> {
  const out = await ip('netns', 'pids', ns).catch(() => '');
  return out
    .split('\n')
    .map((s) => Number.parseInt(s, 10))
    .filter((p) => Number.isSafeInteger(p) && p > 0);
}

/**
 * Removes namespaces this test created: SIGKILLs whatever still runs in them (only this test's processes
 * can: the names are random), waits until they are gone, then deletes each namespace, which destroys its
 * veth ends, the bridge and the VXLAN devices with it. Returns what could not be removed.
 */
export async function destroyNamespaces(namespaces: readonly string[]): Promise<string[]> {
  for (const ns of namespaces)
    for (const pid of await namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  const deadline = Date.now() + 5000;
  for (const ns of namespaces)
    while ((await namespacePids(ns)).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  const left: string[] = [];
  for (const ns of namespaces) {
    try {
      await ip('netns', 'del', ns);
    } catch (error) {
      left.push(`${ns}: ${String(error)}`);
    }
  }
  const listed = await ip('netns', 'list').catch(() => '');
  for (const ns of namespaces)
    if (listed.split('\n').some((l) => l.split(' ')[0] === ns)) left.push(`${ns}: still listed`);
  return left;
}
