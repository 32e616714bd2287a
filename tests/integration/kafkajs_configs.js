// kafkajs 2.2.4 configs for test_configs.py:
//   node kafkajs_configs.js <brokers> <topic> <key> <value> <partitions>
// admin.alterConfigs(TOPIC, key=value), describeConfigs(TOPIC, key),
// createPartitions(count) unless partitions is 0, fetchTopicMetadata; prints
// one JSON line {"ok": true, "value": "<described>", "partitions": N} or
// {"ok": false, "error": "<type>", "message": "..."}.
'use strict';

const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

async function main() {
  const [brokers, topic, key, value, partitions] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'kanal-it-configs', brokers: brokers.split(','),
    logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  await admin.connect();
  let out;
  try {
    await admin.alterConfigs({ validateOnly: false, resources: [
      { type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: key, value }] }] });
    const d = await admin.describeConfigs({ includeSynonyms: false, resources: [
      { type: ConfigResourceTypes.TOPIC, name: topic, configNames: [key] }] });
    const entry = d.resources[0].configEntries.find((e) => e.configName === key);
    if (Number(partitions) > 0) await admin.createPartitions({ topicPartitions: [{ topic, count: Number(partitions) }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    out = { ok: true, value: entry ? entry.configValue : null, partitions: md.topics[0].partitions.length };
  } catch (e) {
    const root = e.cause || e;
    out = { ok: false, error: root.type || root.name, message: String(root.message || e.message) };
  }
  await admin.disconnect();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.log(JSON.stringify({ ok: false, error: 'crash', message: String(e) })); });
