import type Redis from 'ioredis';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { documentsTouched, foldBatch } from '../../projections/fold-batch';
import type { PositionedDocument, Projection } from '../../projections/projection';
import type { DocumentChange, ReadModelStore } from '../../projections/ports';
import { inventoryProjection, type InventoryDocument } from '../../projections/read-models';

export interface RedisAvailabilityKeys {
  /** Hash: sku → inventory document (JSON, with its position). */
  readonly documents: string;
  /** Hash: sku → available units: the hot counter a storefront reads. */
  readonly available: string;
  /** Set of SKUs with nothing available. */
  readonly soldOut: string;
  /** Hash: runner → checkpoint. */
  readonly checkpoints: string;
}

export const defaultAvailabilityKeys = (prefix = 'crest'): RedisAvailabilityKeys => ({
  documents: `${prefix}:inventory`,
  available: `${prefix}:available`,
  soldOut: `${prefix}:soldout`,
  checkpoints: `${prefix}:checkpoints`,
});

/**
 * Applies a batch and moves the checkpoint in one script, so Redis never holds a checkpoint ahead of its data.
 * Each document is written only if it is newer than what is stored (the position guard).
 * ARGV: runner, checkpoint, then (sku, position, documentJson, available) per document.
 */
const APPLY = `
local docs, avail, soldout, checkpoints = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
for i = 3, #ARGV, 4 do
  local sku, pos, json, available = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  local current = redis.call('HGET', docs, sku)
  local currentPos = -1
  if current then currentPos = tonumber(cjson.decode(current)['position']) end
  if pos > currentPos then
    redis.call('HSET', docs, sku, json)
    redis.call('HSET', avail, sku, available)
    if available <= 0 then redis.call('SADD', soldout, sku) else redis.call('SREM', soldout, sku) end
  end
end
local previous = tonumber(redis.call('HGET', checkpoints, ARGV[1]) or '-1')
if tonumber(ARGV[2]) > previous then redis.call('HSET', checkpoints, ARGV[1], ARGV[2]) end
return 1
`;

/**
 * The hot read model in Redis: per-SKU availability counters and the sold-out set, kept by the inventory projection.
 * Reuses the projection's pure evolve; only storage is Redis-specific.
 */
export class RedisAvailability implements ReadModelStore {
  constructor(
    private readonly redis: Redis,
    readonly keys: RedisAvailabilityKeys = defaultAvailabilityKeys(),
  ) {
    redis.defineCommand('crestApplyAvailability', { numberOfKeys: 4, lua: APPLY });
  }

  async applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    const own = projections.filter((p) => p.name === inventoryProjection.name);
    const ids = [...(documentsTouched(own, events).get(inventoryProjection.name) ?? [])];
    const stored = ids.length > 0 ? await this.redis.hmget(this.keys.documents, ...ids) : [];
    const loaded = new Map<string, PositionedDocument>();
    ids.forEach((id, i) => {
      const json = stored[i];
      if (json) loaded.set(id, JSON.parse(json) as PositionedDocument);
    });
    const changes = foldBatch(own, events, (_collection, id) => loaded.get(id));
    const args: Array<string | number> = [runner, position];
    for (const change of changes) {
      const doc = change.after as InventoryDocument | undefined;
      if (doc) args.push(change.id, doc.position, JSON.stringify(doc), doc.available);
    }
    await (this.redis as Redis & { crestApplyAvailability(...args: Array<string | number>): Promise<number> }).crestApplyAvailability(
      this.keys.documents,
      this.keys.available,
      this.keys.soldOut,
      this.keys.checkpoints,
      ...args,
    );
    return changes;
  }

  async loadCheckpoint(runner: string): Promise<number | undefined> {
    const value = await this.redis.hget(this.keys.checkpoints, runner);
    return value === null ? undefined : Number(value);
  }

  async reset(runner: string): Promise<void> {
    await this.redis.multi().del(this.keys.documents, this.keys.available, this.keys.soldOut).hdel(this.keys.checkpoints, runner).exec();
  }

  async available(sku: string): Promise<number | undefined> {
    const value = await this.redis.hget(this.keys.available, sku);
    return value === null ? undefined : Number(value);
  }

  async isSoldOut(sku: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.soldOut, sku)) === 1;
  }

  async inventory(sku: string): Promise<InventoryDocument | undefined> {
    const json = await this.redis.hget(this.keys.documents, sku);
    return json ? (JSON.parse(json) as InventoryDocument) : undefined;
  }
}
