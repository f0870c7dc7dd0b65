import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Served } from '../../../read-api/cache/read-cache';
import type { SaleQueries } from '../../../read-api/ports';
import type { InventoryView } from '../../../read-api/storefront';

/** Where the live sale page's figures come from, all in this process. */
export interface DashboardSources {
  readonly registry: Registry;
  /** The SKUs this process's writers committed most lately, busiest first. */
  readonly hotSkus: (limit: number) => readonly string[];
  readonly sales: Pick<SaleQueries, 'list'>;
  /** The same read as `GET /v1/inventory/:sku`. */
  readonly inventory: (sku: string) => Promise<Served<InventoryView | undefined>>;
  /** False on an API node of the cluster: the checkout saga runs elsewhere, so this process has no open-order figure. */
  readonly runsCheckout: boolean;
  readonly now?: () => number;
}

const StockView = z.object({ available: z.number(), reserved: z.number(), sold: z.number(), received: z.number(), adjusted: z.number() });

/** What `GET /dashboard/data` answers. */
export const DashboardView = z.object({
  at: z.string(),
  windowSeconds: z.number().nullable().describe('The span the rates and p99 cover; null until two samples exist (the first poll after a quiet spell)'),
  orders: z.object({
    perSecond: z.number().nullable(),
    byOutcome: z.record(z.string(), z.number()).describe('Answers per second by outcome: placed (201), replayed (200), pending (202), else the problem code'),
    p99Ms: z.number().nullable().describe("Estimated from the histogram buckets, as Prometheus' histogram_quantile does"),
  }),
  openOrders: z.number().nullable().describe('Orders awaiting payment that the checkout saga tracks; null where it does not run in this process'),
  skus: z.array(
    z.object({
      sku: z.string(),
      hot: z.boolean().describe("Among the SKUs this process's writers committed most in the last minute"),
      sale: z.object({ saleId: z.string(), priceCents: z.number(), endsAt: z.string() }).nullable().describe('The live flash sale on the SKU'),
      stock: StockView.nullable().describe('As GET /v1/inventory/:sku answers; null when no stock was ever recorded for it'),
      stale: z.boolean().describe('Served from the last value read because the read models are unavailable'),
    }),
  ),
});
export type DashboardSnapshot = z.infer<typeof DashboardView>;
export type DashboardSku = DashboardSnapshot['skus'][number];

const ORDERS_ROUTE = '/v1/orders';
const DURATION_METRIC = 'crest_http_request_duration_seconds';
const PROBLEMS_METRIC = 'crest_http_problems_total';
const OPEN_ORDERS_METRIC = 'crest_checkout_orders_awaiting_payment';
const WINDOW_MS = 10_000;
/** Polls closer together than this (several viewers) share one snapshot. */
const REUSE_MS = 500;
const HOT_LIMIT = 12;
const SALE_LIMIT = 24;
const OUTCOME_BY_STATUS: Readonly<Record<string, string>> = { '201': 'placed', '200': 'replayed', '202': 'pending' };

/** Cumulative counts of `POST /v1/orders` at one instant. */
interface OrdersSample {
  readonly at: number;
  readonly byOutcome: ReadonlyMap<string, number>;
  /** Cumulative bucket counts by upper bound (`Infinity` for `+Inf`), over every status. */
  readonly buckets: ReadonlyMap<number, number>;
}

type MetricValues = Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;

const valuesOf = async (registry: Registry, name: string): Promise<MetricValues> => {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as MetricValues) : [];
};

const add = (map: Map<number | string, number>, key: number | string, n: number): void => {
  map.set(key, (map.get(key) ?? 0) + n);
};

const isOrderPost = (labels: Record<string, string | number | undefined>): boolean => labels.route === ORDERS_ROUTE && labels.method === 'POST';

/** Reads the cumulative order counts and latency buckets from the registry (read only). */
const sampleOrders = async (registry: Registry, at: number): Promise<OrdersSample> => {
  const byOutcome = new Map<string, number>();
  const buckets = new Map<number, number>();
  let problems = 0;
  for (const { value, labels } of await valuesOf(registry, PROBLEMS_METRIC)) {
    if (!isOrderPost(labels) || value === 0) continue;
    add(byOutcome, String(labels.code), value);
    problems += value;
  }
  let refusals = 0;
  for (const { value, labels, metricName } of await valuesOf(registry, DURATION_METRIC)) {
    if (!isOrderPost(labels)) continue;
    if (metricName === `${DURATION_METRIC}_bucket`) add(buckets, labels.le === '+Inf' ? Infinity : Number(labels.le), value);
    else if (metricName === `${DURATION_METRIC}_count`) {
      const outcome = OUTCOME_BY_STATUS[String(labels.status)];
      if (outcome) add(byOutcome, outcome, value);
      else refusals += value;
    }
  }
  // every refusal carries a problem code; count any that did not as `other`
  if (refusals > problems) add(byOutcome, 'other', refusals - problems);
  return { at, byOutcome, buckets };
};

/** Answers per second by outcome between two samples (counters that went backwards count as 0). */
const ratesBetween = (from: OrdersSample, to: OrdersSample): Record<string, number> => {
  const seconds = (to.at - from.at) / 1000;
  const rates: Record<string, number> = {};
  for (const [outcome, n] of to.byOutcome) {
    const delta = n - (from.byOutcome.get(outcome) ?? 0);
    if (delta > 0) rates[outcome] = delta / seconds;
  }
  return rates;
};

/**
 * The 0.99 quantile in milliseconds of the observations between two samples, interpolated linearly inside its bucket
 * (as histogram_quantile does; above the last finite bound it answers that bound). Null with no observations.
 */
const p99Between = (from: OrdersSample, to: OrdersSample, quantile = 0.99): number | null => {
  const bounds = [...to.buckets.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((le) => Math.max(0, (to.buckets.get(le) ?? 0) - (from.buckets.get(le) ?? 0)));
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total === 0) return null;
  const rank = quantile * total;
  const i = cumulative.findIndex((c) => c >= rank);
  const upper = bounds[i]!;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  if (upper === Infinity) return lower * 1000;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  const seconds = inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
  return Math.round(seconds * 1e6) / 1e3;
};

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/**
 * The live sale page's data: the stock of the hot and on-sale SKUs (read as `GET /v1/inventory/:sku` reads it), orders
 * per second by outcome and the p99 of `POST /v1/orders` over the last ~10 s (from the metrics registry, by diffing
 * samples kept here), and the orders awaiting payment.
 */
export class DashboardData {
  private samples: OrdersSample[] = [];
  private latest: { at: number; snapshot: Promise<DashboardSnapshot> } | undefined;

  constructor(private readonly sources: DashboardSources) {}

  /** The current figures; calls within 500 ms of each other share one snapshot. */
  snapshot(): Promise<DashboardSnapshot> {
    const now = (this.sources.now ?? Date.now)();
    if (this.latest && now - this.latest.at < REUSE_MS) return this.latest.snapshot;
    const snapshot = this.build(now);
    const entry = { at: now, snapshot };
    this.latest = entry;
    snapshot.catch(() => {
      if (this.latest === entry) this.latest = undefined;
    });
    return snapshot;
  }

  private async build(now: number): Promise<DashboardSnapshot> {
    const [orders, skus, openOrders] = await Promise.all([this.orders(now), this.skus(), this.openOrders()]);
    return { at: new Date(now).toISOString(), ...orders, openOrders, skus };
  }

  private async orders(now: number): Promise<Pick<DashboardSnapshot, 'windowSeconds' | 'orders'>> {
    const current = await sampleOrders(this.sources.registry, now);
    this.samples = [...this.samples.filter((s) => now - s.at <= WINDOW_MS && s.at < now), current];
    const baseline = this.samples[0]!;
    if (baseline === current) return { windowSeconds: null, orders: { perSecond: null, byOutcome: {}, p99Ms: null } };
    const rates = ratesBetween(baseline, current);
    const byOutcome = Object.fromEntries(Object.entries(rates).map(([outcome, rate]) => [outcome, round(rate)]));
    const perSecond = round(Object.values(rates).reduce((a, b) => a + b, 0));
    return { windowSeconds: round((now - baseline.at) / 1000, 1), orders: { perSecond, byOutcome, p99Ms: p99Between(baseline, current) } };
  }

  private async skus(): Promise<DashboardSku[]> {
    const hot = this.sources.hotSkus(HOT_LIMIT);
    const live = this.sources.sales.list({ status: 'live', limit: SALE_LIMIT }).items;
    const saleBySku = new Map(live.map((s) => [s.sku, { saleId: s.saleId, priceCents: s.priceCents, endsAt: s.endsAt }]));
    const skus = [...new Set([...hot, ...saleBySku.keys()])];
    const hotSet = new Set(hot);
    return Promise.all(
      skus.map(async (sku): Promise<DashboardSku> => {
        const { value, stale } = await this.sources.inventory(sku);
        const stock = value ? { available: value.available, reserved: value.reserved, sold: value.sold, received: value.received, adjusted: value.adjusted } : null;
        return { sku, hot: hotSet.has(sku), sale: saleBySku.get(sku) ?? null, stock, stale };
      }),
    );
  }

  private async openOrders(): Promise<number | null> {
    if (!this.sources.runsCheckout) return null;
    return (await valuesOf(this.sources.registry, OPEN_ORDERS_METRIC))[0]?.value ?? null;
  }
}
