import type { Tracer, TracerProvider } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Container, ServiceIdentifier } from 'inversify';
import type { Logger } from 'pino';
import type { Catalog } from '../../commands/catalog/catalog';
import type { SaleCalendar } from '../../commands/sales/sale-calendar';
import type { SaleCommands } from '../../commands/sales/sale-commands';
import type { ProductCommands } from '../../commands/catalog/product-commands';
import type { CheckoutRunner } from '../../commands/checkout-saga/checkout-runner';
import type { CommandDeps } from '../../commands/handle-command';
import type { InventoryGateway, InventoryWriters } from '../../commands/inventory/inventory-writers';
import type { StockCommands } from '../../commands/inventory/stock-commands';
import type { OrderCommands } from '../../commands/orders/order-commands';
import type { PaymentCallbacks } from '../../commands/payments/payment-callbacks';
import type { CheckpointStore, Clock, IdGenerator, PaymentTokenVault, SnapshotStore } from '../../commands/ports';
import type { EventStore } from '../../domain/kernel/event-store';
import type { EventRelay } from '../../projections/event-relay';
import type { FollowerMonitor } from '../../projections/log-follower';
import type { BlueGreenReadModels } from '../../projections/blue-green-read-models';
import type { GenerationFollower } from '../../projections/generation-follower';
import type { ReadModelGenerations, ReadModelStore } from '../../projections/ports';
import type { ProjectionRunner } from '../../projections/projection-runner';
import type { CatalogueQueries, InvalidationBus, InventoryQueries, OrderQueries, ReadModelProgress } from '../../read-api/ports';
import type { Storefront } from '../../read-api/storefront';
import type { CrestConfig } from '../config/config';
import type { CrestMetrics } from '../metrics/metrics';
import type { StoreBundle } from '../shared/store-bundle';
import type { SimulatedPaymentProvider } from '../simulated-payments/simulated-provider';

export type ReadModelBackend = ReadModelStore & CatalogueQueries & OrderQueries & InventoryQueries;

export interface GatewaySetup {
  readonly gateway: InventoryGateway;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The generation of the read models this process reads now. */
export interface LiveReadModels {
  readonly models: ReadModelBackend;
}

const id = <T>(name: string): ServiceIdentifier<T> => Symbol(name);

export const Tokens = {
  Config: id<CrestConfig>('Config'),
  Logger: id<Logger>('Logger'),
  Clock: id<Clock>('Clock'),
  Ids: id<IdGenerator>('Ids'),
  Stores: id<StoreBundle>('Stores'),
  EventStore: id<EventStore>('EventStore'),
  PaymentTokens: id<PaymentTokenVault>('PaymentTokens'),
  Snapshots: id<SnapshotStore>('Snapshots'),
  Metrics: id<CrestMetrics>('Metrics'),
  /** Where this process's spans go; undefined with tracing off. */
  TracerProvider: id<TracerProvider | undefined>('TracerProvider'),
  /** Crest's tracer; undefined with tracing off, so that nothing is traced, or allocated for it, on any path. */
  Tracer: id<Tracer | undefined>('Tracer'),
  /** Where every log follower reports retries and stalls (readiness, metrics, logs). */
  FollowerMonitor: id<FollowerMonitor>('FollowerMonitor'),
  Inventory: id<InventoryWriters>('Inventory'),
  Gateway: id<InventoryGateway>('Gateway'),
  /** The gateway with what it needs at start and stop (a Kafka producer and a reply subscription, or nothing). */
  GatewaySetup: id<GatewaySetup>('GatewaySetup'),
  Catalog: id<Catalog>('Catalog'),
  SaleCalendar: id<SaleCalendar>('SaleCalendar'),
  Sales: id<SaleCommands>('Sales'),
  Products: id<ProductCommands>('Products'),
  Stock: id<StockCommands>('Stock'),
  Orders: id<OrderCommands>('Orders'),
  ReadModelGenerations: id<ReadModelGenerations<ReadModelBackend>>('ReadModelGenerations'),
  /** The read models a process projects into and serves, with blue/green rebuilds (every role but `serve`). */
  BlueGreen: id<BlueGreenReadModels<ReadModelBackend>>('BlueGreen'),
  /** An API node's view of the generation the projection worker switched to. */
  GenerationFollower: id<GenerationFollower<ReadModelBackend>>('GenerationFollower'),
  LiveReadModels: id<LiveReadModels>('LiveReadModels'),
  /** Projections besides the read models: Redis availability, in the cluster. */
  Projections: id<ProjectionRunner[]>('Projections'),
  InvalidationBus: id<InvalidationBus | undefined>('InvalidationBus'),
  Relay: id<EventRelay | undefined>('Relay'),
  Progress: id<ReadModelProgress>('Progress'),
  Storefront: id<Storefront>('Storefront'),
  Checkpoints: id<CheckpointStore>('Checkpoints'),
  PaymentCallbacks: id<PaymentCallbacks>('PaymentCallbacks'),
  PaymentProvider: id<SimulatedPaymentProvider>('PaymentProvider'),
  CheckoutRunner: id<CheckoutRunner>('CheckoutRunner'),
  AdminToken: id<{ token: string; generated: boolean }>('AdminToken'),
  WebhookSecret: id<WebhookSecrets>('WebhookSecret'),
  HttpApp: id<FastifyInstance>('HttpApp'),
  OpsApp: id<FastifyInstance>('OpsApp'),
  /** Readiness of a worker role, bound by the role that starts it. */
  WorkerReady: id<() => boolean>('WorkerReady'),
};

/** The secret that signs (the first) and every secret that verifies. */
export interface WebhookSecrets {
  readonly secret: string;
  readonly secrets: readonly string[];
  readonly generated: boolean;
}

export type Role = 'all' | 'serve' | 'inventory' | 'projections' | 'sagas' | 'relay';

export interface CompositionOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Which role the process plays; decides where read-model progress comes from. Default 'all'. */
  readonly role?: Role;
  /**
   * Where spans go. The entry points (`startAllInOne`, `startRole`) start the provider CREST_TRACING asks for unless
   * given one (tests pass one that keeps spans in memory); a container without one traces nothing.
   */
  readonly tracerProvider?: TracerProvider;
}


/** What every command handler needs: the store, the clock and ids (and the tracer, with tracing on). */
export const commandDeps = (ctx: { get: Container['get'] }): CommandDeps => ({ store: ctx.get(Tokens.EventStore), clock: ctx.get(Tokens.Clock), ids: ctx.get(Tokens.Ids), tracer: ctx.get(Tokens.Tracer) });

/** How log followers back off, from the config. */
export const followerRetry = (config: CrestConfig): { readonly retryMaxMs: number } => ({ retryMaxMs: config.CREST_FOLLOWER_RETRY_MAX_MS });
