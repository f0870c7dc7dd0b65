import { expect } from 'chai';
import pino from 'pino';
import { CrestMetrics } from '../../metrics/metrics';
import type { SaleView } from '../../../read-api/ports';
import { DashboardData, type DashboardSources } from './dashboard-data';

const figures = (sku: string, available: number, reserved: number, sold: number) => ({ sku, received: available + reserved + sold, adjusted: 0, available, reserved, sold });

const liveSale: SaleView = { saleId: 'drop-1', sku: 'SALE-1', priceCents: 500, startsAt: '2026-01-01T00:00:00.000Z', endsAt: '2026-01-01T01:00:00.000Z', perCustomerLimit: 1, status: 'live' };

describe('the live sale page data', () => {
  let metrics: CrestMetrics;
  let now: number;
  const sources = (overrides: Partial<DashboardSources> = {}): DashboardSources => ({
    registry: metrics.registry,
    hotSkus: () => ['HOT-1'],
    sales: { list: () => ({ items: [liveSale], next: undefined }) },
    inventory: async (sku) => ({ value: sku === 'HOT-1' ? figures(sku, 7, 2, 1) : figures(sku, 40, 0, 0), stale: false }),
    runsCheckout: true,
    now: () => now,
    ...overrides,
  });

  beforeEach(() => {
    metrics = new CrestMetrics();
    now = 1_000_000;
  });

  it('has no rates on its first poll: there is nothing to diff yet', async () => {
    // given orders answered before anyone looked
    metrics.observeHttp('/v1/orders', 'POST', 201, 0.003);
    // when the page asks for the first time
    const snapshot = await new DashboardData(sources()).snapshot();
    // then rates and p99 are unknown, not an average since the process started
    expect(snapshot.windowSeconds).to.equal(null);
    expect(snapshot.orders).to.deep.equal({ perSecond: null, byOutcome: {}, p99Ms: null });
  });

  it('counts POST /v1/orders per second by outcome between two polls, with the p99 from the bucket deltas', async () => {
    // given a first poll, then 2 s of orders: 99 placed at 3 ms, 1 out of stock at 200 ms, and other routes
    const data = new DashboardData(sources());
    metrics.observeHttp('/v1/orders', 'POST', 201, 2);
    await data.snapshot();
    for (let i = 0; i < 99; i++) metrics.observeHttp('/v1/orders', 'POST', 201, 0.003);
    metrics.observeHttp('/v1/orders', 'POST', 409, 0.2, 'out_of_stock');
    metrics.observeHttp('/v1/products', 'GET', 200, 1);
    metrics.observeHttp('/v1/orders/:id/payment', 'POST', 409, 1, 'order_not_payable');
    now += 2000;
    // when the page polls again
    const snapshot = await data.snapshot();
    // then only the window counts: 100 orders in 2 s, and the 99th of 100 lies at the top of the 2.5-5 ms bucket
    expect(snapshot.windowSeconds).to.equal(2);
    expect(snapshot.orders.perSecond).to.equal(50);
    expect(snapshot.orders.byOutcome).to.deep.equal({ placed: 49.5, out_of_stock: 0.5 });
    expect(snapshot.orders.p99Ms).to.equal(5);
  });

  it('keeps a window of about 10 s, and polls within 500 ms share one snapshot', async () => {
    // given polls every second for 15 s, one order a second
    const data = new DashboardData(sources());
    for (let s = 0; s <= 15; s++) {
      await data.snapshot();
      metrics.observeHttp('/v1/orders', 'POST', 201, 0.003);
      now += 1000;
    }
    // when two viewers poll 100 ms apart
    const first = await data.snapshot();
    now += 100;
    const second = await data.snapshot();
    // then the rate covers the last 10 s only, and both got the same figures
    expect(first.windowSeconds).to.equal(10);
    expect(first.orders.perSecond).to.equal(1);
    expect(second).to.equal(first);
  });

  it('lists the hot SKUs, then the SKUs of live sales, with the storefront figures and the open orders', async () => {
    // given one hot SKU, a live sale on another, and 3 orders awaiting payment
    metrics.checkoutObserver(pino({ level: 'silent' })).pendingOrders(3);
    // when the page asks
    const snapshot = await new DashboardData(sources()).snapshot();
    // then each SKU carries the figures GET /v1/inventory/:sku answers
    expect(snapshot.skus).to.deep.equal([
      { sku: 'HOT-1', hot: true, sale: null, stock: { available: 7, reserved: 2, sold: 1, received: 10, adjusted: 0 }, stale: false },
      { sku: 'SALE-1', hot: false, sale: { saleId: 'drop-1', priceCents: 500, endsAt: liveSale.endsAt }, stock: { available: 40, reserved: 0, sold: 0, received: 40, adjusted: 0 }, stale: false },
    ]);
    expect(snapshot.openOrders).to.equal(3);
  });

  it('has no open-order figure where the checkout saga runs in another process, and no figures for a SKU without stock', async () => {
    // given an API node of the cluster, and a live sale on a SKU that never received stock
    const data = new DashboardData(sources({ runsCheckout: false, hotSkus: () => [], inventory: async () => ({ value: undefined, stale: false }) }));
    // when the page asks
    const snapshot = await data.snapshot();
    // then
    expect(snapshot.openOrders).to.equal(null);
    expect(snapshot.skus).to.deep.equal([{ sku: 'SALE-1', hot: false, sale: { saleId: 'drop-1', priceCents: 500, endsAt: liveSale.endsAt }, stock: null, stale: false }]);
  });
});
