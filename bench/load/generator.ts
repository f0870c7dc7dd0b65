/**
 * The harness side of the load generator: forks bench/load/worker.ts once (the same child serves every load run of
 * a scenario, so its JIT is warm) and hands it one LoadSpec at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { cpuMeter } from '../harness';
import type { FromGenerator, LoadResult, LoadSpec, ToGenerator } from './protocol';

export interface LoadRun extends LoadResult {
  /** This (the server's) process CPU over the run, % of one core. */
  readonly serverCpuPct: number;
}

export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadGenerator> {
    const child = fork(join(__dirname, 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromGenerator) => {
        if (m.type !== 'ready') return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code} before it was ready`)));
    });
    return new LoadGenerator(child);
  }

  run(spec: LoadSpec): Promise<LoadRun> {
    const serverCpu = cpuMeter();
    return new Promise<LoadRun>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
      const onMessage = (m: FromGenerator) => {
        if (m.type === 'ready') return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (m.type === 'result') resolve({ ...m.result, serverCpuPct: serverCpu() });
        else reject(new Error(`load generator failed: ${m.message}`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send({ type: 'run', spec } satisfies ToGenerator);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'exit' } satisfies ToGenerator);
    await exited;
  }
}

/** One line per load run, for the log. */
export const describeRun = (label: string, r: LoadRun): string => {
  const outcomes = Object.entries(r.outcomes)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  const rate = r.mode === 'open' ? `offered ${Math.round(r.offeredRate).toLocaleString('en')}/s, ` : '';
  return (
    `  ${label}: ${rate}${Math.round(r.throughput).toLocaleString('en')} resp/s, goodput ${Math.round(r.goodput).toLocaleString('en')}/s, ` +
    `p50 ${r.latency.p50.toFixed(2)} p99 ${r.latency.p99.toFixed(2)} p99.9 ${r.latency.p999.toFixed(2)} ms [${outcomes}] ` +
    `cpu server ${Math.round(r.serverCpuPct)}% generator ${Math.round(r.generatorCpuPct)}%`
  );
};

/** Watches the load runs of a scenario for a generator that was itself near saturation. */
export class GeneratorWatch {
  private busiest: { label: string; cpu: number } | undefined;

  see(label: string, run: LoadRun): LoadRun {
    if (!this.busiest || run.generatorCpuPct > this.busiest.cpu) this.busiest = { label, cpu: run.generatorCpuPct };
    return run;
  }

  /** A sentence for the notes when some run had the generator above 85% of a core (its figures may be generator-bound). */
  note(): string | undefined {
    if (!this.busiest || this.busiest.cpu < 85) return undefined;
    return `the load generator reached ${Math.round(this.busiest.cpu)}% of a core (${this.busiest.label}): that run may be limited by the generator rather than the server (2 cores in all)`;
  }
}
