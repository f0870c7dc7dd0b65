import { LRUCache } from 'lru-cache';
import type { SharedCache } from '../ports';

/** `stale_on_error`: an old value served because the read models failed to give a new one. */
export type LookupOutcome = 'hit' | 'stale' | 'miss' | 'shared_hit' | 'stale_on_error';

export interface CacheObserver {
  lookup(namespace: string, outcome: LookupOutcome): void;
  rebuilt(namespace: string): void;
}

export interface ReadCacheOptions {
  readonly max: number;
  readonly ttlMs: number;
  /** How long "no such thing" is remembered, so a flood of unknown keys does not reach the read models. */
  readonly missTtlMs: number;
  /** TTLs are spread by ±jitter (a fraction), so entries filled together do not expire together. */
  readonly jitter: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Entry<V> {
  readonly value: V | undefined;
  /** Read-model position when the value was loaded: good enough for any read asking for no more than this. */
  readonly position: number;
  readonly freshUntil: number;
  readonly stale: boolean;
  /** The last rebuild of this entry failed (the read models are unavailable): served copies are marked stale. */
  readonly failing?: boolean;
}

/** A value and whether it is served only because the read models could not give a newer one. */
export interface Served<V> {
  readonly value: V;
  readonly stale: boolean;
}

/** A rebuild under way; `since.invalidated` records an invalidation that arrived while it loaded. */
interface Flight<V> {
  readonly work: Promise<Entry<V>>;
  readonly since: { invalidated: boolean };
}

interface SharedEntry<V> {
  readonly value: V | undefined;
  readonly position: number;
}

/**
 * L1 read-through cache (lru-cache) over an optional shared L2. It handles the three classic failures:
 * - a hot key that expires or is invalidated is rebuilt by one caller (singleflight) while the rest get the stale copy;
 * - unknown keys are cached as misses for `missTtlMs`;
 * - TTLs carry jitter.
 * Entries outlive their TTL (until the LRU evicts them), so when the read models fail, the last value is still served
 * (stale-if-error), and once a rebuild of it has failed, it is served marked `stale`.
 * An entry loaded before a position the caller asks for (`minPosition`) is never served to that caller.
 * Per-key state lives only in the LRU and in the rebuilds under way, so memory is bounded by `max` plus concurrency,
 * however many distinct keys are ever seen.
 */
export class ReadCache<V> {
  private readonly l1: LRUCache<string, Entry<V>>;
  private readonly inFlight = new Map<string, Flight<V>>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly namespace: string,
    private readonly options: ReadCacheOptions,
    private readonly observer: CacheObserver,
    private readonly shared?: SharedCache,
  ) {
    this.l1 = new LRUCache({ max: options.max });
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * `load` reads the value from the read models; `position` is the read models' position just before it runs.
   */
  async get(key: string, load: () => Promise<V | undefined>, position: () => number, minPosition = 0): Promise<V | undefined> {
    return (await this.read(key, load, position, minPosition)).value;
  }

  /**
   * As `get`, and says whether the value is stale because the read models failed: an entry past its TTL (or
   * invalidated) whose last rebuild failed. A key with no usable entry rethrows the load's error.
   */
  async read(key: string, load: () => Promise<V | undefined>, position: () => number, minPosition = 0): Promise<Served<V | undefined>> {
    const entry = this.l1.get(key);
    if (entry && entry.position >= minPosition) {
      if (!entry.stale && entry.freshUntil > this.now()) {
        this.observer.lookup(this.namespace, 'hit');
        return { value: entry.value, stale: false };
      }
      this.observer.lookup(this.namespace, entry.failing ? 'stale_on_error' : 'stale');
      this.rebuild(key, load, position, minPosition).catch(() => undefined);
      return { value: entry.value, stale: entry.failing === true };
    }
    this.observer.lookup(this.namespace, 'miss');
    return { value: (await this.rebuild(key, load, position, minPosition)).value, stale: false };
  }

  /** Marks an entry stale: the next reader triggers one rebuild and meanwhile still gets the old value. */
  invalidate(key: string): void {
    const flight = this.inFlight.get(key);
    if (flight) flight.since.invalidated = true;
    const entry = this.l1.get(key, { allowStale: true });
    if (entry && !entry.stale) this.l1.set(key, { ...entry, stale: true });
    if (this.shared) void this.shared.delete([this.sharedKey(key)]).catch(() => undefined);
  }

  invalidateAll(): void {
    // copy first: marking an entry stale re-inserts it, which would restart a live iteration
    for (const key of [...this.l1.keys()]) this.invalidate(key);
    for (const flight of this.inFlight.values()) flight.since.invalidated = true;
  }

  private rebuild(key: string, load: () => Promise<V | undefined>, position: () => number, minPosition: number): Promise<Entry<V>> {
    const running = this.inFlight.get(key);
    if (running) return running.work;
    const since = { invalidated: false };
    const work = (async (): Promise<Entry<V>> => {
      const fromShared = await this.readShared(key, minPosition);
      let value: V | undefined;
      let loadedAt: number;
      if (fromShared) {
        ({ value, position: loadedAt } = fromShared);
        this.observer.lookup(this.namespace, 'shared_hit');
      } else {
        loadedAt = position();
        try {
          value = await load();
        } catch (error) {
          this.markFailing(key);
          throw error;
        }
        this.observer.rebuilt(this.namespace);
      }
      const ttl = this.jittered(value === undefined ? this.options.missTtlMs : this.options.ttlMs);
      // an invalidation that arrived while loading means this value may already be old
      const stale = since.invalidated;
      const entry: Entry<V> = { value, position: loadedAt, freshUntil: this.now() + ttl, stale };
      this.l1.set(key, entry);
      if (!fromShared && !stale && this.shared) void this.shared.set(this.sharedKey(key), JSON.stringify({ value, position: loadedAt }), ttl).catch(() => undefined);
      return entry;
    })();
    const flight: Flight<V> = { work, since };
    this.inFlight.set(key, flight);
    return work.finally(() => {
      if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    });
  }

  /** The entry kept for `key` (past its TTL or not) could not be rebuilt: it stays, marked as failing. */
  private markFailing(key: string): void {
    const entry = this.l1.get(key, { allowStale: true });
    if (entry && !entry.failing) this.l1.set(key, { ...entry, failing: true });
  }

  private async readShared(key: string, minPosition: number): Promise<SharedEntry<V> | undefined> {
    if (!this.shared) return undefined;
    try {
      const raw = await this.shared.get(this.sharedKey(key));
      if (raw === undefined) return undefined;
      const entry = JSON.parse(raw) as SharedEntry<V>;
      return entry.position >= minPosition ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  private sharedKey(key: string): string {
    return `cache:${this.namespace}:${key}`;
  }

  private jittered(ttlMs: number): number {
    return Math.round(ttlMs * (1 - this.options.jitter + 2 * this.options.jitter * this.random()));
  }
}
