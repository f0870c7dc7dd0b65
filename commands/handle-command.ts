import type { Decider } from '../domain/kernel/decider';
import { WrongExpectedRevisionError, type EventStore } from '../domain/kernel/event-store';
import type { CrestEvent } from '../domain/events';
import { CommandRejectedError, ConcurrencyConflictError } from './errors';
import { toEventToAppend, type CommandContext } from './metadata';
import type { Clock, IdGenerator } from './ports';
import { tracedAppend, type Tracer } from './tracing';

export interface LoadedStream<S> {
  readonly state: S;
  /** -1 when the stream does not exist. */
  readonly revision: number;
  /** Global position of the stream's last event, 0 when it does not exist. */
  readonly position: number;
  /** Metadata of the stream's first event (who began it: its correlation, its trace), when it exists. */
  readonly origin?: Readonly<Record<string, unknown>> | undefined;
}

export interface HandledCommand<S, E> extends LoadedStream<S> {
  readonly events: readonly E[];
  readonly previous: S;
}

export interface CommandDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Present only when tracing is on. */
  readonly tracer?: Tracer | undefined;
}

export const loadStream = async <C, E, S>(store: EventStore, streamId: string, decider: Decider<C, E, S>): Promise<LoadedStream<S>> => {
  const events = await store.readStream(streamId);
  let state = decider.initialState();
  for (const e of events) state = decider.evolve(state, { type: e.type, data: e.data } as E);
  const last = events[events.length - 1];
  return { state, revision: last?.revision ?? -1, position: last?.position ?? 0, origin: events[0]?.metadata };
};

const MAX_ATTEMPTS = 5;

/**
 * The ordinary command path: load, decide, append with the loaded revision, and on a conflict reload and decide again.
 * A rejection throws CommandRejectedError; an unchanged decision writes nothing and reports the stream's position.
 */
export const handleCommand = async <C, E extends CrestEvent, S>(
  deps: CommandDeps,
  streamId: string,
  decider: Decider<C, E, S>,
  command: (state: S) => C,
  ctx: CommandContext,
): Promise<HandledCommand<S, E>> => {
  for (let attempt = 1; ; attempt++) {
    const loaded = await loadStream(deps.store, streamId, decider);
    const decision = decider.decide(command(loaded.state), loaded.state);
    if (!decision.ok) throw new CommandRejectedError(decision.rejection);
    if (decision.events.length === 0) return { ...loaded, events: [], previous: loaded.state };
    const now = deps.clock.now();
    try {
      const events = decision.events.map((e) => toEventToAppend(e, ctx, deps.ids, now));
      const expected = loaded.revision < 0 ? 'no_stream' : loaded.revision;
      const result = await tracedAppend(deps.tracer, ctx.span, [streamId], events.length, () => deps.store.appendToStream(streamId, events, expected));
      const state = decision.events.reduce(decider.evolve, loaded.state);
      return { state, revision: result.nextExpectedRevision, position: result.position, events: decision.events, previous: loaded.state };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      if (attempt >= MAX_ATTEMPTS) throw new ConcurrencyConflictError(streamId);
    }
  }
};
