import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from '../../test/contracts/event-store.contract';
import { SqliteEventStore } from './sqlite-event-store';

describe('SqliteEventStore on a temporary file', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-event-store-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (): Promise<SqliteEventStore> => new SqliteEventStore({ file: join(dir, 'crest.db'), synchronous: 'FULL' });
  eventStoreContract('SqliteEventStore', { open, reopen: open });
});

describe('SqliteEventStore: followers read what this process appended without reading it back', () => {
  let dir: string;
  const stores: SqliteEventStore[] = [];
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-recent-'))));
  after(async () => {
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  });
  const open = (recentEvents = 100): SqliteEventStore => {
    const store = new SqliteEventStore({ file: join(dir, 'shared.db'), synchronous: 'NORMAL', idlePollMs: 10, recentEvents });
    stores.push(store);
    return store;
  };
  const event = (n: number) => ({ id: randomUUID(), type: 'Tested', data: { n }, metadata: {} });

  it('never skips what another process appended between two of its own commits', async () => {
    // given two stores on one file (two processes), appending in turn, and a follower on the first
    const mine = open();
    const other = open();
    const seen: number[] = [];
    const subscription = mine.subscribeToAll({ batchSize: 3 }, (batch) => void seen.push(...batch.map((e) => (e.data as { n: number }).n)));

    // when they interleave
    let n = 0;
    for (let round = 0; round < 10; round++) {
      await mine.appendToStream(`mine-${round}`, [event(n++), event(n++)], 'no_stream');
      await other.appendToStream(`other-${round}`, [event(n++)], 'no_stream');
    }

    // then the follower sees every event once, in order
    const deadline = Date.now() + 5000;
    while (seen.length < n && Date.now() < deadline) await new Promise<void>((resolve) => setImmediate(resolve));
    await subscription.close();
    expect(seen).to.deep.equal(Array.from({ length: n }, (_, i) => i));
    // and the log read from the file says the same
    expect((await mine.readAll()).map((e) => (e.data as { n: number }).n)).to.deep.equal(seen);
  });

  it('answers a follower that lags past what it holds from the file', async () => {
    const store = open(4);
    const first = await store.appendToStream(`lag-${randomUUID()}`, Array.from({ length: 10 }, (_, i) => event(i)), 'no_stream');
    const from = first.position - 10;
    expect((await store.readAll({ after: from })).map((e) => (e.data as { n: number }).n)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await store.readAll({ after: from + 7 })).map((e) => (e.data as { n: number }).n)).to.deep.equal([7, 8, 9]);
    expect((await store.readAll({ after: from + 8 })).map((e) => (e.data as { n: number }).n)).to.deep.equal([8, 9]);
  });
});

describe('SqliteEventStore: its writer thread dies', () => {
  it('refuses what was unanswered as unavailable, and appends again on a new thread', async () => {
    // given a store with a committed event
    const dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-thread-'));
    const store = new SqliteEventStore({ file: join(dir, 'crest.db'), synchronous: 'FULL' });
    try {
      await store.appendToStream('thread-a', [{ id: randomUUID(), type: 'Tested', data: { n: 0 }, metadata: {} }], 'no_stream');

      // when the thread ends as a crash would, with an append in flight
      const inFlight = store.appendToStream('thread-a', [{ id: randomUUID(), type: 'Tested', data: { n: 1 }, metadata: {} }], 0);
      await (store as unknown as { writer: { worker: { terminate(): Promise<number> } } }).writer.worker.terminate();
      const outcome = await inFlight.then(
        () => 'committed',
        (error: { code?: string }) => error.code,
      );

      // then the append either committed before the end or was refused as unavailable, and the next one works
      expect(['committed', 'unavailable']).to.include(outcome);
      const next = await store.appendToStream('thread-a', [{ id: randomUUID(), type: 'Tested', data: { n: 2 }, metadata: {} }], 'stream_exists');
      const stream = await store.readStream('thread-a');
      expect(stream.map((e) => (e.data as { n: number }).n)).to.deep.equal(outcome === 'committed' ? [0, 1, 2] : [0, 2]);
      expect(next.position).to.equal(stream[stream.length - 1]!.position);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
