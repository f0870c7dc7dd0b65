/**
 * The benchmark harness: conditions, warm-up and measured rounds, medians with min and max, same-run ratios,
 * targets judged MET or MISSED, a small JSON result under bench/results/ and the docs/benchmarks.md row.
 * Timing never fails a run: a missed target is reported, not thrown.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { updateBenchmarkDocs } from './report';
import { fmt, fmtStats, REPO_DIR, RESULTS_DIR, type Comparator, type MetricDef, type MetricResult, type RatioResult, type ScenarioResult, type Stats, type TargetResult, type Unit } from './result';

export * from './result';

export interface BenchOptions {
  readonly rounds?: number;
  readonly warmup?: number;
  readonly durationS?: number;
  readonly connections?: number;
  readonly events?: readonly number[];
  /** Operations per round for in-process scenarios. */
  readonly ops?: number;
  readonly redisUrl: string;
  readonly mongoUrl: string;
  readonly writeDocs: boolean;
  readonly quiet: boolean;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Rounds when --rounds is not given (5 unless a round is very long). */
  readonly defaultRounds?: number;
  readonly defaultWarmup?: number;
  run(bench: Bench): Promise<void>;
}

export const stats = (samples: readonly number[]): Stats => {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
};

const compare = (value: number, op: Comparator, threshold: number): boolean => {
  switch (op) {
    case '>=':
      return value >= threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
    case '>':
      return value > threshold;
    case '==':
      return value === threshold;
  }
};


/** HEAD at run time, read from .git without running git; the working tree may differ from it. */
const currentCommit = (): string | undefined => {
  try {
    const head = readFileSync(join(REPO_DIR, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12);
    const ref = head.slice(5);
    try {
      return readFileSync(join(REPO_DIR, '.git', ref), 'utf8').trim().slice(0, 12);
    } catch {
      const packed = readFileSync(join(REPO_DIR, '.git', 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      return line?.slice(0, 12);
    }
  } catch {
    return undefined;
  }
};

/** The 1-minute load average against the core count: above the core count, other processes competed for the CPU. */
const loadText = (): string => {
  const [one = 0, five = 0] = loadavg();
  const cores = cpus().length;
  return `${one.toFixed(2)} (1 min), ${five.toFixed(2)} (5 min) on ${cores} cores${one > cores * 0.5 ? ' - other processes were using the machine; trust the same-run ratios over absolute figures' : ''}`;
};

export const machineConditions = (): Record<string, string> => {
  const list = cpus();
  return {
    cpus: `${list.length} x ${list[0]?.model.trim() ?? 'unknown'}`,
    node: process.version,
    os: `${platform()} ${release()}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(freemem() / 2 ** 30).toFixed(1)} GiB free at start`,
    'load average at start': loadText(),
  };
};

/** One scenario run: collects conditions, per-round figures, ratios and targets, then reports them. */
export class Bench {
  readonly rounds: number;
  readonly warmup: number;
  private readonly startedAt = new Date();
  private readonly conditions: Record<string, string> = machineConditions();
  private readonly metricDefs = new Map<string, MetricDef>();
  private readonly samples = new Map<string, Array<number | undefined>>();
  private readonly skips = new Map<string, string>();
  private readonly metricNotes = new Map<string, string>();
  private readonly ratioDefs: Array<{ id: string; label: string; numerator: string; denominator: string }> = [];
  private readonly targetDefs: Array<{ label: string; on: string; op: Comparator; threshold: number; unit: Unit | ''; note?: string; measure?: 'median' | 'max' }> = [];
  private readonly notes: string[] = [];
  private readonly details: Record<string, unknown> = {};
  private round: number | undefined;

  constructor(
    readonly scenario: Scenario,
    readonly options: BenchOptions,
  ) {
    this.rounds = options.rounds ?? scenario.defaultRounds ?? 5;
    this.warmup = options.warmup ?? scenario.defaultWarmup ?? 1;
  }

  log(line: string): void {
    if (!this.options.quiet) process.stdout.write(`${line}\n`);
  }

  condition(key: string, value: string): void {
    this.conditions[key] = value;
  }

  note(text: string): void {
    this.notes.push(text);
    this.log(`  note: ${text}`);
  }

  detail(key: string, value: unknown): void {
    this.details[key] = value;
  }

  metric(def: MetricDef): void {
    this.metricDefs.set(def.id, def);
    if (!this.samples.has(def.id)) this.samples.set(def.id, []);
  }

  metricNote(id: string, note: string): void {
    this.metricNotes.set(id, note);
  }

  /** Marks a metric as not measured in this run, with the reason (shown wherever the figure would be). */
  skip(id: string, reason: string): void {
    if (!this.skips.has(id)) this.log(`  skipped ${id}: ${reason}`);
    this.skips.set(id, reason);
  }

  isSkipped(id: string): boolean {
    return this.skips.has(id);
  }

  /** Records a figure for the current measured round; figures recorded during warm-up are dropped. */
  record(id: string, value: number): void {
    if (this.round === undefined) return;
    const series = this.samples.get(id);
    if (!series) throw new Error(`record: unknown metric ${id}`);
    series[this.round] = value;
  }

  /** Records a figure measured once for the whole run (a check after the rounds, say). */
  once(id: string, value: number): void {
    const series = this.samples.get(id);
    if (!series) throw new Error(`once: unknown metric ${id}`);
    series.length = 0;
    series.push(value);
  }

  /** A metric's measured rounds so far, in order. */
  series(id: string): number[] {
    return (this.samples.get(id) ?? []).filter((v): v is number => v !== undefined && Number.isFinite(v));
  }

  /** Median of a metric's measured rounds so far (undefined when none). */
  median(id: string): number | undefined {
    const values = (this.samples.get(id) ?? []).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return values.length > 0 ? stats(values).median : undefined;
  }

  get measuring(): boolean {
    return this.round !== undefined;
  }

  ratio(label: string, numerator: string, denominator: string): string {
    const id = `ratio:${label}`;
    this.ratioDefs.push({ id, label, numerator, denominator });
    return id;
  }

  /** A target judged on a metric's (or ratio's) median; `measure: 'max'` judges the worst round instead. */
  target(label: string, on: string, op: Comparator, threshold: number, unit: Unit | '', note?: string, measure: 'median' | 'max' = 'median'): void {
    this.targetDefs.push({ label, on, op, threshold, unit, measure, ...(note === undefined ? {} : { note }) });
  }

  /** Runs the warm-up rounds (figures dropped), then the measured rounds. */
  async runRounds(round: (index: number, warm: boolean) => Promise<void>): Promise<void> {
    for (let w = 0; w < this.warmup; w++) {
      this.log(`warm-up ${w + 1}/${this.warmup}`);
      this.round = undefined;
      await round(w, true);
    }
    for (let r = 0; r < this.rounds; r++) {
      this.log(`round ${r + 1}/${this.rounds}`);
      this.round = r;
      await round(r, false);
    }
    this.round = undefined;
  }

  private metricResults(): MetricResult[] {
    return [...this.metricDefs.values()].map((def) => {
      const values = (this.samples.get(def.id) ?? []).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const skipped = this.skips.get(def.id);
      const note = this.metricNotes.get(def.id);
      return {
        ...def,
        ...(values.length > 0 ? { stats: stats(values) } : {}),
        ...(skipped !== undefined ? { skipped } : values.length === 0 ? { skipped: 'no figure was recorded' } : {}),
        ...(note === undefined ? {} : { note }),
      };
    });
  }

  private ratioResults(): RatioResult[] {
    return this.ratioDefs.map((def) => {
      const num = this.samples.get(def.numerator) ?? [];
      const den = this.samples.get(def.denominator) ?? [];
      const perRound: number[] = [];
      for (let r = 0; r < this.rounds; r++) {
        const a = num[r];
        const b = den[r];
        if (a !== undefined && b !== undefined && b !== 0) perRound.push(a / b);
      }
      const why = this.skips.get(def.denominator) ?? this.skips.get(def.numerator);
      return perRound.length > 0 ? { ...def, stats: stats(perRound) } : { ...def, skipped: why ?? 'no round measured both figures' };
    });
  }

  /** Prints the report, writes bench/results/<scenario>-<timestamp>.json and updates docs/benchmarks.md. */
  finish(): ScenarioResult {
    const metrics = this.metricResults();
    const ratios = this.ratioResults();
    const lookup = (id: string): { stats?: Stats; skipped?: string } | undefined => metrics.find((m) => m.id === id) ?? ratios.find((r) => r.id === id);
    const targets: TargetResult[] = this.targetDefs.map((t) => {
      const found = lookup(t.on);
      const measured = found?.stats ? (t.measure === 'max' ? found.stats.max : found.stats.median) : undefined;
      const base = { label: t.label, on: t.on, op: t.op, threshold: t.threshold, unit: t.unit, ...(t.note === undefined ? {} : { note: t.note }) };
      if (measured === undefined) return { ...base, status: 'SKIPPED', note: found?.skipped ?? t.note ?? 'not measured' };
      return { ...base, measured, status: compare(measured, t.op, t.threshold) ? 'MET' : 'MISSED' };
    });
    this.conditions['load average at end'] = loadText();
    const result: ScenarioResult = {
      scenario: this.scenario.name,
      description: this.scenario.description,
      startedAt: this.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      ...(currentCommit() === undefined ? {} : { commit: currentCommit() }),
      warmup: this.warmup,
      rounds: this.rounds,
      conditions: { ...this.conditions },
      metrics,
      ratios,
      targets,
      notes: [...this.notes],
      details: { ...this.details },
    };
    process.stdout.write(renderText(result));
    const file = writeResult(result);
    process.stdout.write(`result: ${file}\n`);
    if (this.options.writeDocs) {
      const docs = updateBenchmarkDocs(result, file);
      process.stdout.write(`updated ${docs.join(', ')}\n`);
    }
    return result;
  }
}

const targetText = (t: TargetResult): string => {
  const measured = t.measured === undefined ? 'n/a' : fmt(t.measured, t.unit);
  return `${t.status.padEnd(7)} ${t.label}: ${measured} (target ${t.op} ${fmt(t.threshold, t.unit)})${t.note ? ` - ${t.note}` : ''}`;
};

export const renderText = (r: ScenarioResult): string => {
  const lines: string[] = [];
  lines.push('', `== ${r.scenario}: ${r.description}`);
  lines.push('conditions:');
  for (const [k, v] of Object.entries(r.conditions)) lines.push(`  ${k}: ${v}`);
  lines.push(`rounds: ${r.warmup} warm-up + ${r.rounds} measured; figures are the median (min, max) over the measured rounds`);
  lines.push('figures:');
  for (const m of r.metrics) {
    const text = m.stats ? fmtStats(m.stats, m.unit) : `skipped: ${m.skipped ?? 'no figure'}`;
    lines.push(`  ${m.role === 'crest' ? 'crest   ' : 'baseline'} ${m.label}: ${text}${m.note ? ` [${m.note}]` : ''}`);
  }
  if (r.ratios.length > 0) {
    lines.push('same-run ratios (per round, then the median):');
    for (const q of r.ratios) lines.push(`  ${q.label} = ${q.stats ? `${fmt(q.stats.median, 'x')} (min ${fmt(q.stats.min, 'x')}, max ${fmt(q.stats.max, 'x')})` : `skipped: ${q.skipped ?? ''}`}`);
  }
  lines.push('targets:');
  for (const t of r.targets) lines.push(`  ${targetText(t)}`);
  if (r.notes.length > 0) {
    lines.push('notes:');
    for (const n of r.notes) lines.push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
};

const writeResult = (result: ScenarioResult): string => {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${result.scenario}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
  return file;
};

/** Resolves after `ms`, without keeping the process alive. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** CPU time of this process between two calls, as a percentage of one core over the wall time. */
export const cpuMeter = (): (() => number) => {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
  };
};
