import { expect } from 'chai';
import pino from 'pino';
import {
  PaymentProviderUnavailableError,
  TransientPaymentError,
  type ChargeRequest,
  type PaymentProvider,
  type ProviderEvent,
  type RefundRequest,
} from '../../commands/payments/payment-provider';
import { waitFor } from '../../test/support/wait-for';
import { CrestMetrics } from '../metrics/metrics';
import { SimulatedPaymentProvider } from '../simulated-payments/simulated-provider';
import { Breaker } from './circuit-breaker';
import { PaymentProviderBreaker } from './payment-provider-breaker';

type Mode = 'up' | 'down' | 'hanging' | 'refusing';

/** The simulated provider behind a switch: down (5xx, transient), hanging (never answers), or refusing a bad request. */
class ProviderWithOutages implements PaymentProvider {
  mode: Mode = 'up';
  constructor(private readonly provider: SimulatedPaymentProvider) {}
  charge = (request: ChargeRequest) => this.call(() => this.provider.charge(request));
  refund = (request: RefundRequest) => this.call(() => this.provider.refund(request));

  private async call(call: () => Promise<void>): Promise<void> {
    if (this.mode === 'down') throw new TransientPaymentError('provider answered 503');
    if (this.mode === 'hanging') return new Promise<void>(() => {});
    if (this.mode === 'refusing') throw new Error('provider answered 400: amount must be positive');
    return call();
  }
}

const failureOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('the call succeeded');
};

const charge = (i: number): ChargeRequest => ({ paymentId: `pay_${i}`, orderId: `ord_${i}`, amountCents: 1000 + i, paymentToken: 'tok_ok' });

describe('PaymentProviderBreaker', () => {
  let delivered: ProviderEvent[];
  let simulated: SimulatedPaymentProvider;
  let provider: ProviderWithOutages;
  let breaker: Breaker;
  let payments: PaymentProviderBreaker;
  let metrics: CrestMetrics;

  beforeEach(() => {
    // given the simulated provider (callbacks collected) behind a breaker: 20 ms timeout, 100 ms reset
    delivered = [];
    simulated = new SimulatedPaymentProvider({ latencyMs: 0, deliver: async (event) => void delivered.push(event) });
    provider = new ProviderWithOutages(simulated);
    metrics = new CrestMetrics();
    breaker = new Breaker('payment-provider', { timeoutMs: 20, resetMs: 100 }, metrics.breakerObserver(pino({ level: 'silent' })), PaymentProviderBreaker.counts);
    payments = new PaymentProviderBreaker(provider, breaker);
  });
  afterEach(() => {
    breaker.shutdown();
    simulated.stop();
  });

  it('passes charges through while the provider is up', async () => {
    await payments.charge(charge(1));
    await waitFor(() => delivered.length === 1, 2000, 'the capture callback');
    expect(delivered[0]).to.include({ type: 'payment.captured', paymentId: 'pay_1' });
    expect(breaker.state).to.equal('closed');
  });

  describe('given the provider down', () => {
    it('opens after repeated transient failures; then charges fail fast as PaymentProviderUnavailableError, never reaching the provider', async () => {
      // when ten charges fail with transient errors
      provider.mode = 'down';
      for (let i = 0; i < 10; i++) expect(await failureOf(payments.charge(charge(i)))).to.be.instanceOf(TransientPaymentError);
      expect(breaker.state).to.equal('open');
      expect(await metrics.registry.metrics()).to.match(/crest_circuit_breaker_open\{breaker="payment-provider"\} 1/);

      // then a charge is not made: a transient error that says how long to wait, and the provider never saw it
      provider.mode = 'up';
      const error = await failureOf(payments.charge(charge(42)));
      expect(error).to.be.instanceOf(PaymentProviderUnavailableError);
      expect(error).to.be.instanceOf(TransientPaymentError);
      expect((error as PaymentProviderUnavailableError).retryInMs).to.be.within(1, 100);
      expect(simulated.attemptsOf('pay_42')).to.equal(0);
    });

    it('lets the same charge through once the breaker half-opens, and the provider captures it once', async () => {
      // given an open breaker and a charge refused by it
      provider.mode = 'down';
      for (let i = 0; i < 10; i++) await failureOf(payments.charge(charge(i)));
      expect(await failureOf(payments.charge(charge(7)))).to.be.instanceOf(PaymentProviderUnavailableError);

      // when the provider is back and the breaker half-opens
      provider.mode = 'up';
      await waitFor(() => breaker.state === 'half_open', 2000, 'the breaker to half-open');

      // then the same charge (same payment id) goes through, closes the breaker, and is captured once even if repeated
      await payments.charge(charge(7));
      expect(breaker.state).to.equal('closed');
      await payments.charge(charge(7));
      await waitFor(() => delivered.length === 1, 2000, 'the capture callback');
      expect(simulated.capturesOf('pay_7')).to.equal(1);
      expect(delivered.map((e) => [e.type, e.paymentId])).to.deep.equal([['payment.captured', 'pay_7']]);
    });
  });

  describe('given a provider that does not answer', () => {
    it('fails a call after the timeout as transient (retry with the same payment id), and opens', async () => {
      provider.mode = 'hanging';
      for (let i = 0; i < 10; i++) {
        const error = await failureOf(payments.refund({ paymentId: `pay_${i}`, orderId: `ord_${i}`, amountCents: 100, reason: 'expired' }));
        expect(error).to.be.instanceOf(TransientPaymentError);
        expect(error).to.not.be.instanceOf(PaymentProviderUnavailableError);
      }
      expect(breaker.state).to.equal('open');
    });
  });

  describe('given requests the provider refuses (not an outage)', () => {
    it('passes the refusal through and stays closed', async () => {
      provider.mode = 'refusing';
      for (let i = 0; i < 20; i++) expect(((await failureOf(payments.charge(charge(i)))) as Error).message).to.match(/400/);
      expect(breaker.state).to.equal('closed');
    });

    it('counts a declined card as an answer, not a failure', async () => {
      for (let i = 0; i < 20; i++) await payments.charge({ ...charge(i), paymentToken: 'tok_declined' });
      expect(breaker.state).to.equal('closed');
      await waitFor(() => delivered.length === 20, 2000, 'the 20 failure callbacks');
      expect(new Set(delivered.map((e) => e.type))).to.deep.equal(new Set(['payment.failed']));
    });
  });
});
