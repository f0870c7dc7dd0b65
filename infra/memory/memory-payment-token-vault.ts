import type { PaymentTokenVault } from '../../commands/ports';

/** For the in-memory event store: tokens live exactly as long as the process, like everything else it keeps. */
export class MemoryPaymentTokenVault implements PaymentTokenVault {
  private readonly tokens = new Map<string, string>();

  async keep(paymentId: string, token: string): Promise<void> {
    if (!this.tokens.has(paymentId)) this.tokens.set(paymentId, token);
  }

  async find(paymentId: string): Promise<string | undefined> {
    return this.tokens.get(paymentId);
  }

  async forget(paymentId: string): Promise<void> {
    this.tokens.delete(paymentId);
  }
}
