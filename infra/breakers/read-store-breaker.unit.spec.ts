import { expect } from 'chai';
import Fastify from 'fastify';
import pino from 'pino';
import { productsProjection } from '../../projections/read-models';
import { RecordedLog } from '../../test/support/recorded';
import { waitFor } from '../../test/support/wait-for';
import { opsRoutes } from '../http/ops-routes';
import { MemoryReadModels } from '../memory/memory-read-models';
import { CrestMetrics } from '../metrics/metrics';
import { ReadModelsUnavailableError } from '../mongodb/mongo-read-models';
import { Breaker, BreakerOpenError, BreakerTimeoutError } from './circuit-breaker';
import { ReadStoreBreaker, type ReadStoreQueries } from './read-store-breaker';

type Mode = 'up' | 'unreachable' | 'hanging' | 'refusing';

/**
 * Real read models (in memory) behind a switch that makes them behave like a networked store in trouble:
 * unreachable (what the MongoDB adapter raises), hanging (never answers), or refusing one query (a bug, not an outage).
 */
class TroubledStore implements ReadStoreQueries {
  mode: Mode = 'up';
  constructor(private readonly models: MemoryReadModels) {}
  product = (sku: string) => this.call(() => this.models.product(sku));
  browse = (query: Parameters<ReadStoreQueries['browse']>[0]) => this.call(() => this.models.browse(query));
  order = (orderId: string) => this.call(() => this.models.order(orderId));
  customerOrders = (customerId: string, limit: number) => this.call(() => this.models.customerOrders(customerId, limit));
  inventory = (sku: string) => this.call(() => this.models.inventory(sku));

  private async call<T>(query: () => Promise<T>): Promise<T> {
    if (this.mode === 'unreachable') throw new ReadModelsUnavailableError(new Error('connect ECONNREFUSED 127.0.0.1:27017'));
    if (this.mode === 'hanging') return new Promise<T>(() => {});
    if (this.mode === 'refusing') throw new Error('BadValue: unknown operator $nope');
    return query();
  }
}

const failureOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('the query succeeded');
};

const gauge = async (metrics: CrestMetrics): Promise<string> => {
  const text = await metrics.registry.metrics();
  return /crest_circuit_breaker_open\{breaker="mongodb-read-models"\} ([\d.]+)/.exec(text)?.[1] ?? 'absent';
};

describe('ReadStoreBreaker', () => {
  let metrics: CrestMetrics;
  let store: TroubledStore;
  let breaker: Breaker;
  let queries: ReadStoreBreaker;

  beforeEach(async () => {
    // given the product read model holding one product, behind a breaker (20 ms timeout, 100 ms reset)
    const models = new MemoryReadModels();
    const log = new RecordedLog();
    log.append('product-MUG', 'ProductListed', { sku: 'MUG', name: 'Mug', category: 'kitchen', priceCents: 900, description: 'a mug' });
    await models.applyBatch('read-models', [productsProjection], log.events, log.head);
    metrics = new CrestMetrics();
    store = new TroubledStore(models);
    breaker = new Breaker('mongodb-read-models', { timeoutMs: 20, resetMs: 100 }, metrics.breakerObserver(pino({ level: 'silent' })), ReadStoreBreaker.counts);
    queries = new ReadStoreBreaker(store, breaker);
  });
  afterEach(() => breaker.shutdown());

  it('answers from the store while it is up, and shows as closed from the start', async () => {
    expect((await queries.product('MUG'))?.name).to.equal('Mug');
    expect(breaker.state).to.equal('closed');
    expect(await gauge(metrics)).to.equal('0');
  });

  describe('given the store unreachable', () => {
    it('opens after repeated failures, then fails fast with ReadModelsUnavailableError (503) without asking the store', async () => {
      // when ten queries fail
      store.mode = 'unreachable';
      for (let i = 0; i < 10; i++) expect(await failureOf(queries.product('MUG'))).to.be.instanceOf(ReadModelsUnavailableError);

      // then the breaker is open, in metrics too
      expect(breaker.state).to.equal('open');
      expect(await gauge(metrics)).to.equal('1');

      // and a query fails at once, even one the store would now hang on, as unavailable
      store.mode = 'hanging';
      const error = await failureOf(queries.browse({ sort: 'name', limit: 10 }));
      expect(error).to.be.instanceOf(ReadModelsUnavailableError);
      expect((error as ReadModelsUnavailableError).code).to.equal('unavailable');
      expect((error as ReadModelsUnavailableError).cause).to.be.instanceOf(BreakerOpenError);
      expect(breaker.retryInMs()).to.be.within(1, 100);
    });

    it('half-opens after the reset time and closes on the first query that succeeds', async () => {
      // given an open breaker
      store.mode = 'unreachable';
      for (let i = 0; i < 10; i++) await failureOf(queries.order('ord_1'));
      expect(breaker.state).to.equal('open');

      // when the store is back and the reset time has passed
      store.mode = 'up';
      await waitFor(() => breaker.state === 'half_open', 2000, 'the breaker to half-open');
      expect(await gauge(metrics)).to.equal('0.5');

      // then the next query goes through and closes it
      expect((await queries.product('MUG'))?.sku).to.equal('MUG');
      expect(breaker.state).to.equal('closed');
      expect(await gauge(metrics)).to.equal('0');
    });

    it('opens again when the trial query fails', async () => {
      store.mode = 'unreachable';
      for (let i = 0; i < 10; i++) await failureOf(queries.inventory('MUG'));
      await waitFor(() => breaker.state === 'half_open', 2000, 'the breaker to half-open');
      expect(await failureOf(queries.inventory('MUG'))).to.be.instanceOf(ReadModelsUnavailableError);
      expect(breaker.state).to.equal('open');
    });
  });

  describe('given a store that does not answer', () => {
    it('fails each query after the timeout as unavailable, and opens', async () => {
      store.mode = 'hanging';
      for (let i = 0; i < 10; i++) {
        const error = await failureOf(queries.customerOrders('alice', 10));
        expect(error).to.be.instanceOf(ReadModelsUnavailableError);
        expect((error as ReadModelsUnavailableError).cause).to.be.instanceOf(BreakerTimeoutError);
      }
      expect(breaker.state).to.equal('open');
    });
  });

  describe('given queries the store refuses (not an outage)', () => {
    it('passes the error through and stays closed', async () => {
      store.mode = 'refusing';
      for (let i = 0; i < 20; i++) expect(((await failureOf(queries.product('MUG'))) as Error).message).to.match(/BadValue/);
      expect(breaker.state).to.equal('closed');
    });
  });

  describe('readiness', () => {
    it('names each breaker and its state, and stays ready while one is open', async () => {
      // given the ops routes over the same metrics
      const app = Fastify();
      await app.register(opsRoutes({ registry: metrics.registry, ready: () => true }));
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).json()).to.deep.equal({ status: 'ready', breakers: { 'mongodb-read-models': 'closed' } });

      // when the breaker opens
      store.mode = 'unreachable';
      for (let i = 0; i < 10; i++) await failureOf(queries.product('MUG'));

      // then readiness shows it open, and still answers 200: the node serves stale reads and takes orders
      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).to.equal(200);
      expect(ready.json()).to.deep.equal({ status: 'ready', breakers: { 'mongodb-read-models': 'open' } });
      await app.close();
    });
  });
});
