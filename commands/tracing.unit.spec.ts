import { TraceFlags, type SpanContext } from '@opentelemetry/api';
import { expect } from 'chai';
import { toEventToAppend } from './metadata';
import { spanContextFrom, traceparentOf } from './tracing';

const span: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
const received = { type: 'StockReceived', data: { sku: 'TR-1', receiptId: 'r-1', quantity: 3 } } as const;
const ids = { next: () => 'event-1' };
const now = new Date('2025-11-11T00:00:00Z');

describe('trace context in event metadata', () => {
  it('writes and reads a W3C traceparent', () => {
    expect(traceparentOf(span)).to.equal('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(spanContextFrom(traceparentOf(span))).to.deep.equal({ ...span, isRemote: true });
    expect(spanContextFrom(traceparentOf({ ...span, traceFlags: TraceFlags.NONE }))?.traceFlags).to.equal(TraceFlags.NONE);
  });

  it('reads nothing from what is not a valid traceparent', () => {
    for (const bad of [undefined, 42, '', 'garbage', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`, `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`, 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra']) {
      expect(spanContextFrom(bad), String(bad)).to.equal(undefined);
    }
    // a later version may add fields after the flags
    expect(spanContextFrom('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more')?.spanId).to.equal('b7ad6b7169203331');
  });

  it('adds traceparent to an event only when its command runs under a span', () => {
    const untraced = toEventToAppend(received, { commandId: 'c-1', correlationId: 'k-1' }, ids, now);
    expect(untraced.metadata).to.not.have.property('traceparent');
    const traced = toEventToAppend(received, { commandId: 'c-1', correlationId: 'k-1', span }, ids, now);
    expect(traced.metadata).to.include({ traceparent: traceparentOf(span), correlationId: 'k-1', commandId: 'c-1' });
  });
});
