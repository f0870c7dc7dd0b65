/**
 * recovery: time from start to ready (GET /health/ready) with 1M and 10M events in the log, with the default
 * in-memory read models (rebuilt at every start) and with CREST_READ_MODELS=sqlite (resumed from their checkpoint).
 * Each start is a fresh process (forked), as `crest start` would be; the baseline is a raw read of the same log.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { fmt, type Bench, type Scenario } from '../harness';
import { describeLog, seededLog } from '../support/seeded-log';
import type { RecoveryReport } from './recovery-child';
import { rawRead } from './rebuild';

const SKUS = 1000;
const TARGET_EVENTS = 10_000_000;
const HEAP_MIB = 16_384;
const DEFAULT_LIMIT_S = 1200;

const label = (events: number): string => (events % 1_000_000 === 0 ? `${events / 1_000_000}M` : events.toLocaleString('en'));

type ReadModelsKind = 'memory' | 'sqlite';
const KINDS: ReadonlyArray<{ kind: ReadModelsKind; suffix: string; what: string }> = [
  { kind: 'memory', suffix: '', what: 'memory read models' },
  { kind: 'sqlite', suffix: 'Sqlite', what: 'CREST_READ_MODELS=sqlite' },
];

type StartOutcome = (RecoveryReport & { processS: number; timedOut?: false }) | { timedOut: true; processS: number };

/**
 * Forks one Crest start; `processS` runs from the fork to the ready report (Node, tsx and module loading included).
 * A start not ready within `limitS` is killed and reported as timed out (its `processS` is then a lower bound).
 */
const startOnce = (dataDir: string, readModels: ReadModelsKind, limitS: number): Promise<StartOutcome> =>
  new Promise((resolve, reject) => {
    const forked = performance.now();
    const profileDir = process.env.CREST_BENCH_PROFILE_DIR;
    const child = fork(join(__dirname, 'recovery-child.ts'), [dataDir, readModels], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${HEAP_MIB}`, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: (RecoveryReport & { processS: number }) | undefined;
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitS * 1000);
    child.on('message', (m: RecoveryReport) => (report = { ...m, processS: (performance.now() - forked) / 1000 }));
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (report) resolve(report);
      else if (timedOut) resolve({ timedOut: true, processS: (performance.now() - forked) / 1000 });
      else reject(new Error(`the Crest start exited (${code ?? signal}) before it was ready`));
    });
  });

export const recovery: Scenario = {
  name: 'recovery',
  description: 'time from process start to ready (GET /health/ready: read models rebuilt from the log, saga started) over seeded SQLite logs',
  defaultRounds: 3,
  async run(bench: Bench) {
    const sizes = bench.options.events ?? [1_000_000, TARGET_EVENTS];
    const limitS = bench.options.durationS ?? DEFAULT_LIMIT_S;
    bench.condition('start limit', `a start not ready after ${limitS} s is stopped and its time recorded as a lower bound (--duration S)`);
    bench.condition('process', `each start is a forked process (node --import tsx, --max-old-space-size=${HEAP_MIB}); CREST_EVENT_STORE=sqlite, synchronous=FULL; each round starts once with in-memory read models (the default) and once with CREST_READ_MODELS=sqlite; ready = GET /health/ready answers 200`);
    bench.condition(
      'rounds',
      `the warm-up round is the first start in this run (it may write the saga checkpoint and writer snapshots when the log is fresh, and with CREST_READ_MODELS=sqlite it builds read-models.sqlite in the log's directory if absent); measured starts are restarts. ${bench.options.rounds === undefined ? 'Scenario default of 3 measured rounds: each start replays the whole log.' : ''}`,
    );
    for (const events of sizes) {
      const id = label(events);
      const log = await seededLog(events, SKUS, (l) => bench.log(l));
      bench.condition(`data ${id}`, describeLog(log));
      for (const { suffix, what } of KINDS) {
        bench.metric({ id: `ready${suffix}-${id}`, label: `crest ready, ${id} events, ${what} (process start)`, unit: 's', role: 'crest', chart: 'time' });
        bench.metric({ id: `readyInProcess${suffix}-${id}`, label: `crest ready, ${id}, ${what} (from startAllInOne)`, unit: 's', role: 'crest', chart: 'none' });
        bench.metric({ id: `readModels${suffix}-${id}`, label: `crest read models caught up, ${id}, ${what} (from startAllInOne)`, unit: 's', role: 'crest', chart: 'none' });
        bench.metric({ id: `listening${suffix}-${id}`, label: `crest listening, ${id}, ${what} (from startAllInOne)`, unit: 's', role: 'crest', chart: 'none' });
      }
      bench.metric({ id: `raw-${id}`, label: `raw read of the ${id} log`, unit: 's', role: 'baseline', chart: 'time' });
      bench.metric({ id: `rate-${id}`, label: `crest replay rate, ${id}, memory read models`, unit: 'events/s', role: 'crest', chart: 'throughput' });
      bench.metric({ id: `rawRate-${id}`, label: `raw read rate, ${id}`, unit: 'events/s', role: 'baseline', chart: 'throughput' });
      bench.log(`-- ${id} events`);
      const memory: string[] = [];
      await bench.runRounds(async (_index, warm) => {
        for (const { kind, suffix, what } of KINDS) {
          const start = await startOnce(log.dir, kind, limitS);
          const which = `${warm ? 'first start' : 'restart'}, ${what}`;
          if (start.timedOut) {
            // a lower bound: the start was killed before it was ready
            bench.record(`ready${suffix}-${id}`, start.processS);
            bench.metricNote(`ready${suffix}-${id}`, `lower bound: a start was not ready after ${fmt(start.processS, 's')} and was stopped (--duration caps a start)`);
            bench.log(`  ${which}: NOT ready after ${fmt(start.processS, 's')}; stopped`);
            continue;
          }
          bench.record(`ready${suffix}-${id}`, start.processS);
          bench.record(`readyInProcess${suffix}-${id}`, start.readyS);
          bench.record(`listening${suffix}-${id}`, start.listeningS);
          bench.record(`readModels${suffix}-${id}`, start.readModelsReadyS);
          if (kind === 'memory') bench.record(`rate-${id}`, start.head / start.processS);
          if (!warm) memory.push(`${what}: ${start.rssMiB.toFixed(0)} MiB RSS`);
          bench.log(
            `  ${which}: ready ${fmt(start.processS, 's')} after process start (${fmt(start.readyS, 's')} after startAllInOne, read models after ${fmt(start.readModelsReadyS, 's')}, listening after ${fmt(start.listeningS, 's')}), ` +
              `${start.head.toLocaleString('en')} events, ${start.rssMiB.toFixed(0)} MiB RSS`,
          );
        }
        const store = new SqliteEventStore({ file: log.file, synchronous: 'FULL' });
        const raw = await rawRead(store, 1000).finally(() => store.close());
        bench.record(`raw-${id}`, raw.seconds);
        bench.record(`rawRate-${id}`, raw.events / raw.seconds);
        bench.log(`  raw read ${fmt(raw.seconds, 's')}`);
      });
      if (memory.length > 0) bench.note(`${id}: memory of a ready Crest: ${memory.join(', ')}`);
      bench.ratio(`crest-ready/raw-read ${id}`, `ready-${id}`, `raw-${id}`);
      bench.ratio(`crest-ready-sqlite/raw-read ${id}`, `readySqlite-${id}`, `raw-${id}`);
    }
    const target = `ready-${label(TARGET_EVENTS)}`;
    const unmeasured = sizes.includes(TARGET_EVENTS) ? undefined : `not measured: this run used --events ${sizes.join(',')}`;
    bench.target(`ready with ${label(TARGET_EVENTS)} events, memory read models (default)`, target, '<', 5, 's', unmeasured);
    bench.target(`ready with ${label(TARGET_EVENTS)} events, CREST_READ_MODELS=sqlite`, `readySqlite-${label(TARGET_EVENTS)}`, '<', 5, 's', unmeasured);
  },
};
