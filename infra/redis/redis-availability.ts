import type Redis from 'ioredis';
import type { Logger } from 'pino';
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

  /** A key beside the data that only a loss of the data removes. */
  get markerKey(): string {
    return `${this.keys.checkpoints}:marker`;
  }

  /**
   * Redis can come back empty (restarted without persistence, flushed, failed over to an empty replica) while the
   * runner goes on from its position: it would fold new events onto missing documents and publish negative
   * availability, and nothing would say so. This sets a marker key beside the data and, each time the connection is
   * ready again, re-creates it if it is missing (SET NX, one command): a missing marker means the data went with it,
   * and `onLost` runs so that its owner rebuilds the runner from the log. The check does not depend on the
   * checkpoint, so a command of the runner resent on the new connection cannot hide the loss.
   * Resolves, once the marker is set, with a function that stops watching.
   */
  async watchForLoss(onLost: () => void): Promise<() => void> {
    await this.redis.set(this.markerKey, new Date().toISOString());
    const check = (): void => {
      this.redis.set(this.markerKey, new Date().toISOString(), 'NX').then(
        (created) => {
          if (created === 'OK') onLost();
        },
        // Redis went away again: the next 'ready' checks again
        () => undefined,
      );
    };
    this.redis.on('ready', check);
    return () => {
      this.redis.off('ready', check);
    };
  }
}

/** What `rebuildWhenLost` needs of a projection runner: `ProjectionRunner.rebuild` (stop, reset, replay the log). */
export interface Rebuildable {
  readonly name: string;
  rebuild(): Promise<void>;
}

/**
 * Keeps the Redis availability read model right across a Redis that loses its data: when `watchForLoss` sees the
 * loss, the runner is rebuilt from the log. A rebuild that fails (Redis went away again) is retried with capped
 * backoff until it succeeds or the watch is stopped. Resolves with the function that stops it.
 */
export const rebuildWhenLost = async (availability: RedisAvailability, runner: Rebuildable, logger: Logger, retryMaxMs = 5000): Promise<() => Promise<void>> => {
  let stopped = false;
  let wake: (() => void) | undefined;
  let rebuilding: Promise<void> | undefined;
  let again = false;
  const rebuild = async (): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      again = false;
      try {
        await runner.rebuild();
        logger.info({ follower: runner.name, attempt }, `${runner.name}: rebuild from the log started`);
        if (!again) return;
        attempt = 0;
      } catch (error) {
        const delay = Math.min(retryMaxMs, 100 * 2 ** Math.min(attempt, 10));
        logger.warn({ follower: runner.name, err: error, attempt, retryInMs: delay }, `${runner.name}: rebuilding after a Redis data loss failed; retrying`);
        await new Promise<void>((done) => {
          const timer = setTimeout(done, delay);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            done();
          };
        });
        wake = undefined;
      }
    }
  };
  const unwatch = await availability.watchForLoss(() => {
    logger.warn({ follower: runner.name }, `${runner.name}: Redis came back without its data (marker ${availability.markerKey} gone); rebuilding it from the log`);
    // lost again while rebuilding: the rebuild under way starts over once it is done
    if (rebuilding) {
      again = true;
      return;
    }
    rebuilding = rebuild().finally(() => (rebuilding = undefined));
  });
  return async () => {
    stopped = true;
    unwatch();
    wake?.();
    await rebuilding;
  };
};
