// kafkajs 2.2.4 group member driven by test_groups_clients.py (one process
// per member, so the test can kill -9 it).
//
//   node kafkajs_group_worker.js '<json config>'
//
// config: bootstrap, group, topic, and optionally
//   commit_every  commit synchronously (commitOffsets) after every n records
//   limit         report and commit at most this many records, ignore the rest
//                 (the consumer keeps running, so it stays in the group)
//   delay_ms      sleep this long per record (a slow consumer)
//   session, rebalance, heartbeat  timeouts in ms (6000, 10000, 500)
//
// Writes one JSON object per line on stdout:
//   {"ev":"assign","parts":[...]}     after every JoinGroup+SyncGroup (GROUP_JOIN)
//   {"ev":"msg","p":P,"o":O}          a record delivered
//   {"ev":"committing","p":P,"o":N}   about to commit N (next offset) for P
//   {"ev":"committed","p":P,"o":N}    the commit was acknowledged
//   {"ev":"commit_failed","p":P,"err":...}
//   {"ev":"idle"}                     the limit was reached
//   {"ev":"closed"}                   after "close" on stdin: disconnect() = LeaveGroup
// kafkajs has no revocation callback for eager rebalances: the next "assign"
// replaces the partition set. Its heartbeats ride on the fetch loop, so
// maxWaitTimeInMs is lowered well below the session timeout.
'use strict';

const readline = require('readline');
const { Kafka, logLevel } = require('kafkajs');

const conf = JSON.parse(process.argv[2]);

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const kafka = new Kafka({
    clientId: 'kanal-it-kafkajs-worker',
    brokers: conf.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const consumer = kafka.consumer({
    groupId: conf.group,
    sessionTimeout: conf.session || 6000,
    rebalanceTimeout: conf.rebalance || 10000,
    heartbeatInterval: conf.heartbeat || 500,
    maxWaitTimeInMs: 250,
    metadataMaxAge: 2000,
    // kafkajs keeps the coordinator's broker object: after that broker dies it
    // retries there until its retries run out, then the consumer crashes and
    // restarts (FindCoordinator again). Few, short retries keep that to seconds.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const parts = (e.payload.memberAssignment[conf.topic] || []).slice().sort((a, b) => a - b);
    out({ ev: 'assign', parts, gen: e.payload.groupProtocol });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    out({ ev: 'error', err: String(e.payload.error && e.payload.error.message) });
  });

  let closing = false;
  readline.createInterface({ input: process.stdin }).on('line', async (line) => {
    if (line.trim() !== 'close' || closing) return;
    closing = true;
    try { await consumer.disconnect(); } catch (e) { out({ ev: 'error', err: String(e) }); }
    out({ ev: 'closed' });
    process.exit(0);
  });

  await consumer.connect();
  await consumer.subscribe({ topic: conf.topic, fromBeginning: true });
  let n = 0;
  const limit = conf.limit || 0;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (closing) return;
      if (limit && n >= limit) return;
      const o = Number(message.offset);
      out({ ev: 'msg', p: partition, o });
      n++;
      if (conf.delay_ms) await new Promise((r) => setTimeout(r, conf.delay_ms));
      if (conf.commit_every && n % conf.commit_every === 0) {
        out({ ev: 'committing', p: partition, o: o + 1 });
        try {
          await consumer.commitOffsets([{ topic: conf.topic, partition, offset: String(o + 1) }]);
          out({ ev: 'committed', p: partition, o: o + 1 });
        } catch (e) {
          out({ ev: 'commit_failed', p: partition, err: String(e.type || e.message) });
        }
      }
      if (limit && n === limit) out({ ev: 'idle' });
    },
  });
}

main().catch((e) => { out({ ev: 'error', err: String(e && e.stack) }); process.exit(1); });
