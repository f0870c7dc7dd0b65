/** A read that found nothing; `code` is the stable problem code. */
export class NotFoundError extends Error {
  constructor(
    readonly code: 'unknown_sku' | 'order_not_found' | 'unknown_sale' | 'not_found',
    message: string,
  ) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** An `X-Min-Position` beyond the head of the event log: no wait can reach it, so it is the client's mistake. */
export class UnknownPositionError extends Error {
  readonly code = 'unknown_position';
  constructor(
    readonly wanted: number,
    readonly head: number,
  ) {
    super(`Position ${wanted} is beyond the head of the event log (${head}); use a position from a command response`);
    this.name = 'UnknownPositionError';
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

/**
 * The read models cannot answer right now (their server is down or its breaker is open): the stable problem code
 * `unavailable` (503), whichever adapter raised it. Such a read may be answered from the last value it gave.
 */
export const isUnavailable = (error: unknown): boolean => (error as { code?: unknown } | undefined)?.code === 'unavailable';
