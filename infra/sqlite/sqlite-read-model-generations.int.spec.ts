import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelGenerationsContract } from '../../test/contracts/read-model-generations.contract';
import { SqliteReadModelGenerations } from './sqlite-read-model-generations';

describe('SQLite read-model generations', () => {
  const dirs: string[] = [];
  let dir = '';
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  readModelGenerationsContract('SQLite', {
    open: async () => {
      dir = mkdtempSync(join(tmpdir(), 'crest-generations-'));
      dirs.push(dir);
      return new SqliteReadModelGenerations(dir);
    },
    reopen: async () => new SqliteReadModelGenerations(dir),
  });
});
