import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { spanContextFrom, traceparentOf } from '../../commands/tracing';
import type { EventStore } from '../../domain/kernel/event-store';
import { parseConfig } from '../../infra/config/config';
import { startAllInOne, Tokens, type RunningCrest } from '../../infra/composition/root';
import { crestSampler } from '../../infra/telemetry/tracing';
import { waitFor } from '../support/wait-for';

const ADMIN = 'tracing-admin-token-0123456789';

const idOf = (s: ReadableSpan): string => s.spanContext().spanId;
const traceOf = (s: ReadableSpan): string => s.spanContext().traceId;

/**
 * One trace follows an order (issue 16, item 3): the HTTP request, its placement, the writer's command and the commit,
 * then the checkout saga, the payment provider and the confirmation; the group commit is a trace of its own that links
 * to the commands it carries.
 */
describe('tracing an order with OpenTelemetry', function () {
  this.timeout(60_000);
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ sampler: crestSampler(1), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const dir = mkdtempSync(join(tmpdir(), 'crest-tracing-'));
  let crest: RunningCrest;
  let app: FastifyInstance;
  let store: EventStore;

  before(async () => {
    const config = parseConfig({}, { PORT: '0', CREST_DATA_DIR: dir, CREST_ADMIN_TOKEN: ADMIN, CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '0', CREST_MAX_EVENT_LOOP_DELAY_MS: '0' });
    const logger = pino({ level: 'silent' });
    crest = await startAllInOne(config, { logger, tracerProvider: provider });
    const c = crest.container;
    store = c.get(Tokens.EventStore);
    // Crest's own API app, traced with the provider the composition root was given
    app = crest.app;
  });

  after(async () => {
    await crest?.stop();
    await provider.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = { authorization: `Bearer ${ADMIN}` };
  const seed = async (sku: string, quantity: number) => {
    expect((await app.inject({ method: 'PUT', url: `/v1/products/${sku}`, headers: admin, payload: { name: sku, category: 'flash', priceCents: 1500 } })).statusCode).to.equal(201);
    expect((await app.inject({ method: 'POST', url: `/v1/inventory/${sku}/receipts`, headers: admin, payload: { quantity, receiptId: `seed-${sku}` } })).statusCode).to.equal(200);
  };
  const place = (key: string, sku: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/v1/orders', headers: { 'idempotency-key': key, ...headers }, payload: { customerId: `customer-${key}`, lines: [{ sku, quantity: 1 }] } });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string, attributes: Record<string, unknown> = {}) =>
    spans().filter((s) => s.name === name && Object.entries(attributes).every(([k, v]) => s.attributes[k] === v));
  const one = (found: ReadableSpan[], what: string): ReadableSpan => {
    expect(found, what).to.have.length(1);
    return found[0]!;
  };

  it('follows an order from the HTTP request through placement, commit, the saga, the provider and confirmation in one trace', async () => {
    await seed('TRACE-1', 5);
    // the storefront's own span: the request continues its W3C traceparent
    const client = provider.getTracer('test').startSpan('checkout', { kind: SpanKind.CLIENT });
    const placed = await place('trace-order', 'TRACE-1', { traceparent: traceparentOf(client.spanContext()) });
    client.end();
    expect(placed.statusCode).to.equal(201);
    const orderId: string = placed.json().orderId;
    expect((await app.inject({ method: 'POST', url: `/v1/orders/${orderId}/payment`, payload: { paymentToken: 'tok_ok' } })).statusCode).to.equal(202);
    await waitFor(async () => (await store.readStream(`order-${orderId}`)).some((e) => e.type === 'OrderConfirmed'), 20_000, 'the order to be confirmed');
    // the saga's last reaction: the reserved unit becomes sold
    await waitFor(() => named('crest.checkout.react', { 'crest.trigger': 'OrderConfirmed' }).length > 0, 20_000, 'the saga to confirm the reservation');

    const request = one(named('POST /v1/orders'), 'the order request');
    expect(request.kind).to.equal(SpanKind.SERVER);
    expect(request.attributes).to.include({ 'http.route': '/v1/orders', 'http.response.status_code': 201 });
    expect(request.parentSpanContext?.spanId, 'the client span is its parent').to.equal(client.spanContext().spanId);
    const traceId = traceOf(request);
    const trace = spans().filter((s) => traceOf(s) === traceId);
    const ids = new Set(trace.map(idOf));
    for (const s of trace) {
      if (s.name === 'checkout') continue;
      expect(ids.has(s.parentSpanContext?.spanId ?? ''), `${s.name} has its parent in the trace`).to.equal(true);
    }
    const inTrace = (name: string, attributes: Record<string, unknown> = {}) => {
      const found = named(name, attributes).filter((s) => traceOf(s) === traceId);
      expect(found, `${name} ${JSON.stringify(attributes)} in the order's trace`).to.not.be.empty;
      return found[0]!;
    };
    const parentOf = (s: ReadableSpan) => trace.find((p) => idOf(p) === s.parentSpanContext?.spanId);
    const descends = (s: ReadableSpan, from: ReadableSpan): boolean => {
      for (let at: ReadableSpan | undefined = s; at; at = parentOf(at)) if (idOf(at) === idOf(from)) return true;
      return false;
    };

    const placement = inTrace('crest.order.place', { 'crest.order.id': orderId, 'crest.outcome': 'placed' });
    const reserve = inTrace('crest.inventory.command', { 'crest.command': 'ReserveStock', 'crest.outcome': 'accepted' });
    expect(parentOf(reserve)).to.equal(placement);
    expect(parentOf(placement)).to.equal(request);
    const charge = inTrace('crest.payment.charge', { 'crest.order.id': orderId });
    const providerCall = inTrace('crest.payment.provider.charge');
    const callback = inTrace('crest.payment.callback', { 'crest.callback.type': 'payment.captured', 'crest.recorded': true });
    const confirm = inTrace('crest.checkout.command', { 'crest.command': 'ConfirmOrder' });
    const confirmed = inTrace('crest.inventory.command', { 'crest.command': 'ConfirmReservation', 'crest.outcome': 'accepted' });
    expect(providerCall.kind).to.equal(SpanKind.CLIENT);
    expect(descends(charge, placement), 'the saga continues from the placement').to.equal(true);
    expect(parentOf(providerCall)).to.equal(charge);
    expect(parentOf(callback), 'the provider calls back under the call').to.equal(providerCall);
    expect(descends(confirm, callback), 'the confirmation follows the captured payment').to.equal(true);
    expect(descends(confirmed, confirm)).to.equal(true);
    const commit = trace.find((s) => s.name === 'crest.event_store.append' && parentOf(s) === confirm);
    expect(commit?.attributes['crest.streams'], 'OrderConfirmed is appended in the trace').to.deep.equal([`order-${orderId}`]);
    for (const trigger of ['PaymentRequested', 'PaymentCaptured', 'OrderConfirmed']) inTrace('crest.checkout.react', { 'crest.trigger': trigger, 'crest.order.id': orderId });

    // the group commit that carried the reservation (and OrderPlaced) is a trace of its own, linked both ways
    const group = one(
      named('crest.inventory.group_commit').filter((s) => s.links.some((l) => l.context.spanId === idOf(reserve))),
      'the group commit carrying the reservation',
    );
    expect(group.parentSpanContext, 'the group commit is a root').to.equal(undefined);
    expect(traceOf(group)).to.not.equal(traceId);
    expect(reserve.links.map((l) => l.context.spanId)).to.include(idOf(group));
    const groupAppend = one(
      spans().filter((s) => s.name === 'crest.event_store.append' && s.parentSpanContext?.spanId === idOf(group)),
      'the group commit append',
    );
    expect(groupAppend.attributes['crest.streams']).to.deep.equal(['inventory-TRACE-1', `order-${orderId}`]);

    // the events carry the trace, so that the saga could continue it
    const events = await store.readStream(`order-${orderId}`);
    const traceOfEvent = (type: string) => spanContextFrom(events.find((e) => e.type === type)?.metadata.traceparent)?.traceId;
    expect(traceOfEvent('OrderPlaced')).to.equal(traceId);
    expect(traceOfEvent('OrderConfirmed')).to.equal(traceId);

    // the payment request is a trace of its own, which the saga's reaction to it links to
    const payRequest = one(named('POST /v1/orders/:id/payment'), 'the payment request');
    const payTrace = traceOf(payRequest);
    expect(payTrace).to.not.equal(traceId);
    expect(traceOfEvent('PaymentRequested')).to.equal(payTrace);
    const reacted = inTrace('crest.checkout.react', { 'crest.trigger': 'PaymentRequested' });
    expect(reacted.links.map((l) => l.context.traceId)).to.deep.equal([payTrace]);
    expect(parentOf(reacted)).to.equal(placement);
  });

  it('links one group commit to each of the requests it carries', async () => {
    await seed('TRACE-2', 100);
    const placed = await Promise.all(Array.from({ length: 20 }, (_, i) => place(`trace-many-${i}`, 'TRACE-2')));
    expect(placed.map((r) => r.statusCode)).to.deep.equal(placed.map(() => 201));
    const orders = new Set(placed.map((r) => r.json().orderId as string));
    const placements = named('crest.order.place').filter((s) => orders.has(s.attributes['crest.order.id'] as string));
    const reservations = named('crest.inventory.command', { 'crest.sku': 'TRACE-2', 'crest.command': 'ReserveStock' }).filter((s) =>
      placements.some((p) => idOf(p) === s.parentSpanContext?.spanId),
    );
    expect(reservations).to.have.length(20);
    const groups = named('crest.inventory.group_commit', { 'crest.sku': 'TRACE-2' }).filter((g) => g.links.some((l) => reservations.some((r) => idOf(r) === l.context.spanId)));
    const linked = groups.flatMap((g) => g.links.map((l) => l.context.spanId));
    expect(new Set(linked), 'every reservation is linked from its group commit').to.deep.equal(new Set(reservations.map(idOf)));
    expect(groups.length, 'fewer group commits than requests').to.be.below(20);
    expect(Math.max(...groups.map((g) => g.links.length))).to.be.above(1);
    for (const g of groups) expect(g.attributes['crest.batch.commands']).to.be.at.least(g.links.length);
  });

  it('writes no trace context when a Crest runs without tracing', async () => {
    const untracedDir = mkdtempSync(join(tmpdir(), 'crest-untraced-'));
    const config = parseConfig({}, { PORT: '0', CREST_DATA_DIR: untracedDir, CREST_ADMIN_TOKEN: ADMIN, CREST_EVENT_STORE: 'memory' });
    const untraced = await startAllInOne(config, { logger: pino({ level: 'silent' }) });
    try {
      expect(untraced.container.get(Tokens.Tracer)).to.equal(undefined);
      const before = spans().length;
      const put = await untraced.app.inject({ method: 'PUT', url: '/v1/products/PLAIN-1', headers: admin, payload: { name: 'plain', category: 'flash', priceCents: 100 } });
      expect(put.statusCode).to.equal(201);
      const events = await untraced.container.get(Tokens.EventStore).readStream('product-PLAIN-1');
      expect(events[0]?.metadata).to.not.have.property('traceparent');
      expect(spans().length, 'nothing reached the other Crest’s provider').to.equal(before);
    } finally {
      await untraced.stop();
      rmSync(untracedDir, { recursive: true, force: true });
    }
  });
});
