import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { startCrest } from '../support/crest-harness';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const crestBin = resolve(__dirname, '../../bin/crest');

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

const launch = (args: string[], env: Record<string, string>): Started => {
  const child = spawn(crestBin, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
};

const waitForOutput = (started: Started, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> =>
  new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${pattern} in output:\n${started.stdout()}\n${started.stderr()}`)), timeoutMs);
    const check = (): void => {
      const match = started.stdout().match(pattern);
      if (match) {
        clearTimeout(timer);
        done(match);
      }
    };
    started.child.stdout.on('data', check);
    check();
    void started.exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`exited before printing ${pattern}:\n${started.stdout()}\n${started.stderr()}`));
    });
  });

describe('crest CLI', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'crest-cli-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts, prints its URL and a generated admin token, and exits cleanly on SIGTERM', async () => {
    const started = launch(['start'], { PORT: '0', CREST_DATA_DIR: dataDir, CREST_LOG_LEVEL: 'warn' });
    const [, url] = await waitForOutput(started, /listening on (http:\/\/\S+)/);
    const [, token] = await waitForOutput(started, /CREST_ADMIN_TOKEN=(\S+)/);
    const live = await fetch(`${url}/health/live`);
    expect(live.status).to.equal(200);
    const listed = await fetch(`${url}/v1/products/CLI-1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'CLI', category: 'test', priceCents: 1 }),
    });
    expect(listed.status).to.equal(201);
    started.child.kill('SIGTERM');
    expect(await started.exited).to.equal(0);
  });

  it('refuses to start on an invalid setting and names the variable', async () => {
    const started = launch(['start'], { PORT: 'not-a-port', CREST_DATA_DIR: dataDir });
    expect(await started.exited).to.equal(2);
    expect(started.stderr()).to.match(/PORT="not-a-port"/);
  });

  it('refuses crest events with one line and exit code 2: no log where CREST_DATA_DIR points, or a bad flag', async () => {
    const missing = launch(['events', 'export', '--format', 'ndjson'], { CREST_DATA_DIR: join(dataDir, 'nothing-here') });
    expect(await missing.exited).to.equal(2);
    expect(missing.stderr().trim().split('\n')).to.have.length(1);
    expect(missing.stderr()).to.match(/no event log at/);
    // a log with something in it, written by an embedded Crest that then stops
    const crest = await startCrest({}, dataDir);
    await crest.call('PUT', '/v1/products/CLI-1', { admin: true, body: { name: 'cli', category: 'cli', priceCents: 1 } });
    await crest.stop();
    const bad = launch(['events', 'export', '--format', 'xml'], { CREST_DATA_DIR: dataDir });
    expect(await bad.exited).to.equal(2);
    expect(bad.stderr()).to.match(/^crest events: --format must be ndjson, csv or parquet, got "xml"\n$/);
    const exported = launch(['events', 'export', '--format', 'ndjson'], { CREST_DATA_DIR: dataDir });
    expect(await exported.exited).to.equal(0);
    expect(exported.stderr()).to.match(/exported \d+ events up to position \d+; continue with --after \d+/);
  });

  it('rebuilds the read models of a running Crest with crest projections rebuild --switch, shows and cancels with --status and --cancel', async () => {
    // given a running Crest with a catalogue
    const crest = await startCrest({}, dataDir);
    try {
      for (let i = 0; i < 20; i++) await crest.call('PUT', `/v1/products/CLI-${i}`, { admin: true, body: { name: `cli ${i}`, category: 'cli', priceCents: 100 + i } });
      const env = { CREST_ADMIN_TOKEN: crest.adminToken, CREST_DATA_DIR: dataDir };
      // when the operator runs crest projections rebuild --switch against it
      const rebuilt = launch(['projections', 'rebuild', '--switch', '--url', crest.url], env);
      // then it follows the rebuild to the switch, and says where readers are now
      expect(await rebuilt.exited, rebuilt.stderr()).to.equal(0);
      expect(rebuilt.stdout()).to.match(/readers use generation g1 \(memory \(generation g1\)\) at position \d+; switched from generation g0/);
      expect((await crest.call('GET', '/v1/products/CLI-7')).body.name).to.equal('cli 7');
      // when the operator asks where things stand, and cancels (nothing is running)
      const status = launch(['projections', 'rebuild', '--status', '--url', crest.url], env);
      expect(await status.exited).to.equal(0);
      expect(status.stdout()).to.match(/readers use generation g1/);
      const cancelled = launch(['projections', 'rebuild', '--cancel', '--url', crest.url], env);
      expect(await cancelled.exited).to.equal(0);
      // then a bad flag, a missing token and an API node that builds nothing each get one line and exit code 2
      const badFlag = launch(['projections', 'rebuild', '--swich'], env);
      expect(await badFlag.exited).to.equal(2);
      expect(badFlag.stderr()).to.match(/^crest projections: Unknown option '--swich'.*\n$/);
      const noToken = launch(['projections', 'rebuild', '--url', crest.url], { CREST_DATA_DIR: dataDir });
      expect(await noToken.exited).to.equal(2);
      expect(noToken.stderr()).to.match(/set CREST_ADMIN_TOKEN/);
      const nobody = launch(['projections', 'rebuild', '--url', 'http://127.0.0.1:9'], env);
      expect(await nobody.exited).to.equal(2);
      expect(nobody.stderr()).to.match(/^crest projections: no Crest answers at http:\/\/127.0.0.1:9 .*; start it, or pass --url\n$/);
    } finally {
      await crest.stop();
    }
  });

  it('explains an unknown command', async () => {
    const started = launch(['launch-rockets'], {});
    expect(await started.exited).to.equal(2);
    expect(started.stderr()).to.match(/Unknown command "launch-rockets"/);
  });
});
