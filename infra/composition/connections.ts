import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient, type Db } from 'mongodb';
import type { CrestConfig } from '../config/config';
import { mongoServerKind, type MongoServerKind } from '../mongodb/mongo-read-models';

/** Connections to the real servers the config asks for; opened once, before the container is built. */
export interface Connections {
  readonly mongo?: Db;
  readonly mongoServer?: MongoServerKind;
  readonly redis?: Redis;
  /** A second Redis connection for pub/sub subscriptions. */
  readonly redisSubscriber?: Redis;
  readonly kafka?: Kafka;
  close(): Promise<void>;
}

const redisClient = (url: string, onError: (error: Error) => void): Redis => {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 1000 });
  // ioredis reconnects by itself; without a listener each failed attempt is an "unhandled error event"
  client.on('error', onError);
  return client;
};

export const openConnections = async (config: CrestConfig, onError: (server: string, error: Error) => void = () => {}): Promise<Connections> => {
  const closers: Array<() => Promise<unknown>> = [];
  const connections: { mongo?: Db; mongoServer?: MongoServerKind; redis?: Redis; redisSubscriber?: Redis; kafka?: Kafka } = {};
  try {
    if (config.CREST_READ_MODELS === 'mongodb') {
      // after a quick restart of the server (FerretDB in test/faults/ferretdb-down) the driver's monitor was seen to leave
      // it Unknown for minutes, every read-model write failing server selection; a polling monitor that checks every
      // second and gives up on a connection attempt after 3 s brought it back every time
      const client = new MongoClient(config.MONGODB_URL, { serverSelectionTimeoutMS: 5000, serverMonitoringMode: 'poll', heartbeatFrequencyMS: 1000, connectTimeoutMS: 3000 });
      await client.connect();
      closers.push(() => client.close());
      connections.mongo = client.db(config.MONGODB_DATABASE);
      connections.mongoServer = mongoServerKind(await client.db('admin').command({ buildInfo: 1 }));
    }
    if (config.CREST_CACHE === 'redis' || config.CREST_INVENTORY === 'kafka') {
      const redis = redisClient(config.REDIS_URL, (e) => onError('redis', e));
      const subscriber = redisClient(config.REDIS_URL, (e) => onError('redis', e));
      await redis.connect();
      await subscriber.connect();
      closers.push(() => redis.quit(), () => subscriber.quit());
      connections.redis = redis;
      connections.redisSubscriber = subscriber;
    }
    if (config.CREST_RELAY === 'kafka' || config.CREST_INVENTORY === 'kafka') {
      connections.kafka = new Kafka({ clientId: 'crest', brokers: config.KAFKA_BROKERS.split(','), logLevel: logLevel.WARN });
    }
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
  return {
    ...connections,
    close: async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
    },
  };
};
