import type Database from 'better-sqlite3';
import type { CheckpointStore } from '../../commands/ports';
import { onThisThread, type SqliteWrites } from './sqlite-writer-thread';

/** Checkpoints in the same SQLite file as the events they point into. */
export class SqliteCheckpointStore implements CheckpointStore {
  constructor(
    private readonly db: Database.Database,
    private readonly writes: SqliteWrites = onThisThread(db),
  ) {}

  async load(name: string): Promise<number | undefined> {
    return this.db.prepare<[string], { position: number }>('SELECT position FROM checkpoints WHERE name = ?').get(name)?.position;
  }

  async save(name: string, position: number): Promise<void> {
    await this.writes.run('INSERT INTO checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE excluded.position > checkpoints.position', [
      name,
      position,
    ]);
  }
}
