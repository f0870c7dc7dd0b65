import type { PaymentTokenVault } from '../../commands/ports';
import { unavailableOr, type PostgresDatabase } from './postgres-database';

/** Payment tokens in a table beside the events: never in the events, so never relayed or exported. */
export class PostgresPaymentTokenVault implements PaymentTokenVault {
  constructor(private readonly database: PostgresDatabase) {}

  async keep(paymentId: string, token: string): Promise<void> {
    await this.query('INSERT INTO payment_tokens (payment_id, token) VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING', [paymentId, token]);
  }

  async find(paymentId: string): Promise<string | undefined> {
    return (await this.query<[string]>('SELECT token FROM payment_tokens WHERE payment_id = $1', [paymentId]))[0]?.[0];
  }

  async forget(paymentId: string): Promise<void> {
    await this.query('DELETE FROM payment_tokens WHERE payment_id = $1', [paymentId]);
  }

  private async query<R extends unknown[]>(text: string, values: unknown[]): Promise<R[]> {
    try {
      await this.database.ready();
      return (await this.database.pool.query<R>({ text, values, rowMode: 'array' })).rows;
    } catch (error) {
      throw unavailableOr(error, 'payment token');
    }
  }
}
