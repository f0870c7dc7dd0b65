import type Redis from 'ioredis';
import type { InvalidationBus } from '../../read-api/ports';

type Invalidation = Parameters<InvalidationBus['publish']>[0];

/** L1 invalidation across API nodes over Redis pub/sub. A lost message costs at most one TTL of staleness. */
export class RedisInvalidationBus implements InvalidationBus {
  constructor(
    private readonly publisher: Redis,
    /** A connection of its own: a subscribed ioredis connection cannot run other commands. */
    private readonly subscriber: Redis,
    private readonly channel = 'crest:invalidate',
  ) {}

  async publish(invalidation: Invalidation): Promise<void> {
    if (invalidation.cards.length === 0 && !invalidation.browse) return;
    await this.publisher.publish(this.channel, JSON.stringify(invalidation));
  }

  async subscribe(handler: (invalidation: Invalidation) => void): Promise<() => Promise<void>> {
    const listener = (channel: string, message: string): void => {
      if (channel !== this.channel) return;
      try {
        handler(JSON.parse(message) as Invalidation);
      } catch {
        // a malformed message is dropped; entries still expire on their TTL
      }
    };
    this.subscriber.on('message', listener);
    await this.subscriber.subscribe(this.channel);
    return async () => {
      this.subscriber.off('message', listener);
      // with Redis down the UNSUBSCRIBE cannot be sent: stopping must not fail on it, or the rest of the shutdown (the
      // store, the connections) would never run; the listener is already gone, so a late message changes nothing
      await this.subscriber.unsubscribe(this.channel).catch(() => undefined);
    };
  }
}
