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

  it('explains an unknown command', async () => {
    const started = launch(['launch-rockets'], {});
    expect(await started.exited).to.equal(2);
    expect(started.stderr()).to.match(/Unknown command "launch-rockets"/);
  });
});
