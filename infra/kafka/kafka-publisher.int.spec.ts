import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { eventRelayContract } from '../../test/contracts/event-relay.contract';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { KafkaIntegrationPublisher } from './kafka-publisher';

describe('Kafka integration publisher', function () {
  let kafka: Kafka;
  before(async function () {
    await requireServersFor(this, 'kafka');
    kafka = new Kafka({ clientId: 'crest-contract', brokers: serverUrls.kafka.split(','), logLevel: logLevel.NOTHING, retry: { retries: 1 } });
  });

  eventRelayContract('KafkaIntegrationPublisher', {
    open: async () => {
      const topic = `crest.events.contract-${randomUUID()}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const publisher = new KafkaIntegrationPublisher(kafka, topic);
      const received: Array<{ id: string; streamId: string; position: number }> = [];
      const consumer = kafka.consumer({ groupId: `contract-${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const h = message.headers ?? {};
          received.push({ id: String(h['crest-event-id']), streamId: String(h['crest-stream-id']), position: Number(String(h['crest-position'])) });
        },
      });
      return {
        publisher,
        received: async () => received,
        close: async () => {
          await publisher.close();
          await consumer.disconnect();
        },
      };
    },
  });
});
