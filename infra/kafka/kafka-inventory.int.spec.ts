import { expect } from 'chai';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Kafka, KafkaJSNonRetriableError, logLevel, type Producer } from 'kafkajs';
import type { InventoryWriters } from '../../commands/inventory/inventory-writers';
import type { FollowerMonitor, FollowerStatus } from '../../projections/log-follower';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { waitFor } from '../../test/support/wait-for';
import { KafkaInventoryWorker } from './kafka-inventory';

const figures = { received: 5, adjusted: 0, available: 5, reserved: 0, sold: 0 };

/** Writers that answer every figures request at once: this spec is about the consumer, not the writers. */
const fakeWriters = {
  figures: async () => ({ figures, position: 7 }),
  submit: async () => ({ ok: true, figures, position: 7, appended: true }),
  reset: () => 0,
  stop: () => undefined,
} as unknown as InventoryWriters;

describe('KafkaInventoryWorker supervision', function () {
  this.timeout(90_000);
  let kafka: Kafka;
  let producer: Producer | undefined;
  let worker: KafkaInventoryWorker | undefined;
  const topic = `crest.inventory.supervision-${randomUUID()}`;

  before(async function () {
    await requireServersFor(this, 'kafka');
    kafka = new Kafka({ clientId: 'crest-supervision-test', brokers: serverUrls.kafka.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    await worker?.stop().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    const admin = kafka?.admin();
    await admin
      ?.connect()
      .then(() => admin.deleteTopics({ topics: [topic] }))
      .catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('replaces a consumer that kafkajs does not restart after a crash, reports it to the monitor, and answers the request once it is back', async () => {
    // given a worker whose reply channel fails once with an error kafkajs deems not retriable (so it will not restart)
    const published: Array<{ channel: string; message: string }> = [];
    let failures = 1;
    const publisher = {
      pipeline: () => {
        const batch: Array<{ channel: string; message: string }> = [];
        return {
          publish(channel: string, message: string) {
            batch.push({ channel, message });
          },
          async exec() {
            if (failures-- > 0) throw new KafkaJSNonRetriableError('injected: the reply channel refused the batch');
            published.push(...batch);
            return batch.map(() => [null, 1]);
          },
        };
      },
    } as unknown as Redis;
    const seen: string[] = [];
    let status: (() => FollowerStatus) | undefined;
    const statesSeen = new Set<string>();
    const monitor: FollowerMonitor = {
      attach: (s) => {
        status = s;
        return () => (status = undefined);
      },
      retrying: (name, error) => seen.push(`retrying ${name}: ${(error as Error).message}`),
      recovered: (name, attempts) => seen.push(`recovered ${name} after ${attempts}`),
      halted: () => undefined,
      skipped: (name) => seen.push(`skipped ${name}`),
    };
    const crashes: unknown[] = [];
    worker = new KafkaInventoryWorker(
      kafka,
      fakeWriters,
      publisher,
      { assigned: () => undefined, rebalanced: () => undefined, failed: (e) => crashes.push(e), lagged: () => undefined },
      { topic, groupId: `supervision-${randomUUID()}`, partitionsConcurrently: 2, sessionTimeoutMs: 6000, name: 'inventory-consumer', retryMaxMs: 500 },
      monitor,
    );
    await worker.start();
    expect(status?.().state).to.equal('running');

    // when a request arrives, and a message that is not a request at all
    const request = { kind: 'figures', requestId: 'q-1', replyTo: 'replies', deadline: Date.now() + 60_000, sku: 'SUP-1' };
    await producer!.send({ topic, messages: [{ key: 'SUP-1', value: 'not json' }, { key: 'SUP-1', value: JSON.stringify(request) }] });

    // then the consumer crashes, is reported as retrying, comes back by itself, and the request is answered
    await waitFor(
      () => {
        if (status) statesSeen.add(status().state);
        return published.some((p) => p.message.includes('q-1'));
      },
      60_000,
      'the request to be answered after the crash',
    );
    expect(crashes.length, 'the crash was seen').to.be.at.least(1);
    expect(statesSeen.has('retrying') || seen.some((s) => s.startsWith('retrying')), 'reported as retrying').to.equal(true);
    await waitFor(() => seen.some((s) => s.startsWith('recovered')), 30_000, 'the monitor to hear of the recovery');
    expect(status?.()).to.include({ state: 'running', attempts: 0 });
    expect(seen.filter((s) => s.startsWith('skipped')), 'the unreadable message was passed over, visibly').to.have.length.at.least(1);
    expect(JSON.parse(published.find((p) => p.message.includes('q-1'))!.message)).to.deep.equal({ requestId: 'q-1', figures: { figures, position: 7 } });
  });
});
