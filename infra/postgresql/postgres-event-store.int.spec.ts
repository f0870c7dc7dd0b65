import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { StoreUnavailableError, WrongExpectedRevisionError, type EventToAppend, type RecordedEvent } from '../../domain/kernel/event-store';
import { eventStoreContract } from '../../test/contracts/event-store.contract';
import { appendGroup, prepareCaller } from './postgres-append';
import { PostgresDatabase } from './postgres-database';
import { PostgresEventStore } from './postgres-event-store';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';
import { waitFor } from '../../test/support/wait-for';

const event = (n: number): EventToAppend => ({ id: randomUUID(), type: 'Tested', data: { n }, metadata: {} });
const numbers = (events: readonly RecordedEvent[]): number[] => events.map((e) => (e.data as { n: number }).n);

/** Server pids of the connections listening for `store`'s appends, as another store's pool sees them. */
const listenersOf = async (store: PostgresEventStore, via: PostgresEventStore): Promise<number[]> => {
  const { rows } = await via.database.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [`LISTEN ${store.database.channel}`]);
  return rows.map((r) => r.pid);
};

describe('PostgresEventStore', () => {
  const options = isolatedPostgresSchema();
  const stores: PostgresEventStore[] = [];
  const open = (idlePollMs = 5000): PostgresEventStore => {
    const store = new PostgresEventStore({ ...options, idlePollMs });
    stores.push(store);
    return store;
  };
  after(async () => {
    for (const s of stores) await s.close();
  });

  eventStoreContract('PostgresEventStore', { open: async () => open(100), reopen: async () => open(100) });

  describe('followers never skip an event that commits after a later one started', () => {
    const clients: Client[] = [];
    const connect = async (): Promise<Client> => {
      const client = new Client(new PostgresDatabase(options).clientConfig());
      clients.push(client);
      await client.connect();
      return client;
    };
    after(async () => {
      for (const c of clients) await c.end().catch(() => undefined);
    });

    it('sees every event exactly once, in position order, when two transactions commit out of order', async () => {
      // given a store (whose schema exists), two more connections that write as two other processes would, and two
      // followers: a subscription, and a loop that pages readAll as fast as it can
      const store = open();
      await store.headPosition();
      const [early, late] = [await connect(), await connect()];
      const latePid = (await late.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      /** The late connection is blocked on a lock (the log head), as the server reports it. */
      const lateWaitsForLock = async (): Promise<boolean> =>
        (await store.database.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = $2', [latePid, 'Lock'])).rowCount === 1;
      const channel = store.database.channel;
      const streamOf = (client: Client) => `ooo-${client === early ? 'early' : 'late'}-${randomUUID()}`;
      const scope = { after: (await store.headPosition()) ?? 0 };
      const subscribed: RecordedEvent[] = [];
      const subscription = store.subscribeToAll({ ...scope, batchSize: 5 }, (batch) => void subscribed.push(...batch));
      const paged: RecordedEvent[] = [];
      let paging = true;
      const pager = (async () => {
        let after = scope.after;
        while (paging) {
          const page = await store.readAll({ after, maxCount: 3 });
          paged.push(...page);
          if (page.length > 0) after = page[page.length - 1]!.position;
        }
      })();

      // when, round after round, the transaction that began first commits last, once appending before the other
      // (which then waits for it) and once after the other has committed
      let n = 0;
      const commitOrder: number[] = [];
      const append = async (client: Client, count: number): Promise<void> => {
        const events = Array.from({ length: count }, () => event(n++));
        const [outcome] = await appendGroup(client, [prepareCaller([{ streamId: streamOf(client), events, expectedRevision: 'no_stream' }], [])], channel);
        expect(outcome!.ok).to.equal(true);
      };
      const commit = async (client: Client, numbersInIt: number[]): Promise<void> => {
        await client.query('COMMIT');
        commitOrder.push(...numbersInIt);
      };
      for (let round = 0; round < 20; round++) {
        await early.query('BEGIN');
        await early.query('SELECT txid_current()');
        await late.query('BEGIN');
        await late.query('SELECT txid_current()');
        if (round % 2 === 0) {
          // the late one appends and commits while the early one is open; then the early one appends and commits
          const from = n;
          await append(late, 3);
          await commit(late, [from, from + 1, from + 2]);
          const next = n;
          await append(early, 2);
          await commit(early, [next, next + 1]);
        } else {
          // the early one takes the log head first and holds it; the late one's append waits for its commit
          const from = n;
          await append(early, 2);
          let lateAppended = false;
          const lateAppend = append(late, 1).then(() => (lateAppended = true));
          await waitFor(lateWaitsForLock, 5000, 'the late append to wait for the log head');
          expect(lateAppended, 'the late append waits for the log head').to.equal(false);
          await commit(early, [from, from + 1]);
          await lateAppend;
          await commit(late, [n - 1]);
        }
      }

      // then both followers saw every event once, in position order, which is commit order
      await waitFor(() => subscribed.length >= n && paged.length >= n, 10_000, 'the followers to see every event');
      paging = false;
      await pager;
      await subscription.close();
      const log = (await store.readAll(scope)).filter((e) => e.streamId.startsWith('ooo-'));
      expect(log).to.have.lengthOf(n);
      for (const [label, seen] of [
        ['subscription', subscribed],
        ['readAll pager', paged],
      ] as const) {
        expect(seen.map((e) => e.id), label).to.deep.equal(log.map((e) => e.id));
        for (let i = 1; i < seen.length; i++) expect(seen[i]!.position, `${label} #${i}`).to.be.greaterThan(seen[i - 1]!.position);
      }
      expect(numbers(log), 'positions follow commit order').to.deep.equal(commitOrder);
      expect(log[log.length - 1]!.position - log[0]!.position, 'no holes: each position was handed out once, at commit').to.equal(n - 1);
    });
  });

  describe('across processes', () => {
    it('wakes a follower in another process through NOTIFY, long before its poll', async () => {
      // given two stores (two processes) and a follower on the first that polls only every 5 s
      const mine = open(5000);
      const other = open(5000);
      const scope = { after: (await mine.headPosition()) ?? 0 };
      await other.headPosition();
      const seen: RecordedEvent[] = [];
      const subscription = mine.subscribeToAll(scope, (batch) => void seen.push(...batch));
      await waitFor(async () => (await listenersOf(mine, other)).length > 0, 5000, 'the first store to listen');

      // when the other appends
      const started = Date.now();
      await other.appendToStream(`notify-${randomUUID()}`, [event(1)], 'no_stream');

      // then the follower has it within a second
      await waitFor(() => seen.length > 0, 1000, 'the notified follower');
      expect(Date.now() - started).to.be.lessThan(1000);
      await subscription.close();
    });

    it('listens again after its LISTEN connection is cut', async () => {
      // given a follower whose store polls only every 5 s
      const mine = open(5000);
      const other = open(5000);
      const scope = { after: (await mine.headPosition()) ?? 0 };
      const seen: RecordedEvent[] = [];
      const subscription = mine.subscribeToAll(scope, (batch) => void seen.push(...batch));
      const listeners = () => listenersOf(mine, other);
      const waitForListeners = (except: readonly number[]): Promise<void> =>
        waitFor(async () => (await listeners()).filter((pid) => !except.includes(pid)).length >= 2, 5000, 'both stores to listen');
      await waitForListeners([]);

      // when the server ends every listening connection of this schema
      const cut = await listeners();
      await other.database.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [cut]);
      await waitForListeners(cut);
      await other.appendToStream(`relisten-${randomUUID()}`, [event(1)], 'no_stream');

      // then the follower is woken again by a notification, well before its poll
      await waitFor(() => seen.length > 0, 1000, 'the follower after the listener came back');
      await subscription.close();
    });

    it('keeps expected revisions exact when two processes race for one stream', async () => {
      const [a, b] = [open(), open()];
      const streamId = `race-${randomUUID()}`;
      await a.appendToStream(streamId, [event(0)], 'no_stream');
      const settled = await Promise.allSettled([...Array.from({ length: 10 }, () => a.appendToStream(streamId, [event(1)], 0)), ...Array.from({ length: 10 }, () => b.appendToStream(streamId, [event(1)], 0))]);
      expect(settled.filter((s) => s.status === 'fulfilled')).to.have.lengthOf(1);
      for (const s of settled) if (s.status === 'rejected') expect(s.reason).to.be.instanceOf(WrongExpectedRevisionError);
      expect((await a.readStream(streamId)).map((e) => e.revision)).to.deep.equal([0, 1]);
    });
  });

  describe('group commit', () => {
    it('commits the appends of one turn in one transaction, undoing only the caller whose check failed', async () => {
      const store = open();
      const taken = `group-${randomUUID()}`;
      await store.appendToStream(taken, [event(0)], 'no_stream');
      const [s1, s3] = [`group-${randomUUID()}`, `group-${randomUUID()}`];
      const [first, failed, last] = await Promise.allSettled([
        store.appendToStream(s1, [event(1), event(2)], 'no_stream'),
        store.appendToStreams([
          { streamId: `group-${randomUUID()}`, events: [event(3)], expectedRevision: 'no_stream' },
          { streamId: taken, events: [event(4)], expectedRevision: 'no_stream' },
        ]),
        store.appendToStream(s3, [event(5)], 'no_stream'),
      ]);

      expect([first.status, failed.status, last.status]).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect((failed as PromiseRejectedResult).reason).to.be.instanceOf(WrongExpectedRevisionError).and.include({ streamId: taken });
      const [one, two] = [(first as PromiseFulfilledResult<{ position: number }>).value, (last as PromiseFulfilledResult<{ position: number }>).value];
      expect(two.position - one.position, 'the failed caller left no hole').to.equal(1);
      // created is the transaction's start time (now()): the same for both callers' rows, and only for theirs
      const { rows } = await store.database.pool.query<{ created: string }>('SELECT DISTINCT created::text FROM events WHERE stream_id = ANY($1)', [[s1, s3, taken]]);
      expect(rows.length, 'the earlier append of `taken` was another transaction').to.equal(2);
      const { rows: group } = await store.database.pool.query<{ created: string }>('SELECT DISTINCT created::text FROM events WHERE stream_id = ANY($1)', [[s1, s3]]);
      expect(group, 'one transaction').to.have.lengthOf(1);
    });
  });

  describe('without a server', () => {
    it('refuses appends and reads as unavailable, with nothing written', async () => {
      const store = new PostgresEventStore({ connectionString: 'postgres://crest@127.0.0.1:1/crest' });
      try {
        const error = await store.appendToStream(`down-${randomUUID()}`, [event(0)], 'no_stream').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(StoreUnavailableError).and.have.property('code', 'unavailable');
        const read = await store.readAll().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(read).to.be.instanceOf(StoreUnavailableError);
      } finally {
        await store.close();
      }
    });
  });
});
