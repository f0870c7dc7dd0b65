/** Shapes of a scenario result (as stored in bench/results/*.json), paths, and number formatting. */
import { join } from 'node:path';

export const BENCH_DIR = __dirname;
export const REPO_DIR = join(__dirname, '..');
export const RESULTS_DIR = join(__dirname, 'results');

export type Unit = 'ops/s' | 'events/s' | 'req/s' | 'ms' | 's' | 'x' | 'count';
/** What the chart does with a metric: throughput bars, latency bars (p99), or time bars. */
export type ChartKind = 'throughput' | 'latency' | 'time' | 'none';
export type Role = 'crest' | 'baseline';

export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
}

export interface MetricDef {
  readonly id: string;
  readonly label: string;
  readonly unit: Unit;
  readonly role: Role;
  readonly chart: ChartKind;
}

export interface MetricResult extends MetricDef {
  readonly stats?: Stats;
  /** Why there is no figure (a baseline that could not run). */
  readonly skipped?: string;
  readonly note?: string;
}

export interface RatioResult {
  readonly id: string;
  /** e.g. "crest/redis-lua" */
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
  /** Per-round ratios (both figures from the same round), summarised. */
  readonly stats?: Stats;
  readonly skipped?: string;
}

export type Comparator = '>=' | '<=' | '<' | '>' | '==';

export interface TargetResult {
  readonly label: string;
  /** The metric or ratio id the target is judged on. */
  readonly on: string;
  readonly op: Comparator;
  readonly threshold: number;
  readonly unit: Unit | '';
  readonly measured?: number;
  readonly status: 'MET' | 'MISSED' | 'SKIPPED';
  readonly note?: string;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly description: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly commit?: string;
  readonly warmup: number;
  readonly rounds: number;
  readonly conditions: Readonly<Record<string, string>>;
  readonly metrics: readonly MetricResult[];
  readonly ratios: readonly RatioResult[];
  readonly targets: readonly TargetResult[];
  readonly notes: readonly string[];
  /** Small scenario-specific facts (outcomes by status code, batch sizes, invariant checks). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** Formats a figure for people: thousands separators, sensible precision. */
export const fmt = (value: number, unit: Unit | '' = ''): string => {
  if (unit === 'x') return `${value.toFixed(2)}x`;
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  if (unit === 'count') return Math.round(value).toLocaleString('en');
  const n = value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: unit === 's' || unit === 'ms' ? Math.min(digits, 2) : 0 });
  return unit ? `${n} ${unit}` : n;
};

export const fmtStats = (s: Stats, unit: Unit): string => `${fmt(s.median, unit)} (min ${fmt(s.min)}, max ${fmt(s.max)})`;
