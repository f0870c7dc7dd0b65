/** Every reason a decider can refuse a command; each one is a stable code of the HTTP contract too. */
export const rejectionCodes = [
  'idempotency_key_reused',
  'order_not_found',
  'order_not_cancellable',
  'order_not_payable',
  'order_not_confirmable',
  'payment_mismatch',
  'insufficient_stock',
  'reservation_mismatch',
  'reservation_not_held',
  'out_of_stock',
  'sale_not_started',
  'sale_changed',
  'purchase_limit_exceeded',
  'invalid_sale_window',
  'sale_overlaps',
  'sale_sku_changed',
  'unknown_sku',
  'unknown_sale',
  // a writer's append found the order's stream already there (a concurrent placement); never shown to clients
  'already_exists',
] as const;
export type RejectionCode = (typeof rejectionCodes)[number];

/** A reason a command was refused. Rejections are answers, not events: they never reach the log. */
export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type Decision<E> =
  | { readonly ok: true; readonly events: readonly E[] }
  | { readonly ok: false; readonly rejection: Rejection };

/** The pure heart of an aggregate: decide(command, state) → events, evolve(state, event) → state. */
export interface Decider<C, E, S> {
  readonly initialState: () => S;
  readonly decide: (command: C, state: S) => Decision<E>;
  readonly evolve: (state: S, event: E) => S;
}

export const accept = <E>(...events: E[]): Decision<E> => ({ ok: true, events });
export const unchanged = <E>(): Decision<E> => ({ ok: true, events: [] });
export const reject = <E>(code: RejectionCode, message: string, details?: Record<string, unknown>): Decision<E> => ({
  ok: false,
  rejection: details === undefined ? { code, message } : { code, message, details },
});

export const fold = <C, E, S>(decider: Decider<C, E, S>, events: Iterable<E>, from: S = decider.initialState()): S => {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
};

export const assertNever = (value: never): never => {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
};
