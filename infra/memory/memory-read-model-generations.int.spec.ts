import { readModelGenerationsContract } from '../../test/contracts/read-model-generations.contract';
import { MemoryReadModelGenerations } from './memory-read-model-generations';

readModelGenerationsContract('Memory', { open: async () => new MemoryReadModelGenerations() });
