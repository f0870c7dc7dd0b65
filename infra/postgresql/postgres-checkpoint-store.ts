import type { CheckpointStore } from '../../commands/ports';
import { unavailableOr, type PostgresDatabase } from './postgres-database';

/** Checkpoints in the same PostgreSQL schema as the events they point into. */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly database: PostgresDatabase) {}

  async load(name: string): Promise<number | undefined> {
    const rows = await this.query<[string]>('SELECT position FROM checkpoints WHERE name = $1', [name]);
    return rows[0] ? Number(rows[0][0]) : undefined;
  }

  async save(name: string, position: number): Promise<void> {
    await this.query('INSERT INTO checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE excluded.position > checkpoints.position', [
      name,
      position,
    ]);
  }

  private async query<R extends unknown[]>(text: string, values: unknown[]): Promise<R[]> {
    try {
      await this.database.ready();
      return (await this.database.pool.query<R>({ text, values, rowMode: 'array' })).rows;
    } catch (error) {
      throw unavailableOr(error, 'checkpoint');
    }
  }
}
