import { expect } from 'chai';
import { LRUCache } from 'lru-cache';
import { ReadCache, type CacheObserver, type ReadCacheOptions } from './read-cache';

const quietObserver: CacheObserver = { lookup: () => {}, rebuilt: () => {} };

/** Every key the cache holds in any map of its own: the LRU, rebuilds under way, and anything added later. */
const retainedKeys = (cache: object): number =>
  Object.values(cache).reduce<number>((n, field) => n + (field instanceof Map || field instanceof LRUCache ? field.size : 0), 0);

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

describe('ReadCache', () => {
  let clock: number;
  const options = (overrides: Partial<ReadCacheOptions> = {}): ReadCacheOptions => ({ max: 100, ttlMs: 1000, missTtlMs: 200, jitter: 0, now: () => clock, ...overrides });
  beforeEach(() => (clock = 1_000_000));

  it('loads a cold key once for 200 concurrent readers', async () => {
    const cache = new ReadCache<string>('t', options(), quietObserver);
    let loads = 0;
    const gate = deferred<void>();
    const load = async () => {
      loads++;
      await gate.promise;
      return 'value';
    };
    const reads = Array.from({ length: 200 }, () => cache.get('hot', load, () => 1));
    gate.resolve();
    expect(await Promise.all(reads)).to.deep.equal(Array(200).fill('value'));
    expect(loads).to.equal(1);
  });

  it('after an invalidation, 200 concurrent readers trigger one rebuild and get the stale copy meanwhile', async () => {
    const cache = new ReadCache<string>('t', options(), quietObserver);
    let version = 1;
    let loads = 0;
    let gate = deferred<void>();
    const load = async () => {
      loads++;
      await gate.promise;
      return `v${version}`;
    };
    gate.resolve();
    await cache.get('hot', load, () => 1);
    loads = 0;
    gate = deferred<void>();
    version = 2;
    cache.invalidate('hot');
    const during = await Promise.all(Array.from({ length: 200 }, () => cache.get('hot', load, () => 2)));
    expect(during.every((v) => v === 'v1'), 'readers got the stale copy without waiting').to.equal(true);
    expect(loads).to.equal(1);
    gate.resolve();
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('hot', load, () => 2)).to.equal('v2');
    expect(loads).to.equal(1);
  });

  it('remembers a miss for missTtlMs, so a flood of unknown keys reaches the read models once', async () => {
    const cache = new ReadCache<string>('t', options(), quietObserver);
    let loads = 0;
    const load = async () => {
      loads++;
      return undefined;
    };
    for (let i = 0; i < 50; i++) expect(await cache.get('unknown-sku', load, () => 1)).to.equal(undefined);
    expect(loads).to.equal(1);
    clock += 250;
    await cache.get('unknown-sku', load, () => 1);
    await new Promise((r) => setImmediate(r));
    expect(loads).to.equal(2);
  });

  it('spreads TTLs with jitter so keys filled together do not expire together', async () => {
    let r = 0;
    const randoms = [0, 0.5, 1];
    const cache = new ReadCache<string>('t', options({ jitter: 0.2, random: () => randoms[r++ % 3]! }), quietObserver);
    const loads: string[] = [];
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => (loads.push(key), key), () => 1);
    clock += 850; // past 800 (jitter -20%), before 1000 and 1200
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => (loads.push(key), key), () => 1);
    await new Promise((res) => setImmediate(res));
    expect(loads).to.deep.equal(['a', 'b', 'c', 'a']);
  });

  it('never serves an entry loaded before the position a reader asks for', async () => {
    const cache = new ReadCache<string>('t', options(), quietObserver);
    let position = 5;
    let loads = 0;
    const load = async () => `at-${position}-${++loads}`;
    expect(await cache.get('k', load, () => position, 0)).to.equal('at-5-1');
    expect(await cache.get('k', load, () => position, 5)).to.equal('at-5-1');
    position = 9;
    expect(await cache.get('k', load, () => position, 9)).to.equal('at-9-2');
  });

  it('treats a value loaded while an invalidation arrived as stale', async () => {
    const cache = new ReadCache<string>('t', options(), quietObserver);
    let loads = 0;
    const gate = deferred<void>();
    const load = async () => {
      loads++;
      if (loads === 1) await gate.promise;
      return `v${loads}`;
    };
    const first = cache.get('k', load, () => 1);
    cache.invalidate('k');
    gate.resolve();
    expect(await first).to.equal('v1');
    expect(await cache.get('k', load, () => 1), 'the stale copy, while rebuilding').to.equal('v1');
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('k', load, () => 1)).to.equal('v2');
  });
});

describe('ReadCache.invalidateAll', () => {
  it('marks every entry stale and returns', async () => {
    const cache = new ReadCache<string>('t', { max: 10, ttlMs: 60_000, missTtlMs: 1000, jitter: 0 }, quietObserver);
    let loads = 0;
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => `${key}${++loads}`, () => 1);
    cache.invalidateAll();
    expect(await cache.get('a', async () => `a${++loads}`, () => 1), 'stale copy first').to.equal('a1');
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('a', async () => `a${++loads}`, () => 1)).to.equal('a4');
  });
});

describe('ReadCache memory', () => {
  it('keeps no per-key state beyond the LRU and the rebuilds under way, however many keys it sees', async () => {
    // given a cache of 100 entries
    const cache = new ReadCache<string>('browse', { max: 100, ttlMs: 1000, missTtlMs: 200, jitter: 0 }, quietObserver);

    // when 20,000 distinct keys are loaded and invalidated, and 20,000 keys never loaded are invalidated
    for (let i = 0; i < 20_000; i++) {
      await cache.get(`page-${i}`, async () => `v${i}`, () => 1);
      cache.invalidate(`page-${i}`);
      cache.invalidate(`never-loaded-${i}`);
    }

    // then it holds at most its 100 entries
    expect(retainedKeys(cache)).to.be.at.most(100);
  });

  it('still marks a value stale when an invalidation arrives while it loads, for a key it had forgotten', async () => {
    // given a key that was loaded, invalidated and then evicted by other keys
    const cache = new ReadCache<string>('t', { max: 2, ttlMs: 60_000, missTtlMs: 1000, jitter: 0 }, quietObserver);
    await cache.get('k', async () => 'old', () => 1);
    cache.invalidate('k');
    await cache.get('a', async () => 'a', () => 1);
    await cache.get('b', async () => 'b', () => 1);

    // when it is loaded again and invalidated during that load
    const gate = deferred<void>();
    let loads = 0;
    const load = async () => {
      loads++;
      if (loads === 1) await gate.promise;
      return `v${loads}`;
    };
    const first = cache.get('k', load, () => 2);
    cache.invalidate('k');
    gate.resolve();

    // then the loaded value is served once, stale, and the next read rebuilds it
    expect(await first).to.equal('v1');
    expect(await cache.get('k', load, () => 2), 'the stale copy, while rebuilding').to.equal('v1');
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('k', load, () => 2)).to.equal('v2');
    expect(retainedKeys(cache)).to.be.at.most(2);
  });

  it('invalidateAll also marks the rebuilds under way as stale', async () => {
    // given a load under way for a key not yet cached
    const cache = new ReadCache<string>('t', { max: 10, ttlMs: 60_000, missTtlMs: 1000, jitter: 0 }, quietObserver);
    const gate = deferred<void>();
    let loads = 0;
    const load = async () => {
      loads++;
      if (loads === 1) await gate.promise;
      return `v${loads}`;
    };
    const first = cache.get('k', load, () => 1);

    // when everything is invalidated before it finishes
    cache.invalidateAll();
    gate.resolve();

    // then its value is treated as stale and rebuilt on the next read
    expect(await first).to.equal('v1');
    await cache.get('k', load, () => 1);
    await new Promise((r) => setImmediate(r));
    expect(await cache.get('k', load, () => 1)).to.equal('v2');
  });
});

describe('ReadCache when the read models fail (stale-if-error)', () => {
  let clock: number;
  const outcomes: string[] = [];
  const observer: CacheObserver = { lookup: (_ns, outcome) => void outcomes.push(outcome), rebuilt: () => {} };
  const unavailable = () => Object.assign(new Error('The read models cannot be reached'), { code: 'unavailable' });
  beforeEach(() => {
    clock = 1_000_000;
    outcomes.length = 0;
  });

  it('keeps serving the last value past its TTL, marked stale once a rebuild has failed, until a rebuild succeeds', async () => {
    // given a cached value
    const cache = new ReadCache<string>('card', { max: 10, ttlMs: 1000, missTtlMs: 200, jitter: 0, now: () => clock }, observer);
    let down = false;
    const load = async () => {
      if (down) throw unavailable();
      return 'v1';
    };
    expect(await cache.read('MUG', load, () => 1)).to.deep.equal({ value: 'v1', stale: false });

    // when the read models fail and the value is past its TTL
    down = true;
    clock += 5000;

    // then the first reader gets the old value while a rebuild is tried, and every reader after the failure gets it marked stale
    expect(await cache.read('MUG', load, () => 1)).to.deep.equal({ value: 'v1', stale: false });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) expect(await cache.read('MUG', load, () => 1)).to.deep.equal({ value: 'v1', stale: true });
    expect(outcomes.filter((o) => o === 'stale_on_error')).to.have.length(3);

    // and once the read models answer again, the next reader's rebuild replaces it, and it is fresh again
    down = false;
    await cache.read('MUG', load, () => 1);
    await new Promise((r) => setImmediate(r));
    expect(await cache.read('MUG', load, () => 1)).to.deep.equal({ value: 'v1', stale: false });
    expect(outcomes.at(-1)).to.equal('hit');
  });

  it('rethrows the failure for a key it holds nothing for (the API answers 503)', async () => {
    const cache = new ReadCache<string>('card', { max: 10, ttlMs: 1000, missTtlMs: 200, jitter: 0, now: () => clock }, observer);
    let thrown: unknown;
    await cache.read('NEVER-READ', async () => Promise.reject(unavailable()), () => 1).catch((e: unknown) => (thrown = e));
    expect(thrown).to.have.property('code', 'unavailable');
  });

  it('does not serve a stale value to a reader asking for a later position', async () => {
    const cache = new ReadCache<string>('card', { max: 10, ttlMs: 1000, missTtlMs: 200, jitter: 0, now: () => clock }, observer);
    await cache.read('MUG', async () => 'v1', () => 5);
    let thrown: unknown;
    await cache.read('MUG', async () => Promise.reject(unavailable()), () => 5, 6).catch((e: unknown) => (thrown = e));
    expect(thrown).to.have.property('code', 'unavailable');
  });
});
