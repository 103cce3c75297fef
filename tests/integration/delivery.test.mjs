// delivery.test.mjs -- the delivery promise under repeated crashes (issue 20):
// a socket.io-client with default settings, through nginx as deploy/run.sh
// starts it, is recovered after each SIGKILL of the chat-ws serving it, the
// second and third time as well, with nothing missing and nothing twice; and
// when recovery is refused, `join` {room, after} pages from the offset the
// client had, so that it still gets everything.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { newRoom, uniq } from './lib/bystanders.mjs';
import { Recorder, api, closeAll, closeLive, credential, join, sleep, until, withTimeout } from './lib/client.mjs';
import { killWs, onPg, startStack, wsPids } from './lib/stack.mjs';

const T = { timeout: 90000 };

/* A socket.io-client with its default settings (polling first, then the
 * WebSocket upgrade; reconnection with its default delays), owning name. */
async function defaultClient(url, name) {
  const token = await credential(url, name);
  const s = io(url, { forceNew: true, auth: { name, token } });
  s.rec = new Recorder(s);
  s.connects = [];
  s.on('connect', () => s.connects.push(s.recovered));
  await withTimeout(new Promise((r) => s.once('connect', r)), 10000, 'connect');
  return s;
}

/* The index of the chat-ws that took sid's latest CONNECT: its log has one
 * more "a user connected" line for sid than seen[] says. */
function servingWs(stack, sid, seen) {
  const n = wsPids(stack).length;
  let found = -1;
  for (let i = 0; i < n; i++) {
    const count = stack.logs(`ws-${i}`).split(`msg="a user connected" sid=${sid} `).length - 1;
    if (count > (seen[i] ?? 0)) found = i;
    seen[i] = count;
  }
  return found;
}

/* A stack of its own for a describe block: set(stack) once it is up; stopped
 * after the block, with every socket connect() made. */
function stackFixture(opts, set) {
  let stack;
  before(async () => set((stack = await startStack(opts))));
  after(async () => {
    await closeLive();
    await stack?.stop();
  });
}

const post = (stack, roomId, user, text) =>
  api(stack.url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: { user, text } }).then((r) => {
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  });

const chatIds = (s, room) =>
  s.rec
    .of('chat message')
    .map(([m]) => m)
    .filter((m) => m.room === room)
    .map((m) => m.id);

for (const wsProcs of [1, 2])
describe(`delivery: recovered after every SIGKILL of its chat-ws (${wsProcs} chat-ws)`, () => {
  let stack;
  stackFixture({ wsProcs }, (st) => (stack = st));

  test('three kills in a row of the chat-ws serving a default socket.io-client: recovered each time, nothing missing, nothing twice', T, async (t) => {
    const room = await newRoom(stack.url);
    const poster = uniq('poster');
    const a = await defaultClient(stack.url, uniq('kept'));
    await join(a, room.name);
    const sent = [await post(stack, room.id, poster, 'before')];
    await until(() => chatIds(a, room.name).length === 1, 10000, 'the first message');
    const seen = [];
    const killed = [];
    let at = servingWs(stack, a.id, seen);
    assert.ok(at >= 0, 'the chat-ws serving a');
    for (let round = 1; round <= 3; round++) {
      killed.push(at);
      const down = withTimeout(new Promise((r) => a.once('disconnect', r)), 15000, 'disconnect');
      await killWs(stack, at, 'SIGKILL', { wait: false });
      await down;
      // committed while a is away, through chat-fcgi
      for (let i = 0; i < 3; i++) sent.push(await post(stack, room.id, poster, `round ${round} away ${i}`));
      await until(() => a.connected, 30000, `a reconnected after kill ${round}`);
      assert.equal(a.recovered, true, `recovered after kill ${round} (of ws-${at}); connects: ${JSON.stringify(a.connects)}`);
      await until(() => (at = servingWs(stack, a.id, seen)) >= 0, 5000, 'the chat-ws serving a now');
      // and live delivery goes on
      sent.push(await post(stack, room.id, poster, `round ${round} back`));
      await until(() => chatIds(a, room.name).length >= sent.length, 10000, `round ${round}: every message`);
      // the killed process must be back before the next round kills again
      await until(() => wsPids(stack).every(Boolean), 15000, 'the runner restarted it');
    }
    t.diagnostic(`killed in turn: ws-${killed.join(', ws-')}`);
    await sleep(300);
    assert.deepEqual(chatIds(a, room.name), sent, 'every message once, in log order');
    await closeAll(a);
  });
});

/* The client contract of README "Delivery" for socket.io-client: on a
 * connect that did not recover, join each room with {room, after: the last
 * id it had}, take `missed`, and while `more` page
 * GET /api/rooms/{id}/messages?after= until done; live messages of a room
 * being caught up wait, then those past the catch-up follow. */
function contractClient(s, url, rooms) {
  const last = new Map(); // room -> last id shown
  const catching = new Map(); // room -> live messages held during its catch-up
  s.shown = [];
  const show = (m) => {
    if (m.id <= (last.get(m.room) ?? 0)) return; // had it already
    last.set(m.room, m.id);
    s.shown.push(m);
  };
  s.on('chat message', (m) => (catching.has(m.room) ? catching.get(m.room).push(m) : show(m)));
  s.on('connect', async () => {
    if (s.recovered) return; // the server restored the rooms and replayed what was missed
    for (const room of rooms) {
      catching.set(room, []);
      const after = last.get(room);
      const ack = await s.emitWithAck('join', after === undefined ? room : { room, after });
      ack.missed.forEach(show);
      let more = ack.more;
      while (more) {
        const res = await fetch(`${url}/api/rooms/${ack.room_id}/messages?after=${last.get(room) ?? 0}&limit=100`);
        const { messages } = await res.json();
        messages.forEach(show);
        more = messages.length === 100;
      }
      catching.get(room).forEach(show);
      catching.delete(room);
    }
    s.caughtUp = (s.caughtUp ?? 0) + 1;
  });
}

describe('delivery: when recovery is refused, join {room, after} and paging deliver everything', () => {
  let stack;
  const MAX_REPLAY = 5;
  stackFixture({ wsArgs: ['--max-replay', MAX_REPLAY] }, (st) => (stack = st));

  test('250 messages missed (past --max-replay and missed_max): recovered false, `more`, paged until done, in log order', T, async () => {
    const room = await newRoom(stack.url);
    const poster = uniq('poster');
    const name = uniq('pager');
    const token = await credential(stack.url, name);
    const a = io(stack.url, { forceNew: true, auth: { name, token }, autoConnect: false });
    contractClient(a, stack.url, [room.name]);
    a.connect();
    await until(() => a.caughtUp === 1, 10000, 'the first join');
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await post(stack, room.id, poster, `live ${i}`));
    await until(() => a.shown.length === 3, 10000, 'the live messages');
    a.io.engine.close(); // a dropped transport: socket.io-client reconnects by itself
    await until(() => !a.connected, 5000, 'the disconnect');
    for (let i = 0; i < 250; i++) sent.push(await post(stack, room.id, poster, `away ${i}`));
    await until(() => a.caughtUp === 2, 20000, 'the catch-up after the reconnection');
    assert.equal(a.recovered, false, 'past --max-replay: no recovery');
    sent.push(await post(stack, room.id, poster, 'after'));
    await until(() => a.shown.length >= sent.length, 10000, 'every message');
    await sleep(300);
    assert.deepEqual(
      a.shown.map((m) => m.id),
      sent,
      'every message once, in log order',
    );
    a.close();
  });

  test('join {room, after}: missed starts after it, at most missed_max with more: true; a bad after is refused', T, async () => {
    const room = await newRoom(stack.url);
    const poster = uniq('poster');
    const ids = [];
    for (let i = 0; i < 120; i++) ids.push(await post(stack, room.id, poster, `m ${i}`));
    const s = io(stack.url, { forceNew: true, transports: ['websocket'] });
    await withTimeout(new Promise((r) => s.once('connect', r)), 5000, 'connect');
    const fromStart = await s.emitWithAck('join', { room: room.name, after: 0 });
    assert.deepEqual(
      fromStart.missed.map((m) => m.id),
      ids.slice(0, 100),
    );
    assert.equal(fromStart.more, true);
    const tail = await s.emitWithAck('join', { room: room.name, after: String(ids[109]) });
    assert.deepEqual(
      tail.missed.map((m) => m.id),
      ids.slice(110),
    );
    assert.equal(tail.more, false);
    for (const bad of [-1, 'x', '1e3', 1.5, {}]) {
      const r = await s.emitWithAck('join', { room: room.name, after: bad });
      assert.equal(typeof r.error, 'string', `after ${JSON.stringify(bad)}: ${JSON.stringify(r)}`);
    }
    s.close();
  });
});

/* Sends one unix datagram (python3: node has no SOCK_DGRAM on unix sockets). */
function sendDatagram(path, bytes) {
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.sendto(sys.stdin.buffer.read(),sys.argv[1])';
  execFileSync('/usr/bin/python3', ['-c', py, path], { input: bytes });
}

describe('delivery: a forged bus datagram is not delivered (issue 21.11)', { skip: onPg('the local bus (datagrams in <db>-peers/)') }, () => {
  let stack;
  stackFixture({}, (st) => (stack = st));

  test('an M datagram claiming the next id is not delivered; the real message of that id is', T, async () => {
    const room = await newRoom(stack.url);
    const poster = uniq('poster');
    const s = io(stack.url, { forceNew: true, transports: ['websocket'] });
    s.rec = new Recorder(s);
    await withTimeout(new Promise((r) => s.once('connect', r)), 5000, 'connect');
    await join(s, room.name);
    const first = await post(stack, room.id, poster, 'real 1');
    await until(() => chatIds(s, room.name).includes(first), 5000, 'the first message');
    const [pid] = wsPids(stack);
    const forged = [[first + 1, room.id, '/', room.name, 'mallory', 'FORGED', Date.now(), null]];
    sendDatagram(`${stack.dbPath}-peers/${pid}`, Buffer.concat([Buffer.from('M'), Buffer.from(JSON.stringify(forged))]));
    await sleep(300);
    const second = await post(stack, room.id, poster, 'real 2');
    assert.equal(second, first + 1, 'the id the datagram claimed');
    await until(() => chatIds(s, room.name).includes(second), 5000, 'the real message of that id');
    await sleep(200);
    const texts = s.rec.of('chat message').map(([m]) => m.text);
    assert.deepEqual(texts, ['real 1', 'real 2'], 'no forged message');
    s.close();
  });
});

describe('delivery: presence and unread agree (issue 20.3)', () => {
  let stack;
  stackFixture({}, (st) => (stack = st));

  test('after a recovered reconnect the others get `user joined` for each restored room', T, async () => {
    const rooms = [await newRoom(stack.url), await newRoom(stack.url)];
    const a = await defaultClient(stack.url, uniq('back'));
    const b = await defaultClient(stack.url, uniq('watcher'));
    for (const r of rooms) {
      await join(a, r.name);
      await join(b, r.name);
    }
    const joinedBefore = b.rec.of('user joined').length;
    a.io.engine.close(); // a dropped transport: recovered on reconnect
    await until(() => !a.connected, 5000, 'the disconnect');
    await until(() => a.connected, 15000, 'the reconnection');
    assert.equal(a.recovered, true);
    await until(
      () =>
        rooms.every((r) =>
          b.rec
            .of('user joined')
            .slice(joinedBefore)
            .some(([e]) => e.room === r.name && e.user === a.auth.name),
        ),
      5000,
      'user joined for each restored room',
    );
    // and the member list says so too
    for (const r of rooms) {
      const ack = await b.emitWithAck('join', r.name);
      assert.ok(ack.members.includes(a.auth.name), `${r.name}: ${JSON.stringify(ack.members)}`);
    }
    await closeAll(a, b);
  });

  test('unread counts come from the read cursor: the same on another device', T, async () => {
    const room = await newRoom(stack.url);
    const name = uniq('reader');
    const poster = uniq('poster');
    const one = await defaultClient(stack.url, name);
    await join(one, room.name); // the first visit starts the cursor
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await post(stack, room.id, poster, `u ${i}`));
    await one.emitWithAck('read', { room: room.name, id: ids[0] });
    const other = await defaultClient(stack.url, name); // another device
    const { rooms } = await other.emitWithAck('rooms', {});
    assert.equal(rooms.find((r) => r.id === room.id).unread, 2, 'two past the cursor');
    await closeAll(one, other);
  });
});
