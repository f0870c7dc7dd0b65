import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { PaymentTokenVault } from '../../commands/ports';

export interface PaymentTokenVaultHarness {
  open(): Promise<PaymentTokenVault>;
  close?: () => Promise<void>;
  /** Releases the vault and opens a new one over the same data. Omit for vaults that forget with the process. */
  reopen?: () => Promise<PaymentTokenVault>;
}

const paymentId = (): string => `pay_${randomUUID()}`;

/** What checkout and the saga rely on from any payment-token vault. */
export const paymentTokenVaultContract = (name: string, harness: PaymentTokenVaultHarness): void => {
  describe(`${name} (payment token vault contract)`, () => {
    let vault: PaymentTokenVault;
    before(async () => (vault = await harness.open()));
    after(async () => harness.close?.());

    it('finds nothing for a payment it never kept', async () => {
      expect(await vault.find(paymentId())).to.equal(undefined);
    });

    it('finds the token it kept', async () => {
      const id = paymentId();
      await vault.keep(id, 'tok_ok');
      expect(await vault.find(id)).to.equal('tok_ok');
    });

    it('keeps the first token of a payment: a repeated pay request cannot swap the card', async () => {
      const id = paymentId();
      await vault.keep(id, 'tok_first');
      await vault.keep(id, 'tok_second');
      expect(await vault.find(id)).to.equal('tok_first');
    });

    it('forgets a token, and forgetting twice or forgetting an unknown payment does nothing', async () => {
      const id = paymentId();
      await vault.keep(id, 'tok_ok');
      await vault.forget(id);
      await vault.forget(id);
      await vault.forget(paymentId());
      expect(await vault.find(id)).to.equal(undefined);
    });

    it('keeps tokens of different payments apart', async () => {
      const [a, b] = [paymentId(), paymentId()];
      await Promise.all([vault.keep(a, 'tok_a'), vault.keep(b, 'tok_b')]);
      expect([await vault.find(a), await vault.find(b)]).to.deep.equal(['tok_a', 'tok_b']);
    });

    if (harness.reopen) {
      it('still has a kept token after a restart', async () => {
        const id = paymentId();
        await vault.keep(id, 'tok_ok');
        vault = await harness.reopen!();
        expect(await vault.find(id)).to.equal('tok_ok');
      });
    }
  });
};
