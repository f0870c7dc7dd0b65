import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { deriveOrderId } from '../../commands/orders/order-identity';
import { inventoryDecider, type InventoryEvent } from '../../domain/inventory/inventory';
import type { EventStore } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';
import { orderDecider, type OrderEvent, type OrderState } from '../../domain/order/order';
import { expectStockInvariant, stockFromLog, type StockFromLog } from './stock';
import { waitFor } from './wait-for';

// ---------------------------------------------------------------------------------------------------- servers

const servicesScript = resolve(__dirname, '../../infra/local/services.sh');
export type LocalServer = 'redis' | 'kafka' | 'ferretdb';

/**
 * Runs `bash infra/local/services.sh <action> <server>` without blocking the event loop (an embedded Crest in this
 * process keeps serving meanwhile). Resolves with its output; rejects when it exits non-zero.
 */
export const services = (action: 'up' | 'down' | 'status', server: LocalServer | 'all'): Promise<string> =>
  new Promise((done, fail) =>
    execFile('bash', [servicesScript, action, server], { timeout: 180_000 }, (error, stdout, stderr) =>
      error ? fail(new Error(`services.sh ${action} ${server} failed: ${error.message}\n${stdout}${stderr}`)) : done(`${stdout}${stderr}`),
    ),
  );

/** For an `after` hook: brings the server back if a scenario left it down, and says so if it cannot. */
export const ensureServerUp = async (server: LocalServer): Promise<void> => {
  await services('up', server);
  const status = await services('status', server);
  if (!/running/.test(status)) throw new Error(`${server} is not running after the scenario: ${status}`);
};

// ---------------------------------------------------------------------------------------------------- metrics

/** The value of one Prometheus sample (`name{labels}`) in a /metrics text, or undefined. */
export const metricValue = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.startsWith(`${name}{`) ? line.slice(name.length + 1, line.indexOf('}')) : '';
    if (want.every((w) => labelText.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------- the sale

export interface Line {
  readonly sku: string;
  readonly quantity: number;
}

export type OrderOutcome = 'placed' | 'replayed' | 'pending' | 'out_of_stock' | 'gave_up' | 'refused';

export interface OrderRecord {
  readonly key: string;
  readonly customerId: string;
  readonly orderId: string;
  readonly lines: readonly Line[];
  outcome: OrderOutcome | undefined;
  /** Status of the last answer (0: no answer). */
  lastStatus: number;
  /** True once POST /payment answered 202 for it. */
  paid: boolean;
  /** For 202s: the status GET /v1/orders/:id showed once it was no longer pending. */
  resolved: string | undefined;
  /** The position a 201 or 200 carried. */
  position?: number;
}

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: any;
  readonly retryAfter: string | null;
}

/** Counts of what clients saw, by kind of request, status and problem code. */
export class Tally {
  private readonly counts = new Map<string, Map<string, number>>();

  record(kind: string, status: number, code: string | undefined): void {
    const byKind = this.counts.get(kind) ?? new Map<string, number>();
    this.counts.set(kind, byKind);
    const key = code === undefined ? String(status) : `${status}:${code}`;
    byKind.set(key, (byKind.get(key) ?? 0) + 1);
  }

  count(kind: string, status: number): number {
    let n = 0;
    for (const [key, c] of this.counts.get(kind) ?? []) if (key === String(status) || key.startsWith(`${status}:`)) n += c;
    return n;
  }

  get total(): number {
    let n = 0;
    for (const byKind of this.counts.values()) for (const c of byKind.values()) n += c;
    return n;
  }

  /** `orders 201×412 503×37(unavailable×37) | browse 200×900`: statuses ascending, codes alphabetical. */
  format(): string {
    const kinds = [...this.counts.keys()].sort();
    return kinds
      .map((kind) => {
        const byStatus = new Map<number, { n: number; codes: Map<string, number> }>();
        for (const [key, n] of this.counts.get(kind)!) {
          const [status, code] = key.split(':') as [string, string | undefined];
          const entry = byStatus.get(Number(status)) ?? { n: 0, codes: new Map<string, number>() };
          entry.n += n;
          if (code !== undefined) entry.codes.set(code, (entry.codes.get(code) ?? 0) + n);
          byStatus.set(Number(status), entry);
        }
        const parts = [...byStatus.entries()]
          .sort(([a], [b]) => a - b)
          .map(([status, { n, codes }]) => {
            const label = status === 0 ? 'no-answer' : String(status);
            const detail = [...codes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, k]) => `${c}×${k}`);
            return `${label}×${n}${detail.length > 0 ? `(${detail.join(' ')})` : ''}`;
          });
        return `${kind} ${parts.join(' ')}`;
      })
      .join(' | ');
  }
}

export interface FaultSaleOptions {
  /** The fault's tag in printed lines: `[fault:<name>]`. */
  readonly name: string;
  /** Base URLs of the API nodes; requests go round robin, and a retry goes to the next one. */
  readonly targets: () => readonly string[];
  readonly skus: readonly string[];
  /** Category of the SKUs, for browse pages. */
  readonly category: string;
  readonly prefix: string;
  /** A request that takes longer than this is a hang: it is cut and counted as a violation. */
  readonly hangBoundMs: number;
  /** Answers without a status (refused or reset connections) are a violation unless allowed (a killed API node). */
  readonly allowNoAnswer?: boolean;
  /** How many times a client retries an order (same Idempotency-Key) after a 503 or no answer. */
  readonly orderRetries?: number;
}

export interface TrafficOptions {
  readonly orders: number;
  readonly clients: number;
  /** The traffic stops after this long even if not every order was sent. */
  readonly maxMs: number;
  /** Also browse (a product card and a category page) after each order. */
  readonly browse?: boolean;
  /** Pay every n-th order (`tok_ok`) once it is placed. */
  readonly payEvery?: number;
  /** Read the order back with X-Min-Position after every n-th placement (read-your-writes, as a storefront does). */
  readonly readBackEvery?: number;
  /** Look at an earlier order's status page (GET /v1/orders/:id, no X-Min-Position) after every n-th order. */
  readonly statusEvery?: number;
  /** A client's pause between two orders: paces the sale so that it spans the fault (not a wait for a condition). */
  readonly thinkMs?: number;
  /** Called after each order's outcome, with the number of orders finished so far in this traffic. */
  readonly afterOrder?: (done: number) => void | Promise<void>;
}

export interface Traffic {
  /** Orders this traffic has finished (any outcome). */
  readonly done: number;
  /** Stops sending new orders; resolves once every client has finished its current one. */
  stop(): Promise<void>;
  /** Resolves once every order was sent, the time ran out, or `stop` was called. */
  readonly finished: Promise<void>;
  /**
   * Waits until `count` orders are done. Fails at once, saying so, if the traffic ended first (its order cap or its
   * time ran out), rather than waiting out `maxMs` for orders that will never come.
   */
  reach(count: number, maxMs: number, what: string): Promise<void>;
}

/**
 * Bounded client traffic against Crest during a fault: orders (each with its own Idempotency-Key, retried with the
 * same key after a 503 or a dropped connection, as a client would), optional payments and browsing. Everything a
 * client saw is tallied, overall and inside the fault window, and every answer is checked as it arrives: a 5xx other
 * than 503, a 503 without Retry-After, and a request slower than the hang bound are violations.
 */
/**
 * `clients` concurrent loops of `step` until a step says it is finished (false), `maxMs` passed, or `stop()`.
 * `progress()` counts one step done and returns the count.
 */
const clientsUntil = (clients: number, maxMs: number, step: (client: number, progress: () => number) => Promise<boolean>): Traffic => {
  let stopped = false;
  let ended = false;
  let done = 0;
  const startedAt = Date.now();
  const deadline = startedAt + maxMs;
  const progress = () => ++done;
  const finished = Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (!stopped && Date.now() < deadline && (await step(client, progress)));
    }),
  ).then(() => {
    ended = true;
  });
  return {
    get done() {
      return done;
    },
    finished,
    reach: (count, waitMs, what) =>
      waitFor(
        () => {
          if (done >= count) return true;
          if (ended) throw new Error(`the traffic ended after ${done} orders in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, before ${what}: raise its order cap or its time`);
          return false;
        },
        waitMs,
        what,
      ),
    stop: async () => {
      stopped = true;
      await finished;
    },
  };
};

export class FaultSale {
  readonly orders: OrderRecord[] = [];
  readonly tally = new Tally();
  readonly windowTally = new Tally();
  readonly violations: string[] = [];
  slowestMs = 0;
  private windowOpen = false;
  private windowStartedAt = 0;
  windowMs = 0;
  private next = 0;
  private target = 0;

  constructor(readonly options: FaultSaleOptions) {}

  /** From now on answers also count in the fault window's tally. */
  openWindow(): void {
    this.windowOpen = true;
    this.windowStartedAt = Date.now();
  }

  closeWindow(): void {
    if (this.windowOpen) this.windowMs += Date.now() - this.windowStartedAt;
    this.windowOpen = false;
  }

  /** One request, tallied and checked. Status 0 means no answer (refused, reset, or cut at the hang bound). */
  async request(kind: string, method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer> {
    const targets = this.options.targets();
    const base = targets[this.target++ % Math.max(1, targets.length)];
    const started = performance.now();
    let answer: Answer;
    try {
      if (!base) throw Object.assign(new Error('no API node is running'), { code: 'no_target' });
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extraHeaders },
        signal: AbortSignal.timeout(this.options.hangBoundMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: any;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      const code = response.status >= 400 && parsed && typeof parsed === 'object' && typeof parsed.code === 'string' ? (parsed.code as string) : undefined;
      answer = { status: response.status, code, body: parsed, retryAfter: response.headers.get('retry-after') };
    } catch (error) {
      const e = error as { name?: string; code?: string; cause?: { code?: string } };
      const code = e.name === 'TimeoutError' ? 'hang' : (e.cause?.code ?? e.code ?? e.name ?? 'error');
      answer = { status: 0, code, body: undefined, retryAfter: null };
    }
    const ms = performance.now() - started;
    this.slowestMs = Math.max(this.slowestMs, ms);
    this.tally.record(kind, answer.status, answer.code);
    if (this.windowOpen) this.windowTally.record(kind, answer.status, answer.code);
    if (answer.status >= 500 && answer.status !== 503) this.violations.push(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    if (answer.status === 503 && !answer.retryAfter) this.violations.push(`${method} ${path}: 503 without Retry-After (${answer.code})`);
    if (answer.code === 'hang') this.violations.push(`${method} ${path}: no answer within ${this.options.hangBoundMs} ms`);
    else if (answer.status === 0 && !this.options.allowNoAnswer) this.violations.push(`${method} ${path}: no answer (${answer.code})`);
    return answer;
  }

  /** Runs `clients` concurrent clients until `orders` orders are done, `maxMs` passed, or it is stopped. */
  traffic(options: TrafficOptions): Traffic {
    let issued = 0;
    return clientsUntil(options.clients, options.maxMs, async (_client, progress) => {
      if (issued >= options.orders) return false;
      issued++;
      const i = this.next++;
      const record = await this.placeOrder(i);
      if (options.payEvery && i % options.payEvery === 0 && (record.outcome === 'placed' || record.outcome === 'replayed')) await this.pay(record);
      if (options.readBackEvery && i % options.readBackEvery === 0 && record.position !== undefined) {
        await this.request('read-back', 'GET', `/v1/orders/${record.orderId}`, undefined, { 'x-min-position': String(record.position) });
      }
      if (options.statusEvery && i % options.statusEvery === 0) {
        const earlier = this.orders.find((o) => o.outcome === 'placed');
        if (earlier) await this.request('order-page', 'GET', `/v1/orders/${earlier.orderId}`);
      }
      if (options.browse) await this.browseOnce(i);
      const done = progress();
      if (options.thinkMs) await new Promise<void>((next) => setTimeout(next, options.thinkMs));
      await options.afterOrder?.(done);
      return true;
    });
  }

  /** Browsing only (product cards and category pages), until stopped or bounded. */
  browsing(options: { clients: number; requests: number; maxMs: number }): Traffic {
    let count = 0;
    return clientsUntil(options.clients, options.maxMs, async (client, progress) => {
      if (count >= options.requests) return false;
      await this.browseOnce(client + count);
      count = progress();
      return true;
    });
  }

  private async browseOnce(i: number): Promise<void> {
    const sku = this.options.skus[i % this.options.skus.length]!;
    await this.request('card', 'GET', `/v1/products/${sku}`);
    await this.request('browse', 'GET', `/v1/products?category=${this.options.category}&limit=20`);
  }

  private async placeOrder(i: number): Promise<OrderRecord> {
    const { skus, prefix } = this.options;
    const customerId = `${prefix}-cust-${i % 97}`;
    const key = `${prefix}-order-${i}`;
    const lines: Line[] = i % 5 === 4 ? [{ sku: skus[i % skus.length]!, quantity: 1 }, { sku: skus[(i + 1) % skus.length]!, quantity: 1 }] : [{ sku: skus[i % skus.length]!, quantity: 1 + (i % 2) }];
    const record: OrderRecord = { key, customerId, orderId: deriveOrderId(customerId, key), lines, outcome: undefined, lastStatus: 0, paid: false, resolved: undefined };
    this.orders.push(record);
    const retries = this.options.orderRetries ?? 4;
    for (let attempt = 0; ; attempt++) {
      const r = await this.request('orders', 'POST', '/v1/orders', { customerId, lines }, { 'idempotency-key': key });
      record.lastStatus = r.status;
      if (r.status === 201 || r.status === 200 || r.status === 202) {
        expect(r.body.orderId, 'the order id is derived from the customer and the key').to.equal(record.orderId);
        record.outcome = r.status === 201 ? 'placed' : r.status === 200 ? 'replayed' : 'pending';
        if (typeof r.body.position === 'number') record.position = r.body.position as number;
        // a retry after a lost answer may meet its own earlier placement: still this client's order
        return record;
      }
      if (r.status === 409 && r.code === 'out_of_stock') {
        record.outcome = 'out_of_stock';
        return record;
      }
      if (r.status !== 503 && r.status !== 0) {
        record.outcome = 'refused';
        this.violations.push(`order ${key}: unexpected ${r.status} ${JSON.stringify(r.body)}`);
        return record;
      }
      if (attempt >= retries) {
        record.outcome = 'gave_up';
        return record;
      }
      await clientBackoff(attempt, r.retryAfter);
    }
  }

  private async pay(record: OrderRecord): Promise<void> {
    for (let attempt = 0; attempt <= 4; attempt++) {
      const r = await this.request('pay', 'POST', `/v1/orders/${record.orderId}/payment`, { paymentToken: 'tok_ok' });
      if (r.status === 202) {
        record.paid = true;
        return;
      }
      // an earlier attempt went through before its answer was lost (a killed node): the order is no longer payable
      // because it is paid; the end checks then find it confirmed
      if (attempt > 0 && r.status === 409 && r.code === 'order_not_payable') {
        record.paid = true;
        return;
      }
      if (r.status !== 503 && r.status !== 0) {
        this.violations.push(`payment of ${record.orderId}: unexpected ${r.status} ${JSON.stringify(r.body)}`);
        return;
      }
      await clientBackoff(attempt, r.retryAfter);
    }
  }

  /**
   * Reads every 202 order (GET /v1/orders/:id) until it is no longer pending, as its client would, within `maxMs`.
   * An order that another node resolved may take the read models a while to show.
   */
  async resolvePending(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let open = this.orders.filter((o) => o.outcome === 'pending' && o.resolved === undefined);
    while (open.length > 0) {
      if (Date.now() > deadline) throw new Error(`${open.length} orders answered 202 were still pending after ${maxMs} ms: ${open.slice(0, 5).map((o) => o.orderId)}`);
      for (const o of open) {
        const r = await this.request('reads', 'GET', `/v1/orders/${o.orderId}`);
        if (r.status === 200 && r.body.status !== 'pending') o.resolved = r.body.status as string;
      }
      open = open.filter((o) => o.resolved === undefined);
      if (open.length > 0) await clientBackoff(0, null);
    }
  }

  /** Orders the client was told exist: 201, 200, or 202 that resolved to a placed order. */
  acknowledged(): OrderRecord[] {
    return this.orders.filter((o) => o.outcome === 'placed' || o.outcome === 'replayed' || (o.outcome === 'pending' && o.resolved !== undefined && o.resolved !== 'rejected'));
  }

  /** `[fault:<name>] client saw (<window>): ...; slowest ... (bound ...)` */
  report(windowLabel: string): string {
    const line = `[fault:${this.options.name}] client saw ${windowLabel} (${(this.windowMs / 1000).toFixed(1)} s): ${this.windowTally.format()}; whole sale: ${this.tally.format()}; slowest answer ${Math.round(this.slowestMs)} ms (bound ${this.options.hangBoundMs} ms)`;
    console.log(`      ${line}`);
    return line;
  }

  /** No 5xx but 503, every 503 with Retry-After, nothing slower than the bound, no order refused for a bad reason. */
  expectClientsWereAnsweredWell(): void {
    expect(this.violations, this.violations.slice(0, 10).join('\n')).to.deep.equal([]);
  }
}

/** What a client does before retrying: honour Retry-After (capped at 1 s), otherwise back off a little more each time. */
const clientBackoff = (attempt: number, retryAfter: string | null): Promise<void> => {
  const ms = retryAfter ? Math.min(1000, Number(retryAfter) * 1000) : Math.min(1000, 100 * 2 ** attempt);
  return new Promise((done) => setTimeout(done, ms));
};

// ---------------------------------------------------------------------------------------------------- end checks

const orderState = async (store: EventStore, orderId: string): Promise<{ state: OrderState; placed: number }> => {
  let state = orderDecider.initialState();
  let placed = 0;
  for (const e of await store.readStream(streamName('order', orderId))) {
    if (e.type === 'OrderPlaced') placed++;
    state = orderDecider.evolve(state, { type: e.type, data: e.data } as OrderEvent);
  }
  return { state, placed };
};

export interface EndSummary {
  readonly acknowledged: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly oversold: number;
  /** Units held by orders that are not awaiting payment (or by no order this sale made): stock kept from buyers. */
  readonly leakedUnits: number;
  readonly stock: Readonly<Record<string, StockFromLog>>;
}

/**
 * The end checks of a fault scenario, against the event store (the truth):
 * - 0 oversold: for every SKU the stock invariant holds and reserved + sold never exceeds what was received;
 * - 0 acknowledged orders lost: every order a client was told exists has its stream, in the status it should have
 *   (`confirmed` when its payment was accepted, `awaiting_payment` otherwise; a 202 as it resolved);
 * - 0 duplicates: one order stream per Idempotency-Key with at most one OrderPlaced, no SKU reserved twice for an
 *   order, every reservation or sale belongs to an order of this sale and matches its line.
 * Returns the figures; `leakedUnits` is reported, and asserted by the caller when it expects none.
 */
export const checkSaleEnd = async (store: EventStore, sale: FaultSale, options: { received: number }): Promise<EndSummary> => {
  const states = new Map<string, { state: OrderState; placed: number; record: OrderRecord }>();
  for (const record of sale.orders) states.set(record.orderId, { ...(await orderState(store, record.orderId)), record });

  let lost = 0;
  let duplicates = 0;
  const problems: string[] = [];
  for (const { state, placed, record } of states.values()) {
    if (placed > 1) {
      duplicates++;
      problems.push(`${record.key}: ${placed} OrderPlaced events`);
    }
    if (record.outcome === 'out_of_stock' && state.status !== 'none' && state.status !== 'rejected') problems.push(`${record.key}: answered out_of_stock but is ${state.status}`);
  }
  for (const record of sale.acknowledged()) {
    const { state } = states.get(record.orderId)!;
    const expected = record.paid ? 'confirmed' : record.outcome === 'pending' ? record.resolved : 'awaiting_payment';
    if (state.status !== expected) {
      lost++;
      problems.push(`${record.key} (${record.orderId}): acknowledged ${record.outcome}${record.paid ? ' and paid' : ''}, expected ${expected}, the log says ${state.status}`);
    }
  }
  for (const record of sale.orders.filter((o) => o.outcome === 'pending' && o.resolved === 'rejected')) {
    const { state } = states.get(record.orderId)!;
    if (state.status !== 'rejected') problems.push(`${record.key}: resolved as rejected for its client, the log says ${state.status}`);
  }

  let oversold = 0;
  let leakedUnits = 0;
  const stock: Record<string, StockFromLog> = {};
  for (const sku of sale.options.skus) {
    const truth = await stockFromLog(store, sku);
    stock[sku] = truth;
    expectStockInvariant(truth);
    if (truth.reserved + truth.sold > truth.received + truth.adjusted || truth.reserved + truth.sold > options.received) oversold++;
    // walk the SKU's stream: who holds what, who bought what, and whether any order was reserved twice
    let inventory = inventoryDecider.initialState();
    const sold = new Map<string, number>();
    for (const e of await store.readStream(streamName('inventory', sku))) {
      const event = { type: e.type, data: e.data } as InventoryEvent;
      if (event.type === 'StockReserved' && inventory.reservations.has(event.data.orderId)) {
        duplicates++;
        problems.push(`${sku}: ${event.data.orderId} reserved twice`);
      }
      if (event.type === 'ReservationConfirmed') sold.set(event.data.orderId, (sold.get(event.data.orderId) ?? 0) + event.data.quantity);
      inventory = inventoryDecider.evolve(inventory, event);
    }
    for (const [orderId, held] of inventory.reservations) {
      const order = states.get(orderId);
      if (!order) {
        duplicates++;
        problems.push(`${sku}: ${held.quantity} reserved by ${orderId}, which no client of this sale asked for`);
        continue;
      }
      if (order.state.status !== 'awaiting_payment') leakedUnits += held.quantity;
      const line = order.state.lines.find((l) => l.sku === sku) ?? order.record.lines.find((l) => l.sku === sku);
      if (!line || line.quantity !== held.quantity) problems.push(`${sku}: ${orderId} holds ${held.quantity}, its line asks ${line?.quantity}`);
    }
    for (const [orderId, quantity] of sold) {
      const order = states.get(orderId);
      const line = order?.state.lines.find((l) => l.sku === sku);
      if (!order || order.state.status !== 'confirmed' || !line || line.quantity !== quantity) problems.push(`${sku}: ${quantity} sold to ${orderId} (${order?.state.status ?? 'unknown order'}), its line asks ${line?.quantity}`);
    }
    for (const { state, record } of states.values()) {
      const line = state.lines.find((l) => l.sku === sku);
      if (!line) continue;
      if (state.status === 'awaiting_payment' && inventory.reservations.get(record.orderId)?.quantity !== line.quantity) problems.push(`${record.key}: awaiting payment without holding its ${line.quantity} of ${sku}`);
      if (state.status === 'confirmed' && sold.get(record.orderId) !== line.quantity) problems.push(`${record.key}: confirmed without ${line.quantity} of ${sku} sold to it`);
    }
  }
  const summary: EndSummary = { acknowledged: sale.acknowledged().length, lost, duplicates, oversold, leakedUnits, stock };
  console.log(
    `      [fault:${sale.options.name}] end: ${sale.orders.length} orders sent, ${summary.acknowledged} acknowledged, ${lost} lost, ${duplicates} duplicate, ${oversold} SKUs oversold, ${leakedUnits} units held by orders not awaiting payment; ` +
      Object.entries(stock)
        .map(([sku, s]) => `${sku} received ${s.received} reserved ${s.reserved} sold ${s.sold} available ${s.available}`)
        .join('; '),
  );
  expect(oversold, 'SKUs oversold').to.equal(0);
  expect(lost, `acknowledged orders lost:\n${problems.join('\n')}`).to.equal(0);
  expect(duplicates, `duplicate orders or reservations:\n${problems.join('\n')}`).to.equal(0);
  expect(problems, problems.join('\n')).to.deep.equal([]);
  return summary;
};

/**
 * Waits (bounded) until every order whose payment was accepted is confirmed in the log and its units are sold (the
 * saga confirms the order first, then each line's reservation on its SKU's writer).
 */
export const waitForPaidOrders = async (store: EventStore, sale: FaultSale, maxMs: number): Promise<void> => {
  let open = sale.acknowledged().filter((o) => o.paid);
  await waitFor(
    async () => {
      const sold = new Set<string>();
      for (const sku of new Set(open.flatMap((o) => o.lines.map((l) => l.sku)))) {
        for (const e of await store.readStream(streamName('inventory', sku))) if (e.type === 'ReservationConfirmed') sold.add(`${sku}/${(e.data as { orderId: string }).orderId}`);
      }
      const still: OrderRecord[] = [];
      for (const o of open) {
        if ((await orderState(store, o.orderId)).state.status !== 'confirmed' || o.lines.some((l) => !sold.has(`${l.sku}/${o.orderId}`))) still.push(o);
      }
      open = still;
      return open.length === 0;
    },
    maxMs,
    'every paid order to be confirmed and its units sold',
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${open.length} left, e.g. ${open.slice(0, 3).map((o) => o.orderId)}`);
  });
};

/**
 * Waits until the app's readiness answers 503 naming `follower` as stalled; resolves with that follower's entry and
 * the names of every follower stalled then.
 */
export const waitForStalled = async (
  call: (method: string, path: string) => Promise<{ status: number; body: any }>,
  follower: string,
  timeoutMs: number,
): Promise<{ entry: { follower: string; state: string; attempts: number }; names: string[] }> => {
  let stalled: Array<{ follower: string; state: string; attempts: number }> = [];
  await waitFor(
    async () => {
      const ready = await call('GET', '/health/ready');
      stalled = ready.status === 503 && ready.body?.status === 'stalled' ? ready.body.stalled : [];
      return stalled.some((s) => s.follower === follower);
    },
    timeoutMs,
    `readiness to report the ${follower} follower stalled`,
  );
  return { entry: stalled.find((s) => s.follower === follower)!, names: stalled.map((s) => s.follower) };
};
