import CircuitBreaker from 'opossum';
import type { BreakerObserver } from '../redis/redis-shared-cache';

export type BreakerState = 'open' | 'half_open' | 'closed';

/** Where a breaker reports its state: metrics, readiness details and the log. */
export interface BreakerStateObserver extends BreakerObserver {
  /** The breaker exists and is closed (so that its state shows before it ever changes). */
  registered?(name: string): void;
}

export interface BreakerSettings {
  /** A call slower than this fails and counts as a failure (the call itself is not cancelled). */
  readonly timeoutMs: number;
  /** How long an open breaker fails fast before it lets one trial call through (half-open). */
  readonly resetMs: number;
  /** Opens when more than this percentage of the calls in the rolling window (10 s) failed... */
  readonly errorThresholdPercentage?: number;
  /** ...and the window holds at least this many calls. */
  readonly volumeThreshold?: number;
}

/** The call was not made: the breaker is open (or half-open with its one trial call under way). */
export class BreakerOpenError extends Error {
  readonly code = 'breaker_open';
  constructor(
    readonly breaker: string,
    /** Until the breaker lets a trial call through; 0 while that trial is under way. */
    readonly retryInMs: number,
  ) {
    super(`The ${breaker} circuit breaker is open; calls fail fast for ${retryInMs} ms more`);
    this.name = 'BreakerOpenError';
  }
}

/** The call took longer than the breaker's timeout; it may still complete. */
export class BreakerTimeoutError extends Error {
  readonly code = 'breaker_timeout';
  constructor(
    readonly breaker: string,
    readonly timeoutMs: number,
  ) {
    super(`${breaker} did not answer within ${timeoutMs} ms`);
    this.name = 'BreakerTimeoutError';
  }
}

/**
 * An opossum circuit breaker around calls to one dependency. Only errors that `counts` accepts (the dependency being
 * down or slow) and timeouts count towards opening it; any other error passes through as a success of the
 * dependency, so one bad request cannot cut everyone off. Open: calls fail at once with `BreakerOpenError`; after
 * `resetMs` one trial call goes through, and its outcome closes or re-opens the breaker.
 */
export class Breaker {
  private readonly circuit: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private openedAt = 0;

  constructor(
    readonly name: string,
    private readonly settings: BreakerSettings,
    observer: BreakerStateObserver,
    counts: (error: unknown) => boolean = () => true,
    private readonly now: () => number = Date.now,
  ) {
    this.circuit = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      name,
      timeout: settings.timeoutMs,
      resetTimeout: settings.resetMs,
      errorThresholdPercentage: settings.errorThresholdPercentage ?? 50,
      volumeThreshold: settings.volumeThreshold ?? 10,
      // true means "not a failure of the dependency"; the breaker's own timeouts always count
      errorFilter: (error: Error) => !CircuitBreaker.isOurError(error) && !counts(error),
    });
    this.circuit.on('open', () => {
      this.openedAt = this.now();
      observer.stateChanged(name, 'open');
    });
    this.circuit.on('halfOpen', () => observer.stateChanged(name, 'half_open'));
    this.circuit.on('close', () => observer.stateChanged(name, 'closed'));
    observer.registered?.(name);
  }

  get state(): BreakerState {
    if (this.circuit.opened) return 'open';
    return this.circuit.halfOpen ? 'half_open' : 'closed';
  }

  /** How long until an open breaker lets a trial call through (0 unless open). */
  retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openedAt + this.settings.resetMs - this.now()) : 0;
  }

  /** Runs `call` through the breaker: its own result or error, or `BreakerOpenError` / `BreakerTimeoutError`. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return (await this.circuit.fire(call)) as T;
    } catch (error) {
      if (error instanceof Error && CircuitBreaker.isOurError(error)) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ETIMEDOUT') throw new BreakerTimeoutError(this.name, this.settings.timeoutMs);
        // EOPENBREAKER, or a full semaphore (no capacity is configured, so not expected): the call was not made
        throw new BreakerOpenError(this.name, this.retryInMs());
      }
      throw error;
    }
  }

  /** Stops its timers; every later call fails fast. */
  shutdown(): void {
    this.circuit.shutdown();
  }
}
