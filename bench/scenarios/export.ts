/**
 * export: `crest events export` on a seeded log, per format, against a raw read of the same log (readAll pages, no
 * formatting) in the same run; then the hot-SKU HTTP goodput with an export of that log running beside it (at its
 * default --max-rate), against the same load without one.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokens } from '../../infra/composition/root';
import { exportEvents, parseExportArgs, type CliIo } from '../../infra/cli/events';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { fmt, type Bench, type Scenario } from '../harness';
import { describeRun, LoadGenerator } from '../load/generator';
import { describeConfig, startBenchCrest } from '../support/crest';
import { describeLog, seededLog } from '../support/seeded-log';
import { hotSkuClosedRun, seedHotSkus, SKUS } from './hot-sku-http';

const quiet: CliIo = { stdout: { write: () => true }, stderr: { write: () => true } };
const UNPACED = 10_000_000;

export const exportScenario: Scenario = {
  name: 'export',
  description: 'crest events export per format (events/s) vs a raw read of the same log, and hot-SKU HTTP goodput with an export running vs without',
  defaultRounds: 3,
  async run(bench: Bench) {
    const events = bench.options.events?.[0] ?? 200_000;
    const log = await seededLog(events, 100, (line) => bench.log(line));
    bench.condition('log', describeLog(log));
    const out = mkdtempSync(join(tmpdir(), 'crest-bench-export-'));
    const store = new SqliteEventStore({ file: log.file, synchronous: 'FULL' });
    bench.metric({ id: 'raw', label: 'raw read (readAll pages of 1,000)', unit: 'events/s', role: 'baseline', chart: 'throughput' });
    for (const format of ['ndjson', 'csv', 'parquet'] as const) bench.metric({ id: format, label: `export --format ${format}, unpaced`, unit: 'events/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'hotAlone', label: 'hot-SKU HTTP goodput, no export', unit: 'req/s', role: 'baseline', chart: 'none' });
    bench.metric({ id: 'hotBeside', label: 'hot-SKU HTTP goodput, an export running beside it', unit: 'req/s', role: 'crest', chart: 'none' });
    const dir = mkdtempSync(join(tmpdir(), 'crest-bench-export-crest-'));
    // the live Crest exports its own log: a copy of the seeded one, so the export reads what the sale writes to
    copyFileSync(log.file, join(dir, 'crest.sqlite'));
    const { crest, config } = await startBenchCrest(dir);
    const generator = await LoadGenerator.start();
    bench.condition('exports', `to files in ${out}; ndjson and csv written by Crest, parquet by DuckDB from a staged NDJSON; --max-rate ${UNPACED.toLocaleString('en')} (unpaced) for the throughput, the default 10,000 events/s beside the load`);
    bench.condition('load', `Crest startAllInOne in the harness process (${describeConfig(config)}) over a copy of the log; closed loop, 64 connections, 5 s, 1-unit orders on ${SKUS.length} hot SKUs; alone, then with an export of the whole log running in the same process`);
    try {
      await seedHotSkus(crest.url);
      await bench.runRounds(async () => {
        let started = performance.now();
        let read = 0;
        for (let after = 0; ; ) {
          const page = await store.readAll({ after, maxCount: 1000 });
          if (page.length === 0) break;
          read += page.length;
          after = page[page.length - 1]!.position;
        }
        const rawRate = read / ((performance.now() - started) / 1000);
        bench.record('raw', rawRate);
        const rates: string[] = [];
        for (const format of ['ndjson', 'csv', 'parquet'] as const) {
          const file = join(out, `events-${randomBytes(3).toString('hex')}.${format}`);
          started = performance.now();
          const done = await exportEvents(store, parseExportArgs(['--format', format, '--output', file, '--max-rate', String(UNPACED)]), quiet);
          const rate = done.events / ((performance.now() - started) / 1000);
          bench.record(format, rate);
          rates.push(`${format} ${fmt(rate)}/s`);
          rmSync(file, { force: true });
        }
        bench.log(`raw ${fmt(rawRate)}/s; ${rates.join(', ')}`);
        const load = () => hotSkuClosedRun(generator, crest.url, 5000);
        const alone = await load();
        bench.log(describeRun('hot-SKU alone', alone));
        const liveStore = crest.container.get(Tokens.EventStore);
        const exportFile = join(out, `beside-${randomBytes(3).toString('hex')}.ndjson`);
        const beside = exportEvents(liveStore, parseExportArgs(['--format', 'ndjson', '--output', exportFile]), quiet);
        const withExport = await load();
        const exported = await beside;
        bench.log(`${describeRun('hot-SKU with an export beside it', withExport)}; the export wrote ${exported.events.toLocaleString('en')} events`);
        rmSync(exportFile, { force: true });
        bench.record('hotAlone', alone.goodput);
        bench.record('hotBeside', withExport.goodput);
      });
      bench.ratio('export ndjson / raw read', 'ndjson', 'raw');
      bench.ratio('export parquet / raw read', 'parquet', 'raw');
      bench.ratio('hot-SKU with an export / without', 'hotBeside', 'hotAlone');
      bench.target('hot-SKU goodput with an export running, vs without', 'ratio:hot-SKU with an export / without', '>=', 0.9, 'x');
    } finally {
      await generator.close();
      await crest.stop();
      await store.close();
      rmSync(out, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
