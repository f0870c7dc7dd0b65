import { LRUCache } from 'lru-cache';
import { isUnavailable } from '../errors';
import type { CacheObserver, Served } from './read-cache';

interface Kept<V> {
  readonly value: V;
  /** Read-model position just before the value was read. */
  readonly position: number;
}

/**
 * Stale-if-error for reads that are not cached (orders, customer order pages, inventory views): every read goes to the
 * read models, and the last value each key answered is kept in a bounded LRU. When the read models are unavailable
 * (an error with code `unavailable`: the store is down, or its breaker is open), that last value is served, marked
 * stale, unless the reader asked for a later position (X-Min-Position). Without one, the error stands (503).
 */
export class LastKnownGood<V> {
  private readonly kept: LRUCache<string, Kept<V>>;

  constructor(
    readonly namespace: string,
    max: number,
    private readonly observer: CacheObserver,
  ) {
    this.kept = new LRUCache({ max });
  }

  async read(key: string, load: () => Promise<V | undefined>, position: () => number, minPosition = 0): Promise<Served<V | undefined>> {
    const loadedAt = position();
    let value: V | undefined;
    try {
      value = await load();
    } catch (error) {
      const kept = this.kept.get(key);
      if (!isUnavailable(error) || !kept || kept.position < minPosition) throw error;
      this.observer.lookup(this.namespace, 'stale_on_error');
      return { value: kept.value, stale: true };
    }
    if (value === undefined) this.kept.delete(key);
    else this.kept.set(key, { value, position: loadedAt });
    return { value, stale: false };
  }
}
