import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { paymentTokenVaultContract } from '../../test/contracts/payment-token-vault.contract';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { RedisPaymentTokenVault } from './redis-payment-token-vault';

describe('RedisPaymentTokenVault', function () {
  const clients: Redis[] = [];
  const prefix = `crest-test-${randomUUID()}`;
  before(async function () {
    await requireServersFor(this, 'redis');
  });
  after(() => clients.forEach((c) => c.disconnect()));

  const open = async (): Promise<RedisPaymentTokenVault> => {
    const client = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000 });
    clients.push(client);
    await client.connect();
    return new RedisPaymentTokenVault(client, { prefix, ttlMs: 60_000 });
  };
  paymentTokenVaultContract('RedisPaymentTokenVault', { open, reopen: open });
});
