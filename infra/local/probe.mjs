/* global process, console, setTimeout */
// Readiness probes for infra/local/services.sh, using the client libraries the project already depends on.
//
//   node infra/local/probe.mjs kafka 127.0.0.1:9092   -> a metadata request (describeCluster + listTopics) via kafkajs
//   node infra/local/probe.mjs mongo 127.0.0.1:27017  -> { ping: 1 } on the admin database via the mongodb driver
//
// Exit 0 and one line of facts when the server answers, exit 1 and the error otherwise. Each probe gives up after a few
// seconds: services.sh calls it in a loop until its own deadline.
const [kind, address] = process.argv.slice(2);
const HARD_LIMIT_MS = 8000;

function fail(err) {
  console.error(`${kind} probe failed: ${err && err.message ? err.message : String(err)}`);
  process.exit(1);
}

async function probeKafka() {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({
    clientId: 'crest-local-probe',
    brokers: [address],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 4000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const topics = await admin.listTopics();
    const brokers = cluster.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(',');
    console.log(`kafka ok: clusterId=${cluster.clusterId} controller=${cluster.controller} brokers=${brokers} topics=${topics.length}`);
  } finally {
    await admin.disconnect();
  }
}

async function probeMongo() {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(`mongodb://${address}/`, {
    directConnection: true,
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 2000,
  });
  try {
    await client.connect();
    const admin = client.db('admin');
    const ping = await admin.command({ ping: 1 });
    const info = await admin.command({ buildInfo: 1 });
    const ferret = info.ferretdbVersion ? ` ferretdb=${info.ferretdbVersion}` : '';
    console.log(`mongo ok: ping.ok=${ping.ok} version=${info.version}${ferret}`);
  } finally {
    await client.close();
  }
}

const probes = { kafka: probeKafka, mongo: probeMongo };
if (!probes[kind] || !address) {
  console.error('usage: node infra/local/probe.mjs kafka|mongo HOST:PORT');
  process.exit(2);
}
setTimeout(() => fail(new Error(`no answer within ${HARD_LIMIT_MS} ms`)), HARD_LIMIT_MS).unref();
probes[kind]().then(() => process.exit(0), fail);
