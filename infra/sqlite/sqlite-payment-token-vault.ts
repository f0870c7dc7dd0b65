import type Database from 'better-sqlite3';
import type { PaymentTokenVault } from '../../commands/ports';

/** Payment tokens in a table of the event store's file: never in the events, so never relayed or exported. */
export class SqlitePaymentTokenVault implements PaymentTokenVault {
  private readonly statements: {
    keep: Database.Statement<[string, string]>;
    find: Database.Statement<[string], { token: string }>;
    forget: Database.Statement<[string]>;
  };

  constructor(db: Database.Database) {
    this.statements = {
      keep: db.prepare('INSERT INTO payment_tokens (payment_id, token) VALUES (?, ?) ON CONFLICT (payment_id) DO NOTHING'),
      find: db.prepare('SELECT token FROM payment_tokens WHERE payment_id = ?'),
      forget: db.prepare('DELETE FROM payment_tokens WHERE payment_id = ?'),
    };
  }

  async keep(paymentId: string, token: string): Promise<void> {
    this.statements.keep.run(paymentId, token);
  }

  async find(paymentId: string): Promise<string | undefined> {
    return this.statements.find.get(paymentId)?.token;
  }

  async forget(paymentId: string): Promise<void> {
    this.statements.forget.run(paymentId);
  }
}
