import type Database from 'better-sqlite3';
import type { PaymentTokenVault } from '../../commands/ports';
import { onThisThread, type SqliteWrites } from './sqlite-writer-thread';

/** Payment tokens in a table of the event store's file: never in the events, so never relayed or exported. */
export class SqlitePaymentTokenVault implements PaymentTokenVault {
  private readonly find_: Database.Statement<[string], { token: string }>;

  constructor(
    db: Database.Database,
    private readonly writes: SqliteWrites = onThisThread(db),
  ) {
    this.find_ = db.prepare('SELECT token FROM payment_tokens WHERE payment_id = ?');
  }

  async keep(paymentId: string, token: string): Promise<void> {
    await this.writes.run('INSERT INTO payment_tokens (payment_id, token) VALUES (?, ?) ON CONFLICT (payment_id) DO NOTHING', [paymentId, token]);
  }

  async find(paymentId: string): Promise<string | undefined> {
    return this.find_.get(paymentId)?.token;
  }

  async forget(paymentId: string): Promise<void> {
    await this.writes.run('DELETE FROM payment_tokens WHERE payment_id = ?', [paymentId]);
  }
}
