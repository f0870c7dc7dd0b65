import type { EventToAppend } from '../domain/kernel/event-store';
import { eventDefinitions, validateEvent, type CrestEvent } from '../domain/events';
import type { IdGenerator } from './ports';
import { traceparentOf, type SpanContext } from './tracing';

/** Who asked for a command, carried into every event it causes. */
export interface CommandContext {
  readonly commandId: string;
  readonly correlationId: string;
  readonly causationId?: string;
  /** The span the command runs under, when tracing is on: its events carry it as a W3C `traceparent`. */
  readonly span?: SpanContext | undefined;
}

/** Validates a domain event against its versioned schema and wraps it with Crest's metadata. */
export const toEventToAppend = (event: CrestEvent, ctx: CommandContext, ids: IdGenerator, now: Date): EventToAppend => {
  const valid = validateEvent(event);
  const metadata: Record<string, unknown> = {
    correlationId: ctx.correlationId,
    causationId: ctx.causationId ?? ctx.commandId,
    commandId: ctx.commandId,
    timestamp: now.toISOString(),
    schemaVersion: eventDefinitions[valid.type].version,
  };
  // optional: events written without tracing (and every event written before it) have none
  if (ctx.span) metadata.traceparent = traceparentOf(ctx.span);
  return { id: ids.next(), type: valid.type, data: valid.data, metadata };
};
