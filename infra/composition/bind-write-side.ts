import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import type { Connections } from './connections';
import { commandDeps, Tokens, type GatewaySetup } from './tokens';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Catalog } from '../../commands/catalog/catalog';
import { ProductCommands } from '../../commands/catalog/product-commands';
import { InventoryWriters, type InventoryGateway } from '../../commands/inventory/inventory-writers';
import { StockCommands } from '../../commands/inventory/stock-commands';
import { OrderCommands } from '../../commands/orders/order-commands';
import { SaleCalendar } from '../../commands/sales/sale-calendar';
import { SaleCommands } from '../../commands/sales/sale-commands';
import { KafkaInventoryGateway } from '../kafka/kafka-inventory';

const nodeId = (config: CrestConfig): string => config.CREST_NODE_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/** The write side: the SKU writers (here or over Kafka), the catalogue, and the product, stock and order commands. */
export const bindWriteSide = (c: Container, config: CrestConfig, connections: Connections): void => {
  c.bind(Tokens.Inventory).toDynamicValue(
    (ctx) =>
      new InventoryWriters({
        ...commandDeps(ctx),
        snapshots: ctx.get(Tokens.Snapshots),
        observer: ctx.get(Tokens.Metrics).writerObserver(ctx.get(Tokens.Logger)),
        options: { maxBatch: config.CREST_WRITER_MAX_BATCH, pipelineDepth: config.CREST_WRITER_PIPELINE_DEPTH, snapshotEvery: config.CREST_SNAPSHOT_EVERY, maxConflictRetries: 5 },
      }),
  );
  // cluster mode: commands travel over Kafka to the worker that owns the SKU; otherwise the writers are in this process
  c.bind(Tokens.GatewaySetup).toDynamicValue((ctx): GatewaySetup => {
    if (config.CREST_INVENTORY === 'kafka' && connections.kafka && connections.redisSubscriber) {
      const gateway = new KafkaInventoryGateway(connections.kafka, connections.redisSubscriber, {
        topic: config.CREST_INVENTORY_TOPIC,
        nodeId: nodeId(config),
        timeoutMs: config.CREST_INVENTORY_TIMEOUT_MS,
        prefix: config.CREST_REDIS_PREFIX,
        tracer: ctx.get(Tokens.Tracer),
      }, ctx.get(Tokens.Metrics).inventoryTimeouts());
      return { gateway, start: () => gateway.start(), stop: () => gateway.stop() };
    }
    return { gateway: ctx.get(Tokens.Inventory), start: async () => undefined, stop: async () => undefined };
  });
  c.bind(Tokens.Gateway).toDynamicValue((ctx): InventoryGateway => ctx.get(Tokens.GatewaySetup).gateway);
  c.bind(Tokens.Catalog).toDynamicValue((ctx) => new Catalog(ctx.get(Tokens.EventStore), undefined, ctx.get(Tokens.FollowerMonitor)));
  c.bind(Tokens.SaleCalendar).toDynamicValue((ctx) => new SaleCalendar(ctx.get(Tokens.EventStore), ctx.get(Tokens.Clock), ctx.get(Tokens.FollowerMonitor)));
  c.bind(Tokens.Sales).toDynamicValue((ctx) => new SaleCommands(commandDeps(ctx), ctx.get(Tokens.Catalog), ctx.get(Tokens.Gateway), ctx.get(Tokens.SaleCalendar)));
  c.bind(Tokens.Products).toDynamicValue((ctx) => new ProductCommands(commandDeps(ctx), ctx.get(Tokens.Catalog)));
  c.bind(Tokens.Stock).toDynamicValue((ctx) => new StockCommands(ctx.get(Tokens.Catalog), ctx.get(Tokens.Gateway)));
  c.bind(Tokens.Orders).toDynamicValue(
    (ctx) =>
      new OrderCommands(
        commandDeps(ctx),
        ctx.get(Tokens.Catalog),
        ctx.get(Tokens.Gateway),
        ctx.get(Tokens.PaymentTokens),
        { reservationTtlMs: config.CREST_RESERVATION_TTL_MS, reservationGraceMs: config.CREST_RESERVATION_GRACE_MS },
        ctx.get(Tokens.SaleCalendar),
      ),
  );
};
