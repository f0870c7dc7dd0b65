import { expect } from 'chai';
import { waitFor } from '../../test/support/wait-for';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { countStock, noStock, type InventoryEvent } from '../../domain/inventory/inventory';
import { openStores } from '../composition/bind-stores';
import { parseConfig } from '../config/config';
import { SqliteEventStore } from '../sqlite/sqlite-event-store';
import { PostgresEventStore } from '../postgresql/postgres-event-store';
import { upcasting } from '../shared/upcasting-event-store';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';
import { Tokens } from '../composition/root';
import { startCrest, type TestCrest } from '../../test/support/crest-harness';
import { exportEvents, parseExportArgs, queryEvents, stateAt, UsageError, type CliIo } from './events';

/** A minimal RFC 4180 reader, as a spreadsheet reads a CSV: quoted cells, doubled quotes, commas and newlines inside quotes. */
const readCsv = (text: string): string[][] => {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += ch;
  }
  return rows;
};

const quiet: CliIo = { stdout: { write: () => true }, stderr: { write: () => true } };

describe('crest events: export and state over a seeded sale', function () {
  this.timeout(60_000);
  let crest: TestCrest;
  let out: string;

  before(async () => {
    crest = await startCrest();
    out = mkdtempSync(join(tmpdir(), 'crest-export-'));
    const admin = { admin: true };
    await crest.call('PUT', '/v1/products/EXP-1', { ...admin, body: { name: 'Export "quoted", sneaker', category: 'shoes', priceCents: 12900, description: 'line one\nline two' } });
    await crest.call('POST', '/v1/inventory/EXP-1/receipts', { ...admin, body: { quantity: 50, receiptId: 'r1' } });
    for (let i = 0; i < 20; i++) {
      const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': `export-order-${i}` }, body: { customerId: `c${i % 7}`, lines: [{ sku: 'EXP-1', quantity: 1 }] } });
      if (i % 4 === 0) await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`);
    }
  });
  after(async () => {
    await crest?.dispose();
    rmSync(out, { recursive: true, force: true });
  });

  const store = () => crest.running.container.get(Tokens.EventStore);

  it('given a seeded log, when it is exported as NDJSON, then every event is a row and the counts per type match the log', async () => {
    const file = join(out, 'all.ndjson');
    const result = await exportEvents(store(), parseExportArgs(['--format', 'ndjson', '--output', file, '--max-rate', '1000000']), quiet);
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const log = await store().readAll();
    expect(rows).to.have.length(log.length);
    expect(result.events).to.equal(log.length);
    const count = (types: string[]) => types.reduce<Record<string, number>>((m, t) => ({ ...m, [t]: (m[t] ?? 0) + 1 }), {});
    expect(count(rows.map((r) => r.type))).to.deep.equal(count(log.map((e) => e.type)));
    expect(rows[0]).to.have.keys(['position', 'stream', 'revision', 'type', 'version', 'time', 'correlationId', 'causationId', 'data']);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-')), 'no temporary file is left').to.deep.equal([]);
  });

  it('given a position range, when it is exported, then its positions are contiguous, and --after resumes where the first part stopped', async () => {
    const first = join(out, 'part1.ndjson');
    const second = join(out, 'part2.ndjson');
    const part1 = await exportEvents(store(), parseExportArgs(['--format', 'ndjson', '--output', first, '--from', '3', '--to', '20', '--max-rate', '1000000']), quiet);
    const positions = readFileSync(first, 'utf8').trim().split('\n').map((l) => JSON.parse(l).position as number);
    expect(positions).to.deep.equal(Array.from({ length: 18 }, (_, i) => i + 3));
    await exportEvents(store(), parseExportArgs(['--format', 'ndjson', '--output', second, '--after', String(part1.lastPosition), '--max-rate', '1000000']), quiet);
    const rest = readFileSync(second, 'utf8').trim().split('\n').map((l) => JSON.parse(l).position as number);
    const head = (await store().headPosition())!;
    expect(rest[0]).to.equal(21);
    expect(rest[rest.length - 1]).to.equal(head);
  });

  it('given one event type, when it is exported as CSV, then its data fields are columns and a spreadsheet-style reader gets every row back', async () => {
    const file = join(out, 'reserved.csv');
    await exportEvents(store(), parseExportArgs(['--format', 'csv', '--type', 'StockReserved', '--output', file, '--max-rate', '1000000']), quiet);
    const rows = readCsv(readFileSync(file, 'utf8'));
    expect(rows[0]).to.include.members(['position', 'stream', 'type', 'orderId', 'quantity', 'expiresAt']);
    const reserved = (await store().readAll({ filter: { eventTypes: ['StockReserved'] } })).length;
    expect(rows.length - 1).to.equal(reserved);
    const mixed = join(out, 'products.csv');
    await exportEvents(store(), parseExportArgs(['--format', 'csv', '--category', 'product', '--output', mixed, '--max-rate', '1000000']), quiet);
    const product = readCsv(readFileSync(mixed, 'utf8'));
    expect(JSON.parse(product[1]![product[0]!.indexOf('data')]!).name, 'quotes, commas and newlines survive').to.equal('Export "quoted", sneaker');
  });

  it('given the log, when it is exported as Parquet, then DuckDB reads it back with every row and typed columns', async () => {
    const all = join(out, 'all.parquet');
    const one = join(out, 'reserved.parquet');
    await exportEvents(store(), parseExportArgs(['--format', 'parquet', '--output', all, '--max-rate', '1000000']), quiet);
    await exportEvents(store(), parseExportArgs(['--format', 'parquet', '--type', 'StockReserved', '--output', one, '--max-rate', '1000000']), quiet);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const count = (await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet('${all}')`)).getRowObjects()[0]!.n;
      expect(count).to.equal((await store().readAll()).length);
      const types = Object.fromEntries(
        (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${one}')`)).getRowObjects().map((r) => [String(r.column_name), String(r.column_type)]),
      );
      expect(types).to.include({ position: 'BIGINT', revision: 'INTEGER', type: 'VARCHAR', orderId: 'VARCHAR', quantity: 'BIGINT' });
      const reserved = (await connection.runAndReadAll(`SELECT sum(quantity)::INTEGER AS units FROM read_parquet('${one}')`)).getRowObjects()[0]!.units;
      const fromLog = (await store().readAll({ filter: { eventTypes: ['StockReserved'] } })).reduce((n, e) => n + (e.data as { quantity: number }).quantity, 0);
      expect(reserved).to.equal(fromLog);
    } finally {
      connection.closeSync();
    }
    expect(readdirSync(out).filter((f) => f.includes('.tmp-')), 'no temporary file is left').to.deep.equal([]);
  });

  it('given the log, when SQL is asked of it, then DuckDB answers over a view named events, from the log or from an export', async () => {
    let printed = '';
    const capture: CliIo = { stdout: { write: (t: string) => (printed += t) }, stderr: { write: () => true } };
    const rows = await queryEvents("SELECT type, count(*) AS n FROM events WHERE type = 'OrderPlaced' GROUP BY type", { store: store() }, capture);
    expect(rows).to.equal(1);
    const placed = (await store().readAll({ filter: { eventTypes: ['OrderPlaced'] } })).length;
    expect(printed).to.match(new RegExp(`OrderPlaced\\s+${placed}`));
    printed = '';
    await queryEvents('SELECT count(*) AS n FROM events', { file: join(out, 'all.parquet') }, capture);
    expect(printed).to.match(new RegExp(`\\n${(await store().readAll()).length}\\n$`));
    let refused: unknown;
    await queryEvents('SELEC nonsense', { store: store() }, capture).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(UsageError);
  });

  it('given a stream, when its state is asked for at the head and at three past points, then it agrees with the live view and with the log', async () => {
    const head = (await store().headPosition())!;
    const live = await crest.call('GET', '/v1/inventory/EXP-1', { headers: { 'x-min-position': String(head) } });
    const now = await stateAt(store(), crest.running.container.get(Tokens.Snapshots), 'inventory-EXP-1', {});
    expect(now.state).to.include({ received: live.body.received, reserved: live.body.reserved, sold: live.body.sold });
    const events = await store().readStream('inventory-EXP-1');
    for (const point of [events[1]!.position, events[Math.floor(events.length / 2)]!.position, events[events.length - 2]!.position]) {
      const past = await stateAt(store(), crest.running.container.get(Tokens.Snapshots), 'inventory-EXP-1', { position: point });
      const counted = events.filter((e) => e.position <= point).reduce((s, e) => countStock(s, { type: e.type, data: e.data } as InventoryEvent), noStock);
      expect(past.state, `at position ${point}`).to.include({ received: counted.received, reserved: counted.reserved, sold: counted.sold });
      expect(past.position).to.be.at.most(point);
    }
  });

  it('given bad input, when export is asked for, then it is refused with one line naming the problem', () => {
    const refused = (args: string[]) => {
      try {
        parseExportArgs(args);
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`${args.join(' ')} was accepted`);
    };
    expect(refused(['--format', 'xml'])).to.match(/--format/);
    expect(refused(['--format', 'parquet'])).to.match(/--output/);
    expect(refused(['--format', 'csv', '--since', 'yesterday'])).to.match(/--since/);
    expect(refused(['--format', 'csv', '--from', '-3'])).to.match(/--from/);
    expect(refused(['--format', 'csv', '--category', 'nope'])).to.match(/unknown category/);
    expect(refused(['--format', 'csv', '--type', 'Nope'])).to.match(/unknown event type/);
    expect(refused(['--format', 'csv', '--bogus'])).to.match(/bogus/);
    const existing = join(out, 'exists.csv');
    writeFileSync(existing, 'keep me');
    expect(refused(['--format', 'csv', '--output', existing])).to.match(/--force/);
    expect(readFileSync(existing, 'utf8')).to.equal('keep me');
  });
});

describe('crest events over a log with version 1 events', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crest-v1-'));
    const raw = new SqliteEventStore({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' });
    const v1 = { correlationId: 'old', causationId: 'old', schemaVersion: 1 };
    await raw.appendToStream('product-OLD-1', [{ id: randomUUID(), type: 'ProductListed', data: { sku: 'OLD-1', name: 'Old sneaker', category: 'shoes', priceCents: 9900 }, metadata: v1 }], 'no_stream');
    await raw.appendToStream(
      'order-ord_aaaaaaaaaaaaaaaaaaaaaaaa',
      [{ id: randomUUID(), type: 'PaymentRequested', data: { orderId: 'ord_aaaaaaaaaaaaaaaaaaaaaaaa', customerId: 'c', paymentId: 'pay-1', amountCents: 9900, paymentToken: 'tok_secret', requestedAt: new Date().toISOString() }, metadata: v1 }],
      'no_stream',
    );
    await raw.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('given v1 events, when the log is exported, its state folded, or Crest starts over it, then every reader sees the current versions', async () => {
    const stores = openStores(parseConfig({}, { CREST_DATA_DIR: dir }));
    try {
      const file = join(dir, 'out.ndjson');
      await exportEvents(stores.events, parseExportArgs(['--format', 'ndjson', '--output', file]), quiet);
      const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(rows[0]).to.deep.include({ type: 'ProductListed', version: 2 });
      expect(rows[0].data.description).to.equal('');
      expect(rows[1]).to.deep.include({ type: 'PaymentRequested', version: 2 });
      expect(JSON.stringify(rows[1].data), 'the v1 card token is not exported').to.not.contain('tok_secret');
      const product = await stateAt(stores.events, stores.snapshots, 'product-OLD-1', {});
      expect(product.state).to.include({ status: 'listed', description: '', priceCents: 9900 });
    } finally {
      await stores.events.close();
    }
    const crest = await startCrest({}, dir);
    try {
      const card = await crest.call('GET', '/v1/products/OLD-1', { headers: { 'x-min-position': '2' } });
      expect(card.status).to.equal(200);
      expect(card.body).to.include({ name: 'Old sneaker', description: '' });
      // and a blue/green rebuild reads them through the same upcasters
      const rebuilt = await crest.call('POST', '/v1/admin/read-models/rebuild', { admin: true, body: { switch: true } });
      expect(rebuilt.status).to.equal(202);
      await waitFor(async () => (await crest.call('GET', '/v1/admin/read-models', { admin: true })).body.generation === 'g1', 10_000, 'the switch to g1');
      expect((await crest.call('GET', '/v1/products/OLD-1')).body).to.include({ name: 'Old sneaker', description: '' });
    } finally {
      await crest.stop();
    }
  });
});

describe('crest events over the network event store (PostgreSQL)', function () {
  this.timeout(60_000);
  const options = isolatedPostgresSchema();
  let pg: PostgresEventStore | undefined;
  after(async () => pg?.close());

  it('given a log in PostgreSQL, when a type is exported and a stream folded, then the store filters and every reader sees current versions', async () => {
    pg = new PostgresEventStore(options);
    const store = upcasting(pg);
    const meta = { correlationId: 'pg', causationId: 'pg', schemaVersion: 1 };
    await store.appendToStream('product-NET-1', [{ id: randomUUID(), type: 'ProductListed', data: { sku: 'NET-1', name: 'net', category: 'c', priceCents: 1 }, metadata: meta }], 'no_stream');
    await store.appendToStream(
      'inventory-NET-1',
      [
        { id: randomUUID(), type: 'StockReceived', data: { sku: 'NET-1', receiptId: 'r', quantity: 5 }, metadata: meta },
        { id: randomUUID(), type: 'StockReserved', data: { sku: 'NET-1', orderId: 'o1', quantity: 2, expiresAt: new Date(Date.now() + 60_000).toISOString() }, metadata: meta },
      ],
      'no_stream',
    );
    let printed = '';
    await exportEvents(store, parseExportArgs(['--format', 'ndjson', '--type', 'StockReserved', '--type', 'ProductListed']), { stdout: { write: (t: string) => (printed += t) }, stderr: { write: () => true } });
    const rows = printed.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.type)).to.deep.equal(['ProductListed', 'StockReserved']);
    expect(rows[0]).to.deep.include({ version: 2 });
    const inventory = await stateAt(store, { load: async () => undefined, save: async () => undefined }, 'inventory-NET-1', { position: 3 });
    expect(inventory.state).to.include({ received: 5, reserved: 2 });
  });
});
