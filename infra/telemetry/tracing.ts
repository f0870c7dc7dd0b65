import { TraceFlags, type Attributes, type Context, type Link, type SpanKind, type TracerProvider } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { hostname } from 'node:os';
import type { CrestConfig } from '../config/config';

export type TracingConfig = Pick<CrestConfig, 'CREST_TRACING' | 'CREST_OTLP_TRACES_URL' | 'CREST_TRACE_SAMPLE_RATIO'>;

/** A process's tracing: the provider the composition root hands on, and how to stop it. */
export interface Tracing {
  readonly provider: TracerProvider;
  /** Exports what is still buffered, then stops; never rejects. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** The role this process plays (`all`, `serve`, `inventory`, …): the `crest.role` resource attribute. */
  readonly role: string;
  /** Where spans go instead of OTLP over HTTP. */
  readonly exporter?: SpanExporter;
  /** Hears of every export that failed (the collector is unreachable, or refused the spans). */
  readonly onExportError?: (error: Error) => void;
}

/**
 * The sampler of spans that start a trace: sampled when a span they link to is sampled, else by ratio. A group commit
 * is the root of a trace of its own, linked to the requests it carries: it is kept whenever one of them is.
 */
export class LinkedOrRatioSampler implements Sampler {
  private readonly ratio: TraceIdRatioBasedSampler;

  constructor(ratio: number) {
    this.ratio = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(context: Context, traceId: string, _name: string, _kind: SpanKind, _attributes: Attributes, links: Link[]): SamplingResult {
    if (links.some((l) => (l.context.traceFlags & TraceFlags.SAMPLED) !== 0)) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.ratio.shouldSample(context, traceId);
  }

  toString(): string {
    return `LinkedOrRatioSampler{${this.ratio.toString()}}`;
  }
}

/** A span with a parent follows its parent's decision; a root span is sampled as `LinkedOrRatioSampler` says. */
export const crestSampler = (ratio: number): Sampler => new ParentBasedSampler({ root: new LinkedOrRatioSampler(ratio) });

const reportingFailures = (exporter: SpanExporter, report: (error: Error) => void): SpanExporter => ({
  export: (spans, done) =>
    exporter.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) report(result.error ?? new Error('the span export failed'));
      done(result);
    }),
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
});

/**
 * Starts tracing as the config asks: nothing with `CREST_TRACING=off` (Crest then holds no tracer at all), else a
 * tracer provider of this process's own that batches spans to OTLP over HTTP. Nothing is registered globally, so
 * several Crest instances in one process each keep their own.
 */
export const startTracing = (config: TracingConfig, options: TracingOptions): Tracing | undefined => {
  if (config.CREST_TRACING === 'off') return undefined;
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: config.CREST_OTLP_TRACES_URL });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'crest', 'crest.role': options.role, 'host.name': hostname(), 'process.pid': process.pid }),
    sampler: crestSampler(config.CREST_TRACE_SAMPLE_RATIO),
    spanProcessors: [new BatchSpanProcessor(options.onExportError ? reportingFailures(exporter, options.onExportError) : exporter)],
  });
  // a collector that is down must not fail the stop of the process: what could not be exported is reported, and lost
  return { provider, shutdown: () => provider.shutdown().catch((error: unknown) => options.onExportError?.(error instanceof Error ? error : new Error(String(error)))) };
};
