/** Messages between the harness (server process) and the forked load-generator process. */

/** What each request looks like; built in the generator process so that nothing per request crosses the IPC channel. */
export type RequestSpec =
  /** `POST /v1/orders` for one unit of a SKU picked round-robin, a fresh Idempotency-Key per request. */
  | { readonly kind: 'order'; readonly skus: readonly string[]; readonly customers: number; readonly keyPrefix: string }
  /** The same request body every time. */
  | { readonly kind: 'post'; readonly path: string; readonly body: string }
  /** GETs over a list of paths, round-robin. */
  | { readonly kind: 'get'; readonly paths: readonly string[] };

export interface LoadSpec {
  readonly origin: string;
  /** `closed`: `connections` loops, each sending its next request when the last answered. `open`: `rate` requests/s on a fixed schedule. */
  readonly mode: 'closed' | 'open';
  readonly connections: number;
  /** Requests per second (open model only). */
  readonly rate?: number;
  /** Load applied but not recorded, before the measured window. */
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly request: RequestSpec;
  /** Status codes that count as success. */
  readonly successStatuses: readonly number[];
  /** Goodput counts successes answered within this many ms. */
  readonly deadlineMs: number;
  /** Open model: requests not sent because this many were already outstanding count as `dropped`. */
  readonly maxOutstanding?: number;
  /** How long to wait for outstanding requests after the schedule ends; those still open count as `timeout`. */
  readonly drainMs?: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

export interface LoadResult {
  readonly mode: 'closed' | 'open';
  /** Intended (open) or achieved (closed) requests per second in the measured window. */
  readonly offeredRate: number;
  /** Responses per second, any status. */
  readonly throughput: number;
  /** Successes per second. */
  readonly successRate: number;
  /** Successes within the deadline, per second. */
  readonly goodput: number;
  /** Milliseconds; open model: from the intended send time (coordinated omission corrected). */
  readonly latency: LatencySummary;
  /** Latency of successes only. */
  readonly successLatency: LatencySummary;
  /** Outcome counts by HTTP status, or `dropped`, `timeout`, or an error code. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly measuredMs: number;
  /** The generator process's CPU over the run, % of one core (near 100%: the generator may be the bottleneck). */
  readonly generatorCpuPct: number;
}

export type ToGenerator = { readonly type: 'run'; readonly spec: LoadSpec } | { readonly type: 'exit' };
export type FromGenerator = { readonly type: 'ready' } | { readonly type: 'result'; readonly result: LoadResult } | { readonly type: 'error'; readonly message: string };
