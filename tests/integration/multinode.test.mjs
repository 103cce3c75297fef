// multinode.test.mjs -- 3 chat-ws nodes and 2 chat-fcgi servers, each in a
// folder of its own (no shared file, as on separate hosts), on one PostgreSQL
// over TCP, behind one nginx (deploy/multinode/run-local.sh): clients on
// different nodes share a room, polling sessions reach their node through
// nginx, a REST POST on any server reaches all, a node killed with -9 mid-send
// loses nothing acknowledged and its clients recover on the others, and so
// does a PostgreSQL restart mid-send. Runs in tests/run.sh's integration-pg
// pass (CHAT_TEST_DB_URL); skipped without PostgreSQL.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, afterEach, before, describe, test } from 'node:test';
import { api, closeAll, closeLive, connect, join, roomMessages, sleep, until, withTimeout } from './lib/client.mjs';
import { killNode, pgRestart, pgRestartable, startCluster } from './lib/cluster.mjs';
import { PG_URL } from './lib/stack.mjs';

const T = { timeout: 120000 };
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;
const strictlyIncreasing = (ids) => ids.every((id, i) => i === 0 || id > ids[i - 1]);
const received = (s, room) =>
  s.rec
    .of('chat message')
    .filter(([m]) => m.room === room)
    .map(([m]) => m.id);
/* The node a session is on: the first character of its Engine.IO sid. */
const nodeOf = (s) => s.io.engine?.id?.[0];

async function newRoom(url) {
  const res = await api(url, '/api/rooms', { method: 'POST', json: { name: uniq('room') } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/* Sends n messages from each client with client_ids, retrying a message
 * (same client_id) while its ack is an error or does not come, as a careful
 * client does. Calls during() once half of them are acked. Resolves to the
 * Map id -> {user, client_id} of the acks. */
async function sendAll(clients, names, room, n, during) {
  const acked = new Map();
  let done = 0;
  let fired = null;
  const send = async (s, name) => {
    for (let i = 0; i < n; i++) {
      const client_id = `${name}-${i}`;
      for (let attempt = 0; ; attempt++) {
        assert.ok(attempt < 200, `${client_id} never acknowledged`);
        let res;
        try {
          res = await withTimeout(s.emitWithAck('chat message', { room, text: `${name} #${i}`, client_id }), 3000, client_id);
        } catch {
          res = null;
        }
        if (typeof res?.id === 'number') {
          const prev = acked.get(res.id);
          assert.ok(!prev || prev.client_id === client_id, `id ${res.id} acked for two messages`);
          acked.set(res.id, { user: name, client_id });
          break;
        }
        await sleep(100); // an error ack ({error}) or no ack: the same message again
      }
      done++;
      if (!fired && done >= (n * clients.length) / 2) fired = during();
      await sleep(10);
    }
  };
  await Promise.all(clients.map((s, i) => send(s, names[i])));
  await fired;
  return acked;
}

/* Every acked message is in the database exactly once, nothing else, and
 * every client received the whole log of the room in order. */
async function checkDelivery(url, roomId, room, acked, clients) {
  // a server that just lost its database answers 503 until it is back
  const rows = await until(() => roomMessages(url, roomId).catch(() => null), 20000, 'the room\'s log');
  const ids = rows.map((m) => m.id);
  assert.ok(strictlyIncreasing(ids), 'the log is ordered');
  const perClientId = new Map();
  for (const m of rows) perClientId.set(`${m.user}/${m.text}`, (perClientId.get(`${m.user}/${m.text}`) ?? 0) + 1);
  assert.deepEqual([...perClientId].filter(([, k]) => k > 1), [], 'a message stored twice');
  for (const [id, { user, client_id }] of acked) {
    const row = rows.find((m) => m.id === id);
    assert.ok(row, `acked message ${id} (${client_id}) is not stored`);
    assert.equal(row.user, user);
  }
  assert.equal(rows.length, acked.size, 'the log holds exactly the acknowledged messages');
  for (const s of clients) {
    await until(() => received(s, room).length >= ids.length, 20000, `${s.auth.name} receiving all ${ids.length}`).catch(() => {});
    const got = received(s, room);
    assert.ok(strictlyIncreasing(got), `${s.auth.name}: duplicates or reordering`);
    assert.deepEqual(
      ids.filter((id) => !got.includes(id)),
      [],
      `${s.auth.name} missed messages`,
    );
  }
  return ids;
}

describe('multinode', { skip: PG_URL ? false : 'needs PostgreSQL (tests/run.sh integration-pg)' }, () => {
  let c;
  before(async () => {
    c = await startCluster({ nodes: 3, fcgi: 2 });
  });
  afterEach(async () => {
    await closeLive();
  });
  after(async () => {
    await closeLive();
    await c?.stop();
  });

  test('every node and its host show in /api/health', T, async () => {
    const res = await api(c.url, '/api/health', { token: c.adminToken });
    assert.equal(res.status, 200);
    for (const n of c.nodes) {
      const p = res.body.ws.find((w) => w.listen === `127.0.0.1:${n.port}`);
      assert.ok(p?.alive, `node ${n.id} in ${JSON.stringify(res.body.ws)}`);
      assert.equal(p.node, n.id);
      assert.equal(p.host, os.hostname());
    }
  });

  test('clients on different nodes and polling sessions through nginx share one room; REST posts reach all', T, async () => {
    const { id: roomId, name: room } = await newRoom(c.url);
    const clients = [];
    // one WebSocket client straight on each node
    for (const n of c.nodes) {
      const s = await connect(`http://127.0.0.1:${n.port}`, { name: uniq(`on-${n.id}`) });
      assert.equal(nodeOf(s), n.id, 'the sid names its node');
      clients.push(s);
    }
    // polling sessions through nginx: every request of a session must reach
    // the node holding it (routed by the sid's first character, no stickiness)
    const pollers = [];
    for (let i = 0; i < 6; i++) pollers.push(await connect(c.url, { name: uniq('poll'), transports: ['polling'] }));
    const pollNodes = new Set(pollers.map(nodeOf));
    assert.ok(pollNodes.size >= 2, `polling sessions on several nodes: ${[...pollNodes]}`);
    const all = [...clients, ...pollers];
    for (const s of all) await join(s, room);
    for (const s of all) {
      const res = await s.emitWithAck('chat message', { room, text: `from ${s.auth.name}` });
      assert.equal(typeof res?.id, 'number', JSON.stringify(res));
    }
    // REST posts, balanced by nginx over both chat-fcgi servers
    const poster = uniq('rest');
    for (let i = 0; i < 4; i++) {
      const r = await api(c.url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: { user: poster, text: `rest ${i}` } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const rows = await roomMessages(c.url, roomId);
    assert.equal(rows.length, all.length + 4);
    for (const s of all) {
      await until(() => received(s, room).length >= rows.length, 20000, `${s.auth.name} receiving ${rows.length}`);
      assert.deepEqual(received(s, room), rows.map((m) => m.id), `${s.auth.name}: every message once, in log order`);
    }
    const fcgiServed = ['fcgi-0', 'fcgi-1'].map((d) => c.logs().includes(`=== ${d}/`));
    assert.ok(fcgiServed.every(Boolean), 'both chat-fcgi servers ran');
    await closeAll(all);
  });

  test('typing crosses nodes (NOTIFY on the ephemeral channel) and is never stored', T, async () => {
    const { name: room } = await newRoom(c.url);
    const [n0, n1] = c.nodes;
    const x = await connect(`http://127.0.0.1:${n0.port}`, { name: uniq('x') });
    const y = await connect(`http://127.0.0.1:${n1.port}`, { name: uniq('y') });
    const out = await connect(`http://127.0.0.1:${n1.port}`, { name: uniq('out') });
    await join(x, room);
    await join(y, room);
    const before = (await api(c.url, '/api/health', { token: c.adminToken })).body.database;
    // ephemeral: dropped, never queued, for a node that cannot take it now
    await until(() => {
      x.emit('typing', { room });
      return y.rec.count('typing') > 0;
    }, 10000, `typing from node ${n0.id} at node ${n1.id}`);
    assert.deepEqual(y.rec.of('typing')[0][0], { room, user: x.auth.name });
    y.emit('typing', { room });
    await x.rec.next('typing', (t) => t.user === y.auth.name);
    assert.equal(out.rec.count('typing'), 0, 'a socket outside the room got typing');
    const after = (await api(c.url, '/api/health', { token: c.adminToken })).body.database;
    assert.equal(after.messages, before.messages, 'typing was stored');
    await closeAll(x, y, out);
  });

  test('kill -9 of a node mid-send: nothing acknowledged is lost, its clients recover on the others', T, async (t) => {
    const { id: roomId, name: room } = await newRoom(c.url);
    const names = [];
    const clients = [];
    // through nginx until some node holds two clients and another one too
    for (let i = 0; i < 12 && (clients.length < 4 || new Set(clients.map(nodeOf)).size < 2); i++) {
      const name = uniq('k');
      const s = await connect(c.url, { name, ...RECONNECT });
      await join(s, room);
      names.push(name);
      clients.push(s);
    }
    const count = new Map();
    for (const s of clients) count.set(nodeOf(s), (count.get(nodeOf(s)) ?? 0) + 1);
    const victim = [...count].sort((a, b) => b[1] - a[1])[0][0];
    const onVictim = clients.filter((s) => nodeOf(s) === victim);
    assert.ok(onVictim.length >= 1 && onVictim.length < clients.length, `clients per node ${JSON.stringify([...count])}`);
    // one that will not come back: its presence row dies with its node
    const victimPort = c.nodes.find((n) => n.id === victim).port;
    const ghost = await connect(`http://127.0.0.1:${victimPort}`, { name: uniq('ghost') });
    await join(ghost, room);
    for (const s of clients) {
      s.recoveredOnce = false;
      s.on('connect', () => {
        if (s.recovered) s.recoveredOnce = true;
      });
    }
    const acked = await sendAll(clients, names, room, 20, async () => {
      const pid = killNode(c, victim);
      t.diagnostic(`killed node ${victim} (pid ${pid}) with ${onVictim.length} of ${clients.length} clients`);
    });
    await checkDelivery(c.url, roomId, room, acked, clients);
    for (const s of onVictim) {
      await until(() => s.connected && nodeOf(s) !== victim, 10000, `${s.auth.name} back on another node`);
      assert.ok(s.recoveredOnce, `${s.auth.name} recovered (recovered: true) on node ${nodeOf(s)}`);
    }
    // the live nodes' heartbeats reap the dead node's row and its presence:
    // health no longer lists it, and the room counts the live users only
    await until(
      async () => {
        const h = await api(c.url, '/api/health', { token: c.adminToken });
        return h.status === 200 && !h.body.ws.some((p) => p.node === victim);
      },
      60000,
      `node ${victim} reaped`,
      500,
    );
    const roomNow = await api(c.url, `/api/rooms/${roomId}`);
    assert.equal(roomNow.body.online, clients.length, 'the ghost is no longer online');
    await closeAll(clients, ghost);
  });

  test('a PostgreSQL restart mid-send loses nothing acknowledged', { ...T, skip: pgRestartable() ? false : 'no restartable test server' }, async (t) => {
    const { id: roomId, name: room } = await newRoom(c.url);
    const names = [];
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const name = uniq('r');
      const s = await connect(c.url, { name, ...RECONNECT });
      await join(s, room);
      names.push(name);
      clients.push(s);
    }
    const acked = await sendAll(clients, names, room, 20, async () => {
      await pgRestart();
      t.diagnostic('PostgreSQL restarted');
    });
    await checkDelivery(c.url, roomId, room, acked, clients);
    await closeAll(clients);
  });
});
