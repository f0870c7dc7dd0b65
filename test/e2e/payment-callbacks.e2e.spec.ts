import { expect } from 'chai';
import { signWebhook } from '../../commands/payments/webhook-signature';
import { streamName } from '../../domain/kernel/streams';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

/** Signed callbacks that must also be the right ones (issue 11: every case was accepted before). */
describe('payment webhook: a signed callback must match its order', function () {
  this.timeout(60_000);
  const OLD_SECRET = 'old-webhook-secret-0123456789';
  const NEW_SECRET = 'new-webhook-secret-0123456789';
  let crest: TestCrest;
  before(async () => (crest = await startCrest({ CREST_PAYMENT_WEBHOOK_SECRET: `${NEW_SECRET},${OLD_SECRET}`, CREST_PAYMENT_LATENCY_MS: '5' })));
  after(() => crest.dispose());

  const store = () => crest.running.container.get(Tokens.EventStore);
  const now = () => Math.floor(Date.now() / 1000);
  const send = (body: unknown, secret = NEW_SECRET) => {
    const raw = JSON.stringify(body);
    return crest.call('POST', '/v1/payments/webhook', { rawBody: raw, headers: { 'content-type': 'application/json', 'crest-signature': signWebhook(raw, secret, now()) } });
  };
  const statusOf = async (orderId: string): Promise<string> => (await crest.call('GET', `/v1/orders/${orderId}`)).body.status;
  const metric = async (name: string): Promise<number> => {
    const text = (await crest.call('GET', '/metrics')).body as string;
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  /** An order of `quantity` units whose payment was asked for with tok_timeout: the provider never answers by itself. */
  const awaitingCapture = async (sku: string, key: string, quantity = 1) => {
    await seedProduct(crest, sku, 10, 2000);
    const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key }, body: { customerId: `cust-${key}`, lines: [{ sku, quantity }] } });
    expect(placed.status).to.equal(201);
    const paid = await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_timeout' } });
    expect(paid.status).to.equal(202);
    return { orderId: placed.body.orderId as string, paymentId: paid.body.paymentId as string, totalCents: placed.body.totalCents as number };
  };

  const expectMismatch = async (response: { status: number; body: { code: string } }, orderId: string, sku: string) => {
    expect([response.status, response.body.code]).to.deep.equal([422, 'payment_mismatch']);
    expect(await statusOf(orderId)).to.equal('awaiting_payment');
    const stock = await stockFromLog(store(), sku);
    expect(stock.sold).to.equal(0);
    expectStockInvariant(stock);
  };

  it('refuses a capture for 1 cent of a 2,000-cent order, and the order stays unpaid', async () => {
    const { orderId, paymentId } = await awaitingCapture('MATCH-AMOUNT', 'match-amount-1');
    const before = await metric('crest_payment_mismatches_total');
    await expectMismatch(await send({ id: 'evt_amount_1', type: 'payment.captured', paymentId, orderId, amountCents: 1 }), orderId, 'MATCH-AMOUNT');
    expect(await metric('crest_payment_mismatches_total')).to.equal(before + 1);
    const kept = (await store().readAll()).filter((e) => e.type === 'PaymentCallbackMismatched' && (e.data as { callbackId: string }).callbackId === 'evt_amount_1');
    expect(kept, 'the mismatch is kept for a person to see').to.have.length(1);
  });

  it('refuses a capture or failure naming a payment the order never issued, and writes no payment stream for it', async () => {
    const { orderId } = await awaitingCapture('MATCH-PAYID', 'match-payid-1');
    for (const type of ['payment.captured', 'payment.failed']) {
      await expectMismatch(await send({ id: `evt_attacker_${type}`, type, paymentId: 'pay_attacker-chosen-id', orderId, amountCents: 2000 }), orderId, 'MATCH-PAYID');
    }
    expect(await store().readStream(streamName('payment', 'pay_attacker-chosen-id'))).to.deep.equal([]);
  });

  it('refuses a capture for an order that never asked to pay', async () => {
    await seedProduct(crest, 'MATCH-UNPAID', 10, 2000);
    const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': 'match-unpaid-1' }, body: { customerId: 'c-unpaid', lines: [{ sku: 'MATCH-UNPAID', quantity: 1 }] } });
    const orderId = placed.body.orderId as string;
    await expectMismatch(await send({ id: 'evt_unpaid', type: 'payment.captured', paymentId: orderId.replace('ord_', 'pay_'), orderId, amountCents: 2000 }), orderId, 'MATCH-UNPAID');
  });

  it('refuses a callback for an unknown order and leaves no orphan payment stream', async () => {
    const orderId = 'ord_UNKNOWNUNKNOWNUNKNOWN000';
    const response = await send({ id: 'evt_unknown_order', type: 'payment.captured', paymentId: 'pay_UNKNOWNUNKNOWNUNKNOWN000', orderId, amountCents: 500 });
    expect([response.status, response.body.code]).to.deep.equal([422, 'payment_mismatch']);
    expect(await store().readStream(streamName('payment', 'pay_UNKNOWNUNKNOWNUNKNOWN000'))).to.deep.equal([]);
  });

  it('changes nothing when an event id is reused with another type or for another order', async () => {
    const a = await awaitingCapture('MATCH-REUSE', 'match-reuse-a');
    const b = await awaitingCapture('MATCH-REUSE', 'match-reuse-b');
    const first = await send({ id: 'evt_reused', type: 'payment.captured', paymentId: a.paymentId, orderId: a.orderId, amountCents: a.totalCents });
    expect([first.status, first.body.recorded]).to.deep.equal([200, true]);
    await waitFor(async () => (await statusOf(a.orderId)) === 'confirmed', 10_000, 'order A to be confirmed');

    const refundUnderSameId = await send({ id: 'evt_reused', type: 'payment.refunded', paymentId: a.paymentId, orderId: a.orderId, amountCents: a.totalCents });
    const otherOrderUnderSameId = await send({ id: 'evt_reused', type: 'payment.captured', paymentId: b.paymentId, orderId: b.orderId, amountCents: b.totalCents });
    for (const r of [refundUnderSameId, otherOrderUnderSameId]) expect([r.status, r.body.recorded]).to.deep.equal([200, false]);

    expect((await store().readStream(streamName('payment', a.paymentId))).map((e) => e.type)).to.not.include('PaymentRefunded');
    expect((await store().readStream(streamName('payment', b.paymentId))).map((e) => e.type)).to.not.include('PaymentCaptured');
    expect(await statusOf(b.orderId)).to.equal('awaiting_payment');
    await waitFor(async () => (await stockFromLog(store(), 'MATCH-REUSE')).sold === 1, 10_000, 'A to be sold');
    expectStockInvariant(await stockFromLog(store(), 'MATCH-REUSE'));
  });

  it('does not leave an order confirmed when its refund arrived before its capture: it fails and its stock goes back', async () => {
    const { orderId, paymentId, totalCents } = await awaitingCapture('MATCH-REFUND', 'match-refund-1', 2);
    const refund = await send({ id: 'evt_refund_first', type: 'payment.refunded', paymentId, orderId, amountCents: totalCents });
    const capture = await send({ id: 'evt_capture_late', type: 'payment.captured', paymentId, orderId, amountCents: totalCents });
    expect([refund.status, capture.status]).to.deep.equal([200, 200]);
    await waitFor(async () => (await statusOf(orderId)) === 'payment_failed', 10_000, 'the order to fail');
    await waitFor(async () => (await stockFromLog(store(), 'MATCH-REFUND')).reserved === 0, 10_000, 'its stock to be released');
    const stock = await stockFromLog(store(), 'MATCH-REFUND');
    expect(stock.sold).to.equal(0);
    expectStockInvariant(stock);
  });

  it('accepts a signature made with the previous secret while it is rotated, and a header with several v1 values', async () => {
    const { orderId, paymentId, totalCents } = await awaitingCapture('MATCH-ROTATE', 'match-rotate-1');
    const body = JSON.stringify({ id: 'evt_rotated', type: 'payment.captured', paymentId, orderId, amountCents: totalCents });
    const t = now();
    const withOld = signWebhook(body, OLD_SECRET, t);
    const withWrong = signWebhook(body, 'not-a-secret-of-ours-at-all', t);
    const header = `${withWrong},v1=${withOld.split('v1=')[1]}`;
    const response = await crest.call('POST', '/v1/payments/webhook', { rawBody: body, headers: { 'content-type': 'application/json', 'crest-signature': header } });
    expect([response.status, response.body.recorded]).to.deep.equal([200, true]);
    await waitFor(async () => (await statusOf(orderId)) === 'confirmed', 10_000, 'confirmation');
  });

  it('keeps the payment token out of the log: events hold a fingerprint, and the vault forgets the token once the order is paid', async () => {
    await seedProduct(crest, 'TOKEN-LOG', 5, 2000);
    const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': 'token-log-1' }, body: { customerId: 'c-token', lines: [{ sku: 'TOKEN-LOG', quantity: 1 }] } });
    const token = 'tok_ok';
    const paid = await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: token } });
    await waitFor(async () => (await statusOf(placed.body.orderId)) === 'confirmed', 10_000, 'confirmation');
    const log = await store().readAll();
    const requested = log.find((e) => e.type === 'PaymentRequested' && (e.data as { orderId: string }).orderId === placed.body.orderId)!;
    expect(requested.data).to.have.property('tokenFingerprint').that.is.a('string');
    expect(requested.data).to.not.have.property('paymentToken');
    expect(log.filter((e) => JSON.stringify([e.data, e.metadata]).includes(`"${token}"`)), 'no event holds the token').to.deep.equal([]);
    await waitFor(async () => (await crest.running.container.get(Tokens.PaymentTokens).find(paid.body.paymentId)) === undefined, 10_000, 'the vault to forget the token');
  });
});
