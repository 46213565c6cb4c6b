/**
 * The Prometheus text writer (src/node/metrics.ts), checked against an exact expected exposition and
 * against the independent strict reader in prometheus-parse.ts (itself checked to refuse broken input).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, MetricsText } from '../../src/node/metrics.js';
import { parsePrometheusText, sampleValue } from './prometheus-parse.js';

void test('histogram: bucket counts are cumulative, +Inf equals the count, bounds are inclusive', () => {
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 1, 7]) h.observe(v);
  assert.deepEqual(h.cumulative(), [2, 4, 5]);
  assert.equal(h.count, 5);
  assert.equal(h.sum, 8.65);
  assert.throws(() => new Histogram([1, 1]), RangeError);
  assert.throws(() => new Histogram([Infinity]), RangeError);
});

void test('writes the 0.0.4 text format exactly: HELP, TYPE, escaped labels, histogram series', () => {
  const h = new Histogram([0.1, 1]);
  h.observe(0.05);
  h.observe(3);
  const text = new MetricsText()
    .counter('x_requests_total', 'Requests.\nSecond line with \\', [
      { labels: { kind: 'read' }, value: 3 },
      { labels: { kind: 'we"ird\\\n' }, value: 0 },
    ])
    .gauge('x_ready', 'Ready.', 1)
    .histogram('x_duration_seconds', 'Latency.', [{ labels: { kind: 'read' }, histogram: h }])
    .toString();
  assert.equal(
    text,
    [
      '# HELP x_requests_total Requests.\\nSecond line with \\\\',
      '# TYPE x_requests_total counter',
      'x_requests_total{kind="read"} 3',
      'x_requests_total{kind="we\\"ird\\\\\\n"} 0',
      '# HELP x_ready Ready.',
      '# TYPE x_ready gauge',
      'x_ready 1',
      '# HELP x_duration_seconds Latency.',
      '# TYPE x_duration_seconds histogram',
      'x_duration_seconds_bucket{kind="read",le="0.1"} 1',
      'x_duration_seconds_bucket{kind="read",le="1"} 1',
      'x_duration_seconds_bucket{kind="read",le="+Inf"} 2',
      'x_duration_seconds_sum{kind="read"} 3.05',
      'x_duration_seconds_count{kind="read"} 2',
      '',
    ].join('\n'),
  );
  const parsed = parsePrometheusText(text);
  assert.equal(sampleValue(parsed, 'x_requests_total', { kind: 'we"ird\\\n' }), 0);
  assert.equal(sampleValue(parsed, 'x_duration_seconds_bucket', { kind: 'read', le: '+Inf' }), 2);
  assert.equal(parsed.get('x_requests_total')?.help, 'Requests.\\nSecond line with \\\\');
});

void test('refuses bad metric or label names and a family written twice (bugs in the daemon)', () => {
  assert.throws(() => new MetricsText().gauge('bad-name', 'x', 1), RangeError);
  assert.throws(() => new MetricsText().gauge('ok', 'x', [{ labels: { 'bad-label': 'v' }, value: 1 }]));
  assert.throws(() => new MetricsText().gauge('ok', 'x', [{ labels: { __reserved: 'v' }, value: 1 }]));
  assert.throws(() => new MetricsText().gauge('twice', 'x', 1).counter('twice', 'y', 2), RangeError);
});

void test('the strict reader refuses broken expositions', () => {
  const broken = [
    'x 1', // no trailing newline
    'x 1\n', // no TYPE
    '# TYPE x gauge\nx one\n',
    '# TYPE x gauge\nx{a="1} 1\n',
    '# TYPE x gauge\nx{a=1} 1\n',
    '# TYPE x gauge\nx{a="\\q"} 1\n',
    '# TYPE x gauge\nx 1\nx 2\n',
    '# TYPE x gauge\n# TYPE y gauge\nx 1\n',
    '# TYPE x gauge\nx 1\n\n',
    '# TYPE x nonsense\nx 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n', // no +Inf
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', // +Inf ≠ count
  ];
  for (const text of broken) assert.throws(() => parsePrometheusText(text), Error, JSON.stringify(text));
  assert.equal(parsePrometheusText('# a comment\n# TYPE x gauge\nx{a="b c"} -1.5e3 1700000000\n').size, 1);
});
