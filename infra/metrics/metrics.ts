import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { CheckoutObserver } from '../../commands/checkout-saga/checkout-runner';
import type { StockFigures, WriterObserver } from '../../commands/inventory/inventory-writer';
import type { PaymentCallbackObserver } from '../../commands/payments/payment-callbacks';
import type { RelayObserver } from '../../projections/event-relay';
import type { InventoryWorkerObserver } from '../kafka/kafka-inventory';
import type { FollowerMonitor, FollowerStatus } from '../../projections/log-follower';
import type { ProjectionObserver } from '../../projections/ports';
import type { RebuildObserver, RebuildStatus } from '../../projections/blue-green-read-models';
import type { GenerationFollowerObserver } from '../../projections/generation-follower';
import type { BreakerStateObserver } from '../breakers/circuit-breaker';
import type { CacheObserver } from '../../read-api/cache/read-cache';

/** Crest's Prometheus metrics, on a registry of its own so that several instances can live in one test process. */
export class CrestMetrics {
  readonly registry = new Registry();
  private readonly stock = new StockTracker(this.registry);
  private readonly httpDuration = new Histogram({
    name: 'crest_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly httpProblems = new Counter({
    name: 'crest_http_problems_total',
    help: 'Refusals by route, method and problem code (docs: the problem registry); overloaded counts load shedding',
    labelNames: ['route', 'method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly inventoryCommands = new Counter({
    name: 'crest_inventory_commands_total',
    help: 'Inventory commands by type and outcome (accepted, duplicate, out_of_stock, ...); from_memory=true never touched the store',
    labelNames: ['command', 'outcome', 'from_memory'] as const,
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'crest_group_commit_batch_commands',
    help: 'Commands decided into one group-commit append',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });
  private readonly appendLatency = new Histogram({
    name: 'crest_event_append_duration_seconds',
    help: 'Latency of durable appends by inventory writers',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  private readonly conflicts = new Counter({
    name: 'crest_writer_conflicts_total',
    help: 'Expected-revision conflicts met by inventory writers (another writer appended)',
    registers: [this.registry],
  });
  private readonly loads = new Counter({
    name: 'crest_writer_loads_total',
    help: 'Inventory writer (re)loads, by whether a snapshot was used',
    labelNames: ['from_snapshot'] as const,
    registers: [this.registry],
  });

  private readonly projectionPosition = new Gauge({
    name: 'crest_projection_position',
    help: 'Global position of the last event each projection runner applied',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly projectionLag = new Gauge({
    name: 'crest_projection_lag_seconds',
    help: 'Age of the last event each projection runner applied, when it applied it',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly projectionEvents = new Counter({
    name: 'crest_projection_events_total',
    help: 'Events read by each projection runner',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });
  private readonly projectionFailures = new Counter({
    name: 'crest_projection_failures_total',
    help: 'Projection failures: stopped (the runner halted) or skipped (a poison event was passed over)',
    labelNames: ['projection', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly cacheLookups = new Counter({
    name: 'crest_cache_lookups_total',
    help: 'Read-cache lookups by namespace and outcome (hit, stale, miss, shared_hit, stale_on_error: an old value served because the read models failed)',
    labelNames: ['namespace', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly cacheRebuilds = new Counter({
    name: 'crest_cache_rebuilds_total',
    help: 'Read-cache entries rebuilt from the read models',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });

  private readonly sagaCommands = new Counter({
    name: 'crest_checkout_commands_total',
    help: 'Commands issued by the checkout saga, by type and outcome (done, rejected, failed)',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly sagaPending = new Gauge({
    name: 'crest_checkout_orders_awaiting_payment',
    help: 'Orders the checkout saga is tracking until payment or deadline',
    registers: [this.registry],
  });
  private readonly sagaProblems = new Counter({
    name: 'crest_checkout_problems_total',
    help: 'Checkout saga failures and fulfilment problems that need a person',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly breakerState = new Gauge({
    name: 'crest_circuit_breaker_open',
    help: 'Circuit breaker state by breaker (redis-cache, mongodb-read-models, payment-provider): 1 open, 0.5 half-open, 0 closed',
    labelNames: ['breaker'] as const,
    registers: [this.registry],
  });
  private readonly relayPosition = new Gauge({
    name: 'crest_relay_position',
    help: 'Global position of the last event relayed to Kafka',
    registers: [this.registry],
  });
  private readonly relayEvents = new Counter({
    name: 'crest_relay_events_total',
    help: 'Events relayed to Kafka (a restart may relay the batch in flight again)',
    registers: [this.registry],
  });

  private readonly followers = new Set<() => FollowerStatus>();
  private readonly followerRetries = new Counter({
    name: 'crest_follower_retries_total',
    help: 'Failed attempts of log followers (read models, saga, deadlines, catalogue, relay), each retried with backoff',
    labelNames: ['follower'] as const,
    registers: [this.registry],
  });
  private readonly followerSkipped = new Counter({
    name: 'crest_follower_poison_events_total',
    help: 'Events a log follower could not apply: halted (policy stop) or skipped (policy skip)',
    labelNames: ['follower', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'crest_' });
    // read at scrape time from the followers' own status, so a stall shows even when nothing else happens
    const followers = this.followers;
    const perFollower = (name: string, help: string, value: (s: FollowerStatus, now: number) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['follower'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          const now = Date.now();
          for (const status of followers) {
            const s = status();
            const v = value(s, now);
            if (v !== undefined) this.set({ follower: s.name }, v);
          }
        },
      });
    perFollower('crest_follower_stalled', 'Log followers that are failing (1) or halted on a poison event (2); 0 while they keep up', (s) =>
      s.state === 'halted' ? 2 : s.state === 'retrying' ? 1 : 0,
    );
    perFollower('crest_follower_failing_seconds', 'How long each log follower has been failing without a success (0 while healthy)', (s, now) =>
      s.failingSince === undefined ? 0 : (now - s.failingSince) / 1000,
    );
    perFollower('crest_follower_position', 'Global position of the last event each log follower handled', (s) => s.position);
  }

  /**
   * Followers failing for at least `stallMs`, or halted: what readiness reports. A follower that failed once and
   * is retrying is not stalled yet, so one blip does not take the node out of its load balancer.
   */
  stalledFollowers(stallMs: number, now = Date.now()): FollowerStatus[] {
    const stalled: FollowerStatus[] = [];
    for (const status of this.followers) {
      const s = status();
      if (s.state === 'halted' || (s.state === 'retrying' && s.failingSince !== undefined && now - s.failingSince >= stallMs)) stalled.push(s);
    }
    return stalled;
  }

  followerMonitor(logger: Logger): FollowerMonitor {
    return {
      attach: (status) => {
        this.followers.add(status);
        return () => this.followers.delete(status);
      },
      retrying: (name, error, attempt, delayMs) => {
        this.followerRetries.inc({ follower: name });
        // the first failures at warn, then one line in ten: a long outage must not flood the log
        if (attempt <= 3 || attempt % 10 === 0) logger.warn({ follower: name, err: error, attempt, retryInMs: delayMs }, `${name} failed; retrying (attempt ${attempt})`);
      },
      recovered: (name, attempts, failedForMs) => logger.info({ follower: name, attempts, failedForMs }, `${name} recovered after ${attempts} failed attempts`),
      halted: (name, error, event) => {
        this.followerSkipped.inc({ follower: name, outcome: 'halted' });
        logger.error({ follower: name, err: error, eventId: event.id, position: event.position, type: event.type }, `${name} halted on an event it cannot apply`);
      },
      skipped: (name, error, event) => {
        this.followerSkipped.inc({ follower: name, outcome: 'skipped' });
        logger.warn({ follower: name, err: error, eventId: event.id, position: event.position, type: event.type }, `${name} skipped an event it cannot apply`);
      },
    };
  }

  /** The SKUs with the most inventory commands committed lately, busiest first (this process's writers only). */
  hotSkus(limit: number): string[] {
    return this.stock.hottest(limit);
  }

  observeHttp(route: string, method: string, status: number, seconds: number, code?: string): void {
    this.httpDuration.observe({ route, method, status: String(status) }, seconds);
    if (code !== undefined) this.httpProblems.inc({ route, method, code });
  }

  writerObserver(logger: Logger): WriterObserver {
    return {
      batchCommitted: (sku, commands, _events, appendMs, stock) => {
        this.batchSize.observe(commands);
        this.appendLatency.observe(appendMs / 1000);
        this.stock.committed(sku, commands, stock, logger);
      },
      commandDecided: (_sku, command, outcome, fromMemory) => this.inventoryCommands.inc({ command, outcome, from_memory: String(fromMemory) }),
      conflict: (sku) => {
        this.conflicts.inc();
        logger.warn({ sku }, 'inventory writer met a conflicting append; reloading');
      },
      loaded: (sku, eventsReplayed, fromSnapshot) => {
        this.loads.inc({ from_snapshot: String(fromSnapshot) });
        logger.debug({ sku, eventsReplayed, fromSnapshot }, 'inventory writer loaded');
      },
      snapshotFailed: (sku, error) => logger.warn({ sku, err: error }, 'saving an inventory snapshot failed'),
    };
  }

  projectionObserver(logger: Logger): ProjectionObserver {
    return {
      batchApplied: (runner, events, position, lagSeconds) => {
        this.projectionEvents.inc({ projection: runner }, events);
        this.projectionPosition.set({ projection: runner }, position);
        this.projectionLag.set({ projection: runner }, lagSeconds);
      },
      catchingUp: (runner, position, head, events, seconds) => {
        const rate = events / Math.max(seconds, 0.001);
        const left = Math.max(0, head - position);
        logger.info(
          { projection: runner, position, head, events, eventsPerSecond: Math.round(rate) },
          `read models catching up: ${Math.floor((position / Math.max(head, 1)) * 100)}% (position ${position} of ${head}, ${Math.round(rate)} events/s, about ${Math.ceil(left / Math.max(rate, 1))} s left)`,
        );
      },
      caughtUp: (runner, position, seconds, events) =>
        logger.info({ projection: runner, position, events, seconds: Number(seconds.toFixed(3)) }, `read models caught up: ${events} events in ${seconds.toFixed(2)} s`),
      failed: (runner, error, event) => {
        this.projectionFailures.inc({ projection: runner, outcome: 'stopped' });
        logger.error({ projection: runner, err: error, eventId: event?.id, position: event?.position, type: event?.type }, 'projection stopped on a failing event');
      },
      skipped: (runner, error, event) => {
        this.projectionFailures.inc({ projection: runner, outcome: 'skipped' });
        logger.warn({ projection: runner, err: error, eventId: event.id, position: event.position, type: event.type }, 'projection skipped a poison event');
      },
      checkpointAheadOfLog: (runner, checkpoint, head) =>
        logger.warn({ projection: runner, checkpoint, head }, 'the read models are ahead of the event log (built from another log?): rebuilding them from the start'),
    };
  }

  cacheObserver(): CacheObserver {
    return {
      lookup: (namespace, outcome) => this.cacheLookups.inc({ namespace, outcome }),
      rebuilt: (namespace) => this.cacheRebuilds.inc({ namespace }),
    };
  }

  checkoutObserver(logger: Logger): CheckoutObserver {
    return {
      commandExecuted: (command, outcome) => this.sagaCommands.inc({ command, outcome }),
      pendingOrders: (count) => this.sagaPending.set(count),
      fulfilmentProblem: (orderId, sku, detail) => {
        this.sagaProblems.inc({ kind: 'fulfilment' });
        logger.error({ orderId, sku }, detail);
      },
      failed: (error) => {
        this.sagaProblems.inc({ kind: 'failure' });
        logger.error({ err: error }, 'checkout saga step failed');
      },
    };
  }

  paymentCallbackObserver(logger: Logger): PaymentCallbackObserver {
    const mismatches = new Counter({
      name: 'crest_payment_mismatches_total',
      help: 'Signed payment callbacks refused because they do not match their order (payment, order or amount); each needs a person',
      labelNames: ['type'] as const,
      registers: [this.registry],
    });
    return {
      mismatch: (event, reason) => {
        mismatches.inc({ type: event.type });
        logger.warn({ callbackId: event.id, type: event.type, orderId: event.orderId, paymentId: event.paymentId, amountCents: event.amountCents, reason }, `payment_mismatch: ${reason}`);
      },
    };
  }

  breakerObserver(logger: Logger): BreakerStateObserver {
    return {
      registered: (name) => this.breakerState.set({ breaker: name }, 0),
      stateChanged: (name, state) => {
        this.breakerState.set({ breaker: name }, state === 'open' ? 1 : state === 'half_open' ? 0.5 : 0);
        if (state === 'open') logger.warn({ breaker: name, state }, `circuit breaker ${name} opened: calls fail fast`);
        else if (state === 'half_open') logger.info({ breaker: name, state }, `circuit breaker ${name} half-open: letting one trial call through`);
        else logger.info({ breaker: name, state }, `circuit breaker ${name} closed`);
      },
    };
  }

  rebuildObserver(logger: Logger): RebuildObserver {
    const position = new Gauge({ name: 'crest_read_model_rebuild_position', help: 'Global position a blue/green rebuild of the read models has reached', registers: [this.registry] });
    const head = new Gauge({ name: 'crest_read_model_rebuild_head', help: 'Head of the log as the running rebuild last saw it', registers: [this.registry] });
    const switches = new Counter({ name: 'crest_read_model_switches_total', help: 'Blue/green switches of the read models made by this process', registers: [this.registry] });
    const line = (status: RebuildStatus) => ({ generation: status.generation, target: status.target, replacing: status.replacing, position: status.position, head: status.head, events: status.events, eventsPerSecond: status.eventsPerSecond, etaSeconds: status.etaSeconds });
    const track = (status: RebuildStatus) => {
      position.set(status.position);
      head.set(status.head);
    };
    return {
      started: (status, resumed) => {
        track(status);
        logger.info(line(status), `read-model rebuild ${resumed ? 'resumed' : 'started'}: generation ${status.generation} in ${status.target}, from position ${status.position}`);
      },
      progressed: (status) => {
        track(status);
        logger.info(line(status), `read-model rebuild: position ${status.position} of ${status.head}, ${status.eventsPerSecond} events/s, about ${status.etaSeconds ?? '?'} s left`);
      },
      caughtUp: (status) => {
        track(status);
        logger.info(line(status), `read-model rebuild caught up: generation ${status.generation} at position ${status.position}${status.switchWhenCaughtUp ? '; switching' : '; switch when ready'}`);
      },
      switched: (status) => {
        track(status);
        switches.inc();
        logger.warn(line(status), `read models switched from generation ${status.replacing} to ${status.generation} at position ${status.position}${status.replacingKept ? `; ${status.replacingTarget} is kept until you drop it` : ''}`);
      },
      cancelled: (status) => logger.warn(line(status), `read-model rebuild cancelled at position ${status.position}; rebuilding again resumes generation ${status.generation}`),
      failed: (status) => logger.error({ ...line(status), err: status.error }, `read-model rebuild of generation ${status.generation} stopped: ${status.error ?? 'unknown error'}`),
    };
  }

  generationFollowerObserver(logger: Logger): GenerationFollowerObserver {
    return {
      switched: (from, to, position) => logger.warn({ from, to, position }, `read models switched from generation ${from} to ${to} at position ${position}`),
      failed: (error) => logger.warn({ err: error }, 'could not read the read-model generation pointer; retrying'),
    };
  }

  relayObserver(): RelayObserver {
    return {
      relayed: (events, position) => {
        this.relayEvents.inc(events);
        this.relayPosition.set(position);
      },
    };
  }

  inventoryWorkerObserver(logger: Logger): InventoryWorkerObserver {
    const partitions = new Gauge({ name: 'crest_inventory_partitions_owned', help: 'Partitions of the inventory command topic this worker owns', registers: [this.registry] });
    const rebalances = new Counter({ name: 'crest_inventory_rebalances_total', help: 'Consumer-group rebalances seen by this inventory worker', registers: [this.registry] });
    const lag = new Gauge({ name: 'crest_inventory_consumer_lag_messages', help: 'Inventory requests waiting on each owned partition after the last batch', labelNames: ['partition'] as const, registers: [this.registry] });
    return {
      assigned: (count) => {
        partitions.set(count);
        logger.info({ partitions: count }, 'inventory partitions assigned');
      },
      rebalanced: (dropped) => {
        rebalances.inc();
        logger.info({ writersDropped: dropped }, 'rebalance: writers dropped; they reload on their next command');
      },
      failed: (error) => logger.error({ err: error }, 'inventory worker consumer crashed'),
      lagged: (partition, messages) => lag.set({ partition: String(partition) }, messages),
    };
  }

  /** For the cluster's inventory gateway: a request its SKU's owner did not answer in time. */
  inventoryTimeouts(): (sku: string) => void {
    const timeouts = new Counter({ name: 'crest_inventory_request_timeouts_total', help: 'Inventory requests sent over Kafka that got no answer within CREST_INVENTORY_TIMEOUT_MS', registers: [this.registry] });
    return () => timeouts.inc();
  }
}

const HOT_SKUS = 20;
const HOT_WINDOW_MS = 60_000;

/**
 * Stock as this process's writers last committed it. Every SKU counts towards `crest_stock_oversold_units`, which must
 * stay 0; only the busiest (commands committed in the last minute, decayed) get `crest_stock_units` series, so that a
 * catalogue of 100,000 SKUs does not become 300,000 series.
 */
class StockTracker {
  private readonly skus = new Map<string, { figures: StockFigures; activity: number; at: number }>();
  private readonly oversold = new Map<string, number>();

  constructor(registry: Registry) {
    const oversold = this.oversold;
    const hottest = (limit: number) => this.hottest(limit);
    const figuresOf = (sku: string) => this.skus.get(sku)!.figures;
    new Gauge({
      name: 'crest_stock_oversold_units',
      help: 'Units reserved or sold beyond what was received and adjusted, over every SKU this process writes; must stay 0',
      registers: [registry],
      collect() {
        let units = 0;
        for (const n of oversold.values()) units += n;
        this.set(units);
      },
    });
    new Gauge({
      name: 'crest_stock_units',
      help: `Stock of the ${HOT_SKUS} busiest SKUs of this process's writers (commands in the last minute), by state`,
      labelNames: ['sku', 'state'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const sku of hottest(HOT_SKUS)) {
          const figures = figuresOf(sku);
          for (const state of ['available', 'reserved', 'sold'] as const) this.set({ sku, state }, figures[state]);
        }
      },
    });
  }

  committed(sku: string, commands: number, figures: StockFigures, logger: Logger): void {
    const now = Date.now();
    const previous = this.skus.get(sku);
    const decayed = previous ? previous.activity * Math.exp(-(now - previous.at) / HOT_WINDOW_MS) : 0;
    this.skus.set(sku, { figures, activity: decayed + commands, at: now });
    const over = Math.max(0, figures.reserved + figures.sold - (figures.received + figures.adjusted), -figures.available);
    const balanced = figures.available + figures.reserved + figures.sold === figures.received + figures.adjusted;
    if (over > 0 || !balanced) {
      if (!this.oversold.has(sku)) logger.fatal({ sku, ...figures }, 'stock invariant broken: available + reserved + sold != received + adjusted, or oversold');
      this.oversold.set(sku, Math.max(over, balanced ? 0 : 1));
    } else this.oversold.delete(sku);
    if (this.skus.size > 10_000) this.forgetQuietest();
  }

  hottest(limit: number): string[] {
    const now = Date.now();
    return [...this.skus.entries()]
      .map(([sku, s]) => ({ sku, score: s.activity * Math.exp(-(now - s.at) / HOT_WINDOW_MS) }))
      .filter((s) => s.score >= 0.5)
      .sort((a, b) => b.score - a.score || (a.sku < b.sku ? -1 : 1))
      .slice(0, limit)
      .map((s) => s.sku);
  }

  private forgetQuietest(): void {
    const keep = new Set(this.hottest(5_000));
    for (const sku of this.skus.keys()) if (!keep.has(sku)) this.skus.delete(sku);
  }
}
