/**
 * Entry point of `npm run bench -- <scenario|all|list> [flags]`. See docs/benchmarks.md for the flags and for how
 * to read the output. Exits 0 whatever the figures are: missed targets are reported, not failed.
 */
import { parseArgs } from 'node:util';
import { Bench, type BenchOptions, type Scenario } from './harness';
import { renderBenchmarkDocs } from './report';
import { browseHttp } from './scenarios/browse-http';
import { clusterScaling, clusterWrk } from './scenarios/cluster-wrk';
import { hotSkuHttp } from './scenarios/hot-sku-http';
import { hotSkuInProcess } from './scenarios/hot-sku-inprocess';
import { hotSkuWrk } from './scenarios/hot-sku-wrk';
import { rebuild } from './scenarios/rebuild';
import { rebuildMongo } from './scenarios/rebuild-mongo';
import { recovery } from './scenarios/recovery';
import { saleOpening } from './scenarios/sale-opening';
import { exportScenario } from './scenarios/export';

export const SCENARIOS: readonly Scenario[] = [hotSkuInProcess, hotSkuHttp, hotSkuWrk, browseHttp, rebuild, rebuildMongo, recovery, clusterWrk, clusterScaling, saleOpening, exportScenario];

const USAGE = `usage: npm run bench -- <scenario|all|list|docs> [--rounds N] [--warmup N] [--duration S] [--connections N]
                                           [--events A,B] [--ops N] [--redis URL] [--mongo URL]
                                           [--no-docs] [--quiet]`;

const positiveInt = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
};

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      events: { type: 'string' },
      ops: { type: 'string' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      mongo: { type: 'string', default: 'mongodb://127.0.0.1:27017' },
      'no-docs': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const which = positionals[0];
  if (values.help || !which) {
    process.stdout.write(`${USAGE}\n`);
    return which || values.help ? 0 : 2;
  }
  if (which === 'docs') {
    process.stdout.write(`re-rendered ${renderBenchmarkDocs().join(', ')} from bench/results\n`);
    return 0;
  }
  if (which === 'list') {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`);
    return 0;
  }
  const chosen = which === 'all' ? SCENARIOS : SCENARIOS.filter((s) => s.name === which);
  if (chosen.length === 0) {
    process.stderr.write(`unknown scenario ${which}; \`npm run bench -- list\` shows them\n`);
    return 2;
  }
  const durationS = values.duration === undefined ? undefined : Number(values.duration);
  if (durationS !== undefined && !(durationS > 0)) throw new Error(`--duration must be a positive number of seconds, got ${values.duration}`);
  const options: BenchOptions = {
    rounds: positiveInt('rounds', values.rounds),
    warmup: positiveInt('warmup', values.warmup),
    durationS,
    connections: positiveInt('connections', values.connections),
    events: values.events?.split(',').map((e) => positiveInt('events', e)!),
    ops: positiveInt('ops', values.ops),
    redisUrl: values.redis,
    mongoUrl: values.mongo,
    writeDocs: !values['no-docs'],
    quiet: values.quiet,
  };
  let failures = 0;
  for (const scenario of chosen) {
    const bench = new Bench(scenario, options);
    try {
      await scenario.run(bench);
      bench.finish();
    } catch (error) {
      failures++;
      process.stderr.write(`scenario ${scenario.name} crashed (not a timing failure): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exit(2);
  },
);
