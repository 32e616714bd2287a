// kafkajs 2.2.4 consumer-group client for test_groups_clients.py.
//
//   node kafkajs_group.js roundtrip <brokers> <topic> <group> <count>
//       produces <count> records (acks=-1), consumes them in group <group>
//       (JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetCommit v5,
//       OffsetFetch v4, LeaveGroup v3), commits, then describes and lists
//       groups after the consumer left. Prints one JSON line.
//   node kafkajs_group.js resume <brokers> <topic> <group> <count>
//       consumes in <group> until <count> records were read, printing the
//       first offset seen per partition (to check committed offsets).
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function client(brokers) {
  return new Kafka({
    clientId: 'kanal-it-kafkajs-group',
    brokers: brokers.split(','),
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

async function consume(kafka, topic, group, count) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 500,
                                    rebalanceTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const first = {};
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out after ' + seen.size + ' records')), 60000);
    consumer.run({
      autoCommitInterval: 100,
      eachMessage: async ({ partition, message }) => {
        if (!(partition in first)) first[partition] = Number(message.offset);
        seen.add(partition + ':' + message.offset);
        if (seen.size >= count) { clearTimeout(timer); resolve(); }
      },
    }).catch(reject);
  });
  await consumer.commitOffsets([]).catch(() => {});
  await consumer.disconnect(); // commits what was consumed, then LeaveGroup
  return { consumed: seen.size, first };
}

async function main() {
  const [mode, brokers, topic, group, countS] = process.argv.slice(2);
  const count = Number(countS);
  const kafka = client(brokers);
  if (mode === 'roundtrip') {
    const producer = kafka.producer();
    await producer.connect();
    const msgs = [];
    for (let i = 0; i < count; i++) msgs.push({ key: 'k' + i, value: 'v' + i });
    await producer.send({ topic, acks: -1, messages: msgs });
    await producer.disconnect();
    const r = await consume(kafka, topic, group, count);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const described = await admin.describeGroups([group]);
    const listed = await admin.listGroups();
    await admin.disconnect();
    r.committed = offsets[0].partitions.map((p) => [p.partition, Number(p.offset)]);
    r.state = described.groups[0].state;
    r.listed = listed.groups.map((g) => g.groupId);
    console.log(JSON.stringify(r));
  } else if (mode === 'resume') {
    console.log(JSON.stringify(await consume(kafka, topic, group, count)));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
