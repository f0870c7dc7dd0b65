import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  RequiredEventMissingError,
  WrongExpectedRevisionError,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../../domain/kernel/event-store';

export interface EventStoreHarness {
  open(): Promise<EventStore>;
  /** A new instance over the same data, after the previous one was closed. Omit for stores that forget on close. */
  reopen?: () => Promise<EventStore>;
}

/*
 * Written so that any adapter, including one over a shared server with a long history, runs it unchanged:
 * every test uses fresh stream ids, categories and event types, reads only what it wrote, and assumes of
 * positions only that they strictly increase.
 */

/** A category no other test uses: no dash, so it is a whole category. */
const newCategory = (): string => `test${randomUUID().replaceAll('-', '')}`;
const streamIn = (category: string): string => `${category}-${randomUUID()}`;
const categoryOf = (streamId: string): string => streamId.split('-', 1)[0]!;

const newEvent = (type = 'Tested', data: unknown = { n: 0 }, metadata: Record<string, unknown> = {}): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});
const newEvents = (count: number, type = 'Tested'): EventToAppend[] => Array.from({ length: count }, (_, n) => newEvent(type, { n }));

const ids = (events: readonly { id: string }[]): string[] => events.map((e) => e.id);
/** What the port promises of a recorded event, whatever object an adapter hands out for it. */
const plain = (events: readonly RecordedEvent[]) =>
  events.map(({ streamId, revision, position, id, type, data, metadata, created }) => ({ streamId, revision, position, id, type, data, metadata, created }));
const revisions = (events: readonly RecordedEvent[]): number[] => events.map((e) => e.revision);

const expectIncreasing = (positions: readonly number[]): void => {
  for (let i = 1; i < positions.length; i++) expect(positions[i]!, `position #${i}`).to.be.greaterThan(positions[i - 1]!);
};

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

const waitFor = async (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await nextTurn();
  }
};

/** What `promise` rejects with; fails if it resolves instead or has not settled within the timeout. */
const rejectionOf = async (promise: Promise<unknown>, timeoutMs = 10_000): Promise<unknown> => {
  const settled: { outcome?: { rejected: boolean; value: unknown } } = {};
  promise.then(
    (value) => (settled.outcome = { rejected: false, value }),
    (value: unknown) => (settled.outcome = { rejected: true, value }),
  );
  await waitFor(() => settled.outcome !== undefined, 'the promise to settle', timeoutMs);
  if (!settled.outcome!.rejected) expect.fail('expected a rejection');
  return settled.outcome!.value;
};

interface Collector {
  readonly subscription: Subscription;
  /** The delivered events the test wrote, in delivery order. */
  readonly events: RecordedEvent[];
  /** Every batch handed to the handler. */
  readonly batches: (readonly RecordedEvent[])[];
}

export const eventStoreContract = (name: string, harness: EventStoreHarness): void => {
  describe(`${name} (event store contract)`, () => {
    let store: EventStore;
    let subscriptions: Subscription[] = [];

    before(async () => {
      store = await harness.open();
    });

    afterEach(async () => {
      await Promise.all(subscriptions.map((s) => s.close()));
      subscriptions = [];
    });

    after(async () => {
      await store.close();
    });

    /** Options that scope a global read to what is written from now on. */
    const fromNow = async (): Promise<{ after?: number }> => {
      const head = await store.headPosition();
      return head === undefined ? {} : { after: head };
    };

    const collect = (options: SubscribeOptions, mine: (e: RecordedEvent) => boolean): Collector => {
      const events: RecordedEvent[] = [];
      const batches: (readonly RecordedEvent[])[] = [];
      const subscription = store.subscribeToAll(options, (batch) => {
        batches.push(batch);
        events.push(...batch.filter(mine));
        // Ends a subscription that redelivers forever instead of letting it starve the test.
        if (events.length > 10_000) throw new Error('The subscription delivered more events than the test wrote');
      });
      subscriptions.push(subscription);
      return { subscription, events, batches };
    };

    /** Appends a marker and waits for it: everything before it has then arrived, and a duplicate would show. */
    const flush = async (collector: Collector, streamId: string): Promise<string> => {
      const marker = newEvent('Marker');
      await store.appendToStream(streamId, [marker], 'any');
      await waitFor(() => collector.events.some((e) => e.id === marker.id), 'the marker event');
      return marker.id;
    };

    const expectConflict = async (streamId: string, events: readonly EventToAppend[], expected: ExpectedRevision, actual: number | 'no_stream'): Promise<void> => {
      const stream = await store.readStream(streamId);
      const head = await store.headPosition({ categories: [categoryOf(streamId)] });
      const error = await rejectionOf(store.appendToStream(streamId, events, expected));
      expect(error).to.be.instanceOf(WrongExpectedRevisionError);
      expect(error).to.include({ code: 'wrong_expected_revision', streamId, expected, actual });
      expect(plain(await store.readStream(streamId)), 'the stream after a failed append').to.deep.equal(plain(stream));
      expect(await store.headPosition({ categories: [categoryOf(streamId)] }), 'the category head after a failed append').to.equal(head);
    };

    describe('appending to several streams at once (stores with multi-stream transactions)', () => {
      const many = () => {
        if (!store.appendToStreams) return undefined;
        return store.appendToStreams.bind(store);
      };

      it('commits every stream together, in the order given, with consecutive positions', async function () {
        const appendToStreams = many();
        if (!appendToStreams) return this.skip();
        const category = newCategory();
        const [a, b] = [streamIn(category), streamIn(category)];
        const results = await appendToStreams([
          { streamId: a, events: newEvents(2), expectedRevision: 'no_stream' },
          { streamId: b, events: newEvents(1), expectedRevision: 'no_stream' },
        ]);
        expect(results.map((r) => r.nextExpectedRevision)).to.deep.equal([1, 0]);
        const log = await store.readAll({ filter: { categories: [category] } });
        expect(log.map((e) => e.streamId)).to.deep.equal([a, a, b]);
        expect(log[2]!.position - log[0]!.position, 'one transaction, nothing in between').to.equal(2);
        expect(results[1]!.position).to.equal(log[2]!.position);
      });

      it('writes nothing when one stream fails its check, and names that stream', async function () {
        const appendToStreams = many();
        if (!appendToStreams) return this.skip();
        const category = newCategory();
        const [a, b] = [streamIn(category), streamIn(category)];
        await store.appendToStream(b, newEvents(1), 'no_stream');
        const head = await store.headPosition();
        const failed = await appendToStreams([
          { streamId: a, events: newEvents(2), expectedRevision: 'no_stream' },
          { streamId: b, events: newEvents(1), expectedRevision: 'no_stream' },
        ]).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failed).to.be.instanceOf(WrongExpectedRevisionError);
        expect((failed as WrongExpectedRevisionError).streamId).to.equal(b);
        expect(await store.readStream(a)).to.deep.equal([]);
        expect(await store.headPosition()).to.equal(head);
      });

      it('does not let a failed multi-stream append undo appends made beside it', async function () {
        const appendToStreams = many();
        if (!appendToStreams) return this.skip();
        const category = newCategory();
        const [a, b, c] = [streamIn(category), streamIn(category), streamIn(category)];
        await store.appendToStream(b, newEvents(1), 'no_stream');
        const [failed, beside] = await Promise.allSettled([
          appendToStreams([
            { streamId: a, events: newEvents(1), expectedRevision: 'no_stream' },
            { streamId: b, events: newEvents(1), expectedRevision: 'no_stream' },
          ]),
          store.appendToStream(c, newEvents(1), 'no_stream'),
        ]);
        expect([failed.status, beside.status]).to.deep.equal(['rejected', 'fulfilled']);
        expect(revisions(await store.readStream(c))).to.deep.equal([0]);
        expect(await store.readStream(a)).to.deep.equal([]);
      });
    });

    describe('appending on the condition that other events are in the log (stores with multi-stream transactions)', () => {
      it('appends when every required event is there, also when it is still on its way in the same commit', async function () {
        if (!store.appendToStreams) return this.skip();
        const category = newCategory();
        const [a, b, order] = [streamIn(category), streamIn(category), streamIn(category)];
        const [fromA, fromB] = [newEvents(1), newEvents(1)];
        await store.appendToStream(a, fromA, 'no_stream');
        // b's event is not committed yet when the dependent append is made: both go to the store in the same turn
        const [bDone, dependent] = await Promise.all([
          store.appendToStream(b, fromB, 'no_stream'),
          store.appendToStreams([{ streamId: order, events: newEvents(1), expectedRevision: 'no_stream' }], [
            { streamId: a, revision: 0, eventId: fromA[0]!.id },
            { streamId: b, revision: 0, eventId: fromB[0]!.id },
          ]),
        ]);
        expect(dependent[0]!.nextExpectedRevision).to.equal(0);
        expect(dependent[0]!.position).to.be.greaterThan(bDone.position);
      });

      it('writes nothing when a required event is missing, or another event is at its revision, and names it', async function () {
        if (!store.appendToStreams) return this.skip();
        const category = newCategory();
        const [a, order] = [streamIn(category), streamIn(category)];
        await store.appendToStream(a, newEvents(1), 'no_stream');
        const head = await store.headPosition();
        for (const required of [
          { streamId: a, revision: 0, eventId: newEvent('X').id },
          { streamId: a, revision: 1, eventId: newEvent('Y').id },
          { streamId: streamIn(category), revision: 0, eventId: newEvent('Z').id },
        ]) {
          const error = await rejectionOf(store.appendToStreams([{ streamId: order, events: newEvents(1), expectedRevision: 'no_stream' }], [required]));
          expect(error).to.be.instanceOf(RequiredEventMissingError);
          expect(error).to.deep.include({ code: 'required_event_missing', required });
        }
        expect(await store.readStream(order)).to.deep.equal([]);
        expect(await store.headPosition()).to.equal(head);
      });

      it('writes nothing when the required event was in a commit that failed its own check', async function () {
        if (!store.appendToStreams) return this.skip();
        const category = newCategory();
        const [a, order] = [streamIn(category), streamIn(category)];
        await store.appendToStream(a, newEvents(1), 'no_stream');
        const doomed = newEvents(1);
        const [first, dependent] = await Promise.allSettled([
          store.appendToStream(a, doomed, 'no_stream'),
          store.appendToStreams([{ streamId: order, events: newEvents(1), expectedRevision: 'no_stream' }], [{ streamId: a, revision: 1, eventId: doomed[0]!.id }]),
        ]);
        expect([first.status, dependent.status]).to.deep.equal(['rejected', 'rejected']);
        expect((dependent as PromiseRejectedResult).reason).to.be.instanceOf(RequiredEventMissingError);
        expect(await store.readStream(order)).to.deep.equal([]);
      });
    });

    describe('appending', () => {
      it("starts a new stream at revision 0 with 'no_stream' and returns the next expected revision and last position", async () => {
        const head = await store.headPosition();
        const streamId = streamIn(newCategory());
        const events = [newEvent('A'), newEvent('B'), newEvent('C')];
        const started = Date.now();

        const result = await store.appendToStream(streamId, events, 'no_stream');

        const read = await store.readStream(streamId);
        expect(result.nextExpectedRevision).to.equal(2);
        expect(revisions(read)).to.deep.equal([0, 1, 2]);
        expect(ids(read)).to.deep.equal(ids(events));
        expect(read.map((e) => e.type)).to.deep.equal(['A', 'B', 'C']);
        expect(read.every((e) => e.streamId === streamId)).to.equal(true);
        expectIncreasing(read.map((e) => e.position));
        expect(result.position).to.equal(read[2]!.position);
        if (head !== undefined) expect(read[0]!.position).to.be.greaterThan(head);
        for (const e of read) {
          expect(e.created).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
          expect(Math.abs(Date.parse(e.created) - started), 'created is close to now').to.be.lessThan(5 * 60_000);
        }
      });

      it('continues a stream from the returned revision, with positions increasing across streams', async () => {
        const category = newCategory();
        const [a, b] = [streamIn(category), streamIn(category)];

        const first = await store.appendToStream(a, newEvents(2), 'no_stream');
        const other = await store.appendToStream(b, newEvents(1), 'no_stream');
        const second = await store.appendToStream(a, newEvents(2), first.nextExpectedRevision);

        expect(first.nextExpectedRevision).to.equal(1);
        expect(second.nextExpectedRevision).to.equal(3);
        expectIncreasing([first.position, other.position, second.position]);
        const read = await store.readStream(a);
        expect(revisions(read)).to.deep.equal([0, 1, 2, 3]);
        expectIncreasing(read.map((e) => e.position));
        expect(read[1]!.position).to.be.lessThan(other.position);
        expect(read[2]!.position).to.be.greaterThan(other.position);
      });

      it('leaves stored events untouched when the caller later mutates what it appended', async () => {
        const streamId = streamIn(newCategory());
        const data = { lines: [{ sku: 'TEE-001', quantity: 1 }] };
        const metadata = { tags: ['a'] };
        await store.appendToStream(streamId, [newEvent('Tested', data, metadata)], 'no_stream');

        data.lines[0]!.quantity = 99;
        metadata.tags.push('b');

        const [read] = await store.readStream(streamId);
        const [followed] = await store.readAll({ filter: { categories: [categoryOf(streamId)] } });
        for (const event of [read!, followed!]) {
          expect(event.data).to.deep.equal({ lines: [{ sku: 'TEE-001', quantity: 1 }] });
          expect(event.metadata).to.deep.equal({ tags: ['a'] });
        }
      });
    });

    describe('expected revision', () => {
      it("refuses 'no_stream' once the stream exists", async () => {
        const streamId = streamIn(newCategory());
        await store.appendToStream(streamId, newEvents(2), 'no_stream');
        await expectConflict(streamId, newEvents(1), 'no_stream', 1);
      });

      it("refuses 'stream_exists' on a missing stream, and accepts it once the stream exists", async () => {
        const streamId = streamIn(newCategory());
        await expectConflict(streamId, newEvents(2), 'stream_exists', 'no_stream');
        expect(await store.readStream(streamId)).to.deep.equal([]);

        await store.appendToStream(streamId, newEvents(1), 'no_stream');
        const result = await store.appendToStream(streamId, newEvents(1), 'stream_exists');
        expect(result.nextExpectedRevision).to.equal(1);
      });

      it("accepts an exact revision only when it is the stream's last revision", async () => {
        const streamId = streamIn(newCategory());
        await expectConflict(streamId, newEvents(1), 0, 'no_stream');
        await store.appendToStream(streamId, newEvents(2), 'no_stream');

        await expectConflict(streamId, newEvents(1), 0, 1);
        await expectConflict(streamId, newEvents(1), 2, 1);
        await expectConflict(streamId, newEvents(1), 7, 1);

        const result = await store.appendToStream(streamId, newEvents(1), 1);
        expect(result.nextExpectedRevision).to.equal(2);
        expect(revisions(await store.readStream(streamId))).to.deep.equal([0, 1, 2]);
      });

      it("accepts 'any' whether or not the stream exists", async () => {
        const streamId = streamIn(newCategory());
        expect((await store.appendToStream(streamId, newEvents(2), 'any')).nextExpectedRevision).to.equal(1);
        expect((await store.appendToStream(streamId, newEvents(1), 'any')).nextExpectedRevision).to.equal(2);
        expect(revisions(await store.readStream(streamId))).to.deep.equal([0, 1, 2]);
      });

      it('accepts an empty append with a correct revision and writes nothing', async () => {
        const category = newCategory();
        const streamId = streamIn(category);
        const appended = await store.appendToStream(streamId, newEvents(2), 'no_stream');
        const stream = await store.readStream(streamId);

        for (const expected of [1, 'any', 'stream_exists'] as const) {
          const result = await store.appendToStream(streamId, [], expected);
          expect(result, `empty append expecting ${expected}`).to.deep.equal({ nextExpectedRevision: 1, position: appended.position });
        }
        expect(plain(await store.readStream(streamId))).to.deep.equal(plain(stream));
        expect(await store.headPosition({ categories: [category] })).to.equal(appended.position);

        const missing = streamIn(category);
        await store.appendToStream(missing, [], 'no_stream');
        await store.appendToStream(missing, [], 'any');
        expect(await store.readStream(missing), 'an empty append creates no stream').to.deep.equal([]);
        await store.appendToStream(missing, newEvents(1), 'no_stream');
      });

      it('refuses an empty append with a wrong revision', async () => {
        const streamId = streamIn(newCategory());
        await expectConflict(streamId, [], 'stream_exists', 'no_stream');
        await store.appendToStream(streamId, newEvents(1), 'no_stream');
        await expectConflict(streamId, [], 'no_stream', 0);
        await expectConflict(streamId, [], 3, 0);
      });
    });

    describe('concurrent appends', () => {
      const race = async (streamId: string, expected: ExpectedRevision, attempts: number) => {
        const batches = Array.from({ length: attempts }, () => newEvents(2));
        const settled = await Promise.allSettled(batches.map((events) => store.appendToStream(streamId, events, expected)));
        return { batches, settled };
      };

      it('lets exactly one of many appends expecting the same revision win', async () => {
        const streamId = streamIn(newCategory());
        await store.appendToStream(streamId, newEvents(1), 'no_stream');

        const { batches, settled } = await race(streamId, 0, 20);

        const winners = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ result: s.value, events: batches[i]! }] : []));
        expect(winners).to.have.lengthOf(1);
        expect(winners[0]!.result.nextExpectedRevision).to.equal(2);
        for (const s of settled) {
          if (s.status === 'rejected') {
            expect(s.reason).to.be.instanceOf(WrongExpectedRevisionError);
            expect(s.reason).to.have.property('code', 'wrong_expected_revision');
          }
        }
        const read = await store.readStream(streamId);
        expect(revisions(read)).to.deep.equal([0, 1, 2]);
        expect(ids(read.slice(1))).to.deep.equal(ids(winners[0]!.events));
      });

      it("lets exactly one of many 'no_stream' appends create the stream", async () => {
        const streamId = streamIn(newCategory());

        const { batches, settled } = await race(streamId, 'no_stream', 20);

        const winner = settled.findIndex((s) => s.status === 'fulfilled');
        expect(settled.filter((s) => s.status === 'fulfilled')).to.have.lengthOf(1);
        for (const s of settled) {
          if (s.status === 'rejected') expect(s.reason).to.be.instanceOf(WrongExpectedRevisionError).and.have.property('code', 'wrong_expected_revision');
        }
        expect(ids(await store.readStream(streamId))).to.deep.equal(ids(batches[winner]!));
      });

      it("serialises concurrent 'any' appends, keeping each append whole", async () => {
        const streamId = streamIn(newCategory());

        const { batches, settled } = await race(streamId, 'any', 20);

        const read = await store.readStream(streamId);
        expect(revisions(read)).to.deep.equal(Array.from({ length: 40 }, (_, r) => r));
        expectIncreasing(read.map((e) => e.position));
        const byId = new Map(read.map((e) => [e.id, e]));
        settled.forEach((s, i) => {
          if (s.status === 'rejected') throw s.reason;
          const [first, second] = batches[i]!.map((e) => byId.get(e.id)!);
          expect(second!.revision, 'the events of one append are adjacent').to.equal(first!.revision + 1);
          expect(s.value).to.deep.equal({ nextExpectedRevision: second!.revision, position: second!.position });
        });
      });
    });

    describe('reading a stream', () => {
      let streamId: string;
      let written: EventToAppend[];

      beforeEach(async () => {
        streamId = streamIn(newCategory());
        written = newEvents(6);
        await store.appendToStream(streamId, written, 'no_stream');
      });

      it('reads a missing stream as empty in either direction', async () => {
        const missing = streamIn(newCategory());
        expect(await store.readStream(missing)).to.deep.equal([]);
        expect(await store.readStream(missing, { direction: 'backwards' })).to.deep.equal([]);
      });

      it('reads forwards from a revision, up to maxCount', async () => {
        expect(ids(await store.readStream(streamId))).to.deep.equal(ids(written));
        expect(revisions(await store.readStream(streamId, { direction: 'forwards' }))).to.deep.equal([0, 1, 2, 3, 4, 5]);
        expect(revisions(await store.readStream(streamId, { fromRevision: 2 }))).to.deep.equal([2, 3, 4, 5]);
        expect(revisions(await store.readStream(streamId, { maxCount: 2 }))).to.deep.equal([0, 1]);
        expect(revisions(await store.readStream(streamId, { fromRevision: 3, maxCount: 2 }))).to.deep.equal([3, 4]);
        expect(revisions(await store.readStream(streamId, { fromRevision: 4, maxCount: 10 }))).to.deep.equal([4, 5]);
        expect(await store.readStream(streamId, { fromRevision: 6 })).to.deep.equal([]);
      });

      it('reads backwards from the end or from a revision, up to maxCount', async () => {
        expect(revisions(await store.readStream(streamId, { direction: 'backwards' }))).to.deep.equal([5, 4, 3, 2, 1, 0]);
        expect(revisions(await store.readStream(streamId, { direction: 'backwards', fromRevision: 3 }))).to.deep.equal([3, 2, 1, 0]);
        expect(revisions(await store.readStream(streamId, { direction: 'backwards', maxCount: 2 }))).to.deep.equal([5, 4]);
        expect(revisions(await store.readStream(streamId, { direction: 'backwards', fromRevision: 3, maxCount: 2 }))).to.deep.equal([3, 2]);
        expect(revisions(await store.readStream(streamId, { direction: 'backwards', fromRevision: 1, maxCount: 10 }))).to.deep.equal([1, 0]);
      });

      it('reads the same events backwards as forwards', async () => {
        const forwards = await store.readStream(streamId);
        const backwards = await store.readStream(streamId, { direction: 'backwards' });
        expect(plain([...backwards].reverse())).to.deep.equal(plain(forwards));
      });
    });

    describe('event contents', () => {
      it('round-trips data and metadata through stream and global reads', async () => {
        const data = {
          sku: 'TEE-001',
          text: 'Grüße, 你好, مرحبا, 👩🏽‍💻, e\u0301, "quoted" \\ back\nslash\ttab \u0000 nul',
          numbers: {
            zero: 0,
            negative: -42,
            fraction: 0.1,
            tiny: 1e-7,
            huge: 1.7976931348623157e308,
            maxSafe: Number.MAX_SAFE_INTEGER,
            minSafe: Number.MIN_SAFE_INTEGER,
          },
          flags: [true, false, null],
          nested: { deeper: { deepest: [1, [2, [3, { four: 4 }]]] }, emptyObject: {}, emptyArray: [] },
          emptyString: '',
        };
        const metadata = { correlationId: randomUUID(), causationId: randomUUID(), user: { name: 'Zoë Ñúñez', roles: ['admin'] }, schemaVersion: 3 };
        const category = newCategory();
        const streamId = streamIn(category);
        const event = newEvent('Tested.Ünïcode', data, metadata);

        await store.appendToStream(streamId, [event], 'no_stream');

        const [fromStream] = await store.readStream(streamId);
        const [fromLog] = await store.readAll({ filter: { categories: [category] } });
        for (const read of [fromStream!, fromLog!]) {
          expect(read).to.deep.include({ streamId, revision: 0, id: event.id, type: 'Tested.Ünïcode' });
          expect(read.data).to.deep.equal(data);
          expect(read.metadata).to.deep.equal(metadata);
        }
        expect(plain([fromLog!])).to.deep.equal(plain([fromStream!]));
      });
    });

    describe('reading the global log', () => {
      it('returns events in position order across streams, as the stream reads report them', async () => {
        const scope = await fromNow();
        const category = newCategory();
        const [a, b, c] = [streamIn(category), streamIn(category), streamIn(newCategory())];
        const appended: EventToAppend[] = [];
        const append = async (streamId: string, events: EventToAppend[], expected: ExpectedRevision): Promise<void> => {
          await store.appendToStream(streamId, events, expected);
          appended.push(...events);
        };
        await append(a, newEvents(2), 'no_stream');
        await append(b, newEvents(1), 'no_stream');
        await append(a, newEvents(1), 1);
        await append(c, newEvents(2), 'no_stream');

        const mine = new Set([a, b, c]);
        const log = (await store.readAll(scope)).filter((e) => mine.has(e.streamId));
        expect(ids(log)).to.deep.equal(ids(appended));
        expectIncreasing(log.map((e) => e.position));
        const streams = [...(await store.readStream(a)), ...(await store.readStream(b)), ...(await store.readStream(c))];
        expect(plain([...log].sort((x, y) => x.position - y.position))).to.deep.equal(plain([...streams].sort((x, y) => x.position - y.position)));
      });

      it("reads from the start when 'after' is omitted and treats 'after' as exclusive", async () => {
        const category = newCategory();
        const written = newEvents(5);
        await store.appendToStream(streamIn(category), written, 'no_stream');
        const filter = { categories: [category] };

        const all = await store.readAll({ filter });
        expect(ids(all)).to.deep.equal(ids(written));
        expect(ids(await store.readAll({ after: all[1]!.position, filter }))).to.deep.equal(ids(written.slice(2)));
        expect(await store.readAll({ after: all[4]!.position, filter })).to.deep.equal([]);
      });

      it('limits a read to maxCount, so the log can be paged with after', async () => {
        const scope = await fromNow();
        const category = newCategory();
        const written = newEvents(7);
        await store.appendToStream(streamIn(category), written, 'no_stream');
        const filter = { categories: [category] };

        expect(await store.readAll({ ...scope, maxCount: 2 })).to.have.lengthOf(2);
        expect(ids(await store.readAll({ maxCount: 3, filter }))).to.deep.equal(ids(written.slice(0, 3)));

        const pages: RecordedEvent[][] = [];
        let after: number | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.readAll({ ...(after === undefined ? {} : { after }), maxCount: 3, filter });
          if (page.length === 0) break;
          pages.push([...page]);
          after = page[page.length - 1]!.position;
        }
        expect(pages.map((p) => p.length)).to.deep.equal([3, 3, 1]);
        expect(ids(pages.flat())).to.deep.equal(ids(written));
      });

      it('filters by category: the part of the stream id before the first dash', async () => {
        const [catA, catB] = [newCategory(), newCategory()];
        const aWithDashes = `${catA}-${randomUUID()}-extra-dashes`;
        const aLonger = `${catA}longer-${randomUUID()}`;
        const b = streamIn(catB);
        const noDash = newCategory();
        await store.appendToStream(aWithDashes, newEvents(2), 'no_stream');
        await store.appendToStream(aLonger, newEvents(1), 'no_stream');
        await store.appendToStream(b, newEvents(1), 'no_stream');
        await store.appendToStream(noDash, newEvents(1), 'no_stream');
        await store.appendToStream(aWithDashes, newEvents(1), 'any');

        const streamsOf = async (categories: string[]): Promise<string[]> => (await store.readAll({ filter: { categories } })).map((e) => e.streamId);
        expect(await streamsOf([catA])).to.deep.equal([aWithDashes, aWithDashes, aWithDashes]);
        expect(await streamsOf([catA, catB])).to.deep.equal([aWithDashes, aWithDashes, b, aWithDashes]);
        expect(await streamsOf([noDash])).to.deep.equal([noDash]);
        expect(await streamsOf([`${catA}longer`])).to.deep.equal([aLonger]);
      });

      it('filters by event type, and by category and type together', async () => {
        const scope = await fromNow();
        const suffix = randomUUID().slice(0, 8);
        const [shipped, packed] = [`Shipped.${suffix}`, `Packed.${suffix}`];
        const [catA, catB] = [newCategory(), newCategory()];
        const [a, b] = [streamIn(catA), streamIn(catB)];
        await store.appendToStream(a, [newEvent(shipped), newEvent(packed)], 'no_stream');
        await store.appendToStream(b, [newEvent(packed), newEvent(shipped)], 'no_stream');
        await store.appendToStream(a, [newEvent(shipped)], 'any');

        const read = async (filter: { categories?: string[]; eventTypes?: string[] }): Promise<string[]> =>
          (await store.readAll({ ...scope, filter })).filter((e) => e.streamId === a || e.streamId === b).map((e) => `${e.streamId === a ? 'a' : 'b'}:${e.type}`);
        expect(await read({ eventTypes: [shipped] })).to.deep.equal([`a:${shipped}`, `b:${shipped}`, `a:${shipped}`]);
        expect(await read({ eventTypes: [shipped, packed] })).to.deep.equal([`a:${shipped}`, `a:${packed}`, `b:${packed}`, `b:${shipped}`, `a:${shipped}`]);
        expect(await read({ categories: [catA], eventTypes: [packed] })).to.deep.equal([`a:${packed}`]);
        expect(await read({ categories: [catB], eventTypes: [shipped] })).to.deep.equal([`b:${shipped}`]);
        expect(await read({ categories: [], eventTypes: [] }), 'empty lists do not restrict').to.deep.equal(await read({}));
        expect(await read({ eventTypes: [`Unknown.${suffix}`] })).to.deep.equal([]);
      });

      it('reports the head position, overall and through a filter', async () => {
        const before = await store.headPosition();
        const [catA, catB] = [newCategory(), newCategory()];
        const type = `Head.${randomUUID().slice(0, 8)}`;
        const a = await store.appendToStream(streamIn(catA), [newEvent('Other'), newEvent(type)], 'no_stream');
        const b = await store.appendToStream(streamIn(catB), [newEvent('Other')], 'no_stream');

        const head = await store.headPosition();
        expect(head).to.be.a('number');
        expect(head).to.be.at.least(b.position);
        if (before !== undefined) expect(head).to.be.greaterThan(before);
        expect(await store.headPosition({ categories: [catA] })).to.equal(a.position);
        expect(await store.headPosition({ eventTypes: [type] })).to.equal(a.position);
        expect(await store.headPosition({ categories: [catA, catB] })).to.equal(b.position);
        expect(await store.headPosition({ categories: [catB], eventTypes: [type] })).to.equal(undefined);
        expect(await store.headPosition({ categories: [newCategory()] })).to.equal(undefined);
      });
    });

    describe('catch-up subscriptions', () => {
      it('delivers exactly the events after its checkpoint, or all of them without one', async () => {
        const category = newCategory();
        const streamId = streamIn(category);
        const earlier = newEvents(3);
        const later = newEvents(3);
        const checkpoint = await store.appendToStream(streamId, earlier, 'no_stream');
        await store.appendToStream(streamId, later, 2);
        const mine = (e: RecordedEvent): boolean => e.streamId === streamId;

        const fromCheckpoint = collect({ after: checkpoint.position }, mine);
        const fromStart = collect({ filter: { categories: [category] } }, mine);
        const marker = await flush(fromCheckpoint, streamId);
        await waitFor(() => fromStart.events.some((e) => e.id === marker), 'the subscription from the start to see the marker');

        expect(ids(fromCheckpoint.events)).to.deep.equal([...ids(later), marker]);
        expect(ids(fromStart.events)).to.deep.equal([...ids(earlier), ...ids(later), marker]);
      });

      it('replays history, then goes live without gaps or duplicates', async () => {
        const scope = await fromNow();
        const category = newCategory();
        const [a, b] = [streamIn(category), streamIn(category)];
        const written: EventToAppend[] = [];
        const append = async (streamId: string, events: EventToAppend[]): Promise<void> => {
          await store.appendToStream(streamId, events, 'any');
          written.push(...events);
        };
        await append(a, newEvents(3));
        await append(b, newEvents(2));

        const collector = collect({ ...scope, batchSize: 2 }, (e) => e.streamId === a || e.streamId === b);
        await waitFor(() => collector.events.length >= 5, 'the historical events');
        await append(b, newEvents(1));
        await append(a, newEvents(2));
        await append(b, newEvents(2));
        const marker = await flush(collector, a);

        expect(ids(collector.events)).to.deep.equal([...ids(written), marker]);
        expectIncreasing(collector.events.map((e) => e.position));
        const last = collector.events[collector.events.length - 1]!.position;
        await waitFor(() => collector.subscription.position === last, 'the subscription position to reach the last event');
      });

      it('sees every event exactly once, in order, while several writers append concurrently', async () => {
        const category = newCategory();
        const streams = Array.from({ length: 10 }, () => streamIn(category));
        const history = newEvents(10);
        await store.appendToStream(streams[0]!, history, 'no_stream');
        const scope = await fromNow();
        const collector = collect({ filter: { categories: [category] }, batchSize: 7 }, () => true);
        const unfiltered = collect({ ...scope, batchSize: 50 }, (e) => categoryOf(e.streamId) === category);

        const written = await Promise.all(
          streams.map(async (streamId, w) => {
            const events: EventToAppend[] = [];
            let expected: ExpectedRevision = w === 0 ? 9 : 'no_stream';
            for (let i = 0; i < 50; i++) {
              const event = newEvent('Tested', { writer: w, i });
              expected = (await store.appendToStream(streamId, [event], expected)).nextExpectedRevision;
              events.push(event);
            }
            return events;
          }),
        );
        const marker = await flush(collector, streams[0]!);
        await waitFor(() => unfiltered.events.some((e) => e.id === marker), 'the unfiltered subscription to see the marker');

        const expectedIds = [...ids(history), ...written.flatMap(ids), marker];
        for (const [label, delivered] of [['filtered', collector.events], ['unfiltered', unfiltered.events]] as const) {
          expectIncreasing(delivered.map((e) => e.position));
          expect(new Set(ids(delivered)).size, `${label}: no duplicates`).to.equal(delivered.length);
        }
        expect(ids(collector.events).sort()).to.deep.equal([...expectedIds].sort());
        expect(ids(unfiltered.events).sort()).to.deep.equal(expectedIds.slice(history.length).sort());
        expect(ids(collector.events)).to.deep.equal(ids(await store.readAll({ filter: { categories: [category] } })));
        for (const streamId of streams) {
          const seen = collector.events.filter((e) => e.streamId === streamId && e.type !== 'Marker');
          expect(revisions(seen), `revisions of ${streamId}`).to.deep.equal(Array.from({ length: seen.length }, (_, r) => r));
        }
      });

      it('hands the handler batches no bigger than batchSize, both replaying and live', async () => {
        const category = newCategory();
        const streamId = streamIn(category);
        await store.appendToStream(streamId, newEvents(10), 'no_stream');

        const collector = collect({ filter: { categories: [category] }, batchSize: 3 }, () => true);
        await waitFor(() => collector.events.length >= 10, 'the historical events');
        await store.appendToStream(streamId, newEvents(7), 9);
        await waitFor(() => collector.events.length >= 17, 'the live events');

        expect(collector.batches.length).to.be.at.least(Math.ceil(17 / 3));
        for (const batch of collector.batches) expect(batch.length).to.be.within(1, 3);
        expect(revisions(collector.events)).to.deep.equal(Array.from({ length: 17 }, (_, r) => r));
      });

      it('stops delivering once closed', async () => {
        const category = newCategory();
        const streamId = streamIn(category);
        const filter = { categories: [category] };
        const closing = collect({ filter }, () => true);
        const control = collect({ filter }, () => true);
        await store.appendToStream(streamId, newEvents(1), 'no_stream');
        await waitFor(() => closing.events.length >= 1 && control.events.length >= 1, 'the first event');
        await waitFor(() => closing.subscription.position === closing.events[0]!.position, 'the position to advance');

        await closing.subscription.close();
        await closing.subscription.done;
        await store.appendToStream(streamId, newEvents(2), 0);
        await waitFor(() => control.events.length >= 3, 'the control subscription to see later events');

        expect(closing.events).to.have.lengthOf(1);
        expect(closing.subscription.position).to.equal(closing.events[0]!.position);
      });

      it('resolves close only once the running handler call has finished', async () => {
        const category = newCategory();
        await store.appendToStream(streamIn(category), newEvents(1), 'no_stream');
        let entered = false;
        let finished = false;
        let release = (): void => undefined;
        const subscription = store.subscribeToAll({ filter: { categories: [category] } }, async () => {
          entered = true;
          await new Promise<void>((resolve) => (release = resolve));
          finished = true;
        });
        subscriptions.push(subscription);
        await waitFor(() => entered, 'the handler to be called');

        const closed = subscription.close().then(() => finished);
        release();

        expect(await closed, 'the handler had finished when close resolved').to.equal(true);
      });

      it("rejects 'done' with the handler's error and stops delivering", async () => {
        const category = newCategory();
        const streamId = streamIn(category);
        const checkpoint = await store.appendToStream(streamId, newEvents(1), 'no_stream');
        await store.appendToStream(streamId, newEvents(3), 0);
        const filter = { categories: [category] };

        const cases: { error: Error; fail: (error: Error) => void | Promise<void> }[] = [
          { error: new Error('handler threw'), fail: (error) => { throw error; } },
          { error: new Error('handler rejected'), fail: async (error) => { throw error; } },
        ];
        for (const { error, fail } of cases) {
          let calls = 0;
          const subscription = store.subscribeToAll({ after: checkpoint.position, filter, batchSize: 1 }, () => {
            calls++;
            return fail(error);
          });
          subscriptions.push(subscription);

          expect(await rejectionOf(subscription.done)).to.equal(error);
          expect(calls, error.message).to.equal(1);
          expect(subscription.position, 'the failed batch is not checkpointed').to.equal(checkpoint.position);
          await subscription.close();
        }
      });
    });

    describe('reopening', function () {
      before(function () {
        if (!harness.reopen) this.skip();
      });

      it('keeps events and stream revisions, and appends continue at the right revision', async () => {
        const category = newCategory();
        const [a, b] = [streamIn(category), streamIn(category)];
        await store.appendToStream(a, newEvents(3), 'no_stream');
        await store.appendToStream(b, [newEvent('Tested', { text: 'ünïcödé ✓' }, { k: [1, 2] })], 'no_stream');
        const streamA = await store.readStream(a);
        const streamB = await store.readStream(b);
        const log = await store.readAll({ filter: { categories: [category] } });

        await store.close();
        store = await harness.reopen!();

        expect(plain(await store.readStream(a))).to.deep.equal(plain(streamA));
        expect(plain(await store.readStream(b))).to.deep.equal(plain(streamB));
        expect(plain(await store.readAll({ filter: { categories: [category] } }))).to.deep.equal(plain(log));
        expect(await store.headPosition({ categories: [category] })).to.equal(log[log.length - 1]!.position);
        await expectConflict(a, newEvents(1), 'no_stream', 2);
        await expectConflict(b, newEvents(1), 5, 0);

        const result = await store.appendToStream(a, newEvents(2), 2);
        expect(result.nextExpectedRevision).to.equal(4);
        const read = await store.readStream(a);
        expect(revisions(read)).to.deep.equal([0, 1, 2, 3, 4]);
        expect(read[3]!.position).to.be.greaterThan(log[log.length - 1]!.position);
        expect(result.position).to.equal(read[4]!.position);
      });
    });
  });
};
