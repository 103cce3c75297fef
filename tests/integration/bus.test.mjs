// bus.test.mjs -- local first, then the bus (issue 13.1/13.2): a chat-ws
// process delivers its own commits from memory and tells the other processes
// through the bus (bus/bus_local.c: unix datagrams in <db>-peers/, the
// <db>-notify file only as the backup of a lost datagram); a process alone
// does no bus I/O for its clients' messages; a REST POST reaches the sockets
// through the bus, not through the store's poll.
//
// Every stack here runs chat-ws with --bus-poll 600000: the fallback poll of
// the store comes after 10 minutes, so whatever arrives within a test's
// waits came through the bus.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import { ack, api, closeAll, closeLive, connect, join, until } from './lib/client.mjs';
import { newRoom, uniq } from './lib/bystanders.mjs';
import { onPg, startStack, wsPids } from './lib/stack.mjs';

const T = { timeout: 60000 };
const NO_POLL = ['--bus-poll', '600000'];

/* The notify file's size and mtime: a write moves both. */
function notifyState(stack) {
  const s = statSync(`${stack.dbPath}-notify`);
  return { size: s.size, mtimeMs: s.mtimeMs };
}

/* chat_bus_lag_seconds_count of one chat-ws: messages it got from another
 * process (through a datagram or a read of the log), never its own. */
async function busDeliveries(stack, port) {
  const res = await fetch(`${stack.url}/metrics/ws/${port}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  const m = (await res.text()).match(/^chat_bus_lag_seconds_count(?:\{[^}]*\})? (\d+)/m);
  assert.ok(m, 'no chat_bus_lag_seconds_count');
  return Number(m[1]);
}

// The local backend's datagrams and notify file: on PostgreSQL the bus is
// LISTEN/NOTIFY (tests/unit/test_bus_pg.c, multinode.test.mjs).
const LOCAL = { skip: onPg('the local backend (datagrams in <db>-peers/, <db>-notify)') };

describe('the bus: one chat-ws process', LOCAL, () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsArgs: NO_POLL });
  });
  afterEach(closeLive);
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('its clients chat: delivered from memory, in order, with no bus I/O (no datagram, no notify write)', T, async () => {
    const { name: room } = await newRoom(stack.url);
    const a = await connect(stack.url, { name: uniq('ann') });
    const b = await connect(stack.url, { name: uniq('bob') });
    await join(a, room);
    await join(b, room);
    const [pid] = wsPids(stack);
    // Alone: its own socket is the only one a datagram could go to, and it
    // sends none to itself.
    assert.deepEqual(readdirSync(`${stack.dbPath}-peers`), [String(pid)]);
    const notify = notifyState(stack);
    const fromBus = await busDeliveries(stack, stack.wsPorts[0]);
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push((await ack(a, 'chat message', { room, text: `m${i}` })).id);
    await until(() => b.rec.count('chat message') >= 20, 10000, 'b has the 20 messages');
    assert.deepEqual(b.rec.of('chat message').map(([m]) => m.id), sent, 'b got them once, in order');
    assert.deepEqual(notifyState(stack), notify, 'the notify file was written');
    assert.equal(await busDeliveries(stack, stack.wsPorts[0]), fromBus, 'its own messages came back through the bus or the log');
    await closeAll(a, b);
  });

  test('a REST POST reaches the sockets through the bus, with the row: no poll, no notify write', T, async () => {
    const r = await newRoom(stack.url);
    const b = await connect(stack.url, { name: uniq('bob') });
    await join(b, r.name);
    const notify = notifyState(stack);
    const fromBus = await busDeliveries(stack, stack.wsPorts[0]);
    const posted = await api(stack.url, `/api/rooms/${r.id}/messages`, { method: 'POST', json: { user: 'rest', text: 'via REST' } });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const [m, offset] = await b.rec.next('chat message', (x) => x.id === posted.body.id, 10000);
    assert.equal(m.text, 'via REST');
    assert.equal(m.user, 'rest');
    assert.equal(offset, String(posted.body.id));
    assert.deepEqual(notifyState(stack), notify, 'the notify file was written');
    assert.equal(await busDeliveries(stack, stack.wsPorts[0]), fromBus + 1);
    await closeAll(b);
  });
});

describe('the bus: two chat-ws processes', LOCAL, () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2, wsArgs: NO_POLL });
  });
  afterEach(closeLive);
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('messages of both processes reach every socket in one order, through datagrams', T, async () => {
    const { name: room } = await newRoom(stack.url);
    const a = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: uniq('ann') });
    const b = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: uniq('bob') });
    await join(a, room);
    await join(b, room);
    const notify = notifyState(stack);
    const sends = [];
    for (let i = 0; i < 30; i++) sends.push(ack(i % 2 ? a : b, 'chat message', { room, text: `x${i}` }));
    const ids = (await Promise.all(sends)).map((x) => x.id).sort((p, q) => p - q);
    for (const s of [a, b]) {
      await until(() => s.rec.count('chat message') >= 30, 10000, 'all 30 at each socket');
      assert.deepEqual(s.rec.of('chat message').map(([m]) => m.id), ids, 'log order, each once');
    }
    // Not a timing claim: with nobody slow, no datagram was lost, so the
    // backup path was not taken.
    assert.deepEqual(notifyState(stack), notify, 'the notify file was written');
    await closeAll(a, b);
  });
});
