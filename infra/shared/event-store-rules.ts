import { WrongExpectedRevisionError, type ExpectedRevision, type ReadStreamOptions } from '../../domain/kernel/event-store';

/** The expected-revision rules every adapter without a server of its own applies; `current` is undefined for no stream. */
export const checkExpectedRevision = (streamId: string, expected: ExpectedRevision, current: number | undefined): void => {
  const actual = current ?? 'no_stream';
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === undefined) ||
    (expected === 'stream_exists' && current !== undefined) ||
    (typeof expected === 'number' && expected === current);
  if (!ok) throw new WrongExpectedRevisionError(streamId, expected, actual);
};

export const sliceStream = <T>(events: readonly T[], options: ReadStreamOptions): T[] => {
  const max = options.maxCount ?? Number.MAX_SAFE_INTEGER;
  if (options.direction === 'backwards') {
    const from = Math.min(options.fromRevision ?? events.length - 1, events.length - 1);
    const out: T[] = [];
    for (let r = from; r >= 0 && out.length < max; r--) out.push(events[r]!);
    return out;
  }
  const from = Math.max(0, options.fromRevision ?? 0);
  return events.slice(from, from + Math.min(max, events.length));
};
