import { LRUCache } from 'lru-cache';
import type { EventStore, RecordedEvent } from '../../domain/kernel/event-store';
import { LogFollower, type FollowerMonitor } from '../../projections/log-follower';
import { idOf, streamName } from '../../domain/kernel/streams';
import { productDecider, type ProductEvent, type ProductState } from '../../domain/product/product';
import { loadStream } from '../handle-command';

export interface CatalogEntry {
  readonly state: ProductState;
  readonly revision: number;
}

/**
 * The write side's view of the catalogue: is a SKU listed, and at what price. Entries load from the product
 * stream on a miss and are kept current by a subscription, applying an event only when it is the next revision,
 * so a stale entry is dropped rather than trusted. Negative answers are re-read before they refuse anything.
 */
export class Catalog {
  private readonly entries: LRUCache<string, CatalogEntry>;
  private follower: LogFollower | undefined;

  constructor(
    private readonly store: EventStore,
    maxEntries = 200_000,
    private readonly monitor?: FollowerMonitor,
  ) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  async start(): Promise<void> {
    const head = await this.store.headPosition({ categories: ['product'] });
    this.follower = new LogFollower(
      this.store,
      { name: 'catalogue', after: head, filter: { categories: ['product'] } },
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

  /** The product as last seen; with `fresh`, read from the store now. */
  async get(sku: string, options: { fresh?: boolean } = {}): Promise<CatalogEntry> {
    const cached = options.fresh ? undefined : this.entries.get(sku);
    if (cached) return cached;
    const loaded = await loadStream(this.store, streamName('product', sku), productDecider);
    const entry = { state: loaded.state, revision: loaded.revision };
    this.remember(sku, entry);
    return entry;
  }

  /** A listed product, re-reading the stream before saying it is not listed. */
  async listed(sku: string): Promise<CatalogEntry | undefined> {
    const cached = await this.get(sku);
    if (cached.state.status === 'listed') return cached;
    const fresh = await this.get(sku, { fresh: true });
    return fresh.state.status === 'listed' ? fresh : undefined;
  }

  remember(sku: string, entry: CatalogEntry): void {
    const current = this.entries.get(sku);
    if (!current || current.revision < entry.revision) this.entries.set(sku, entry);
  }

  private apply(event: RecordedEvent): void {
    const sku = idOf(event.streamId);
    const current = this.entries.get(sku);
    if (!current || event.revision <= current.revision) return;
    if (event.revision !== current.revision + 1) {
      this.entries.delete(sku);
      return;
    }
    this.entries.set(sku, { state: productDecider.evolve(current.state, { type: event.type, data: event.data } as ProductEvent), revision: event.revision });
  }
}
