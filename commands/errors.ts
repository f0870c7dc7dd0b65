import type { Rejection, RejectionCode } from '../domain/kernel/decider';

/**
 * A command refused for a reason the caller can act on. `code` is stable and becomes the problem+json `code`;
 * the HTTP layer maps codes to statuses in one place.
 */
export class CommandRejectedError extends Error {
  readonly code: RejectionCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(rejection: Rejection) {
    super(rejection.message);
    this.name = 'CommandRejectedError';
    this.code = rejection.code;
    this.details = rejection.details;
  }
}

/** A payment callback whose signature is missing, stale or wrong: nothing it says is believed. */
export class InvalidSignatureError extends Error {
  readonly code = 'invalid_signature';
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidSignatureError';
  }
}

/** The stream kept changing under us for longer than the retry budget: safe to retry later. */
export class ConcurrencyConflictError extends Error {
  readonly code = 'concurrency_conflict';
  constructor(readonly streamId: string) {
    super(`Too many concurrent writes to ${streamId}; try again`);
    this.name = 'ConcurrencyConflictError';
  }
}
