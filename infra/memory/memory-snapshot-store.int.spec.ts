import { snapshotStoreContract } from '../../test/contracts/snapshot-store.contract';
import { MemorySnapshotStore } from './memory-snapshot-store';

snapshotStoreContract('MemorySnapshotStore', { open: async () => new MemorySnapshotStore() });
