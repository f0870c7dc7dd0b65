import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startAllInOne, Tokens } from '../composition/root';
import { parseConfig } from '../config/config';
import { crestSampler, LinkedOrRatioSampler, startTracing } from './tracing';

const traceId = '0af7651916cd43dd8448eb211c80319c';
const linked = (flags: number) => [{ context: { traceId, spanId: 'b7ad6b7169203331', traceFlags: flags } }];

describe('tracing setup', () => {
  it('starts nothing with CREST_TRACING=off (the default)', () => {
    expect(startTracing(parseConfig({}, {}), { role: 'all' })).to.equal(undefined);
  });

  describe('OTLP over HTTP', () => {
    let server: Server;
    const received: Array<{ url: string | undefined; type: string | undefined; body: any }> = [];
    before(async () => {
      server = createServer((request: IncomingMessage, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (c: Buffer) => chunks.push(c));
        request.on('end', () => {
          // a collector that refuses the spans (a 400 is not retried)
          if (request.url?.startsWith('/refuse')) return void response.writeHead(400, { 'content-type': 'application/json' }).end('{}');
          received.push({ url: request.url, type: request.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('exports spans to CREST_OTLP_TRACES_URL, named after Crest and its role, when the provider stops', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const tracing = startTracing(parseConfig({}, { CREST_TRACING: 'otlp', CREST_OTLP_TRACES_URL: url }), { role: 'inventory' })!;
      tracing.provider.getTracer('crest').startSpan('crest.test').end();
      await tracing.shutdown();
      expect(received.map((r) => [r.url, r.type])).to.deep.equal([['/v1/traces', 'application/json']]);
      const [resourceSpans] = received[0]!.body.resourceSpans;
      const attributes = Object.fromEntries(resourceSpans.resource.attributes.map((a: any) => [a.key, a.value.stringValue]));
      expect(attributes).to.include({ 'service.name': 'crest', 'crest.role': 'inventory' });
      expect(resourceSpans.scopeSpans[0].spans.map((s: any) => s.name)).to.deep.equal(['crest.test']);
    });

    it('is started by the composition root from the config, and exports what a Crest traced when it stops', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/crest/v1/traces`;
      const admin = { authorization: 'Bearer tracing-admin-token-0123456789' };
      const config = parseConfig({}, { PORT: '0', CREST_EVENT_STORE: 'memory', CREST_ADMIN_TOKEN: 'tracing-admin-token-0123456789', CREST_TRACING: 'otlp', CREST_OTLP_TRACES_URL: url });
      const crest = await startAllInOne(config, { logger: pino({ level: 'silent' }) });
      try {
        expect(crest.container.get(Tokens.Tracer)).to.not.equal(undefined);
        await crest.app.inject({ method: 'PUT', url: '/v1/products/OTLP-1', headers: admin, payload: { name: 'otlp', category: 'c', priceCents: 100 } });
        await crest.app.inject({ method: 'POST', url: '/v1/inventory/OTLP-1/receipts', headers: admin, payload: { quantity: 1, receiptId: 'r-1' } });
        const placed = await crest.app.inject({ method: 'POST', url: '/v1/orders', headers: { 'idempotency-key': 'otlp-order-1' }, payload: { customerId: 'c-1', lines: [{ sku: 'OTLP-1', quantity: 1 }] } });
        expect(placed.statusCode).to.equal(201);
      } finally {
        await crest.stop();
      }
      const names = received.filter((r) => r.url === '/crest/v1/traces').flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.name))));
      expect(names).to.include.members(['crest.order.place', 'crest.inventory.command', 'crest.inventory.group_commit', 'crest.event_store.append']);
    });

    it('reports an export the collector refused, and still stops', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/refuse/v1/traces`;
      const failures: Error[] = [];
      const tracing = startTracing(parseConfig({}, { CREST_TRACING: 'otlp', CREST_OTLP_TRACES_URL: url }), { role: 'all', onExportError: (e) => failures.push(e) })!;
      tracing.provider.getTracer('crest').startSpan('crest.lost').end();
      await tracing.shutdown();
      expect(failures).to.have.length.at.least(1);
    });
  });

  describe('sampling', () => {
    it('samples a root span by ratio, unless it links to a sampled span', () => {
      const never = new LinkedOrRatioSampler(0);
      expect(never.shouldSample(ROOT_CONTEXT, traceId, 'crest.inventory.group_commit', SpanKind.INTERNAL, {}, []).decision).to.equal(SamplingDecision.NOT_RECORD);
      expect(never.shouldSample(ROOT_CONTEXT, traceId, 'crest.inventory.group_commit', SpanKind.INTERNAL, {}, linked(TraceFlags.NONE)).decision).to.equal(SamplingDecision.NOT_RECORD);
      expect(never.shouldSample(ROOT_CONTEXT, traceId, 'crest.inventory.group_commit', SpanKind.INTERNAL, {}, linked(TraceFlags.SAMPLED)).decision).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
      expect(new LinkedOrRatioSampler(1).shouldSample(ROOT_CONTEXT, traceId, 'x', SpanKind.INTERNAL, {}, []).decision).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
    });

    it('follows the parent, whatever the ratio (a saga reaction follows the decision of the order it continues)', () => {
      const sampler = crestSampler(0);
      const under = (flags: number) => trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'b7ad6b7169203331', traceFlags: flags, isRemote: true });
      expect(sampler.shouldSample(under(TraceFlags.SAMPLED), traceId, 'crest.checkout.react', SpanKind.INTERNAL, {}, []).decision).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
      expect(crestSampler(1).shouldSample(under(TraceFlags.NONE), traceId, 'crest.checkout.react', SpanKind.INTERNAL, {}, []).decision).to.equal(SamplingDecision.NOT_RECORD);
    });
  });
});
