import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { SharedCache } from '../../read-api/ports';
import { waitFor } from '../support/wait-for';

export interface SharedCacheHarness {
  open(): Promise<SharedCache>;
}

/** One contract for every SharedCache adapter; keys are unique per test so a shared server is fine. */
export const sharedCacheContract = (name: string, harness: SharedCacheHarness): void => {
  describe(`${name} (shared-cache contract)`, () => {
    let cache: SharedCache;
    const key = () => `contract:${randomUUID()}`;
    beforeEach(async () => (cache = await harness.open()));

    it('returns undefined for a key never set', async () => {
      expect(await cache.get(key())).to.equal(undefined);
    });

    it('returns what was set, byte for byte', async () => {
      const k = key();
      const value = JSON.stringify({ body: '{"sku":"Ü-1","price":12}', etag: '"x"', nested: [1, 2, 3] });
      await cache.set(k, value, 60_000);
      expect(await cache.get(k)).to.equal(value);
    });

    it('overwrites a value', async () => {
      const k = key();
      await cache.set(k, 'one', 60_000);
      await cache.set(k, 'two', 60_000);
      expect(await cache.get(k)).to.equal('two');
    });

    it('deletes several keys at once and ignores unknown ones', async () => {
      const [a, b, c] = [key(), key(), key()];
      await cache.set(a, 'a', 60_000);
      await cache.set(b, 'b', 60_000);
      await cache.delete([a, b, c]);
      expect([await cache.get(a), await cache.get(b)]).to.deep.equal([undefined, undefined]);
      await cache.delete([]);
    });

    it('forgets a value after its TTL', async () => {
      const k = key();
      await cache.set(k, 'short-lived', 30);
      await waitFor(async () => (await cache.get(k)) === undefined, 3000, 'the TTL');
    });
  });
};
