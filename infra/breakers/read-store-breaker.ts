import type { CustomerOrderDocument, InventoryDocument, OrderDocument, ProductDocument } from '../../projections/read-models';
import type { BrowseCursor, BrowseQuery, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries, Page } from '../../read-api/ports';
import { ReadModelsUnavailableError } from '../mongodb/mongo-read-models';
import { Breaker, BreakerOpenError, BreakerTimeoutError } from './circuit-breaker';

export type ReadStoreQueries = CatalogueQueries & OrderQueries & InventoryQueries;

/**
 * The storefront's queries to a networked read store (MongoDB) through a circuit breaker. The store being unreachable
 * (`ReadModelsUnavailableError`) or slower than the breaker's timeout counts as a failure; once the breaker is open
 * every query fails at once with `ReadModelsUnavailableError` instead of waiting for the driver's server selection,
 * so the read API answers from what it last read (stale) or `503 unavailable`, quickly. A query the store refused
 * for another reason passes through and does not count.
 */
export class ReadStoreBreaker implements ReadStoreQueries {
  constructor(
    private readonly queries: ReadStoreQueries,
    private readonly breaker: Breaker,
  ) {}

  /** Failures of the read store itself, as the adapter reports them. */
  static counts(error: unknown): boolean {
    return error instanceof ReadModelsUnavailableError;
  }

  product(sku: string): Promise<ProductDocument | undefined> {
    return this.guard(() => this.queries.product(sku));
  }

  browse(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>> {
    return this.guard(() => this.queries.browse(query));
  }

  order(orderId: string): Promise<OrderDocument | undefined> {
    return this.guard(() => this.queries.order(orderId));
  }

  customerOrders(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>> {
    return this.guard(() => this.queries.customerOrders(customerId, limit, after));
  }

  inventory(sku: string): Promise<InventoryDocument | undefined> {
    return this.guard(() => this.queries.inventory(sku));
  }

  private async guard<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(query);
    } catch (error) {
      if (error instanceof BreakerOpenError || error instanceof BreakerTimeoutError) throw new ReadModelsUnavailableError(error);
      throw error;
    }
  }
}
