import { expect } from 'chai';
import { signWebhook } from '../../commands/payments/webhook-signature';
import { streamName } from '../../domain/kernel/streams';
import { join } from 'node:path';
import { Tokens } from '../../infra/composition/root';
import { SqliteCheckpointStore } from '../../infra/sqlite/sqlite-checkpoint-store';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

type Path = 'tok_ok' | 'tok_declined' | 'tok_timeout' | 'tok_flaky' | 'cancel';
const expectedStatus: Record<Path, string> = { tok_ok: 'confirmed', tok_flaky: 'confirmed', tok_declined: 'payment_failed', tok_timeout: 'expired', cancel: 'cancelled' };
const terminal = new Set(['confirmed', 'payment_failed', 'expired', 'cancelled', 'rejected']);

const placeOrder = (crest: TestCrest, key: string, customerId: string, lines: Array<{ sku: string; quantity: number }>) =>
  crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key }, body: { customerId, lines } });

const statusOf = async (crest: TestCrest, orderId: string): Promise<string | undefined> => {
  const r = await crest.call('GET', `/v1/orders/${orderId}`);
  return r.status === 200 ? r.body.status : undefined;
};

const eventsOf = async (crest: TestCrest, stream: string) => crest.running.container.get(Tokens.EventStore).readStream(stream);

describe('checkout saga over HTTP', function () {
  this.timeout(60_000);

  describe('every path at once', () => {
    let crest: TestCrest;
    // the provider answers after 300 ms, so that a second pay request lands while the payment is in flight
    before(async () => (crest = await startCrest({ CREST_RESERVATION_TTL_MS: '3000', CREST_RESERVATION_GRACE_MS: '2000', CREST_PAYMENT_LATENCY_MS: '300' })));
    after(() => crest.dispose());

    it('ends every order in its status, with sold == confirmed quantities and nothing left reserved', async () => {
      const skus = ['SAGA-A', 'SAGA-B', 'SAGA-C'];
      for (const sku of skus) await seedProduct(crest, sku, 200);
      const paths: Path[] = ['tok_ok', 'tok_declined', 'tok_timeout', 'tok_flaky', 'cancel'];
      const orders = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const path = paths[i % paths.length]!;
          const lines = [{ sku: skus[i % 3]!, quantity: 1 + (i % 4) }, ...(i % 2 === 0 ? [{ sku: skus[(i + 1) % 3]!, quantity: 2 }] : [])];
          const placed = await placeOrder(crest, `saga-order-${i}`, `saga-customer-${i % 11}`, lines);
          expect(placed.status).to.equal(201);
          const orderId: string = placed.body.orderId;
          if (path === 'cancel') {
            expect((await crest.call('POST', `/v1/orders/${orderId}/cancel`)).status).to.equal(200);
          } else {
            const paid = await crest.call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentToken: path } });
            expect(paid.status).to.equal(202);
            // paying twice while in flight names the same payment
            const again = await crest.call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentToken: path } });
            expect([again.status, again.body.paymentId]).to.deep.equal([202, paid.body.paymentId]);
          }
          return { orderId, path, lines };
        }),
      );
      for (const o of orders) {
        await waitFor(async () => terminal.has((await statusOf(crest, o.orderId)) ?? ''), 20_000, `order ${o.orderId} (${o.path}) to finish`);
        expect(await statusOf(crest, o.orderId), o.path).to.equal(expectedStatus[o.path]);
      }
      const store = crest.running.container.get(Tokens.EventStore);
      for (const sku of skus) {
        const confirmedQuantity = orders
          .filter((o) => expectedStatus[o.path] === 'confirmed')
          .flatMap((o) => o.lines)
          .filter((l) => l.sku === sku)
          .reduce((sum, l) => sum + l.quantity, 0);
        await waitFor(async () => (await stockFromLog(store, sku)).reserved === 0, 10_000, `${sku} to hold nothing`);
        const stock = await stockFromLog(store, sku);
        expect(stock.sold, sku).to.equal(confirmedQuantity);
        expectStockInvariant(stock);
      }
      const provider = crest.running.container.get(Tokens.PaymentProvider);
      for (const o of orders.filter((x) => x.path === 'tok_flaky')) {
        const paymentId = o.orderId.replace(/^ord_/, 'pay_');
        expect(provider.attemptsOf(paymentId), 'flaky payments were retried').to.be.at.least(3);
        expect(provider.capturesOf(paymentId), 'and charged once').to.equal(1);
      }
    });

    it('refuses to pay or cancel an order in the wrong status with 409', async () => {
      await seedProduct(crest, 'SAGA-409', 5);
      const placed = await placeOrder(crest, 'saga-409-order', 'saga-409', [{ sku: 'SAGA-409', quantity: 1 }]);
      await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
      await waitFor(async () => (await statusOf(crest, placed.body.orderId)) === 'confirmed', 10_000, 'confirmation');
      const cancel = await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`);
      expect([cancel.status, cancel.body.code]).to.deep.equal([409, 'order_not_cancellable']);
      const pay = await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
      expect([pay.status, pay.body.code]).to.deep.equal([409, 'order_not_payable']);
      expect((await crest.call('POST', '/v1/orders/ord_CCCCCCCCCCCCCCCCCCCCCCCC/payment', { body: { paymentToken: 'tok_ok' } })).status).to.equal(404);
    });
  });

  describe('payment webhook', () => {
    let crest: TestCrest;
    before(async () => (crest = await startCrest({ CREST_RESERVATION_TTL_MS: '1000', CREST_RESERVATION_GRACE_MS: '1000' })));
    after(() => crest.dispose());

    const send = (body: unknown, signature?: string) => {
      const raw = JSON.stringify(body);
      const secret = crest.running.webhookSecret.secret;
      return crest.call('POST', '/v1/payments/webhook', {
        rawBody: raw,
        headers: { 'content-type': 'application/json', 'crest-signature': signature ?? signWebhook(raw, secret, Math.floor(Date.now() / 1000)) },
      });
    };

    it('refuses a forged, stale or missing signature with 401 and changes nothing', async () => {
      await seedProduct(crest, 'HOOK-1', 5);
      const placed = await placeOrder(crest, 'hook-forged-1', 'hook', [{ sku: 'HOOK-1', quantity: 1 }]);
      const orderId: string = placed.body.orderId;
      const body = { id: 'evt_forged', type: 'payment.captured', paymentId: orderId.replace('ord_', 'pay_'), orderId, amountCents: 1999 };
      const head = await crest.running.container.get(Tokens.EventStore).headPosition();
      const raw = JSON.stringify(body);
      const forged = await send(body, signWebhook(raw, 'not-the-secret-at-all', Math.floor(Date.now() / 1000)));
      const stale = await send(body, signWebhook(raw, crest.running.webhookSecret.secret, Math.floor(Date.now() / 1000) - 301));
      const missing = await crest.call('POST', '/v1/payments/webhook', { body });
      for (const r of [forged, stale, missing]) expect([r.status, r.body.code]).to.deep.equal([401, 'invalid_signature']);
      expect(await crest.running.container.get(Tokens.EventStore).headPosition()).to.equal(head);
    });

    it('records the same provider event once', async () => {
      await seedProduct(crest, 'HOOK-2', 5);
      const placed = await placeOrder(crest, 'hook-twice-1', 'hook', [{ sku: 'HOOK-2', quantity: 2 }]);
      const orderId: string = placed.body.orderId;
      // a real provider would be asked to charge first; the webhook alone must still be safe to repeat
      const paid = await crest.call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentToken: 'tok_timeout' } });
      const body = { id: 'evt_twice', type: 'payment.captured', paymentId: paid.body.paymentId, orderId, amountCents: placed.body.totalCents };
      const first = await send(body);
      const second = await send(body);
      expect([first.status, first.body.recorded]).to.deep.equal([200, true]);
      expect([second.status, second.body.recorded]).to.deep.equal([200, false]);
      await waitFor(async () => (await statusOf(crest, orderId)) === 'confirmed', 10_000, 'confirmation');
      const captured = (await eventsOf(crest, streamName('payment', paid.body.paymentId))).filter((e) => e.type === 'PaymentCaptured');
      expect(captured).to.have.length(1);
      await waitFor(async () => (await stockFromLog(crest.running.container.get(Tokens.EventStore), 'HOOK-2')).sold === 2, 10_000, 'the sale');
      expectStockInvariant(await stockFromLog(crest.running.container.get(Tokens.EventStore), 'HOOK-2'));
    });

    it('refunds a payment captured after the order expired, and leaves the order expired', async () => {
      await seedProduct(crest, 'HOOK-3', 5);
      const placed = await placeOrder(crest, 'hook-late-1', 'hook', [{ sku: 'HOOK-3', quantity: 1 }]);
      const orderId: string = placed.body.orderId;
      const paid = await crest.call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentToken: 'tok_timeout' } });
      await waitFor(async () => (await statusOf(crest, orderId)) === 'expired', 10_000, 'expiry');
      const late = await send({ id: 'evt_late_capture', type: 'payment.captured', paymentId: paid.body.paymentId, orderId, amountCents: placed.body.totalCents });
      expect(late.status).to.equal(200);
      await waitFor(async () => (await eventsOf(crest, streamName('payment', paid.body.paymentId))).some((e) => e.type === 'PaymentRefunded'), 10_000, 'the refund');
      const types = (await eventsOf(crest, streamName('payment', paid.body.paymentId))).map((e) => e.type);
      expect(types).to.include.members(['PaymentCaptured', 'PaymentRefundRequested', 'PaymentRefunded']);
      expect(await statusOf(crest, orderId)).to.equal('expired');
      const stock = await stockFromLog(crest.running.container.get(Tokens.EventStore), 'HOOK-3');
      expect(stock).to.include({ sold: 0, reserved: 0, available: 5 });
      expectStockInvariant(stock);
    });
  });

  describe('restarts', () => {
    it('stores the saga checkpoint at a clean stop, so the next start handles nothing twice', async () => {
      const crest = await startCrest({ CREST_PAYMENT_LATENCY_MS: '0' });
      try {
        await seedProduct(crest, 'CKPT-1', 5);
        const placed = await placeOrder(crest, 'checkpoint-1', 'checkpointer', [{ sku: 'CKPT-1', quantity: 1 }]);
        await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
        await waitFor(async () => (await statusOf(crest, placed.body.orderId)) === 'confirmed', 10_000, 'the confirmation');
        const head = await crest.running.container.get(Tokens.EventStore).headPosition({ categories: ['order', 'payment'] });
        await crest.stop();
        const reopened = new SqliteEventStore({ file: join(crest.dataDir, 'crest.sqlite'), synchronous: 'FULL' });
        try {
          expect(await new SqliteCheckpointStore(reopened.db).load('checkout-saga')).to.equal(head);
        } finally {
          await reopened.close();
        }
      } finally {
        await crest.dispose();
      }
    });

    it('fires a due expiry after the app was stopped between OrderPlaced and the deadline', async () => {
      const overrides = { CREST_RESERVATION_TTL_MS: '1500', CREST_RESERVATION_GRACE_MS: '60000' };
      const first = await startCrest(overrides);
      await seedProduct(first, 'RESTART-1', 10);
      const placed = await placeOrder(first, 'restart-expiry-1', 'restarter', [{ sku: 'RESTART-1', quantity: 3 }]);
      await first.stop();
      const second = await startCrest(overrides, first.dataDir);
      try {
        await waitFor(async () => (await statusOf(second, placed.body.orderId)) === 'expired', 15_000, 'the expiry after restart');
        const store = second.running.container.get(Tokens.EventStore);
        await waitFor(async () => (await stockFromLog(store, 'RESTART-1')).reserved === 0, 10_000, 'the release');
        const stock = await stockFromLog(store, 'RESTART-1');
        expect(stock).to.include({ available: 10, sold: 0 });
        expectStockInvariant(stock);
        const expired = (await eventsOf(second, streamName('order', placed.body.orderId))).filter((e) => e.type === 'OrderExpired');
        expect(expired).to.have.length(1);
      } finally {
        await second.dispose();
      }
    });

    it('finishes a payment that was in flight when the app stopped, confirming it once', async () => {
      const first = await startCrest({ CREST_PAYMENT_LATENCY_MS: '600000' });
      await seedProduct(first, 'RESTART-2', 10);
      const placed = await placeOrder(first, 'restart-payment-1', 'restarter', [{ sku: 'RESTART-2', quantity: 2 }]);
      const orderId: string = placed.body.orderId;
      const paid = await first.call('POST', `/v1/orders/${orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
      await waitFor(async () => (await eventsOf(first, streamName('payment', paid.body.paymentId))).some((e) => e.type === 'PaymentInitiated'), 10_000, 'the charge to start');
      await first.stop();
      const second = await startCrest({ CREST_PAYMENT_LATENCY_MS: '20' }, first.dataDir);
      try {
        await waitFor(async () => (await statusOf(second, orderId)) === 'confirmed', 15_000, 'the confirmation after restart');
        const store = second.running.container.get(Tokens.EventStore);
        await waitFor(async () => (await stockFromLog(store, 'RESTART-2')).sold === 2, 10_000, 'the sale');
        const stock = await stockFromLog(store, 'RESTART-2');
        expect(stock).to.include({ reserved: 0, available: 8 });
        expectStockInvariant(stock);
        const orderEvents = (await eventsOf(second, streamName('order', orderId))).map((e) => e.type);
        expect(orderEvents.filter((t) => t === 'OrderConfirmed')).to.have.length(1);
        const confirmations = (await eventsOf(second, streamName('inventory', 'RESTART-2'))).filter((e) => e.type === 'ReservationConfirmed');
        expect(confirmations).to.have.length(1);
      } finally {
        await second.dispose();
      }
    });
  });
});
