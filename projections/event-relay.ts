import type { CheckpointStore } from '../domain/kernel/checkpoints';
import type { EventStore, RecordedEvent } from '../domain/kernel/event-store';
import { LogFollower, type FollowerMonitor } from './log-follower';

/** Where relayed events go (Kafka's `crest.events` in cluster mode). Resolves once the destination has them durably. */
export interface IntegrationPublisher {
  publish(events: readonly RecordedEvent[]): Promise<void>;
}

export interface RelayObserver {
  relayed(events: number, position: number): void;
}

/**
 * Relays the global log to an integration publisher, checkpointed after each published batch. After a crash the
 * batch in flight is published again; every message carries its event id, so consumers drop the repeat.
 */
export class EventRelay {
  private follower: LogFollower | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly publisher: IntegrationPublisher,
    private readonly checkpoints: CheckpointStore,
    private readonly observer: RelayObserver,
    private readonly options: { readonly name: string; readonly batchSize: number; readonly monitor?: FollowerMonitor; readonly retryMaxMs?: number },
  ) {}

  get position(): number | undefined {
    return this.follower?.position;
  }

  async start(): Promise<void> {
    const name = this.options.name;
    // a broker that is down, or a checkpoint that cannot be saved, is retried with backoff: the relay never ends on it
    this.follower = new LogFollower(
      this.store,
      {
        name,
        checkpoint: { load: () => this.checkpoints.load(name), save: (position) => this.checkpoints.save(name, position) },
        batchSize: this.options.batchSize,
        ...(this.options.retryMaxMs === undefined ? {} : { retryMaxMs: this.options.retryMaxMs }),
      },
      async (batch) => {
        await this.publisher.publish(batch);
        this.observer.relayed(batch.length, batch[batch.length - 1]!.position);
      },
      this.options.monitor,
    );
    await this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }
}
