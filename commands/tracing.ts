import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, isSpanContextValid, trace, type Attributes, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { AppendResult } from '../domain/kernel/event-store';
import { CommandRejectedError } from './errors';

/**
 * Tracing on the write side goes through the OpenTelemetry API alone: a `Tracer` is injected (absent when tracing is
 * off, so nothing is allocated), and the span a piece of work runs under travels explicitly, as `span` in the context
 * handed along (`CommandContext`), never through an ambient context: batched work (a writer's group commit) and work
 * that reacts to events later (the saga) must name their parents and links themselves anyway.
 */
export { SpanKind, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The W3C `traceparent` of a span: what events carry in their metadata and Kafka messages in their headers. */
export const traceparentOf = (span: SpanContext): string => `00-${span.traceId}-${span.spanId}-${span.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;

/** The span a W3C `traceparent` names, or undefined when the value is absent or not a valid one. */
export const spanContextFrom = (traceparent: unknown): SpanContext | undefined => {
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent);
  // version ff is invalid; version 00 has nothing after the flags; later versions may add fields
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const span: SpanContext = { traceId: match[2]!, spanId: match[3]!, traceFlags: parseInt(match[4]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(span) ? span : undefined;
};

export const isSampled = (span: SpanContext | undefined): span is SpanContext => span !== undefined && (span.traceFlags & TraceFlags.SAMPLED) !== 0;

/** Starts a span under `parent`, or as the root of a new trace without one (never under an ambient context). */
export const startSpan = (tracer: Tracer, name: string, parent: SpanContext | undefined, attributes: Attributes, kind = SpanKind.INTERNAL, links?: Link[]): Span =>
  tracer.startSpan(name, links ? { kind, attributes, links } : { kind, attributes }, parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT);

/** Marks a span as failed; a refusal (`CommandRejectedError`) is an answer, not a failure, and only names its code. */
export const recordFailure = (span: Span, error: unknown): void => {
  if (error instanceof CommandRejectedError) {
    span.setAttribute('crest.rejection', error.code);
    return;
  }
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
};

/**
 * Runs `work` in a span that is a child of `ctx.span`, handing it the context with the new span in it. Without a
 * tracer it runs `work(ctx)` and nothing else.
 */
export const traced = async <C extends { readonly span?: SpanContext | undefined }, T>(
  tracer: Tracer | undefined,
  name: string,
  ctx: C,
  attributes: Attributes,
  work: (ctx: C, span?: Span) => Promise<T>,
  kind = SpanKind.INTERNAL,
  links?: Link[],
): Promise<T> => {
  if (!tracer) return work(ctx);
  const span = startSpan(tracer, name, ctx.span, attributes, kind, links);
  try {
    return await work({ ...ctx, span: span.spanContext() }, span);
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
};

/**
 * An append to the event store as a span of its own under `parent` (which streams, how many events, where they
 * landed); only within a trace: an append with no span to continue starts none.
 */
export const tracedAppend = <T extends AppendResult | readonly AppendResult[]>(
  tracer: Tracer | undefined,
  parent: SpanContext | undefined,
  streams: readonly string[],
  events: number,
  append: () => Promise<T>,
): Promise<T> => {
  if (!tracer || !parent) return append();
  return traced(
    tracer,
    'crest.event_store.append',
    { span: parent },
    { 'crest.streams': [...streams], 'crest.events': events },
    async (_ctx, span) => {
      const result = await append();
      const results = (Array.isArray(result) ? result : [result]) as readonly AppendResult[];
      span?.setAttribute('crest.position', Math.max(...results.map((r) => r.position)));
      return result;
    },
    SpanKind.CLIENT,
  );
};
