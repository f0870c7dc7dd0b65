/**
 * The naive event-sourced command handler on Crest's own SQLite store: for every command load the whole stream,
 * fold it, decide, append with the expected revision, and on a conflict start over. No batching, no in-memory state.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { toEventToAppend } from '../../commands/metadata';
import { inventoryDecider, type InventoryCommand, type InventoryEvent } from '../../domain/inventory/inventory';
import { WrongExpectedRevisionError } from '../../domain/kernel/event-store';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';

export interface NaiveResult {
  readonly commandsPerSec: number;
  readonly accepted: number;
  readonly conflicts: number;
  readonly gaveUp: number;
  readonly seconds: number;
}

export const naiveHandler = async (dir: string, commands: number, inFlight: number, maxSeconds: number, maxRetries = 1000): Promise<NaiveResult> => {
  const store = new SqliteEventStore({ file: join(dir, 'naive.sqlite'), synchronous: 'FULL' });
  const ids = { next: () => randomUUID() };
  const stream = 'inventory-NAIVE';
  const ctx = { commandId: 'bench', correlationId: 'bench' };
  const handle = async (command: InventoryCommand): Promise<'accepted' | 'rejected' | 'gave_up'> => {
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      const recorded = await store.readStream(stream);
      let state = inventoryDecider.initialState();
      for (const e of recorded) state = inventoryDecider.evolve(state, { type: e.type, data: e.data } as InventoryEvent);
      const decision = inventoryDecider.decide(command, state);
      if (!decision.ok) return 'rejected';
      const now = new Date();
      const events = decision.events.map((e) => toEventToAppend(e, ctx, ids, now));
      try {
        await store.appendToStream(stream, events, recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision);
        return 'accepted';
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        conflicts++;
      }
    }
    return 'gave_up';
  };
  let conflicts = 0;
  await handle({ type: 'ReceiveStock', sku: 'NAIVE', receiptId: 'r', quantity: commands });
  conflicts = 0;
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  let next = 0;
  let accepted = 0;
  let gaveUp = 0;
  const started = performance.now();
  const stopAt = started + maxSeconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < commands && performance.now() < stopAt) {
        const i = next++;
        const outcome = await handle({ type: 'ReserveStock', sku: 'NAIVE', orderId: `o-${i}`, quantity: 1, expiresAt });
        if (outcome === 'accepted') accepted++;
        if (outcome === 'gave_up') gaveUp++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return { commandsPerSec: accepted / seconds, accepted, conflicts, gaveUp, seconds };
};
