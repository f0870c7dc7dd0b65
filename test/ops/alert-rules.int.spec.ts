import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { CrestMetrics } from '../../infra/metrics/metrics';
import { skipOrFail } from '../support/servers';

const RULES = join(__dirname, '..', '..', 'ops', 'prometheus');

const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: RULES, encoding: 'utf8' });

describe('Prometheus alert rules (ops/prometheus)', () => {
  before(function () {
    if (promtool('--version').error) skipOrFail(this, 'promtool is not installed (Debian: apt-get install prometheus)');
  });

  it('parse', () => {
    const check = promtool('check', 'rules', 'crest-alerts.yml');
    expect(check.status, check.stdout + check.stderr).to.equal(0);
  });

  it('fire and stay quiet as their unit tests say', () => {
    const test = promtool('test', 'rules', 'crest-alerts.test.yml');
    expect(test.status, test.stdout + test.stderr).to.equal(0);
  });

  it('name only metrics that Crest exports, and link a runbook entry that exists', async () => {
    const rules = readFileSync(join(RULES, 'crest-alerts.yml'), 'utf8');
    const metrics = new CrestMetrics();
    metrics.paymentCallbackObserver(pino({ level: 'silent' }));
    // metrics that exist only in the roles that make them (cluster inventory workers and gateways)
    metrics.inventoryWorkerObserver(pino({ level: 'silent' }));
    metrics.inventoryTimeouts();
    const exported = new Set([...(await metrics.registry.metrics()).matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]));
    // a histogram's series are its name with _bucket, _count and _sum
    for (const [name] of rules.matchAll(/crest_[a-z0-9_]+/g)) expect(exported, `Crest exports ${name}`).to.include(name.replace(/_(bucket|count|sum)$/, ''));
    const operations = readFileSync(join(RULES, '..', '..', 'docs', 'operations.md'), 'utf8');
    for (const [, anchor] of rules.matchAll(/runbook: 'docs\/operations\.md#([a-z0-9-]+)'/g)) {
      expect(operations.toLowerCase(), `docs/operations.md has a heading for #${anchor}`).to.match(new RegExp(`^#+ .*${anchor}`, 'm'));
    }
  });
});
