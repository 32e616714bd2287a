// kafkajs 2.2.4 DeleteRecords for test_retention.py:
//   node kafkajs_delete_records.js <brokers> <topic> <partition> <offset>
// admin.deleteTopicRecords, then fetchTopicOffsets; prints one JSON line
// {"ok": true, "offsets": [...]} or {"ok": false, "error": "<type>"}.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [brokers, topic, partition, offset] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'kanal-it-delrec', brokers: brokers.split(','),
    logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  let out;
  try {
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: Number(partition), offset }] });
    out = { ok: true, offsets: await admin.fetchTopicOffsets(topic) };
  } catch (e) {
    // The retrier wraps KafkaJSDeleteTopicRecordsError, whose partitions
    // carry the broker's error (type OFFSET_OUT_OF_RANGE etc).
    const root = e.cause || e;
    const parts = (root.partitions || []).map((p) => (p.error && (p.error.type || p.error.name)) || '?');
    out = { ok: false, error: parts.join(',') || root.type || root.name, message: String(e.message) };
  }
  await admin.disconnect();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.log(JSON.stringify({ ok: false, error: 'crash', message: String(e) })); });
