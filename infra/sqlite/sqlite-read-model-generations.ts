import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstGeneration, type GenerationPointer, type ReadModelGeneration, type ReadModelGenerations } from '../../projections/ports';
import { openSqliteFile } from './sqlite-database';
import { SqliteReadModels } from './sqlite-read-models';

const pointerFile = 'read-models.generation.json';

/**
 * Generations as files in the data directory: `read-models.sqlite` is the first, `read-models-gN.sqlite` the later ones.
 * Which one is active is a small JSON file beside them, replaced by a rename so that it is never half written.
 */
export class SqliteReadModelGenerations implements ReadModelGenerations<SqliteReadModels> {
  constructor(private readonly dir: string) {}

  readonly keepsRetired = true;

  async pointer(): Promise<GenerationPointer> {
    const file = join(this.dir, pointerFile);
    if (!existsSync(file)) return { active: firstGeneration, building: undefined };
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { active?: unknown; building?: unknown };
    if (typeof parsed.active !== 'string' || !/^g\d+$/.test(parsed.active)) throw new Error(`${file} does not name an active generation`);
    return { active: parsed.active, building: typeof parsed.building === 'string' ? parsed.building : undefined };
  }

  async open(name: string): Promise<ReadModelGeneration<SqliteReadModels>> {
    // rebuildable, so NORMAL: a crash may lose the last batches, and the checkpoint stored with them goes back too
    const db = openSqliteFile({ file: this.file(name), synchronous: 'NORMAL' });
    return { name, models: new SqliteReadModels(db), close: async () => void db.close() };
  }

  async markBuilding(name: string): Promise<void> {
    this.write({ ...(await this.pointer()), building: name });
  }

  async activate(name: string): Promise<void> {
    this.write({ active: name, building: undefined });
  }

  describe(name: string): string {
    return this.file(name);
  }

  private file(name: string): string {
    return join(this.dir, name === firstGeneration ? 'read-models.sqlite' : `read-models-${name}.sqlite`);
  }

  private write(pointer: GenerationPointer): void {
    const file = join(this.dir, pointerFile);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(pointer)}\n`);
    renameSync(`${file}.tmp`, file);
  }
}
