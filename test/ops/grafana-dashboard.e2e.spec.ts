import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCrest, seedProduct, type TestCrest } from '../support/crest-harness';
import { FaultSale } from '../support/fault-sale';
import { skipOrFail } from '../support/servers';
import { waitFor } from '../support/wait-for';

const OPS = join(__dirname, '..', '..', 'ops');

interface Panel {
  readonly title: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly refId: string }>;
}

/** prom-client's default process metrics that are gauges named `_total`: not Crest's to rename. */
const PROM_CLIENT_DEFAULTS = ['crest_nodejs_active_handles_total', 'crest_nodejs_active_requests_total', 'crest_nodejs_active_resources_total'];

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Grafana's variables as the dashboard's defaults set them: every instance, a one-minute rate window. */
const asGrafanaWould = (expr: string): string => expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m');

describe('the Grafana dashboard and the alert rules against a real Prometheus scraping Crest during a sale', function () {
  this.timeout(180_000);
  let crest: TestCrest | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl = '';
  let output = '';
  const dir = mkdtempSync(join(tmpdir(), 'crest-prometheus-'));

  before(async function () {
    if (spawnSync('prometheus', ['--version']).error) return skipOrFail(this, 'prometheus is not installed (Debian: apt-get install prometheus)');
    crest = await startCrest({ CREST_CACHE_TTL_MS: '100' });
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${join(OPS, 'prometheus', 'crest-alerts.yml')}`,
        'scrape_configs:',
        '  - job_name: crest',
        '    static_configs:',
        `      - targets: ['${new URL(crest.url).host}']`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`]);
    prometheus.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    prometheus.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(async () => (await fetch(`${prometheusUrl}/-/ready`).then((r) => r.status, () => 0)) === 200, 30_000, `Prometheus to be ready:\n${output}`);
  });

  after(async () => {
    prometheus?.kill('SIGTERM');
    if (prometheus && prometheus.exitCode === null) await new Promise((resolve) => prometheus!.once('exit', resolve));
    await crest?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (expr: string): Promise<{ status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }> =>
    (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json() as never;

  it('given a short sale scraped every second, every panel query parses and returns data, and every alert rule evaluates without error', async () => {
    // given a sale: orders (some sold out), payments, and browsing, while Prometheus scrapes Crest
    const c = crest!;
    const id = randomUUID().slice(0, 8);
    const skus = ['A', 'B'].map((s) => `DASH-${s}-${id}`);
    for (const sku of skus) await seedProduct(c, sku, 150);
    const sale = new FaultSale({ name: 'dashboard', targets: () => [c.url], skus, category: 'flash', prefix: `dash-${id}`, hangBoundMs: 10_000 });
    const traffic = sale.traffic({ orders: 400, clients: 8, maxMs: 60_000, payEvery: 3, browse: true });
    await traffic.finished;
    await waitFor(async () => Number((await query('count_over_time(up{job="crest"}[1m])')).data?.result[0]?.value[1] ?? 0) >= 5, 30_000, 'five scrapes');
    await waitFor(
      async () => ((await query('sum(crest_http_request_duration_seconds_count{route="/v1/orders", method="POST"})')).data?.result.length ?? 0) > 0,
      30_000,
      'the sale in Prometheus',
    );
    await waitFor(async () => ((await query('crest_stock_units')).data?.result.length ?? 0) > 0, 30_000, 'the hot SKUs in Prometheus');

    // when every panel's query is evaluated the way Grafana sends it
    const dashboard = JSON.parse(readFileSync(join(OPS, 'grafana', 'crest-sale.json'), 'utf8')) as { panels: Panel[] };
    const empty: string[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const answer = await query(asGrafanaWould(target.expr));
        // then it parses, and it has data
        expect(answer.status, `${panel.title} ${target.refId}: ${answer.error ?? ''}`).to.equal('success');
        if ((answer.data?.result.length ?? 0) === 0) empty.push(`${panel.title} ${target.refId}: ${target.expr}`);
      }
    }
    expect(empty, `panels without data:\n${empty.join('\n')}`).to.deep.equal([]);

    // and the hot SKUs' stock shows what the API says
    const stock = await query('crest_stock_units');
    for (const sku of skus) {
      const api = (await c.call('GET', `/v1/inventory/${sku}`)).body as { available: number; reserved: number; sold: number };
      const shown = Object.fromEntries(stock.data!.result.filter((r) => r.metric.sku === sku).map((r) => [r.metric.state, Number(r.value[1])]));
      expect(shown.available + shown.reserved + shown.sold, sku).to.equal(api.available + api.reserved + api.sold);
    }

    // and every alert rule evaluates against the real series without error, and nothing is oversold
    await waitFor(async () => {
      const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ lastEvaluation: string }> }> } };
      return rules.data.groups.every((g) => g.rules.every((r) => !r.lastEvaluation.startsWith('0001')));
    }, 30_000, 'every rule to be evaluated');
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; state: string }> }> } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).to.be.above(10);
    for (const rule of all) expect(rule.health, `${rule.name}: ${rule.lastError ?? ''}`).to.equal('ok');
    expect(all.find((r) => r.name === 'CrestOversold')?.state).to.equal('inactive');
  });

  it('given Crest\'s /metrics, promtool finds nothing against the naming conventions but prom-client\'s own three gauges', async () => {
    // given what Crest exports after the sale
    const text = await (await fetch(`${crest!.url}/metrics`)).text();
    // when promtool lints it
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = `${lint.stdout}${lint.stderr}`.split('\n').filter((l) => l.trim() !== '' && !PROM_CLIENT_DEFAULTS.some((m) => l.startsWith(m)));
    // then nothing else is reported, every family has the one prefix, and no label carries a customer
    expect(problems, problems.join('\n')).to.deep.equal([]);
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    for (const family of families) {
      expect(family.name, 'one prefix').to.match(/^crest_/);
      if (family.type === 'counter') expect(family.name, 'counters end in _total').to.match(/_total$/);
    }
    expect(text).to.not.match(/\{[^}]*customer[^}]*\}/i);
  });
});
