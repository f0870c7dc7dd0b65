import type Database from 'better-sqlite3';
import type { Snapshot, SnapshotStore } from '../../commands/ports';
import { onThisThread, type SqliteWrites } from './sqlite-writer-thread';

interface SnapshotRow {
  stream_id: string;
  revision: number;
  position: number;
  schema_version: number;
  state: string;
}

/** Snapshots in the same SQLite file as the events they fold. */
export class SqliteSnapshotStore implements SnapshotStore {
  /** `writes`: the event store's writer thread, so saving never waits for (or blocks) its commits on this thread. */
  constructor(
    private readonly db: Database.Database,
    private readonly writes: SqliteWrites = onThisThread(db),
  ) {}

  async load(streamId: string): Promise<Snapshot | undefined> {
    const row = this.db.prepare<[string], SnapshotRow>('SELECT stream_id, revision, position, schema_version, state FROM snapshots WHERE stream_id = ?').get(streamId);
    if (!row) return undefined;
    return { streamId: row.stream_id, revision: row.revision, position: row.position, schemaVersion: row.schema_version, state: JSON.parse(row.state) };
  }

  async save(snapshot: Snapshot): Promise<void> {
    await this.writes.run(
      `INSERT INTO snapshots (stream_id, revision, position, schema_version, state, created) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision, position = excluded.position,
         schema_version = excluded.schema_version, state = excluded.state, created = excluded.created
       WHERE excluded.revision > snapshots.revision`,
      [snapshot.streamId, snapshot.revision, snapshot.position, snapshot.schemaVersion, JSON.stringify(snapshot.state), new Date().toISOString()],
    );
  }
}
