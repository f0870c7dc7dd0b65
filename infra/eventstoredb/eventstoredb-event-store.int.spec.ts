import { eventStoreContract } from '../../test/contracts/event-store.contract';
import { serverUrls, skipOrFail } from '../../test/support/servers';
import { snapshotStoreContract } from '../../test/contracts/snapshot-store.contract';
import { EventStoreDbSnapshotStore } from './eventstoredb-bookkeeping';
import { EventStoreDbEventStore } from './eventstoredb-event-store';

// EventStoreDB cannot be installed on the machines Crest is built on, so this suite runs only where a server is
// given (docker compose up eventstoredb; ESDB_CONNECTION_STRING=esdb://127.0.0.1:2113?tls=false). It is not among
// the servers CREST_REQUIRE_SERVERS demands, since CI cannot start one.
const connectionString = serverUrls.eventstoredb;

if (!connectionString) {
  describe('EventStoreDB event store', () => {
    it('runs the event-store contract when ESDB_CONNECTION_STRING is set', function () {
      skipOrFail(this, 'no EventStoreDB: set ESDB_CONNECTION_STRING (e.g. esdb://127.0.0.1:2113?tls=false after docker compose up eventstoredb)', false);
    });
  });
} else {
  const stores: EventStoreDbEventStore[] = [];
  const open = async () => {
    const store = new EventStoreDbEventStore(connectionString);
    stores.push(store);
    return store;
  };
  eventStoreContract('EventStoreDB', { open, reopen: open });
  snapshotStoreContract('EventStoreDB', { open: async () => new EventStoreDbSnapshotStore((await open()).connection) });
  after(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
  });
}
