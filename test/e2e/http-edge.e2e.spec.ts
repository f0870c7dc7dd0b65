import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { signWebhook } from '../../commands/payments/webhook-signature';
import { Tokens } from '../../infra/composition/root';
import { buildHttpApp } from '../../infra/http/app';
import { HttpProblem } from '../../infra/http/problem';
import { StaleReadModelError } from '../../read-api/errors';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';

/**
 * The HTTP edge under hostile or unlucky clients: oversized bodies, requests Node's parser refuses, bodies that trickle
 * in, far-future X-Min-Position, bytes that are not UTF-8, and what the log says about refusals.
 */

interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
  /** ms from connecting until the socket closed */
  readonly closedAfterMs: number;
}

const parseAnswer = (text: string, closedAfterMs: number): RawAnswer => {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  return { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(text.slice(split + 4)) as Record<string, unknown>, closedAfterMs };
};

/** Writes `request` on a raw TCP socket and resolves with what came back once the server has closed the connection. */
const rawExchange = (url: string, request: string | Buffer, drip?: { bytes: Buffer; everyMs: number }): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const started = Date.now();
    const chunks: Buffer[] = [];
    let dripper: NodeJS.Timeout | undefined;
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(request);
      if (drip) {
        let i = 0;
        dripper = setInterval(() => {
          if (i < drip.bytes.length && socket.writable) socket.write(drip.bytes.subarray(i, ++i));
        }, drip.everyMs);
      }
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(dripper);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(parseAnswer(text, Date.now() - started));
      } catch {
        reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 300))}`));
      }
    });
  });

const expectProblem = (answer: RawAnswer, status: number, code: string): void => {
  const described = `${answer.status} ${JSON.stringify(answer.headers)} ${JSON.stringify(answer.body)}`;
  expect(answer.status, described).to.equal(status);
  expect(answer.headers['content-type'], described).to.match(/^application\/problem\+json/);
  expect(answer.headers.connection, described).to.equal('close');
  expect(answer.body.code, described).to.equal(code);
  expect(answer.body.status, described).to.equal(status);
  expect(answer.body.title, described).to.be.a('string').that.is.not.empty;
  expect(answer.body.detail, described).to.be.a('string').that.is.not.empty;
};

/** Sends `tries` bodies of `megabytes` with Node's fetch from a separate process (as a real client would be). */
const oversizedPostsFromAnotherProcess = (url: string, tries: number, megabytes: number, concurrency: number): Promise<Record<string, number>> => {
  const script = `
    const [url, tries, mb, concurrency] = process.argv.slice(1);
    const body = JSON.stringify({ customerId: 'c-big', lines: [{ sku: 'SKU-1', quantity: 1 }], pad: 'x'.repeat(Number(mb) * 1024 * 1024) });
    const outcomes = {};
    const count = (k) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
    const one = async () => {
      try {
        const r = await fetch(url + '/v1/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'big-body-0001' }, body });
        const problem = await r.json();
        count(r.status + ' ' + r.headers.get('content-type').split(';')[0] + ' ' + problem.code);
      } catch (e) {
        count('failed: ' + (e.cause?.code ?? e.message));
      }
    };
    (async () => {
      for (let done = 0; done < Number(tries); done += Number(concurrency)) await Promise.all(Array.from({ length: Number(concurrency) }, one));
      process.stdout.write(JSON.stringify(outcomes));
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, url, String(tries), String(megabytes), String(concurrency)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`client exited ${code}: ${err}`))));
  });
};

describe('the HTTP edge (e2e)', function () {
  let crest: TestCrest;
  const headPosition = (): Promise<number | undefined> => crest.running.container.get(Tokens.EventStore).headPosition();

  before(async () => {
    crest = await startCrest();
    await seedProduct(crest, 'SKU-1', 10);
  });
  after(() => crest?.dispose());

  describe('bodies over 64 KiB', () => {
    it('answer 413 problem+json to every one of 80 fetches of 5 MB, none failing with EPIPE or a reset', async () => {
      // given the event log as it is
      const head = await headPosition();

      // when a separate client process posts a 5 MB body 80 times, two at a time
      const outcomes = await oversizedPostsFromAnotherProcess(crest.url, 80, 5, 2);

      // then every try read the 413, and nothing was written
      expect(outcomes).to.deep.equal({ '413 application/problem+json payload_too_large': 80 });
      expect(await headPosition()).to.equal(head);
    });
  });

  describe("requests Node's HTTP parser refuses", () => {
    const cases: ReadonlyArray<{ name: string; request: string; status: number; code: string }> = [
      {
        name: 'two different Content-Length headers',
        request: 'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
        status: 400,
        code: 'bad_request',
      },
      {
        name: 'Content-Length together with Transfer-Encoding',
        request: 'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
        status: 400,
        code: 'bad_request',
      },
      { name: 'bare LF line endings', request: 'GET /health/live HTTP/1.1\nHost: x\nX-Smuggle: 1\n\n', status: 400, code: 'bad_request' },
      { name: 'a request line that is not HTTP', request: 'HELLO THERE\r\n\r\n', status: 400, code: 'bad_request' },
      { name: 'headers over 16 KiB', request: `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(17 * 1024)}\r\n\r\n`, status: 431, code: 'headers_too_large' },
    ];

    for (const c of cases) {
      it(`answers ${c.name} with ${c.status} ${c.code} problem+json and closes the connection`, async () => {
        // given the event log as it is
        const head = await headPosition();

        // when the request is written on a raw socket
        const answer = await rawExchange(crest.url, c.request);

        // then a problem comes back, the connection closes, and nothing was written
        expectProblem(answer, c.status, c.code);
        expect(await headPosition()).to.equal(head);
      });
    }
  });

  describe('slow clients', () => {
    let slow: TestCrest;
    before(async () => (slow = await startCrest({ CREST_HTTP_REQUEST_TIMEOUT_MS: '1000' })));
    after(() => slow?.dispose());

    it('closes a body that trickles in at one byte every 400 ms with 408 request_timeout', async () => {
      // given a request that announces a 64-byte body
      const headers = 'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: slow-body-0001\r\nContent-Length: 64\r\n\r\n';

      // when the body arrives one byte at a time
      const answer = await rawExchange(slow.url, headers, { bytes: Buffer.from(' '.repeat(64)), everyMs: 400 });

      // then the server answers 408 and closes after the 1 s timeout, long before the body could have arrived
      expectProblem(answer, 408, 'request_timeout');
      expect(answer.closedAfterMs).to.be.within(900, 5000);
    });

    it('closes headers that trickle in with 408 request_timeout', async () => {
      // when the headers never finish
      const answer = await rawExchange(slow.url, 'GET /health/live HTTP/1.1\r\nHost: x\r\n', { bytes: Buffer.from('X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), everyMs: 400 });

      // then
      expectProblem(answer, 408, 'request_timeout');
      expect(answer.closedAfterMs).to.be.within(900, 5000);
    });

    it('still serves a request that arrives in time', async () => {
      expect((await slow.call('GET', '/health/live')).status).to.equal(200);
    });
  });

  describe('X-Min-Position beyond the head of the log', () => {
    it('is answered at once with 409 unknown_position, not after the 2 s wait', async () => {
      // given the head of the log
      const head = (await headPosition()) ?? 0;

      // when a read asks for a position far beyond it
      const started = Date.now();
      const response = await crest.call('GET', '/v1/products/SKU-1', { headers: { 'x-min-position': String(head + 1_000_000) } });
      const elapsed = Date.now() - started;

      // then it is refused at once, saying why
      expect(response.status, JSON.stringify(response.body)).to.equal(409);
      expect(response.body.code).to.equal('unknown_position');
      expect(response.body.detail).to.match(/beyond the head of the event log/);
      expect(elapsed).to.be.below(500);
    });

    it('still serves a position the log has reached', async () => {
      const head = (await headPosition()) ?? 0;
      const response = await crest.call('GET', '/v1/products/SKU-1', { headers: { 'x-min-position': String(head) } });
      expect(response.status).to.equal(200);
    });
  });

  describe('the raw body of a webhook', () => {
    // a JSON body whose `id` holds bytes that are not UTF-8: decoding them would turn each into U+FFFD
    const body = Buffer.concat([
      Buffer.from('{"id":"evt-'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from(`","type":"payment.captured","paymentId":"pay-raw-1","orderId":"ord_${'R'.repeat(24)}","amountCents":1999}`),
    ]);
    const post = async (signature: string): Promise<{ status: number; code: unknown }> => {
      const response = await fetch(`${crest.url}/v1/payments/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'crest-signature': signature }, body });
      const problem = (await response.json()) as { code?: unknown };
      return { status: response.status, code: problem.code };
    };

    it('verifies a signature made over the exact bytes, which one over the decoded string does not match', async () => {
      // given signatures over the raw bytes and over their UTF-8 decoding
      const secret = crest.running.webhookSecret.secret;
      const now = Math.floor(Date.now() / 1000);
      const overBytes = signWebhook(body, secret, now);
      const overDecoded = signWebhook(body.toString('utf8'), secret, now);
      expect(overDecoded, 'the decoding changed the bytes').to.not.equal(overBytes);

      // when each is sent with the same body
      const withBytes = await post(overBytes);
      const withDecoded = await post(overDecoded);

      // then the one over the bytes passes the signature check (whatever the callback then makes of the body)
      expect(withBytes.status, JSON.stringify(withBytes)).to.not.equal(401);
      expect(withDecoded).to.deep.equal({ status: 401, code: 'invalid_signature' });
    });
  });
});

describe('problem logging', () => {
  const capture = () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return { lines, logger: pino({ level: 'info' }, stream) };
  };

  it('logs a 500 as an error with its stack, and expected 503s as warnings without one', async () => {
    // given an app whose routes fail in each way
    const { lines, logger } = capture();
    const failing = (url: string, error: () => Error) => async (app: import('fastify').FastifyInstance) => {
      app.get(url, async () => {
        throw error();
      });
    };
    const app = await buildHttpApp({
      logger,
      adminToken: 'x'.repeat(32),
      customerLimiter: undefined,
      globalLimiter: undefined,
      maxEventLoopDelayMs: 0,
      routes: [
        failing('/boom', () => new Error('kaboom')),
        failing('/stale', () => new StaleReadModelError(10, 5)),
        failing('/overloaded', () => new HttpProblem('overloaded', 'Shedding load')),
        failing('/contended', () => Object.assign(new Error('too much contention'), { code: 'concurrency_conflict' })),
        failing('/down', () => Object.assign(new Error('store unreachable'), { code: 'unavailable' })),
      ],
    });

    // when each is called
    const statuses: number[] = [];
    for (const url of ['/boom', '/stale', '/overloaded', '/contended', '/down']) statuses.push((await app.inject({ method: 'GET', url })).statusCode);
    await app.close();

    // then
    expect(statuses).to.deep.equal([500, 503, 503, 503, 503]);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).to.have.length(1);
    expect((errors[0]!.err as { stack?: string }).stack).to.match(/kaboom/);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.code)).to.deep.equal(['stale_read_model', 'overloaded', 'concurrency_conflict', 'unavailable']);
    for (const warning of warnings) {
      expect(warning, JSON.stringify(warning)).to.not.have.property('err');
      expect(JSON.stringify(warning)).to.not.match(/\n\s+at /);
    }
  });
});
