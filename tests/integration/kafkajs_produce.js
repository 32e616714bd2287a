// kafkajs 2.2.4 client for Kanal's integration tests (run by test_kafkajs.py).
//
//   node kafkajs_produce.js produce <brokers> <topic> <partitions> <count>
//       creates the topic with admin.createTopics, produces <count> keyed
//       records with a header in batches (acks=-1), prints one JSON line:
//       {"produced": N, "offsets": {"<partition>": [base offsets...]}}
//   node kafkajs_produce.js admin <brokers> <topic>
//       createTopics (numPartitions/replicationFactor -1 = broker default),
//       listTopics, fetchTopicMetadata, deleteTopics, listTopics; prints a
//       JSON line with what it saw.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function client(brokers) {
  return new Kafka({
    clientId: 'kanal-it-kafkajs',
    brokers: brokers.split(','),
    logLevel: logLevel.WARN,
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

function record(i) {
  return {
    key: 'js-key-' + i,
    value: 'js-value-' + i + '-' + 'q'.repeat(i % 41),
    headers: { seq: String(i) },
  };
}

async function produce(brokers, topic, partitions, count) {
  const kafka = client(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 20000,
  });
  await admin.disconnect();
  if (!created) throw new Error('createTopics returned false (topic already existed?)');

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const batch = 500;
  const offsets = {};
  for (let start = 0; start < count; start += batch) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const r = record(i);
      r.partition = i % partitions;
      messages.push(r);
    }
    const res = await producer.send({ topic, acks: -1, timeout: 30000, messages });
    for (const r of res) {
      if (r.errorCode !== 0) throw new Error('produce error ' + JSON.stringify(r));
      (offsets[r.partition] = offsets[r.partition] || []).push(Number(r.baseOffset));
    }
  }
  await producer.disconnect();
  console.log(JSON.stringify({ produced: count, offsets }));
}

async function adminRoundTrip(brokers, topic) {
  const kafka = client(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const out = {};
  out.created = await admin.createTopics({
    topics: [{ topic }],  // broker defaults for partitions and replication
    waitForLeaders: true,
    timeout: 20000,
  });
  out.listedAfterCreate = (await admin.listTopics()).includes(topic);
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  out.partitions = md.topics[0].partitions.map((p) => ({ partition: p.partitionId, leader: p.leader }));
  out.createdAgain = await admin.createTopics({ topics: [{ topic }], timeout: 20000 });
  await admin.deleteTopics({ topics: [topic], timeout: 20000 });
  const deadline = Date.now() + 30000;
  for (;;) {
    const topics = await admin.listTopics();
    out.listedAfterDelete = topics.includes(topic);
    if (!out.listedAfterDelete || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await admin.disconnect();
  console.log(JSON.stringify(out));
}

async function main() {
  const [mode, brokers, topic, a, b] = process.argv.slice(2);
  if (mode === 'produce') {
    await produce(brokers, topic, Number(a), Number(b));
  } else if (mode === 'admin') {
    await adminRoundTrip(brokers, topic);
  } else {
    throw new Error('usage: kafkajs_produce.js produce|admin <brokers> <topic> ...');
  }
}

main().catch((e) => {
  console.error('kafkajs_produce.js failed:', e && e.stack ? e.stack : e);
  process.exit(1);
});
