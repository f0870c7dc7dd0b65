import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
import type { InventoryGateway, InventoryWriters } from '../../commands/inventory/inventory-writers';
import type { StockFigures, WriterOutcome } from '../../commands/inventory/inventory-writer';
import type { CommandContext } from '../../commands/metadata';
import type { InventoryCommand } from '../../domain/inventory/inventory';

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
  private readonly outbox: Array<{ key: string; value: string }> = [];
  private flushScheduled = false;
  private readonly replyChannel: string;

  constructor(
    kafka: Kafka,
    private readonly subscriber: Redis,
    private readonly options: { readonly topic: string; readonly nodeId: string; readonly timeoutMs: number; readonly prefix: string },
  ) {
    this.producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.replyChannel = `${options.prefix}:inventory-replies:${options.nodeId}`;
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.replyChannel) return;
      const reply = JSON.parse(message) as Reply;
      const waiting = this.waiting.get(reply.requestId);
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

  async submit(command: InventoryCommand, ctx: CommandContext): Promise<WriterOutcome> {
    const reply = await this.request(command.sku, (requestId, deadline) => ({ kind: 'command', requestId, replyTo: this.replyChannel, deadline, command, ctx }));
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

  private request(sku: string, make: (requestId: string, deadline: number) => Request): Promise<Reply> {
    const requestId = randomUUID();
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        reject(new InventoryTimeoutError(sku, this.options.timeoutMs));
      }, this.options.timeoutMs);
      this.waiting.set(requestId, { resolve, reject, timer });
      this.outbox.push({ key: sku, value: JSON.stringify(make(requestId, Date.now() + this.options.timeoutMs)) });
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
    } catch (error) {
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
}

/**
 * `crest work inventory`: consumes `crest.inventory.commands` in a consumer group. The worker that owns a partition
 * holds the single writer of each SKU on it. A fetched batch is submitted to the writers at once (so they group-commit
 * it), answered after the appends are durable, and only then are the offsets committed. On a rebalance every writer
 * is dropped and reloads (snapshot + tail) on its next command; a stale owner's append fails on its expected revision.
 */
export class KafkaInventoryWorker {
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly writers: InventoryWriters,
    private readonly publisher: Redis,
    private readonly observer: InventoryWorkerObserver,
    private readonly options: { readonly topic: string; readonly groupId: string; readonly partitionsConcurrently: number; readonly sessionTimeoutMs: number },
  ) {
    // the session timeout bounds how long a dead worker's partitions stay unowned
    this.consumer = kafka.consumer({ groupId: options.groupId, sessionTimeout: options.sessionTimeoutMs, heartbeatInterval: 500, rebalanceTimeout: options.sessionTimeoutMs });
  }

  async start(): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const dropped = this.writers.reset();
      this.observer.rebalanced(dropped);
      const assignment = event.payload.memberAssignment[this.options.topic] ?? [];
      this.observer.assigned(assignment.length);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => this.observer.failed(event.payload.error));
    await this.consumer.connect();
    // a new group starts from the beginning; requests whose deadline passed are skipped, so old ones do nothing
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const handled = batch.messages.map(async (message) => {
          const request = JSON.parse(message.value!.toString()) as Request;
          return { replyTo: request.replyTo, reply: await this.handle(request) };
        });
        const replies = await Promise.all(handled);
        if (!isRunning() || isStale()) return;
        const pipeline = this.publisher.pipeline();
        for (const { replyTo, reply } of replies) pipeline.publish(replyTo, JSON.stringify(reply));
        await pipeline.exec();
        const last = batch.messages[batch.messages.length - 1];
        if (last) {
          resolveOffset(last.offset);
          // committed only now that every append in the batch is durable and answered
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        }
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    this.writers.stop();
  }

  private async handle(request: Request): Promise<Reply> {
    if (Date.now() > request.deadline) return { requestId: request.requestId, error: { code: 'unavailable', message: 'The request expired before its owner reached it' } };
    try {
      if (request.kind === 'figures') return { requestId: request.requestId, figures: await this.writers.figures(request.sku) };
      return { requestId: request.requestId, outcome: await this.writers.submit(request.command, request.ctx) };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { requestId: request.requestId, error: { ...(e.code ? { code: e.code } : {}), message: e.message ?? String(error) } };
    }
  }
}
