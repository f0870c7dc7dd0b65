import { eventStoreContract } from '../../test/contracts/event-store.contract';
import { MemoryEventStore } from './memory-event-store';

eventStoreContract('MemoryEventStore', { open: async () => new MemoryEventStore() });
