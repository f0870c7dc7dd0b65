import type Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paymentTokenVaultContract } from '../../test/contracts/payment-token-vault.contract';
import { openSqlite } from './sqlite-database';
import { SqlitePaymentTokenVault } from './sqlite-payment-token-vault';

describe('SqlitePaymentTokenVault on a temporary file', () => {
  let dir: string;
  let db: Database.Database | undefined;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-vault-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  const open = async (): Promise<SqlitePaymentTokenVault> => {
    db = openSqlite({ file: join(dir, 'crest.db'), synchronous: 'FULL' });
    return new SqlitePaymentTokenVault(db);
  };
  const close = async (): Promise<void> => {
    db?.close();
    db = undefined;
  };
  paymentTokenVaultContract('SqlitePaymentTokenVault', { open, close, reopen: async () => (await close(), open()) });
});
