import type { EventStore, RecordedEvent } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';
import { saleDecider, saleStatusAt, type SaleEvent, type SaleState, type SaleStatus, type SaleTerms } from '../../domain/sale/sale';
import { LogFollower, type FollowerMonitor } from '../../projections/log-follower';

export interface SaleView extends SaleTerms {
  readonly status: SaleStatus;
}

/**
 * Every sale and its state, folded from the `sale` streams and kept current by a subscription: the write side uses it
 * to price an order's lines (the SKU's writer has the last word), and the sale routes answer from it. Sales are few
 * (one per SKU and window), so all of them are held.
 */
export class SaleCalendar {
  private readonly sales = new Map<string, { state: SaleState; position: number }>();
  /** Sale ids by SKU: the product card asks for one SKU's sale on every read. */
  private readonly bySku = new Map<string, Set<string>>();
  private follower: LogFollower | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly clock: { now(): Date },
    private readonly monitor?: FollowerMonitor,
  ) {}

  async start(): Promise<void> {
    const history = await this.store.readAll({ filter: { categories: ['sale'] } });
    for (const e of history) this.apply(e);
    const head = history.length > 0 ? history[history.length - 1]!.position : await this.store.headPosition({ categories: ['sale'] });
    this.follower = new LogFollower(
      this.store,
      { name: 'sale-calendar', after: head, filter: { categories: ['sale'] } },
      (batch) => {
        for (const e of batch) this.apply(e);
      },
      this.monitor,
    );
    await this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  /** Reads a sale's stream now, so that what a command of this process just wrote is seen without waiting for the follower. */
  async reload(saleId: string): Promise<void> {
    for (const e of await this.store.readStream(streamName('sale', saleId))) this.apply(e);
  }

  get(saleId: string): SaleView | undefined {
    const entry = this.sales.get(saleId);
    if (!entry || entry.state.status === 'none') return undefined;
    return this.view(entry.state);
  }

  /** Sales ordered by `startsAt` (then id), optionally of one status, after the cursor's sale. */
  list(options: { status?: SaleStatus; limit: number; after?: string }): { items: SaleView[]; next: string | undefined } {
    const all = [...this.sales.values()]
      .filter((e) => e.state.status !== 'none')
      .map((e) => this.view(e.state))
      .filter((v) => options.status === undefined || v.status === options.status)
      .sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt) || (a.saleId < b.saleId ? -1 : a.saleId > b.saleId ? 1 : 0));
    const from = options.after === undefined ? 0 : all.findIndex((v) => v.saleId === options.after) + 1;
    const items = all.slice(from, from + options.limit);
    return { items, next: from + options.limit < all.length ? items[items.length - 1]?.saleId : undefined };
  }

  /** The SKU's current or next sale (scheduled or live, not cancelled), as the product card shows it. */
  forSku(sku: string, at = this.clock.now().getTime()): SaleView | undefined {
    let found: SaleView | undefined;
    for (const saleId of this.bySku.get(sku) ?? []) {
      const { state } = this.sales.get(saleId)!;
      if (state.status !== 'active' || Date.parse(state.terms!.endsAt) <= at) continue;
      if (!found || Date.parse(state.terms!.startsAt) < Date.parse(found.startsAt)) found = this.view(state, at);
    }
    return found;
  }

  private view(state: SaleState, at = this.clock.now().getTime()): SaleView {
    const terms = state.terms!;
    return { ...terms, status: saleStatusAt({ cancelled: state.status === 'cancelled', startsAt: terms.startsAt, endsAt: terms.endsAt }, at) };
  }

  private apply(event: RecordedEvent): void {
    const saleId = (event.data as { saleId?: string }).saleId;
    if (!saleId) return;
    const current = this.sales.get(saleId) ?? { state: saleDecider.initialState(), position: -1 };
    if (event.position <= current.position) return;
    const state = saleDecider.evolve(current.state, { type: event.type, data: event.data } as SaleEvent);
    this.sales.set(saleId, { state, position: event.position });
    // a sale cancelled and scheduled again may name another SKU
    const before = current.state.terms?.sku;
    const after = state.terms?.sku;
    if (before !== after && before !== undefined) this.bySku.get(before)?.delete(saleId);
    if (after !== undefined) this.bySku.set(after, (this.bySku.get(after) ?? new Set<string>()).add(saleId));
  }
}
