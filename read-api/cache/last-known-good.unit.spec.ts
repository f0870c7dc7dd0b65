import { expect } from 'chai';
import { LastKnownGood } from './last-known-good';
import type { CacheObserver } from './read-cache';

const unavailable = () => Object.assign(new Error('The read models cannot be reached'), { code: 'unavailable' });

const failureOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('the read succeeded');
};

describe('LastKnownGood (stale-if-error for uncached reads)', () => {
  const outcomes: string[] = [];
  const observer: CacheObserver = { lookup: (_ns, outcome) => void outcomes.push(outcome), rebuilt: () => {} };
  let status: string;
  let down: boolean;
  const load = async () => {
    if (down) throw unavailable();
    return { orderId: 'ord_1', status };
  };
  beforeEach(() => {
    outcomes.length = 0;
    status = 'awaiting_payment';
    down = false;
  });

  it('reads the read models every time while they answer', async () => {
    const orders = new LastKnownGood<{ orderId: string; status: string }>('order', 10, observer);
    expect(await orders.read('ord_1', load, () => 1)).to.deep.equal({ value: { orderId: 'ord_1', status: 'awaiting_payment' }, stale: false });
    status = 'confirmed';
    expect(await orders.read('ord_1', load, () => 2)).to.deep.equal({ value: { orderId: 'ord_1', status: 'confirmed' }, stale: false });
  });

  it('answers the last value, marked stale, while they are unavailable', async () => {
    // given an order read once
    const orders = new LastKnownGood<{ orderId: string; status: string }>('order', 10, observer);
    await orders.read('ord_1', load, () => 1);

    // when the read models are unavailable
    down = true;

    // then the last value is the answer, marked stale
    expect(await orders.read('ord_1', load, () => 1)).to.deep.equal({ value: { orderId: 'ord_1', status: 'awaiting_payment' }, stale: true });
    expect(outcomes).to.deep.equal(['stale_on_error']);
  });

  it('rethrows when it holds nothing for the key, when the reader asks for a later position, or for an error that is not an outage', async () => {
    const orders = new LastKnownGood<{ orderId: string; status: string }>('order', 10, observer);
    await orders.read('ord_1', load, () => 5);
    down = true;
    expect(await failureOf(orders.read('ord_2', load, () => 5))).to.have.property('code', 'unavailable');
    expect(await failureOf(orders.read('ord_1', load, () => 5, 6))).to.have.property('code', 'unavailable');
    const bug = new TypeError('undefined is not a function');
    expect(await failureOf(orders.read('ord_1', () => Promise.reject(bug), () => 5))).to.equal(bug);
  });

  it('keeps at most `max` keys', async () => {
    const orders = new LastKnownGood<{ orderId: string; status: string }>('order', 2, observer);
    for (const id of ['a', 'b', 'c']) await orders.read(id, load, () => 1);
    down = true;
    expect(await failureOf(orders.read('a', load, () => 1))).to.have.property('code', 'unavailable');
    expect((await orders.read('c', load, () => 1)).stale).to.equal(true);
  });
});
