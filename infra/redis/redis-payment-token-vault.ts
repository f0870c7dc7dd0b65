import type Redis from 'ioredis';
import type { PaymentTokenVault } from '../../commands/ports';

/**
 * Payment tokens in Redis, for a cluster whose event store is on the network (EventStoreDB): the API node keeps a
 * token, the saga worker finds it. Each key expires after `ttlMs` (the reservation's life), so an abandoned payment
 * leaves nothing behind.
 */
export class RedisPaymentTokenVault implements PaymentTokenVault {
  constructor(
    private readonly redis: Redis,
    private readonly options: { readonly prefix: string; readonly ttlMs: number },
  ) {}

  private key(paymentId: string): string {
    return `${this.options.prefix}:payment-token:${paymentId}`;
  }

  async keep(paymentId: string, token: string): Promise<void> {
    await this.redis.set(this.key(paymentId), token, 'PX', this.options.ttlMs, 'NX');
  }

  async find(paymentId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(paymentId))) ?? undefined;
  }

  async forget(paymentId: string): Promise<void> {
    await this.redis.del(this.key(paymentId));
  }
}
