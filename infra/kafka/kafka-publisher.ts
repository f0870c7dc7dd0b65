import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import type { IntegrationPublisher } from '../../projections/event-relay';

export const EVENTS_TOPIC = 'crest.events';

/** Message headers every relayed event carries; `crest-event-id` is the consumers' dedup key. */
export const relayHeaders = (e: RecordedEvent) => ({
  'crest-event-id': e.id,
  'crest-event-type': e.type,
  'crest-position': String(e.position),
  'crest-stream-id': e.streamId,
});

/**
 * Publishes events to `crest.events`, keyed by stream id (so one stream's events stay in order on one partition),
 * with an idempotent producer and acks from all in-sync replicas.
 */
export class KafkaIntegrationPublisher implements IntegrationPublisher {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly topic = EVENTS_TOPIC,
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  }

  async publish(events: readonly RecordedEvent[]): Promise<void> {
    // a connect that failed (the broker was down at start) is tried again by the next publish, not remembered forever
    const connecting = (this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    }));
    await connecting;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      compression: CompressionTypes.None,
      messages: events.map((e) => ({
        key: e.streamId,
        value: JSON.stringify({ id: e.id, streamId: e.streamId, revision: e.revision, position: e.position, type: e.type, data: e.data, metadata: e.metadata, created: e.created }),
        headers: relayHeaders(e),
      })),
    });
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}
