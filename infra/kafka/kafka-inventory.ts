import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { Partitioners, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import type { InventoryGateway, InventoryWriters } from '../../commands/inventory/inventory-writers';
import type { StockFigures, WriterOutcome } from '../../commands/inventory/inventory-writer';
import type { CommandContext } from '../../commands/metadata';
import { isSampled, SpanKind, spanContextFrom, traced, traceparentOf, type SpanContext, type Tracer } from '../../commands/tracing';
import type { InventoryCommand } from '../../domain/inventory/inventory';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { silentFollowerMonitor, type FollowerMonitor, type FollowerState, type FollowerStatus } from '../../projections/log-follower';

export const INVENTORY_COMMANDS_TOPIC = 'crest.inventory.commands';

/** `deadline` (epoch ms): past it the requester has given up, so the owner skips the request instead of acting late. */
type Request =
  | { readonly kind: 'command'; readonly requestId: string; readonly replyTo: string; readonly deadline: number; readonly command: InventoryCommand; readonly ctx: CommandContext }
  | { readonly kind: 'figures'; readonly requestId: string; readonly replyTo: string; readonly deadline: number; readonly sku: string };

type Reply =
  | { readonly requestId: string; readonly outcome: WriterOutcome }
  | { readonly requestId: string; readonly figures: { figures: StockFigures; position: number } }
  | { readonly requestId: string; readonly error: { code?: string; message: string } };

/** A command the owning worker could not process (store down, too much contention); the caller may retry. */
export class InventoryWorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'InventoryWorkerError';
  }
}

export class InventoryTimeoutError extends Error {
  readonly code = 'unavailable';
  constructor(sku: string, ms: number) {
    super(`No answer from the owner of ${sku} within ${ms} ms`);
    this.name = 'InventoryTimeoutError';
  }
}

/** The trace context of a request travels in its message's headers (W3C `traceparent`), not in its body. */
export const traceHeadersOf = (span: SpanContext): IHeaders => ({ traceparent: traceparentOf(span) });

/** The span a request was sent under, from its message's headers; undefined without a valid `traceparent`. */
export const spanContextOfHeaders = (headers: IHeaders | undefined): SpanContext | undefined => {
  const value = headers?.traceparent;
  const first = Array.isArray(value) ? value[0] : value;
  return spanContextFrom(Buffer.isBuffer(first) ? first.toString('latin1') : first);
};

const withoutSpan = ({ span: _span, ...ctx }: CommandContext): CommandContext => ctx;

interface Waiting {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The cluster-mode inventory gateway on an API or saga node: each command goes to `crest.inventory.commands`, keyed by
 * SKU, so the worker that owns the SKU's partition (and so its single writer) decides it. Answers come back over
 * Redis pub/sub on a channel of this node's own. Requests made in one turn of the event loop go out as one send.
 */
export class KafkaInventoryGateway implements InventoryGateway {
  private readonly producer: Producer;
  private readonly waiting = new Map<string, Waiting>();
  private readonly outbox: Array<{ key: string; value: string; headers?: IHeaders }> = [];
  private flushScheduled = false;
  private readonly replyChannel: string;

  constructor(
    kafka: Kafka,
    private readonly subscriber: Redis,
    private readonly options: {
      readonly topic: string;
      readonly nodeId: string;
      readonly timeoutMs: number;
      readonly prefix: string;
      /** Present only when tracing is on. */
      readonly tracer?: Tracer | undefined;
    },
    /** Hears of every request its SKU's owner did not answer in time. */
    private readonly timedOut: (sku: string) => void = () => undefined,
  ) {
    this.producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.replyChannel = `${options.prefix}:inventory-replies:${options.nodeId}`;
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.replyChannel) return;
      let reply: Reply;
      try {
        reply = JSON.parse(message) as Reply;
      } catch {
        // not an answer of ours: thrown here it would escape into the Redis client; its request times out instead
        return;
      }
      const waiting = this.waiting.get(reply?.requestId);
      if (!waiting) return;
      this.waiting.delete(reply.requestId);
      clearTimeout(waiting.timer);
      waiting.resolve(reply);
    });
    await this.subscriber.subscribe(this.replyChannel);
  }

  async stop(): Promise<void> {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error('The inventory gateway is stopping'));
    }
    this.waiting.clear();
    await this.subscriber.unsubscribe(this.replyChannel).catch(() => undefined);
    await this.producer.disconnect();
  }

  submit(command: InventoryCommand, ctx: CommandContext): Promise<WriterOutcome> {
    const { tracer, topic } = this.options;
    if (!tracer || !isSampled(ctx.span)) return this.submitOnce(command, ctx);
    const attributes = { 'crest.sku': command.sku, 'crest.command': command.type, 'messaging.system': 'kafka', 'messaging.destination.name': topic };
    return traced(tracer, 'crest.inventory.request', ctx, attributes, (c) => this.submitOnce(command, c), SpanKind.CLIENT);
  }

  private async submitOnce(command: InventoryCommand, ctx: CommandContext): Promise<WriterOutcome> {
    const span = ctx.span;
    const sent = span ? withoutSpan(ctx) : ctx;
    const reply = await this.request(command.sku, (requestId, deadline) => ({ kind: 'command', requestId, replyTo: this.replyChannel, deadline, command, ctx: sent }), span);
    if ('outcome' in reply) return reply.outcome;
    throw this.failure(reply);
  }

  async figures(sku: string): Promise<{ figures: StockFigures; position: number }> {
    const reply = await this.request(sku, (requestId, deadline) => ({ kind: 'figures', requestId, replyTo: this.replyChannel, deadline, sku }));
    if ('figures' in reply) return reply.figures;
    throw this.failure(reply);
  }

  private failure(reply: Reply): Error {
    const error = 'error' in reply ? reply.error : { message: 'unexpected reply' };
    return new InventoryWorkerError(error.code ?? 'unavailable', error.message);
  }

  private request(sku: string, make: (requestId: string, deadline: number) => Request, span?: SpanContext): Promise<Reply> {
    const requestId = randomUUID();
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        this.timedOut(sku);
        reject(new InventoryTimeoutError(sku, this.options.timeoutMs));
      }, this.options.timeoutMs);
      this.waiting.set(requestId, { resolve, reject, timer });
      const value = JSON.stringify(make(requestId, Date.now() + this.options.timeoutMs));
      this.outbox.push(span ? { key: sku, value, headers: traceHeadersOf(span) } : { key: sku, value });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const messages = this.outbox.splice(0);
    try {
      await this.producer.send({ topic: this.options.topic, acks: -1, messages });
    } catch (cause) {
      // the broker is unreachable or refused the send: nothing was decided, and the caller may retry (503)
      const error = new InventoryWorkerError('unavailable', `Inventory commands cannot reach Kafka: ${(cause as Error).message}`);
      for (const m of messages) {
        const requestId = (JSON.parse(m.value) as Request).requestId;
        const waiting = this.waiting.get(requestId);
        if (!waiting) continue;
        this.waiting.delete(requestId);
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
    }
  }
}

export interface InventoryWorkerObserver {
  assigned(partitions: number): void;
  rebalanced(writersDropped: number): void;
  failed(error: unknown): void;
  /** How far behind the partition's high watermark a batch ended. */
  lagged(partition: number, messages: number): void;
}

export interface KafkaInventoryWorkerOptions {
  readonly topic: string;
  readonly groupId: string;
  readonly partitionsConcurrently: number;
  readonly sessionTimeoutMs: number;
  /** Name under which it reports to the follower monitor (readiness, metrics, logs). */
  readonly name?: string;
  /** Cap of the backoff between attempts to bring a dead consumer back. */
  readonly retryMaxMs?: number;
  /** How often handled offsets are committed (default 1000 ms), off the path of any order. */
  readonly commitIntervalMs?: number;
}

const parseRequest = (message: KafkaMessage): Request | undefined => {
  try {
    const request = JSON.parse(message.value?.toString() ?? '') as Request;
    return typeof request === 'object' && request !== null && typeof request.requestId === 'string' && typeof request.replyTo === 'string' ? request : undefined;
  } catch {
    return undefined;
  }
};

/**
 * `crest work inventory`: consumes `crest.inventory.commands` in a consumer group. The worker that owns a partition
 * holds the single writer of each SKU on it. A fetched batch is submitted to the writers at once (so they group-commit
 * it), answered after the appends are durable, and only then are the offsets committed. On a rebalance every writer
 * is dropped and reloads (snapshot + tail) on its next command; a stale owner's append fails on its expected revision.
 *
 * The consumer never stays dead: kafkajs restarts it after most crashes, and when it does not (a crash it deems not
 * retriable, or a restart that never rejoins the group) the worker replaces it with a new consumer, with capped
 * backoff, until one joins the group again. Meanwhile it reports itself `retrying` to the follower monitor, so
 * readiness, metrics and logs say that this worker's partitions are not being served.
 */
export class KafkaInventoryWorker {
  private consumer: Consumer | undefined;
  private state: FollowerState = 'stopped';
  private attempts = 0;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private position: number | undefined;
  private detach: (() => void) | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopening: Promise<void> | undefined;
  /** Per partition, the next offset to commit: every request below it is durable and answered. */
  private handled = new Map<number, string>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private assignment = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly writers: InventoryWriters,
    private readonly publisher: Redis,
    private readonly observer: InventoryWorkerObserver,
    private readonly options: KafkaInventoryWorkerOptions,
    private readonly monitor: FollowerMonitor = silentFollowerMonitor,
  ) {}

  get name(): string {
    return this.options.name ?? 'inventory-worker';
  }

  status(): FollowerStatus {
    return { name: this.name, state: this.state, position: this.position, attempts: this.attempts, failingSince: this.failingSince, lastError: this.lastError };
  }

  /** Connects, subscribes and joins the group; fails if Kafka cannot be reached at all (the role does not start). */
  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'running';
    this.detach = this.monitor.attach(() => this.status());
    try {
      await this.open();
    } catch (error) {
      this.state = 'stopped';
      this.detach();
      await this.consumer?.disconnect().catch(() => undefined);
      this.consumer = undefined;
      throw error;
    }
  }

  async stop(): Promise<void> {
    const wasRunning = this.state !== 'stopped';
    this.state = 'stopped';
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    if (this.commitTimer) clearInterval(this.commitTimer);
    this.commitTimer = undefined;
    await this.reopening;
    const consumer = this.consumer;
    // what was handled is committed before leaving, so the next owner repeats as little as possible
    if (consumer) await this.commitHandled(consumer);
    this.consumer = undefined;
    try {
      await consumer?.disconnect();
    } finally {
      this.writers.stop();
      if (wasRunning) this.detach?.();
    }
  }

  private async open(): Promise<void> {
    // the session timeout bounds how long a dead worker's partitions stay unowned
    // a short long-poll, so that an idle member hears of a rebalance (and takes its new partitions) within a fetch
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: 500,
      rebalanceTimeout: this.options.sessionTimeoutMs,
      maxWaitTimeInMs: 250,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      if (this.consumer !== consumer) return;
      // offsets handled under the old assignment are not committed now: the new owners go on from the last commit
      this.handled = new Map();
      this.assignment += 1;
      const dropped = this.writers.reset();
      this.observer.rebalanced(dropped);
      const assignment = event.payload.memberAssignment[this.options.topic] ?? [];
      this.observer.assigned(assignment.length);
      // a member of the group again: whatever failed before, its partitions are served
      this.succeeded();
    });
    consumer.on(consumer.events.CRASH, (event) => this.crashed(consumer, event.payload.error, event.payload.restart));
    await consumer.connect();
    // a new group starts from the beginning; requests whose deadline passed are skipped, so old ones do nothing
    await consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    // offsets are a position, not the record (the event store is): they are committed every commitIntervalMs beside
    // the fetch loop, never awaited on it (kafkajs's autoCommit commits after every batch, before the next fetch); a
    // request delivered again after a crash or a rebalance is deduplicated by the writers
    if (this.commitTimer) clearInterval(this.commitTimer);
    this.commitTimer = setInterval(() => void this.commitHandled(consumer), this.options.commitIntervalMs ?? 1000);
    this.commitTimer.unref();
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        try {
          await this.handleBatch(payload);
        } catch (error) {
          // kafkajs retries the batch (its offsets were not committed); the monitor hears of every failed attempt
          if (this.consumer === consumer) this.failed(error, 0);
          throw error;
        }
        if (this.consumer === consumer) this.succeeded();
      },
    });
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    this.observer.lagged(batch.partition, Number(batch.offsetLag()));
    const handled = batch.messages.map(async (message) => {
      const request = parseRequest(message);
      if (!request) {
        // nobody can be answered, and it would fail the same way on every delivery: pass over it, visibly
        this.monitor.skipped(this.name, new Error('unreadable inventory request'), unreadable(batch.topic, batch.partition, message));
        return undefined;
      }
      return { replyTo: request.replyTo, reply: await this.handle(request, spanContextOfHeaders(message.headers)) };
    });
    const replies = (await Promise.all(handled)).filter((r) => r !== undefined);
    if (!isRunning() || isStale()) return;
    const pipeline = this.publisher.pipeline();
    for (const { replyTo, reply } of replies) pipeline.publish(replyTo, JSON.stringify(reply));
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    // an answer that did not go out is sent again with the batch, which the writers deduplicate
    if (!results || failed) throw failed?.[0] ?? new Error('Redis did not take the replies');
    const last = batch.messages[batch.messages.length - 1];
    // resolved (and so committed with the next periodic commit) only now that every append in the batch is durable and answered
    if (last) {
      resolveOffset(last.offset);
      this.handled.set(batch.partition, (BigInt(last.offset) + 1n).toString());
    }
    await heartbeat();
  }

  /** Commits the handled offsets (one commit at a time); a failure (a rebalance, Kafka away) waits for the next tick. */
  private async commitHandled(consumer: Consumer): Promise<void> {
    if (this.committing || this.handled.size === 0 || this.consumer !== consumer) return;
    const offsets = [...this.handled].map(([partition, offset]) => ({ topic: this.options.topic, partition, offset }));
    const taken = this.handled;
    const assignment = this.assignment;
    this.handled = new Map();
    this.committing = consumer
      .commitOffsets(offsets)
      .catch(() => {
        // the requests stay handled; what was not committed is committed with the next tick, or delivered again
        if (assignment !== this.assignment) return;
        for (const [partition, offset] of taken) if (!this.handled.has(partition)) this.handled.set(partition, offset);
      })
      .finally(() => (this.committing = undefined));
    await this.committing;
  }

  private crashed(consumer: Consumer, error: Error, restart: boolean): void {
    if (this.consumer !== consumer || this.state === 'stopped') return;
    this.observer.failed(error);
    const delay = this.failed(error, restart ? ((error as { retryTime?: number }).retryTime ?? 300) : undefined);
    // kafkajs restarts it by itself: give that restart until a few session timeouts to rejoin, then replace it
    this.scheduleReopen(restart ? Math.max(delay, 3 * this.options.sessionTimeoutMs) : delay);
  }

  private scheduleReopen(delayMs: number): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.reopening = this.reopen().finally(() => (this.reopening = undefined));
    }, delayMs);
    this.reopenTimer.unref();
  }

  /** Replaces the consumer with a new one (same group); tries again later if that fails too. */
  private async reopen(): Promise<void> {
    if (this.stopped) return;
    const old = this.consumer;
    this.consumer = undefined;
    await old?.disconnect().catch(() => undefined);
    if (this.stopped) return;
    try {
      await this.open();
    } catch (error) {
      if (this.stopped) return;
      this.observer.failed(error);
      this.scheduleReopen(this.failed(error));
    }
  }

  /** Records a failed attempt; returns the backoff before the next one (or `delayMs` when kafkajs chose it). */
  private failed(error: unknown, delayMs?: number): number {
    this.attempts += 1;
    this.failingSince ??= Date.now();
    this.lastError = error instanceof Error ? error.message : String(error);
    if (this.state === 'running') this.state = 'retrying';
    const cap = this.options.retryMaxMs ?? 5000;
    const backoff = Math.min(cap, 250 * 2 ** Math.min(this.attempts - 1, 20));
    const ms = delayMs ?? Math.round(backoff / 2 + Math.random() * (backoff / 2));
    this.monitor.retrying(this.name, error, this.attempts, ms);
    return ms;
  }

  private get stopped(): boolean {
    return this.state === 'stopped';
  }

  private succeeded(): void {
    if (this.attempts === 0) return;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.monitor.recovered(this.name, this.attempts, Date.now() - (this.failingSince ?? Date.now()));
    this.attempts = 0;
    this.failingSince = undefined;
    this.lastError = undefined;
    if (this.state === 'retrying') this.state = 'running';
  }

  /** `span`: the requester's, from the message's headers; the writer's spans continue its trace. */
  private async handle(request: Request, span: SpanContext | undefined): Promise<Reply> {
    if (Date.now() > request.deadline) return { requestId: request.requestId, error: { code: 'unavailable', message: 'The request expired before its owner reached it' } };
    try {
      if (request.kind === 'figures') return { requestId: request.requestId, figures: await this.writers.figures(request.sku) };
      const outcome = await this.writers.submit(request.command, span ? { ...request.ctx, span } : request.ctx);
      this.position = Math.max(this.position ?? 0, outcome.position);
      return { requestId: request.requestId, outcome };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { requestId: request.requestId, error: { ...(e.code ? { code: e.code } : {}), message: e.message ?? String(error) } };
    }
  }
}

/** A Kafka message that is not an inventory request, described as the monitor's `skipped` expects an event. */
const unreadable = (topic: string, partition: number, message: KafkaMessage): RecordedEvent => ({
  streamId: `${topic}/${partition}`,
  revision: Number(message.offset),
  position: Number(message.offset),
  id: `${topic}/${partition}@${message.offset}`,
  type: 'InventoryRequest',
  data: message.value?.toString('utf8').slice(0, 200),
  metadata: {},
  created: new Date(Number(message.timestamp)).toISOString(),
});
