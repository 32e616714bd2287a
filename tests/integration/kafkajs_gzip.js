// kafkajs 2.2.4 gzip producer for test_compression.py:
//   node kafkajs_gzip.js <brokers> <topic> <count>
// sends <count> records "js-gzip-<i>" to partition 0 in gzip batches and
// prints {"produced": N}.
'use strict';

const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

async function main() {
  const [brokers, topic, countS] = process.argv.slice(2);
  const count = parseInt(countS, 10);
  const kafka = new Kafka({ clientId: 'kanal-it-gzip', brokers: brokers.split(','), logLevel: logLevel.WARN });
  const producer = kafka.producer();
  await producer.connect();
  let produced = 0;
  for (let i = 0; i < count; i += 50) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + 50); j++) messages.push({ key: 'k' + j, value: 'js-gzip-' + j, partition: 0 });
    await producer.send({ topic, compression: CompressionTypes.GZIP, acks: -1, messages });
    produced += messages.length;
  }
  await producer.disconnect();
  console.log(JSON.stringify({ produced }));
}

main().catch((e) => { console.error(e); process.exit(1); });
