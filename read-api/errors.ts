/** A read that found nothing; `code` is the stable problem code. */
export class NotFoundError extends Error {
  constructor(
    readonly code: 'unknown_sku' | 'order_not_found' | 'not_found',
    message: string,
  ) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The read model did not reach the position the client asked for within the bound. */
export class StaleReadModelError extends Error {
  readonly code = 'stale_read_model';
  constructor(
    readonly wanted: number,
    readonly reached: number,
  ) {
    super(`The read model is at position ${reached} and did not reach ${wanted} in time; retry shortly`);
    this.name = 'StaleReadModelError';
  }
}
