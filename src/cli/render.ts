/**
 * Text renderings shared by the commands and `npm start`: the quorum system, a status, a certificate.
 */
import type { CertificateView, StatusView } from '../client/index.js';
import { names, nodeName } from './command.js';

/** Aligned columns (the last column is not padded). */
export function table(rows: ReadonlyArray<readonly string[]>, indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

/** The quorum cliques and the KV quorum, a few lines. */
export function quorumLines(s: StatusView, indent = ''): string[] {
  const lines: string[] = [];
  if (s.cliques.length === 0)
    lines.push(
      `${indent}quorum cliques: none (no group of 4+ servers that all certified each other is in reach)`,
    );
  s.cliques.forEach((c, i) => {
    const n = c.members.length;
    lines.push(
      `${indent}quorum clique #${i + 1}: ${names(c.members)}`,
      `${indent}  n=${n}, b=${c.b} may lie: a write needs ${c.sufficient} of ${n} signatures, timestamps from ` +
        `${c.timestampQuorum}; a writer needs ${c.certThreshold} certifications from it`,
    );
  });
  lines.push(
    `${indent}KV nodes: ${names(s.kv.nodes)}`,
    `${indent}  N=${s.kv.nodes.length}, f=${s.kv.faults} may fail: reads and writes wait for q=${s.kv.quorum}`,
  );
  return lines;
}

/** `bftkv status` as text. */
export function statusText(s: StatusView): string {
  const lines = [
    `identity  ${s.self.uid}  ${s.self.id}${s.self.address === '' ? '  (a user: no address, never contacted)' : `  ${s.self.address}`}`,
    `graph     ${s.nodes.length} nodes, ${s.edges} verified trust edges, ${s.revocations.length} revoked`,
    ...quorumLines(s, ''),
  ];
  if (s.canWrite) lines.push('writes    allowed: every quorum clique certified this identity');
  else if (s.cliques.length === 0) lines.push('writes    impossible: no quorum clique');
  else
    for (const [i, c] of s.cliques.entries())
      if (c.certifiedSelf < c.certThreshold)
        lines.push(
          `writes    refused: clique #${i + 1} certified this identity ${c.certifiedSelf} times, needs ${c.certThreshold}` +
            ' (its members certify you with `bftkv trust YOUR_CERT --id THEIR_DIR`)',
        );
  lines.push(
    `revoked   ${s.revocations.length === 0 ? 'none' : s.revocations.map((r) => `${r.id} (${r.kind})`).join(', ')}`,
    'nodes',
    ...table(
      [...s.nodes]
        .sort((a, b) => nodeName(a).localeCompare(nodeName(b)))
        .map((n) => [
          nodeName(n) + (n.self ? ' (you)' : ''),
          n.role + (n.clique === undefined ? '' : ` #${n.clique + 1}`) + (n.present ? '' : ' (left)'),
          `certified by ${n.certifiedBy.length}`,
          n.address === '' ? '-' : n.address,
          n.id,
        ]),
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** `bftkv cert` as text. */
export function certificateText(c: CertificateView): string {
  const lines = [
    `certificate of ${c.uid}`,
    `  id            ${c.id}`,
    `  address       ${c.address === '' ? 'none (a user: never contacted)' : c.address}`,
    `  serial        ${c.serial}`,
    `  certified by  ${c.certifications.length === 0 ? 'nobody yet' : c.certifications.length}`,
    ...table(
      c.certifications.map((k) => [
        k.uid === '' ? '(unknown issuer)' : k.uid,
        k.id,
        k.verified ? 'verified' : k.uid === '' ? 'not checked' : 'INVALID',
      ]),
      '    ',
    ),
  ];
  return `${lines.join('\n')}\n`;
}
