import { expect } from 'chai';
import Fastify from 'fastify';
import pino from 'pino';
import type { RecordedEvent } from '../domain/kernel/event-store';
import { opsRoutes } from '../infra/http/ops-routes';
import { MemoryEventStore } from '../infra/memory/memory-event-store';
import { CrestMetrics } from '../infra/metrics/metrics';
import { waitFor } from '../test/support/wait-for';
import { LogFollower, PoisonEventError, type FollowerMonitor } from './log-follower';

const append = (store: MemoryEventStore, stream: string, n: number) =>
  store.appendToStream(
    stream,
    Array.from({ length: n }, (_, i) => ({ id: `${stream}-${i}`, type: 'Something', data: { i }, metadata: {} })),
    'any',
  );

describe('LogFollower', () => {
  let store: MemoryEventStore;
  let followers: LogFollower[];
  const metrics = new CrestMetrics();
  const monitor: FollowerMonitor = metrics.followerMonitor(pino({ level: 'silent' }));

  beforeEach(() => {
    store = new MemoryEventStore();
    followers = [];
  });
  afterEach(async () => {
    for (const f of followers) await f.stop();
    await store.close();
  });

  const follow = (handler: (batch: readonly RecordedEvent[]) => Promise<void> | void, options: Partial<ConstructorParameters<typeof LogFollower>[1]> = {}) => {
    const follower = new LogFollower(store, { name: 'test-follower', batchSize: 10, retryBaseMs: 1, retryMaxMs: 5, ...options }, handler, monitor);
    followers.push(follower);
    void follower.start();
    return follower;
  };

  it('keeps retrying a failing batch, reports itself stalled meanwhile, and handles every event once it succeeds', async () => {
    // given a log and a handler that fails until it is allowed to succeed
    await append(store, 'thing-1', 25);
    let failing = true;
    const handled: number[] = [];
    const follower = follow((batch) => {
      if (failing) throw new Error('SQLITE_BUSY: database is locked');
      handled.push(...batch.map((e) => e.position));
    });

    // when it has failed a few times
    await waitFor(() => follower.status().attempts >= 3, 5000, 'three failed attempts');

    // then it is retrying, and readiness names it
    expect(follower.status()).to.include({ state: 'retrying', lastError: 'SQLITE_BUSY: database is locked' });
    expect(metrics.stalledFollowers(0).map((s) => s.name)).to.deep.equal(['test-follower']);
    const app = Fastify();
    await app.register(opsRoutes({ registry: metrics.registry, ready: () => true, stalled: () => metrics.stalledFollowers(0) }));
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).to.equal(503);
    expect(ready.json()).to.deep.include({ status: 'stalled' });
    expect(ready.json().stalled[0]).to.include({ follower: 'test-follower', state: 'retrying' });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).to.match(/crest_follower_stalled\{follower="test-follower"\} 1/);

    // and when the handler can succeed again, it catches up without skipping or repeating anything
    failing = false;
    await waitFor(() => follower.position === 25, 5000, 'the follower to catch up');
    expect(handled).to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(follower.status()).to.include({ state: 'running', attempts: 0 });
    expect(metrics.stalledFollowers(0)).to.deep.equal([]);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).to.equal(200);
    await app.close();
  });

  it('reopens its subscription from the last handled position when the store itself fails', async () => {
    // given a store whose reads fail for a while
    await append(store, 'thing-1', 5);
    const realReadAll = store.readAll.bind(store);
    let readsFail = false;
    store.readAll = async (options) => {
      if (readsFail) throw new Error('connection reset');
      return realReadAll(options);
    };
    const handled: number[] = [];
    const follower = follow((batch) => void handled.push(...batch.map((e) => e.position)));
    await waitFor(() => follower.position === 5, 5000, 'the first events');

    // when reads fail, events are appended, and reads come back
    readsFail = true;
    await append(store, 'thing-2', 3);
    await waitFor(() => follower.status().attempts > 0, 5000, 'a failed read');
    readsFail = false;
    await append(store, 'thing-3', 2);

    // then every event is handled exactly once, in order
    await waitFor(() => follower.position === 10, 5000, 'the follower to resume');
    expect(handled).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await waitFor(() => follower.status().state === 'running', 5000, 'recovery');
  });

  it("halts at a poison event under 'stop' and passes over it under 'skip'", async () => {
    await append(store, 'thing-1', 6);
    const poison = (batch: readonly RecordedEvent[]) => {
      const bad = batch.find((e) => e.position === 4);
      if (bad) throw new PoisonEventError(bad, new Error('cannot fold'));
    };
    const handledStop: number[] = [];
    const stopping = follow((batch) => {
      poison(batch);
      handledStop.push(...batch.map((e) => e.position));
    }, { name: 'stopping', poisonPolicy: 'stop' });
    const handledSkip: number[] = [];
    const skipping = follow((batch) => {
      poison(batch);
      handledSkip.push(...batch.map((e) => e.position));
    }, { name: 'skipping', poisonPolicy: 'skip' });

    await waitFor(() => stopping.status().state === 'halted' && skipping.position === 6, 5000, 'both policies to act');
    expect(handledStop).to.deep.equal([1, 2, 3]);
    expect(stopping.position).to.equal(3);
    expect(metrics.stalledFollowers(60_000).map((s) => s.name)).to.deep.equal(['stopping']);
    expect(handledSkip).to.deep.equal([1, 2, 3, 5, 6]);
  });

  it('stops promptly while it is backing off', async () => {
    await append(store, 'thing-1', 1);
    const follower = new LogFollower(store, { name: 'slow-retry', retryBaseMs: 60_000, retryMaxMs: 60_000 }, () => {
      throw new Error('down');
    });
    void follower.start();
    await waitFor(() => follower.status().attempts === 1, 5000, 'a failure');
    const started = Date.now();
    await follower.stop();
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(follower.status().state).to.equal('stopped');
  });

  it('starts after its checkpoint, saves it as it goes at most as often as asked, and at stop', async () => {
    // given a log of 30 events and a checkpoint at 10
    await append(store, 'thing-1', 30);
    let stored: number | undefined = 10;
    const saves: number[] = [];
    const handled: number[] = [];
    const checkpoint = { load: async () => stored, save: async (position: number) => void saves.push((stored = position)), everyMs: 60_000 };
    const follower = new LogFollower(store, { name: 'checkpointed', batchSize: 5, checkpoint }, (batch) => void handled.push(...batch.map((e) => e.position)), monitor);
    followers.push(follower);

    // when it runs to the end and stops
    await follower.start();
    await waitFor(() => follower.position === 30, 5000, 'the end of the log');
    await follower.stop();

    // then it handled only what came after 10, saved once on the way (then waited a minute), and once at stop
    expect(handled).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 11));
    expect(saves).to.deep.equal([15, 30]);
  });
});
