import { readModelContract } from '../../test/contracts/read-model.contract';
import { MemoryReadModels } from './memory-read-models';

readModelContract('MemoryReadModels', { open: async () => new MemoryReadModels() });
