import type { CheckpointStore } from '../domain/kernel/checkpoints';
import type { EventStore, RecordedEvent, Subscription } from '../domain/kernel/event-store';

/** Where relayed events go (Kafka's `crest.events` in cluster mode). Resolves once the destination has them durably. */
export interface IntegrationPublisher {
  publish(events: readonly RecordedEvent[]): Promise<void>;
}

export interface RelayObserver {
  relayed(events: number, position: number): void;
  failed(error: unknown): void;
}

/**
 * Relays the global log to an integration publisher, checkpointed after each published batch. After a crash the
 * batch in flight is published again; every message carries its event id, so consumers drop the repeat.
 */
export class EventRelay {
  private subscription: Subscription | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly publisher: IntegrationPublisher,
    private readonly checkpoints: CheckpointStore,
    private readonly observer: RelayObserver,
    private readonly options: { readonly name: string; readonly batchSize: number },
  ) {}

  get position(): number | undefined {
    return this.subscription?.position;
  }

  async start(): Promise<void> {
    const after = await this.checkpoints.load(this.options.name);
    const subscription = this.store.subscribeToAll({ ...(after === undefined ? {} : { after }), batchSize: this.options.batchSize }, async (batch) => {
      await this.publisher.publish(batch);
      const last = batch[batch.length - 1]!.position;
      await this.checkpoints.save(this.options.name, last);
      this.observer.relayed(batch.length, last);
    });
    this.subscription = subscription;
    subscription.done.catch((error: unknown) => this.observer.failed(error));
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }
}
