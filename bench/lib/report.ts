/**
 * The one way benchmarks print figures.
 *
 * Every figure is a {@link Figure}: a name, a value and its unit, and where it
 * is a claim about our code, the baseline measured in the same run and the
 * ratio value/baseline. Human output is one aligned line per figure; with
 * `--json` (or PARLEY_BENCH_JSON=1) each figure is one JSON line
 * `{name, value, unit, baseline, ratio}` so runs can be compared by a script.
 */

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The baseline's value in the same unit, measured in the same run. */
  baseline?: number | null;
  /** What the baseline is (e.g. "raw postMessage"); shown in human output only. */
  baselineName?: string;
  /** value / baseline; computed when omitted. Always value over baseline, also for latencies. */
  ratio?: number | null;
  /** The goal this figure is judged against, as text (e.g. ">= 0.8 of raw"); human output only. */
  goal?: string;
}

export const jsonMode = process.argv.includes('--json') || process.env.PARLEY_BENCH_JSON === '1';

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  if (a >= 100) return n.toFixed(0);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** Prints one figure, as a JSON line or a human line. Returns it for chaining. */
export function report(f: Figure): Figure {
  const ratio = f.ratio ?? (f.baseline ? f.value / f.baseline : null);
  const out = { name: f.name, value: round(f.value), unit: f.unit, baseline: f.baseline == null ? null : round(f.baseline), ratio: ratio == null ? null : round(ratio, 3) };
  if (jsonMode) {
    process.stdout.write(JSON.stringify(out) + '\n');
  } else {
    let line = `${f.name.padEnd(52)} ${fmt(f.value).padStart(9)} ${f.unit}`;
    if (f.baseline != null) line += `   baseline ${fmt(f.baseline)} ${f.unit}${f.baselineName ? ` (${f.baselineName})` : ''}`;
    if (ratio != null) line += `   ratio ${ratio.toFixed(2)}`;
    if (f.goal) line += `   goal ${f.goal}`;
    process.stdout.write(line + '\n');
  }
  return { ...f, ratio };
}

/** A progress or context line: on stderr, so `--json` output stays parseable. */
export function note(msg: string): void {
  process.stderr.write(`# ${msg}\n`);
}

function round(n: number, digits = 2): number {
  const m = 10 ** digits;
  return Math.round(n * m) / m;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` `runs` times (default PARLEY_BENCH_RUNS or 3) and returns every result. */
export async function repeat<T>(fn: (run: number) => Promise<T>, runs = Number(process.env.PARLEY_BENCH_RUNS ?? 3)): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn(i));
  return out;
}

/** Percentile of an unsorted sample (nearest rank). */
export function percentile(xs: number[] | Float64Array, p: number): number {
  if (xs.length === 0) return NaN;
  const s = Array.from(xs).sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}
