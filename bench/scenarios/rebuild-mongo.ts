/**
 * rebuild-mongo: the same projection rebuild as `rebuild`, into MongoDB read models (FerretDB here), at the default
 * batch size and with large catch-up batches, against a bulk load of the finished documents into the same server.
 */
import { MongoClient, type Db } from 'mongodb';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { MemoryReadModels } from '../../infra/memory/memory-read-models';
import { MongoReadModels, mongoServerKind, type MongoServerKind } from '../../infra/mongodb/mongo-read-models';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import type { Projection, PositionedDocument } from '../../projections/projection';
import type { DocumentChange, ReadModelStore } from '../../projections/ports';
import { fmt, type Bench, type Scenario } from '../harness';
import { describeLog, seededLog } from '../support/seeded-log';
import { projectAll } from './rebuild';

const DEFAULT_BATCH = 1000; // CREST_PROJECTION_BATCH default
const LARGE_BATCH = 10_000;
const SKUS = 100;
const BULK_CHUNK = 1000;

/** Memory read models that also keep the last version of every document: the finished read models. */
class FinishedDocuments implements ReadModelStore {
  readonly docs = new Map<string, Map<string, PositionedDocument>>();
  private readonly inner = new MemoryReadModels();

  async applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    const changes = await this.inner.applyBatch(runner, projections, events, position);
    for (const c of changes) {
      const collection = this.docs.get(c.collection) ?? new Map<string, PositionedDocument>();
      this.docs.set(c.collection, collection);
      if (c.after) collection.set(c.id, c.after);
      else collection.delete(c.id);
    }
    return changes;
  }

  loadCheckpoint(runner: string): Promise<number | undefined> {
    return this.inner.loadCheckpoint(runner);
  }

  reset(runner: string, projections: readonly Projection[]): Promise<void> {
    return this.inner.reset(runner, projections);
  }
}

export const rebuildMongo: Scenario = {
  name: 'rebuild-mongo',
  description: 'projection rebuild into MongoDB read models (FerretDB here) over a seeded SQLite log, vs a bulk load of the same documents',
  defaultRounds: 3,
  async run(bench: Bench) {
    const events = bench.options.events?.[0] ?? 20_000;
    bench.metric({ id: 'crest', label: `crest rebuild into Mongo, batches of ${DEFAULT_BATCH} (default)`, unit: 'events/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'crestLarge', label: `crest rebuild into Mongo, batches of ${LARGE_BATCH}`, unit: 'events/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'bulk', label: 'bulk load of the finished documents (insertMany)', unit: 'events/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'crestTime', label: `crest rebuild time, batches of ${DEFAULT_BATCH}`, unit: 's', role: 'crest', chart: 'time' });
    bench.metric({ id: 'crestLargeTime', label: `crest rebuild time, batches of ${LARGE_BATCH}`, unit: 's', role: 'crest', chart: 'time' });
    bench.metric({ id: 'bulkTime', label: 'bulk load time', unit: 's', role: 'baseline', chart: 'time' });

    const client = new MongoClient(bench.options.mongoUrl, { serverSelectionTimeoutMS: 3000 });
    let server: MongoServerKind;
    try {
      await client.connect();
      const info = await client.db('admin').command({ buildInfo: 1 });
      server = mongoServerKind(info);
      bench.condition('mongo', `${bench.options.mongoUrl}: ${server === 'ferretdb' ? `FerretDB ${String(info.ferretdbVersion)} (backend: whatever it was started with; services.sh starts SQLite), MongoDB ${String(info.version)} wire protocol` : `MongoDB ${String(info.version)}`}`);
    } catch (error) {
      await client.close().catch(() => undefined);
      bench.skip('crest', `no MongoDB-compatible server at ${bench.options.mongoUrl} (${(error as Error).message}); start one with npm run services:up or pass --mongo URL`);
      for (const id of ['crestLarge', 'bulk', 'crestTime', 'crestLargeTime', 'bulkTime']) bench.skip(id, 'no MongoDB-compatible server (see above)');
      bench.condition('mongo', 'not reachable: nothing measured');
      return;
    }

    const log = await seededLog(events, SKUS, (l) => bench.log(l));
    bench.condition('data', describeLog(log));
    bench.condition('store', 'SQLite WAL (reads only)');
    bench.condition('read models', 'products, inventory, orders, customer orders, into a fresh database each run (indexes created first), dropped after');

    const store = new SqliteEventStore({ file: log.file, synchronous: 'FULL' });
    const finished = new FinishedDocuments();
    await projectAll(store, DEFAULT_BATCH, finished);
    const documents = [...finished.docs.values()].reduce((n, c) => n + c.size, 0);
    bench.condition('documents', `${documents.toLocaleString('en')} finished documents (${[...finished.docs].map(([c, d]) => `${c} ${d.size}`).join(', ')})`);
    bench.condition('bulk load', `insertMany of the finished documents in chunks of ${BULK_CHUNK}, unordered, into a fresh database with the same indexes: the cheapest way to end with the same state`);

    let run = 0;
    const freshDb = async (): Promise<{ db: Db; readModels: MongoReadModels }> => {
      const db = client.db(`crest_bench_rebuild_${process.pid}_${run++}`);
      const readModels = new MongoReadModels(db, server);
      await readModels.ensureIndexes();
      return { db, readModels };
    };
    const rebuildInto = async (batch: number): Promise<{ events: number; seconds: number }> => {
      const { db, readModels } = await freshDb();
      try {
        return await projectAll(store, batch, readModels);
      } finally {
        await db.dropDatabase();
      }
    };
    const bulkLoad = async (): Promise<number> => {
      const { db } = await freshDb();
      try {
        const started = performance.now();
        for (const [collection, docs] of finished.docs) {
          const all = [...docs].map(([id, doc]) => ({ ...doc, _id: id }));
          for (let i = 0; i < all.length; i += BULK_CHUNK) await db.collection<{ _id: string }>(collection).insertMany(all.slice(i, i + BULK_CHUNK), { ordered: false });
        }
        return (performance.now() - started) / 1000;
      } finally {
        await db.dropDatabase();
      }
    };

    try {
      await bench.runRounds(async () => {
        const line: string[] = [];
        const bulkSeconds = await bulkLoad();
        bench.record('bulk', log.head / bulkSeconds);
        bench.record('bulkTime', bulkSeconds);
        line.push(`bulk load ${bulkSeconds.toFixed(2)} s`);
        for (const [id, batch] of [['crestLarge', LARGE_BATCH], ['crest', DEFAULT_BATCH]] as const) {
          const r = await rebuildInto(batch);
          bench.record(id, r.events / r.seconds);
          bench.record(`${id}Time`, r.seconds);
          line.push(`batches of ${batch} ${fmt(r.events / r.seconds, 'events/s')} (${r.seconds.toFixed(2)} s)`);
        }
        bench.log(`  ${line.join(' | ')}`);
      });
    } finally {
      await store.close();
      await client.close();
    }
    bench.ratio('crest/bulk-load', 'crest', 'bulk');
    bench.ratio('crest-large-batches/bulk-load', 'crestLarge', 'bulk');
    if (server === 'ferretdb') {
      bench.note(
        'FerretDB 1.x on SQLite uses its _id index only for a filter that is exactly { _id: <value> }: the $in prefetch and every ' +
          'position-guarded replace scan the whole collection, so a rebuild slows as the collections grow and larger batches ' +
          '(fewer scans) help a lot. On MongoDB both use the _id index.',
      );
    }
  },
};
