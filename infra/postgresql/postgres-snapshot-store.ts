import type { Snapshot, SnapshotStore } from '../../commands/ports';
import { unavailableOr, type PostgresDatabase } from './postgres-database';

/** Snapshots in the same PostgreSQL schema as the events they fold. */
export class PostgresSnapshotStore implements SnapshotStore {
  constructor(private readonly database: PostgresDatabase) {}

  async load(streamId: string): Promise<Snapshot | undefined> {
    const rows = await this.query<[string, number, string, number, string]>('SELECT stream_id, revision, position, schema_version, state FROM snapshots WHERE stream_id = $1', [streamId]);
    const row = rows[0];
    if (!row) return undefined;
    return { streamId: row[0], revision: row[1], position: Number(row[2]), schemaVersion: row[3], state: JSON.parse(row[4]) };
  }

  async save(snapshot: Snapshot): Promise<void> {
    await this.query(
      `INSERT INTO snapshots (stream_id, revision, position, schema_version, state) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision, position = excluded.position,
         schema_version = excluded.schema_version, state = excluded.state, created = excluded.created
       WHERE excluded.revision > snapshots.revision`,
      [snapshot.streamId, snapshot.revision, snapshot.position, snapshot.schemaVersion, JSON.stringify(snapshot.state)],
    );
  }

  private async query<R extends unknown[]>(text: string, values: unknown[]): Promise<R[]> {
    try {
      await this.database.ready();
      return (await this.database.pool.query<R>({ text, values, rowMode: 'array' })).rows;
    } catch (error) {
      throw unavailableOr(error, 'snapshot');
    }
  }
}
