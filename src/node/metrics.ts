/**
 * Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats), written by
 * hand: `# HELP` and `# TYPE` once per family, then its samples; histograms as cumulative `_bucket{le}`
 * series ending with `le="+Inf"`, plus `_sum` and `_count`. Label values are escaped (\\, ", newline).
 *
 * Names and label sets come from the daemon's code, never from peers: a bad name is a bug (RangeError), and
 * every label has a small fixed set of values (request kinds, error codes, namespaces), so the number of
 * series is bounded.
 */

/** The Content-Type of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Upper bounds (seconds) of the request latency histogram: 0.5 ms to 5 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** A histogram with fixed bucket bounds (constant memory whatever the number of observations). */
export class Histogram {
  readonly bounds: readonly number[];
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last entry counts those above every bound. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    for (let i = 0; i < bounds.length; i++)
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!))
        throw new RangeError(
          `bounds: expected finite, strictly increasing numbers, got ${bounds.join(', ')}`,
        );
    this.bounds = [...bounds];
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per bound, the last one (+Inf) equal to `count`. */
  cumulative(): number[] {
    let running = 0;
    return this.#counts.map((c) => (running += c));
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  for (const [name] of entries)
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new RangeError(`label name: ${name}`);
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Builds one exposition; each family once. */
export class MetricsText {
  readonly #lines: string[] = [];
  readonly #families = new Set<string>();

  #family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    if (!METRIC_NAME.test(name)) throw new RangeError(`metric name: ${name}`);
    if (this.#families.has(name)) throw new RangeError(`metric ${name} written twice`);
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  #samples(name: string, samples: number | readonly Sample[]): void {
    const list = typeof samples === 'number' ? [{ value: samples }] : samples;
    for (const s of list) this.#lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }

  /** A monotonically increasing count; by convention the name ends in `_total`. */
  counter(name: string, help: string, samples: number | readonly Sample[]): this {
    this.#family(name, 'counter', help);
    this.#samples(name, samples);
    return this;
  }

  /** A value that goes up and down. */
  gauge(name: string, help: string, samples: number | readonly Sample[]): this {
    this.#family(name, 'gauge', help);
    this.#samples(name, samples);
    return this;
  }

  histogram(
    name: string,
    help: string,
    series: ReadonlyArray<{ readonly labels?: Labels; readonly histogram: Histogram }>,
  ): this {
    this.#family(name, 'histogram', help);
    for (const { labels, histogram } of series) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((bound, i) =>
        this.#lines.push(
          `${name}_bucket${formatLabels({ ...labels, le: formatValue(bound) })} ${cumulative[i]!}`,
        ),
      );
      this.#lines.push(`${name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${histogram.count}`);
      this.#lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(histogram.sum)}`);
      this.#lines.push(`${name}_count${formatLabels(labels)} ${histogram.count}`);
    }
    return this;
  }

  /** The exposition: one line per entry, ending with a newline. */
  toString(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}
