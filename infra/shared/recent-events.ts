import { matchesFilter, type LogFilter, type RecordedEvent } from '../../domain/kernel/event-store';

/**
 * The events this process appended last, as it appended them: followers that keep up read them from here instead of
 * reading back (and decoding) what was just written. It holds one contiguous range of positions: when the next
 * commit does not follow on (another process appended in between), it starts afresh, so a read it answers can never
 * skip an event.
 */
export class RecentEvents {
  private events: RecordedEvent[] = [];

  constructor(private readonly capacity: number) {}

  /** The position of the first and last event held, or undefined when none is. */
  get range(): { readonly first: number; readonly last: number } | undefined {
    const n = this.events.length;
    return n === 0 ? undefined : { first: this.events[0]!.position, last: this.events[n - 1]!.position };
  }

  /** Events of one commit, in position order. */
  add(committed: readonly RecordedEvent[]): void {
    if (committed.length === 0) return;
    const range = this.range;
    if (range && committed[0]!.position !== range.last + 1) this.events = [];
    for (const e of committed) this.events.push(e);
    // drop the older half at once rather than one event per append
    if (this.events.length > this.capacity) this.events = this.events.slice(this.events.length - Math.ceil(this.capacity / 2));
  }

  /**
   * Up to `maxCount` events after `after` that pass the filter, when this range holds the next event after `after`;
   * undefined when it does not (the caller reads the store). `through` is the last position the answer covers: past
   * it, only the store knows.
   */
  read(after: number, maxCount: number, filter: LogFilter | undefined): { readonly events: RecordedEvent[]; readonly through: number } | undefined {
    const range = this.range;
    if (!range || after < range.first - 1 || after >= range.last) return undefined;
    const found: RecordedEvent[] = [];
    let i = after + 1 - range.first;
    for (; i < this.events.length && found.length < maxCount; i++) {
      const e = this.events[i]!;
      if (matchesFilter(filter, e.streamId, e.type)) found.push(e);
    }
    return { events: found, through: this.events[i - 1]!.position };
  }
}
