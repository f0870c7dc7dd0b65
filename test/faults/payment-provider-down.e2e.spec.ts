import { expect } from 'chai';
import { TransientPaymentError, type ChargeRequest } from '../../commands/payments/payment-provider';
import { streamName } from '../../domain/kernel/streams';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { metricValue } from '../support/fault-sale';
import { stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const SKU = 'PAYDOWN-1';
const BREAKER = { breaker: 'payment-provider' };

describe('fault: the payment provider fails, its breaker opens, and the saga pays later (crest start)', function () {
  this.timeout(60_000);
  let crest: TestCrest | undefined;

  before(async () => {
    crest = await startCrest({ CREST_BREAKER_RESET_MS: '300', CREST_PAYMENT_BACKOFF_MS: '20' });
  });
  after(() => crest?.dispose());

  it('fails payments fast while the provider is down, keeps taking orders, then charges each payment once', async () => {
    // given stock, and a provider that answers every charge with a transient error (a 503) until it is back
    const c = crest!;
    await seedProduct(c, SKU, 100);
    const simulated = c.running.container.get(Tokens.PaymentProvider);
    const realCharge = simulated.charge.bind(simulated);
    let down = true;
    let callsWhileDown = 0;
    simulated.charge = async (request: ChargeRequest) => {
      if (down) {
        callsWhileDown++;
        throw new TransientPaymentError('the provider answered 503');
      }
      return realCharge(request);
    };
    const placeOrder = (i: number) => c.call('POST', '/v1/orders', { headers: { 'idempotency-key': `paydown-order-${i}` }, body: { customerId: `paydown-${i}`, lines: [{ sku: SKU, quantity: 1 }] } });
    const breakerGauge = async () => metricValue((await c.call('GET', '/metrics')).body as string, 'crest_circuit_breaker_open', BREAKER);

    // when 12 orders are placed and paid at once
    const orders = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const placed = await placeOrder(i);
        expect(placed.status).to.equal(201);
        const paid = await c.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
        expect(paid.status).to.equal(202);
        return { orderId: placed.body.orderId as string, paymentId: paid.body.paymentId as string };
      }),
    );

    // then the breaker opens, in metrics and readiness (which stays 200), and the calls stop reaching the provider
    await waitFor(async () => (await breakerGauge()) === 1, 10_000, 'the payment breaker to open');
    const ready = await c.call('GET', '/health/ready');
    expect(ready.status).to.equal(200);
    expect(ready.body.breakers).to.include({ 'payment-provider': 'open' });
    const callsWhenOpened = callsWhileDown;
    expect(callsWhenOpened, 'a few attempts per payment, not an attempt budget each').to.be.below(12 * 6);

    // and checkout goes on: an order is placed and paid while the breaker is open, and no order has failed or been given up
    const late = await placeOrder(100);
    expect(late.status).to.equal(201);
    const latePaid = await c.call('POST', `/v1/orders/${late.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
    expect(latePaid.status).to.equal(202);
    for (const { orderId } of orders) expect((await c.call('GET', `/v1/orders/${orderId}`)).body.status).to.equal('awaiting_payment');
    // (that last order is cancelled while its charge waits for the breaker: the saga must not charge it later)
    await waitFor(async () => (await c.call('GET', `/v1/orders/${late.body.orderId}`)).body.status === 'awaiting_payment', 10_000, 'the late order to be readable');
    expect((await c.call('POST', `/v1/orders/${late.body.orderId}/cancel`)).status).to.equal(200);

    // and after the reset time one trial call reaches the provider, fails, and the breaker opens again
    await waitFor(() => callsWhileDown > callsWhenOpened, 10_000, 'a trial call');
    await waitFor(async () => (await breakerGauge()) === 1, 10_000, 'the payment breaker to open again');
    for (const { orderId } of orders) expect((await c.call('GET', `/v1/orders/${orderId}`)).body.status).to.equal('awaiting_payment');

    // when the provider is back
    down = false;

    // then every order is confirmed and its units sold, each payment captured once
    for (const { orderId } of orders) {
      await waitFor(async () => (await c.call('GET', `/v1/orders/${orderId}`)).body.status === 'confirmed', 20_000, `${orderId} to be confirmed`);
    }
    const store = c.running.container.get(Tokens.EventStore);
    for (const { orderId, paymentId } of orders) {
      expect(paymentId, 'the saga kept its payment id (the provider idempotency key)').to.equal(orderId.replace(/^ord_/, 'pay_'));
      expect(simulated.capturesOf(paymentId)).to.equal(1);
      const captured = (await store.readStream(streamName('payment', paymentId))).filter((e) => e.type === 'PaymentCaptured');
      expect(captured, `${paymentId} captured once`).to.have.length(1);
    }
    await waitFor(async () => (await stockFromLog(store, SKU)).sold === 12, 10_000, 'the 12 units to be sold');
    expect((await c.call('GET', `/v1/orders/${late.body.orderId}`)).body.status).to.equal('cancelled');
    expect(simulated.attemptsOf(latePaid.body.paymentId), 'the cancelled order was never charged').to.equal(0);
    expect(await breakerGauge()).to.equal(0);
    console.log(`      [fault:payment-provider-down] ${callsWhenOpened} provider calls failed before the breaker opened; ${callsWhileDown} in all while down`);
  });
});
