// multinode.mjs -- cross-node delivery latency and durable acked messages/s:
// 3 chat-ws nodes + 2 chat-fcgi on one PostgreSQL (deploy/multinode/run-local.sh)
// next to one chat-ws on SQLite (deploy/run.sh), and 3 Socket.IO 4.8 nodes
// with @socket.io/postgres-adapter on the same PostgreSQL (peer-socketio.mjs,
// PEER_PG_URL; it stores nothing, so its "acked" is not durable), same
// machine, same run.
//
//   bash tests/lib/pg.sh sh -c 'CHAT_TEST_DB_URL=$CHAT_TEST_PG_ADMIN_URL node tests/bench/multinode.mjs'
//   (or with CHAT_TEST_DB_URL set to a PostgreSQL URL that may CREATE DATABASE)
//
// Prints a Markdown table. Latency: a sender on one node emits at RATE msg/s,
// a receiver on another node (SQLite: on the same process) records the time
// from the emit to the delivery, on this process's clock. Throughput: SENDERS
// clients spread over the nodes each send with at most WINDOW acks pending
// for SECONDS; an ack comes after the commit.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../integration/lib/cluster.mjs';
import { api, closeAll, connect, join } from '../integration/lib/client.mjs';
import { startStack } from '../integration/lib/stack.mjs';

const RATE = Number(process.env.RATE ?? 50);
const COUNT = Number(process.env.COUNT ?? 300);
const SENDERS = Number(process.env.SENDERS ?? 30);
const WINDOW = Number(process.env.WINDOW ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 8);
let rooms = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function room(url) {
  if (!url) return `bench-${process.pid}-${++rooms}`; // the peer: rooms need no creating
  const r = await api(url, '/api/rooms', { method: 'POST', json: { name: `bench-${process.pid}-${++rooms}` } });
  if (r.status !== 201) throw new Error(`POST /api/rooms: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.name;
}

async function latency(restUrl, senderUrl, receiverUrl, name) {
  const r = await room(restUrl);
  const tx = await connect(senderUrl, { name: `tx-${name}`, claim: !!restUrl });
  const rx = await connect(receiverUrl, { name: `rx-${name}`, claim: !!restUrl });
  await join(tx, r);
  await join(rx, r);
  const sentAt = new Map();
  const lat = [];
  rx.on('chat message', (m) => {
    const t = sentAt.get(m.text);
    if (t !== undefined && m.user === `tx-${name}`) lat.push(performance.now() - t);
  });
  for (let i = 0; i < COUNT; i++) {
    const text = `m${i}`;
    sentAt.set(text, performance.now());
    tx.emit('chat message', { room: r, text });
    await sleep(1000 / RATE);
  }
  const deadline = Date.now() + 10000;
  while (lat.length < COUNT && Date.now() < deadline) await sleep(50);
  await closeAll(tx, rx);
  return { got: lat.length, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function throughput(restUrl, urls, name) {
  const r = await room(restUrl);
  const clients = [];
  for (let i = 0; i < SENDERS; i++) {
    const s = await connect(urls[i % urls.length], { name: `w${i}-${name}`, ackTimeout: 10000, claim: !!restUrl });
    await join(s, r);
    clients.push(s);
  }
  let acked = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (s, i) => {
      let n = 0;
      const lane = async () => {
        while (performance.now() < end) {
          const res = await s.emitWithAck('chat message', { room: r, text: `t${i}-${n++}` }).catch(() => null);
          if (typeof res?.id === 'number') acked++;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    }),
  );
  await closeAll(clients);
  return acked / SECONDS;
}

const rows = [];
// an SQLite file of its own: CHAT_TEST_DB_URL would put this stack on PostgreSQL
const sqliteDb = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-sqlite-')), 'chat.db');
const sqlite = await startStack({ wsProcs: 1, wsArgs: '--rate 0', dbPath: sqliteDb });
try {
  const l = await latency(sqlite.url, sqlite.url, sqlite.url, 'sqlite');
  rows.push(['1 node, SQLite (same process)', l, await throughput(sqlite.url, [sqlite.url], 'sqlite')]);
} finally {
  await sqlite.stop();
}
const c = await startCluster({ nodes: 3, fcgi: 2, wsArgs: '--rate 0' });
try {
  const direct = c.nodes.map((n) => `http://127.0.0.1:${n.port}`);
  const l = await latency(c.url, direct[0], direct[1], 'pg');
  rows.push(['3 nodes, PostgreSQL (sender and receiver on different nodes)', l, await throughput(c.url, direct, 'pg')]);
} finally {
  await c.stop();
}
/* Socket.IO nodes with the Postgres adapter on the cluster's database server. */
async function startPeers(n, pgUrl) {
  const script = fileURLToPath(new URL('./peer-socketio.mjs', import.meta.url));
  const procs = [];
  for (let i = 0; i < n; i++) {
    const port = 9400 + i;
    const p = spawn(process.execPath, [script, String(port)], {
      env: { ...process.env, PEER_PG_URL: pgUrl, PEER_PRESENCE: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve, reject) => {
      p.stdout.on('data', (d) => String(d).includes('listening') && resolve());
      p.on('exit', (code) => reject(new Error(`peer ${i} exited ${code}`)));
    });
    procs.push({ p, url: `http://127.0.0.1:${port}` });
  }
  return { urls: procs.map((x) => x.url), stop: () => procs.forEach((x) => x.p.kill('SIGTERM')) };
}
if (process.env.CHAT_TEST_PG_URL) {
  const peers = await startPeers(3, process.env.CHAT_TEST_PG_URL);
  try {
    await sleep(500);
    const l = await latency(null, peers.urls[0], peers.urls[1], 'sio');
    rows.push(['3 Socket.IO nodes, @socket.io/postgres-adapter (in memory: acked is not durable)', l, await throughput(null, peers.urls, 'sio')]);
  } finally {
    peers.stop();
  }
}
console.log(`| setup | delivered | latency p50 | p99 | durable acked msg/s (${SENDERS} clients × ${WINDOW} in flight) |`);
console.log('| --- | --- | --- | --- | --- |');
for (const [what, l, tput] of rows)
  console.log(`| ${what} | ${l.got}/${COUNT} at ${RATE}/s | ${l.p50?.toFixed(1)} ms | ${l.p99?.toFixed(1)} ms | ${Math.round(tput)} |`);
