import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import type { Connections } from './connections';
import { Tokens } from './tokens';
import { join } from 'node:path';
import type { PaymentTokenVault } from '../../commands/ports';
import { openEventStoreDbBundle } from '../eventstoredb/eventstoredb-bundle';
import { memoryBundle } from '../memory/memory-bundle';
import { MemoryPaymentTokenVault } from '../memory/memory-payment-token-vault';
import { openPostgresBundle } from '../postgresql/postgres-bundle';
import { RedisPaymentTokenVault } from '../redis/redis-payment-token-vault';
import type { StoreBundle } from '../shared/store-bundle';
import { openSqliteBundle } from '../sqlite/sqlite-bundle';
import { upcasting } from '../shared/upcasting-event-store';

/** The configured event store with what lives beside it (snapshots, checkpoints, payment tokens): one bundle per technology. */
export const openStores = (config: CrestConfig): StoreBundle => {
  const bundle = openBundle(config);
  // every reader sees current event versions, whatever wrote the log
  return { events: upcasting(bundle.events), snapshots: bundle.snapshots, checkpoints: bundle.checkpoints, ...(bundle.paymentTokens ? { paymentTokens: bundle.paymentTokens } : {}) };
};

const openBundle = (config: CrestConfig): StoreBundle => {
  switch (config.CREST_EVENT_STORE) {
    case 'memory':
      return memoryBundle();
    case 'eventstoredb':
      return openEventStoreDbBundle(config.ESDB_CONNECTION_STRING!);
    case 'postgresql':
      return openPostgresBundle({ connectionString: config.CREST_POSTGRES_URL!, poolSize: config.CREST_POSTGRES_POOL_SIZE });
    case 'sqlite':
      return openSqliteBundle({ file: join(config.CREST_DATA_DIR, 'crest.sqlite'), synchronous: config.CREST_SQLITE_SYNCHRONOUS, faultCommitPauseMs: config.CREST_SQLITE_FAULT_COMMIT_PAUSE_MS });
  }
};

/** The event store and what lives beside it (snapshots, checkpoints, payment tokens), as one bundle per technology. */
export const bindStores = (c: Container, config: CrestConfig, connections: Connections): void => {
  c.bind(Tokens.Stores).toDynamicValue((): StoreBundle => openStores(config));
  c.bind(Tokens.EventStore).toDynamicValue((ctx) => ctx.get(Tokens.Stores).events);
  c.bind(Tokens.Snapshots).toDynamicValue((ctx) => ctx.get(Tokens.Stores).snapshots);
  c.bind(Tokens.Checkpoints).toDynamicValue((ctx) => ctx.get(Tokens.Stores).checkpoints);
  // a store that cannot keep tokens outside its log (EventStoreDB) leaves them to Redis, shared by the cluster's
  // roles, or to this process alone
  c.bind(Tokens.PaymentTokens).toDynamicValue(
    (ctx): PaymentTokenVault =>
      ctx.get(Tokens.Stores).paymentTokens ??
      (connections.redis
        ? new RedisPaymentTokenVault(connections.redis, { prefix: config.CREST_REDIS_PREFIX, ttlMs: config.CREST_RESERVATION_TTL_MS + config.CREST_RESERVATION_GRACE_MS })
        : new MemoryPaymentTokenVault()),
  );
};
