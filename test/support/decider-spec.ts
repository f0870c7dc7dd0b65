import { expect } from 'chai';
import { fold, type Decider, type Decision } from '../../domain/kernel/decider';

/** The assertions available once a command has been chosen. */
export interface DeciderThen<E> {
  /** The command is accepted with exactly these events, in this order. */
  then(expectedEvents: readonly E[]): void;
  /** The command is accepted and changes nothing (an idempotent replay, a no-op). */
  thenNothing(): void;
  /** The command is refused with this rejection code. */
  thenRejects(code: string): void;
}

export interface DeciderWhen<C, E> {
  when(command: C): DeciderThen<E>;
}

export interface DeciderGiven<C, E> {
  given(events: readonly E[]): DeciderWhen<C, E>;
}

const describeDecision = <E>(decision: Decision<E>): string =>
  decision.ok ? `accepted with ${JSON.stringify(decision.events)}` : `rejected with ${decision.rejection.code}: ${decision.rejection.message}`;

/**
 * Given/when/then for a decider, after event-driven-io/emmett's DeciderSpecification:
 *
 *   DeciderSpecification.for(decider).given([...history]).when(command).then([...expected])
 *
 * The history is folded from the decider's initial state; decide runs once the outcome is asserted.
 */
export const DeciderSpecification = {
  for<C, E, S>(decider: Decider<C, E, S>): DeciderGiven<C, E> {
    return {
      given: (events) => ({
        when: (command) => {
          const decide = (): Decision<E> => decider.decide(command, fold(decider, events));
          return {
            then(expectedEvents) {
              // `then` makes this object thenable: returning it un-asserted from a test would make mocha call it with callbacks.
              if (!Array.isArray(expectedEvents)) {
                throw new TypeError('then(expectedEvents) takes an array of events; was the spec returned from a test without an assertion?');
              }
              const decision = decide();
              if (!decision.ok) expect.fail(`expected the command to be accepted, but it was ${describeDecision(decision)}`);
              expect(decision.events).to.deep.equal(expectedEvents);
            },
            thenNothing() {
              const decision = decide();
              if (!decision.ok) expect.fail(`expected the command to change nothing, but it was ${describeDecision(decision)}`);
              expect(decision.events, 'expected no events').to.deep.equal([]);
            },
            thenRejects(code) {
              const decision = decide();
              if (decision.ok) expect.fail(`expected a rejection with ${code}, but the command was ${describeDecision(decision)}`);
              expect(decision.rejection.code).to.equal(code);
            },
          };
        },
      }),
    };
  },
};
