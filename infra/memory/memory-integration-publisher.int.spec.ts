import { eventRelayContract } from '../../test/contracts/event-relay.contract';
import { MemoryIntegrationPublisher } from './memory-integration-publisher';

eventRelayContract('MemoryIntegrationPublisher', {
  open: async () => {
    const publisher = new MemoryIntegrationPublisher();
    return { publisher, received: async () => publisher.published.map((e) => ({ id: e.id, streamId: e.streamId, position: e.position })), close: async () => {} };
  },
});
