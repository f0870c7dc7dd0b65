import { sharedCacheContract } from '../../test/contracts/shared-cache.contract';
import { MemorySharedCache } from './memory-shared-cache';

sharedCacheContract('MemorySharedCache', { open: async () => new MemorySharedCache() });
