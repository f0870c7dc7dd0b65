import type { EventToAppend } from '../domain/kernel/event-store';
import { eventDefinitions, validateEvent, type CrestEvent } from '../domain/events';
import type { IdGenerator } from './ports';

/** Who asked for a command, carried into every event it causes. */
export interface CommandContext {
  readonly commandId: string;
  readonly correlationId: string;
  readonly causationId?: string;
}

/** Validates a domain event against its versioned schema and wraps it with Crest's metadata. */
export const toEventToAppend = (event: CrestEvent, ctx: CommandContext, ids: IdGenerator, now: Date): EventToAppend => {
  const valid = validateEvent(event);
  return {
    id: ids.next(),
    type: valid.type,
    data: valid.data,
    metadata: {
      correlationId: ctx.correlationId,
      causationId: ctx.causationId ?? ctx.commandId,
      commandId: ctx.commandId,
      timestamp: now.toISOString(),
      schemaVersion: eventDefinitions[valid.type].version,
    },
  };
};
