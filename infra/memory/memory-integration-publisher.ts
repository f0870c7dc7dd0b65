import type { RecordedEvent } from '../../domain/kernel/event-store';
import type { IntegrationPublisher } from '../../projections/event-relay';

/** Collects relayed events in memory: the relay without Kafka, for tests and the embedded mode. */
export class MemoryIntegrationPublisher implements IntegrationPublisher {
  readonly published: RecordedEvent[] = [];

  async publish(events: readonly RecordedEvent[]): Promise<void> {
    this.published.push(...events);
  }
}
