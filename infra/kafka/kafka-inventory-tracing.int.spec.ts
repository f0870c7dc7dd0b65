import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Message, type ProducerRecord } from 'kafkajs';
import type { InventoryWriters } from '../../commands/inventory/inventory-writers';
import type { CommandContext } from '../../commands/metadata';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { waitFor } from '../../test/support/wait-for';
import { KafkaInventoryGateway, KafkaInventoryWorker, spanContextOfHeaders } from './kafka-inventory';

const figures = { received: 5, adjusted: 0, available: 4, reserved: 1, sold: 0 };
const reserve = { type: 'ReserveStock', sku: 'KT-1', orderId: 'ord_kt', quantity: 1, expiresAt: '2030-01-01T00:00:00.000Z' } as const;

/** Redis pub/sub between a gateway and a worker, in memory: these specs are about the requests, not their replies. */
const replyChannel = () => {
  const listeners: Array<(channel: string, message: string) => void> = [];
  const subscriber = { on: (_event: string, l: (channel: string, message: string) => void) => listeners.push(l), subscribe: async () => 1, unsubscribe: async () => 1 } as unknown as Redis;
  const publish = (channel: string, message: string) => listeners.forEach((l) => l(channel, message));
  const publisher = {
    pipeline: () => {
      const batch: Array<[string, string]> = [];
      return {
        publish: (channel: string, message: string) => batch.push([channel, message]),
        exec: async () => batch.map(([c, m]) => (publish(c, m), [null, 1])),
      };
    },
  } as unknown as Redis;
  return { subscriber, publisher, publish };
};

const tracing = () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider, tracer: provider.getTracer('test') };
};

describe('inventory requests carry their trace in Kafka headers', () => {
  it('sends the traceparent of its request span as a header, not in the body, and only for a traced command', async () => {
    // given a gateway whose Kafka producer only records what it is asked to send
    const sent: Message[] = [];
    const kafka = { producer: () => ({ connect: async () => undefined, disconnect: async () => undefined, send: async (r: ProducerRecord) => void sent.push(...r.messages) }) } as unknown as Kafka;
    const { subscriber, publish } = replyChannel();
    const { exporter, provider, tracer } = tracing();
    const gateway = new KafkaInventoryGateway(kafka, subscriber, { topic: 'inventory', nodeId: 'n1', timeoutMs: 5000, prefix: 'kt', tracer });
    await gateway.start();
    const answer = async () => {
      await waitFor(() => sent.length > 0, 5000, 'the request to be sent');
      const message = sent.shift()!;
      const request = JSON.parse(message.value!.toString());
      publish(request.replyTo, JSON.stringify({ requestId: request.requestId, outcome: { ok: true, figures, position: 3, appended: true } }));
      return { message, request };
    };

    // when a command is submitted under a sampled span
    const caller = tracer.startSpan('caller');
    const submitted = gateway.submit(reserve, { commandId: 'c-1', correlationId: 'k-1', span: caller.spanContext() });
    const { message, request } = await answer();
    expect((await submitted).ok).to.equal(true);
    caller.end();

    // then its message names the gateway's request span, a child of the caller's, in a header only
    const span = exporter.getFinishedSpans().find((s) => s.name === 'crest.inventory.request')!;
    expect(span.parentSpanContext?.spanId).to.equal(caller.spanContext().spanId);
    expect(spanContextOfHeaders(message.headers)).to.deep.include({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
    expect(request.ctx).to.deep.equal({ commandId: 'c-1', correlationId: 'k-1' });

    // and a command without a span travels as before
    const plain = gateway.submit(reserve, { commandId: 'c-2', correlationId: 'k-2' });
    const second = await answer();
    await plain;
    expect(second.message.headers).to.equal(undefined);
    await gateway.stop();
    await provider.shutdown();
  });

  it('reads a traceparent header as kafkajs delivers it (a Buffer), and nothing from a missing or broken one', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(spanContextOfHeaders({ traceparent: Buffer.from(traceparent) })).to.deep.include({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });
    expect(spanContextOfHeaders({ traceparent: [Buffer.from(traceparent)] })?.spanId).to.equal('b7ad6b7169203331');
    expect(spanContextOfHeaders(undefined)).to.equal(undefined);
    expect(spanContextOfHeaders({ traceparent: Buffer.from('nonsense') })).to.equal(undefined);
  });
});

describe('inventory request traces over a Kafka broker', function () {
  this.timeout(90_000);
  let kafka: Kafka;
  const topic = `crest.inventory.tracing-${randomUUID()}`;
  let gateway: KafkaInventoryGateway | undefined;
  let worker: KafkaInventoryWorker | undefined;

  /** Runs `work` with an admin client of the broker, and disconnects it whatever happens. */
  const withAdmin = async (work: (admin: Admin) => Promise<unknown>) => {
    const admin = kafka.admin();
    await admin.connect();
    await work(admin).finally(() => admin.disconnect());
  };

  before(async function () {
    await requireServersFor(this, 'kafka');
    kafka = new Kafka({ clientId: 'crest-tracing-test', brokers: serverUrls.kafka.split(','), logLevel: logLevel.NOTHING });
    await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }));
  });

  after(async () => {
    await gateway?.stop().catch(() => undefined);
    await worker?.stop().catch(() => undefined);
    if (kafka) await withAdmin((admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
  });

  it('lets the worker continue the trace of the gateway that sent the command', async () => {
    // given a gateway and a worker joined by a real topic, the worker's writers recording the context they are given
    const { subscriber, publisher } = replyChannel();
    const { exporter, provider, tracer } = tracing();
    const given: CommandContext[] = [];
    const writers = {
      submit: async (_command: unknown, ctx: CommandContext) => (given.push(ctx), { ok: true, figures, position: 9, appended: true }),
      figures: async () => ({ figures, position: 9 }),
      reset: () => 0,
      stop: () => undefined,
    } as unknown as InventoryWriters;
    worker = new KafkaInventoryWorker(kafka, writers, publisher, { assigned: () => undefined, rebalanced: () => undefined, failed: () => undefined, lagged: () => undefined }, {
      topic,
      groupId: `tracing-${randomUUID()}`,
      partitionsConcurrently: 1,
      sessionTimeoutMs: 6000,
    });
    await worker.start();
    gateway = new KafkaInventoryGateway(kafka, subscriber, { topic, nodeId: 'gw', timeoutMs: 60_000, prefix: 'kt', tracer });
    await gateway.start();

    // when a command is sent under a span
    const caller = tracer.startSpan('placement');
    const outcome = await gateway.submit(reserve, { commandId: 'c-1', correlationId: 'k-1', span: caller.spanContext() });
    caller.end();

    // then the worker's writer runs it under the gateway's request span, received from the broker
    expect(outcome).to.deep.include({ ok: true, position: 9 });
    const request = exporter.getFinishedSpans().find((s) => s.name === 'crest.inventory.request')!;
    expect(given).to.have.length(1);
    expect(given[0]).to.deep.include({ commandId: 'c-1', correlationId: 'k-1' });
    expect(given[0]!.span).to.deep.include({ traceId: caller.spanContext().traceId, spanId: request.spanContext().spanId, isRemote: true });
    await provider.shutdown();
  });
});
