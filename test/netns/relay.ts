/**
 * A userspace Ethernet switch over VXLAN (RFC 7348) that delays and drops frames: what `tc netem` does on
 * kernels built without sch_netem. Runs in the lab's switch namespace (test/netns/lab.ts):
 *
 *   node --import tsx test/netns/relay.ts --listen HOST:PORT --peers IP,IP,… --seed S
 *
 * Every host's vx0 sends all its frames, in VXLAN over UDP, to HOST:PORT. The relay learns which host
 * owns each source MAC address, and forwards each frame to the owner of its destination MAC, or to every
 * other peer when unknown or broadcast, after a delay uniform in [delay − jitter, delay + jitter], unless
 * it drops the frame (probability loss): one impairment per frame, as netem on the sender's link.
 *
 * The kernel leaves the inner TCP/UDP checksum of a locally sent packet to the device (CHECKSUM_PARTIAL),
 * and encapsulation keeps it that way, so the relay recomputes inner IPv4 TCP/UDP checksums (RFC 1071)
 * before forwarding; the receiving host verifies them as it would on a wire.
 *
 * Control on stdin, one JSON object per line, one JSON line answered on stdout for each:
 *   {"impairment":{"delayMs":5,"jitterMs":2,"lossPercent":1}} → {"event":"impairment",…}
 *   {"stats":true} → {"event":"stats","frames":…,"forwarded":…,"dropped":…,"checksumsFixed":…}
 * It prints {"event":"ready"} once listening, and exits when stdin closes.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SeededRandom } from '../sim/prng.js';

const VXLAN_HEADER_BYTES = 8;
const ETHERNET_HEADER_BYTES = 14;
const ETHERTYPE_IPV4 = 0x0800;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
/** Learned MAC addresses kept (the lab has a dozen hosts; a bound all the same). */
const MACS_MAX = 4096;

interface Impairment {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

/** One's-complement sum of 16-bit words of b[start, end) (RFC 1071), folded. */
function sum16(b: Buffer, start: number, end: number, initial: number): number {
  let s = initial;
  for (let i = start; i + 1 < end; i += 2) s += b.readUInt16BE(i);
  if ((end - start) % 2 === 1) s += b[end - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Recomputes the inner IPv4 TCP or UDP checksum of a VXLAN packet in place; true when it changed. */
function fixChecksum(p: Buffer): boolean {
  const eth = VXLAN_HEADER_BYTES;
  const ipStart = eth + ETHERNET_HEADER_BYTES;
  if (p.length < ipStart + 20 || p.readUInt16BE(eth + 12) !== ETHERTYPE_IPV4) return false;
  const headerBytes = (p[ipStart]! & 0x0f) * 4;
  const end = ipStart + p.readUInt16BE(ipStart + 2);
  const protocol = p[ipStart + 9]!;
  const l4 = ipStart + headerBytes;
  if (headerBytes < 20 || end > p.length || (p.readUInt16BE(ipStart + 6) & 0x3fff) !== 0) return false;
  let at: number;
  if (protocol === PROTOCOL_TCP && end >= l4 + 20) at = l4 + 16;
  else if (protocol === PROTOCOL_UDP && end >= l4 + 8 && p.readUInt16BE(l4 + 6) !== 0) at = l4 + 6;
  else return false;
  const before = p.readUInt16BE(at);
  p.writeUInt16BE(0, at);
  // Pseudo-header: source and destination address, protocol, L4 length.
  const pseudo = sum16(p, ipStart + 12, ipStart + 20, protocol + (end - l4));
  let checksum = ~sum16(p, l4, end, pseudo) & 0xffff;
  if (protocol === PROTOCOL_UDP && checksum === 0) checksum = 0xffff;
  p.writeUInt16BE(checksum, at);
  return checksum !== before;
}

function main(): void {
  const { values } = parseArgs({
    options: { listen: { type: 'string' }, peers: { type: 'string' }, seed: { type: 'string' } },
    strict: true,
  });
  const listen = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(values.listen ?? '');
  if (listen === null) throw new TypeError(`--listen: expected IPv4:PORT, got ${String(values.listen)}`);
  const port = Number(listen[2]);
  const peers = (values.peers ?? '').split(',').filter((s) => s !== '');
  if (peers.length === 0) throw new TypeError('--peers: expected a comma-separated list of IPv4 addresses');
  const random = new SeededRandom(values.seed ?? '0');
  const uniform = () => random.int(1_000_000) / 1_000_000;

  let impairment: Impairment = { delayMs: 0, jitterMs: 0, lossPercent: 0 };
  const stats = { frames: 0, forwarded: 0, dropped: 0, checksumsFixed: 0 };
  const owners = new Map<string, string>();
  const socket = createSocket('udp4');
  // A peer whose link is cut makes sends fail; that is the experiment, not a reason to stop.
  socket.on('error', (error) => process.stderr.write(`relay: ${error.message}\n`));

  socket.on('message', (frame, from) => {
    stats.frames++;
    if (frame.length < VXLAN_HEADER_BYTES + ETHERNET_HEADER_BYTES || !peers.includes(from.address)) return;
    const eth = VXLAN_HEADER_BYTES;
    const destination = frame.toString('hex', eth, eth + 6);
    const source = frame.toString('hex', eth + 6, eth + 12);
    if (owners.get(source) !== from.address) {
      owners.delete(source);
      if (owners.size >= MACS_MAX) owners.delete(owners.keys().next().value!);
      owners.set(source, from.address);
    }
    if (fixChecksum(frame)) stats.checksumsFixed++;
    if (impairment.lossPercent > 0 && uniform() * 100 < impairment.lossPercent) {
      stats.dropped++;
      return;
    }
    const owner = owners.get(destination);
    const targets =
      owner !== undefined && owner !== from.address ? [owner] : peers.filter((p) => p !== from.address);
    const send = () => {
      for (const target of targets) socket.send(frame, port, target, () => undefined);
      stats.forwarded++;
    };
    const delayMs = impairment.delayMs + (uniform() * 2 - 1) * impairment.jitterMs;
    // Timers have whole milliseconds: round up so no frame is delayed less than asked.
    if (delayMs <= 0) send();
    else setTimeout(send, Math.ceil(delayMs));
  });

  const answer = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const control = createInterface({ input: process.stdin });
  control.on('line', (line) => {
    const command = JSON.parse(line) as { impairment?: Impairment; stats?: boolean };
    if (command.impairment !== undefined) {
      const i = command.impairment;
      for (const [field, v] of Object.entries(i))
        if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`impairment.${field}: got ${String(v)}`);
      if (i.jitterMs > i.delayMs) throw new RangeError('impairment.jitterMs: larger than delayMs');
      impairment = { delayMs: i.delayMs, jitterMs: i.jitterMs, lossPercent: i.lossPercent };
      answer({ event: 'impairment', ...impairment });
    } else if (command.stats === true) answer({ event: 'stats', ...stats });
    else throw new TypeError(`unknown command: ${line}`);
  });
  control.on('close', () => socket.close(() => process.exit(0)));
  socket.bind(port, listen[1], () => answer({ event: 'ready' }));
}

main();
