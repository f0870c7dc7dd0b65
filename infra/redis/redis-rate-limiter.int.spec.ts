import { expect } from 'chai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { perSecondLimit } from './redis-rate-limiter';

const connect = (url: string) => {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 500 });
  client.on('error', () => undefined);
  return client;
};

/** Consumes one point per call, in order, and tells which went through; any error but a refusal fails the test. */
const consumeAll = async (limiters: readonly RateLimiterAbstract[], key: string, times: number): Promise<boolean[]> => {
  const passed: boolean[] = [];
  for (let i = 0; i < times; i++) {
    passed.push(
      await limiters[i % limiters.length]!.consume(key).then(
        () => true,
        (refusal: unknown) => {
          if (refusal instanceof Error) throw refusal;
          return false;
        },
      ),
    );
  }
  return passed;
};

describe('per-second limits shared through Redis', function () {
  const clients: Redis[] = [];
  before(async function () {
    await requireServersFor(this, 'redis');
  });
  after(() => {
    for (const c of clients) c.disconnect();
  });

  it('gives a customer the limit once across two API nodes, not once per node', async () => {
    // given two nodes, each with its own connection to the same Redis, and a limit of 5 a second
    const prefix = `rl-${randomUUID()}`;
    const nodes = [connect(serverUrls.redis), connect(serverUrls.redis)];
    clients.push(...nodes);
    for (const n of nodes) await n.connect();
    const limiters = nodes.map((n) => perSecondLimit(n, { name: 'customer', perSecond: 5, prefix })!);
    // when 8 orders of one customer arrive, alternating between the nodes, within a second
    const passed = await consumeAll(limiters, 'cust-1', 8);
    // then 5 go through in all, and another customer is not affected
    expect(passed.filter(Boolean)).to.have.length(5);
    expect(await consumeAll(limiters, 'cust-2', 1)).to.deep.equal([true]);
  });

  it('keeps limiting on each node, with no error, while Redis cannot be reached', async () => {
    // given a node whose Redis is down (nothing listens on that port)
    const down = connect('redis://127.0.0.1:1');
    clients.push(down);
    await down.connect().catch(() => undefined);
    const limiter = perSecondLimit(down, { name: 'customer', perSecond: 5, prefix: `rl-${randomUUID()}` })!;
    // when 8 orders of one customer arrive within a second
    const started = Date.now();
    const passed = await consumeAll([limiter], 'cust-1', 8);
    // then the node counts alone: 5 go through, 3 are refused, and none waited for Redis
    expect(passed).to.deep.equal([true, true, true, true, true, false, false, false]);
    expect(Date.now() - started).to.be.lessThan(500);
  });

  it('limits nothing when the limit is 0', () => {
    expect(perSecondLimit(undefined, { name: 'customer', perSecond: 0, prefix: 'x' })).to.equal(undefined);
  });
});
