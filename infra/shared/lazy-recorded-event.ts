import type { RecordedEvent } from '../../domain/kernel/event-store';

/** An event as a store keeps it: `data` and `metadata` still JSON text, `created` ISO-8601 UTC. */
export type StoredEventRow = [position: number, streamId: string, revision: number, eventId: string, type: string, data: string, metadata: string, created: string];

/**
 * Data and metadata are parsed on first use, once, whoever asks: projections replaying millions of events rarely look
 * at metadata, and every follower of a live event shares one parse of it.
 */
export class LazyRecordedEvent implements RecordedEvent {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
  readonly id: string;
  readonly type: string;
  readonly created: string;
  private rawData: string | undefined;
  private parsedData: unknown;
  private rawMetadata: string | undefined;
  private parsedMetadata: Readonly<Record<string, unknown>> | undefined;

  constructor(row: StoredEventRow) {
    this.position = row[0];
    this.streamId = row[1];
    this.revision = row[2];
    this.id = row[3];
    this.type = row[4];
    this.rawData = row[5];
    this.rawMetadata = row[6];
    this.created = row[7];
  }

  get data(): unknown {
    if (this.rawData !== undefined) {
      this.parsedData = JSON.parse(this.rawData);
      this.rawData = undefined;
    }
    return this.parsedData;
  }

  get metadata(): Readonly<Record<string, unknown>> {
    if (this.parsedMetadata === undefined) {
      this.parsedMetadata = JSON.parse(this.rawMetadata!) as Record<string, unknown>;
      this.rawMetadata = undefined;
    }
    return this.parsedMetadata;
  }

  toJSON(): RecordedEvent {
    return { streamId: this.streamId, revision: this.revision, position: this.position, id: this.id, type: this.type, data: this.data, metadata: this.metadata, created: this.created };
  }
}
