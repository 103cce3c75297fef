// sockets.test.mjs -- live sockets through nginx with the official
// socket.io-client (transports: ['websocket']) and raw WebSockets: the
// Socket.IO events table of DESIGN.md (connect, join/leave, chat message,
// typing, rooms, create room, disconnect), namespaces, errors in acks,
// protocol violations, the handshake and heartbeats.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  ack,
  api,
  closeAll,
  closeLive,
  connect,
  connectError,
  join,
  rawWs,
  refusedUpgrade,
  restRoom,
  sleep,
  until,
  withTimeout,
} from './lib/client.mjs';
import { startStack } from './lib/stack.mjs';

const T = { timeout: 20000 };
const QUIET_MS = 400; // how long "never arrives" is watched

let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

/* A new room in namespace ns via REST; resolves to its name. */
async function newRoom(url, ns = '/') {
  const name = uniq('room');
  const res = await api(url, '/api/rooms', { method: 'POST', json: ns === '/' ? { name } : { name, namespace: ns } });
  assert.equal(res.status, 201, `POST /api/rooms: ${JSON.stringify(res.body)}`);
  return name;
}

const isOffset = (v) => typeof v === 'string' && /^\d+$/.test(v);

describe('sockets', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  afterEach(async () => {
    await closeLive();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('connect: session arrives; user connected goes to the others only', T, async () => {
    const ann = uniq('ann');
    const bob = uniq('bob');
    const a = await connect(stack.url, { name: ann });
    const [session] = await a.rec.next('session');
    assert.equal(session.user, ann);
    assert.equal(session.sid, a.id);
    const b = await connect(stack.url, { name: bob });
    const [uc] = await a.rec.next('user connected', (e) => e.user === bob);
    assert.deepEqual({ user: uc.user, sid: uc.sid }, { user: bob, sid: b.id });
    await b.rec.next('session');
    await sleep(QUIET_MS);
    assert.equal(a.rec.of('user connected').filter(([e]) => e.user === ann || e.sid === a.id).length, 0, 'a got its own user connected');
    assert.equal(b.rec.of('user connected').filter(([e]) => e.user === bob || e.sid === b.id).length, 0, 'b got its own user connected');
    await closeAll(a, b);
  });

  test('join: ack {ok, room, members, missed}; user joined to the rest; leave: user left', T, async () => {
    const room = await newRoom(stack.url);
    const ann = uniq('ann');
    const bob = uniq('bob');
    const a = await connect(stack.url, { name: ann });
    const b = await connect(stack.url, { name: bob });
    const ja = await ack(a, 'join', room);
    assert.equal(ja.ok, true);
    assert.equal(ja.room, room);
    assert.ok(Array.isArray(ja.members) && ja.members.includes(ann), `members ${JSON.stringify(ja.members)}`);
    assert.deepEqual(ja.missed, []);
    const jb = await ack(b, 'join', room);
    assert.equal(jb.ok, true);
    assert.equal(jb.room, room);
    assert.deepEqual([...jb.members].sort(), [ann, bob].sort());
    assert.deepEqual(jb.missed, []);

    const joined = await a.rec.next('user joined', (e) => e.user === bob);
    assert.deepEqual(joined[0], { room, user: bob });
    assert.equal(joined.length, 2, 'user joined carries an offset');
    assert.ok(isOffset(joined[1]), `offset ${JSON.stringify(joined[1])}`);

    const lb = await ack(b, 'leave', room);
    assert.equal(lb.ok, true);
    const left = await a.rec.next('user left', (e) => e.user === bob);
    assert.deepEqual(left[0], { room, user: bob });
    assert.ok(isOffset(left.at(-1)), `offset ${JSON.stringify(left.at(-1))}`);
    await sleep(QUIET_MS);
    assert.equal(b.rec.count('user joined'), 0, 'the joiner got its own user joined');
    assert.equal(b.rec.count('user left'), 0, 'the leaver got its own user left');

    // After leaving, b is out of the room: a's message does not reach it.
    await ack(a, 'chat message', { room, text: 'after leave' });
    await a.rec.next('chat message');
    await sleep(QUIET_MS);
    assert.equal(b.rec.count('chat message'), 0);
    await closeAll(a, b);
  });

  test('chat message: ack {id, ts}; every member, sender included, gets it with the id as offset', T, async () => {
    const room = await newRoom(stack.url);
    const names = [uniq('ann'), uniq('bob'), uniq('cat')];
    const socks = [];
    for (const name of names) {
      const s = await connect(stack.url, { name });
      await join(s, room);
      socks.push(s);
    }
    const res = await ack(socks[0], 'chat message', { room, text: 'hello, wörld ✓' });
    assert.equal(typeof res.id, 'number');
    assert.equal(typeof res.ts, 'number');
    assert.ok(Number.isInteger(res.id) && res.id > 0);
    assert.ok(Math.abs(res.ts - Date.now()) < 60000, `ts ${res.ts} is a ms timestamp`);
    for (const s of socks) {
      const args = await s.rec.next('chat message');
      const [m] = args;
      assert.equal(m.id, res.id);
      assert.equal(m.room, room);
      assert.equal(m.user, names[0]);
      assert.equal(m.text, 'hello, wörld ✓');
      assert.equal(m.ts, res.ts);
      assert.equal(args.at(-1), String(res.id), 'the last argument is the id as a string');
    }
    // A second message: a larger id, received once by each.
    const res2 = await ack(socks[1], 'chat message', { room, text: 'second' });
    assert.ok(res2.id > res.id);
    for (const s of socks) {
      const [m] = await s.rec.next('chat message');
      assert.equal(m.id, res2.id);
      assert.equal(m.user, names[1]);
    }
    await sleep(QUIET_MS);
    for (const s of socks) assert.equal(s.rec.count('chat message'), 2, 'each message exactly once');
    await closeAll(socks);
  });

  test('room isolation: a message in room A never reaches a socket only in room B', T, async () => {
    const roomA = await newRoom(stack.url);
    const roomB = await newRoom(stack.url);
    const a = await connect(stack.url, { name: uniq('ann') });
    const b = await connect(stack.url, { name: uniq('bob') });
    const ab = await connect(stack.url, { name: uniq('both') });
    await join(a, roomA);
    await join(b, roomB);
    await join(ab, roomA);
    await join(ab, roomB);
    const r1 = await ack(a, 'chat message', { room: roomA, text: 'only A' });
    const r2 = await ack(b, 'chat message', { room: roomB, text: 'only B' });
    assert.equal((await a.rec.next('chat message'))[0].id, r1.id);
    assert.equal((await b.rec.next('chat message'))[0].id, r2.id);
    await ab.rec.atLeast('chat message', 2);
    await sleep(QUIET_MS);
    assert.deepEqual(a.rec.of('chat message').map(([m]) => m.id), [r1.id], 'a (room A only) got room B traffic');
    assert.deepEqual(b.rec.of('chat message').map(([m]) => m.id), [r2.id], 'b (room B only) got room A traffic');
    assert.deepEqual(ab.rec.of('chat message').map(([m]) => m.id), [r1.id, r2.id], 'a socket in both rooms gets each once');
    await closeAll(a, b, ab);
  });

  test('typing: to the room but the sender', T, async () => {
    const room = await newRoom(stack.url);
    const ann = uniq('ann');
    const a = await connect(stack.url, { name: ann });
    const b = await connect(stack.url, { name: uniq('bob') });
    const c = await connect(stack.url, { name: uniq('cat') });
    const out = await connect(stack.url, { name: uniq('out') });
    for (const s of [a, b, c]) await join(s, room);
    a.emit('typing', { room });
    for (const s of [b, c]) {
      const [t] = await s.rec.next('typing');
      assert.deepEqual(t, { room, user: ann });
    }
    await sleep(QUIET_MS);
    assert.equal(a.rec.count('typing'), 0, 'the sender got its own typing');
    assert.equal(out.rec.count('typing'), 0, 'a socket outside the room got typing');
    await closeAll(a, b, c, out);
  });

  test('rooms ack equals GET /api/rooms', T, async () => {
    await newRoom(stack.url);
    const a = await connect(stack.url, { name: uniq('ann') });
    const res = await ack(a, 'rooms');
    assert.ok(Array.isArray(res.rooms), JSON.stringify(res));
    const rest = await api(stack.url, '/api/rooms?namespace=%2F');
    assert.equal(rest.status, 200);
    const pick = (rs) => rs.map(({ id, name, namespace }) => ({ id, name, namespace })).sort((x, y) => x.id - y.id);
    assert.deepEqual(pick(res.rooms), pick(rest.body.rooms));
    assert.ok(res.rooms.some((r) => r.name === 'general'));
    const rest2 = await api(stack.url, '/api/rooms');
    assert.deepEqual(pick(rest2.body.rooms), pick(res.rooms), 'namespace defaults to /');
    // A workspace's list is its own.
    const w = await connect(stack.url, { name: uniq('wes'), ns: '/acme' });
    const wr = await ack(w, 'rooms');
    const wrest = await api(stack.url, '/api/rooms?namespace=%2Facme');
    assert.deepEqual(pick(wr.rooms), pick(wrest.body.rooms));
    assert.ok(wr.rooms.every((r) => r.namespace === '/acme'));
    await closeAll(a, w);
  });

  test('create room: ack {ok, room}; room created to the namespace; duplicates and invalid names are errors', T, async () => {
    const a = await connect(stack.url, { name: uniq('ann') });
    const b = await connect(stack.url, { name: uniq('bob') });
    const other = await connect(stack.url, { name: uniq('wes'), ns: '/acme' });
    const name = uniq('lobby');
    const res = await ack(a, 'create room', { name });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal(res.room.name, name);
    assert.equal(res.room.namespace, '/');
    assert.equal(typeof res.room.id, 'number');
    for (const s of [a, b]) {
      const [r] = await s.rec.next('room created', (r) => r.name === name);
      assert.equal(r.id, res.room.id);
      assert.equal(r.namespace, '/');
    }
    const viaRest = await restRoom(stack.url, name);
    assert.equal(viaRest?.id, res.room.id, 'REST lists the new room');

    const dup = await ack(b, 'create room', { name });
    assert.equal(typeof dup.error, 'string', JSON.stringify(dup));
    assert.equal(dup.ok, undefined);
    const dupRest = await api(stack.url, '/api/rooms', { method: 'POST', json: { name } });
    assert.equal(dupRest.status, 409);

    // The same name in a workspace is another room.
    const wres = await ack(other, 'create room', { name });
    assert.equal(wres.ok, true, JSON.stringify(wres));
    assert.notEqual(wres.room.id, res.room.id);
    assert.equal(wres.room.namespace, '/acme');

    const ok64 = 'r'.repeat(64);
    assert.equal((await ack(a, 'create room', { name: ok64 })).ok, true, '64 characters are allowed');
    for (const bad of ['', '   ', 'r'.repeat(65), 'bad\u0001name', 'tab\u0007', 'nl\u007fx', 'x\u0000y']) {
      const r = await ack(a, 'create room', { name: bad });
      assert.equal(typeof r.error, 'string', `name ${JSON.stringify(bad)} → ${JSON.stringify(r)}`);
    }
    for (const badArgs of [[{}], [{ name: 42 }], [null]]) {
      const r = await ack(a, 'create room', ...badArgs);
      assert.equal(typeof r.error, 'string', `args ${JSON.stringify(badArgs)} → ${JSON.stringify(r)}`);
    }
    await sleep(QUIET_MS);
    assert.equal(other.rec.of('room created').filter(([r]) => r.namespace === '/').length, 0, 'room created crossed namespaces');
    const names = a.rec.of('room created').map(([r]) => r.name);
    assert.deepEqual(names.sort(), [name, ok64].sort(), 'one room created per created room, none for errors');
    await closeAll(a, b, other);
  });

  test('errors in acks', T, async () => {
    const room = await newRoom(stack.url);
    const other = await newRoom(stack.url);
    const a = await connect(stack.url, { name: uniq('ann') });
    const isErr = (r, what) => assert.equal(typeof r?.error, 'string', `${what} → ${JSON.stringify(r)}`);
    isErr(await ack(a, 'join', uniq('no-such-room')), 'join of an unknown room');
    isErr(await ack(a, 'join', {}), 'join without a room');
    isErr(await ack(a, 'leave', room), 'leave of a room not joined');
    await join(a, room);
    isErr(await ack(a, 'chat message', { room: other, text: 'x' }), 'message to a room not joined');
    isErr(await ack(a, 'chat message', { room: uniq('nope'), text: 'x' }), 'message to an unknown room');
    isErr(await ack(a, 'chat message', { room, text: 'x'.repeat(4001) }), 'text of 4001 characters');
    isErr(await ack(a, 'chat message', { room, text: '' }), 'empty text');
    isErr(await ack(a, 'chat message', { room }), 'missing text');
    isErr(await ack(a, 'chat message', { text: 'x' }), 'missing room');
    isErr(await ack(a, 'chat message', { room, text: 42 }), 'text not a string');
    isErr(await ack(a, 'chat message'), 'no arguments');
    isErr(await ack(a, 'chat message', 'just a string'), 'a string argument');
    isErr(await ack(a, 'chat message', { room, text: 'x', client_id: 'c'.repeat(65) }), 'client_id of 65 bytes');
    // The limits are in characters: 4000 of them fit, even multi-byte.
    const big = await ack(a, 'chat message', { room, text: 'é'.repeat(4000) });
    assert.equal(typeof big.id, 'number', JSON.stringify(big));
    const big2 = await ack(a, 'chat message', { room, text: 'x'.repeat(4000) });
    assert.equal(typeof big2.id, 'number', JSON.stringify(big2));
    // None of the errors stored or broadcast anything.
    const [m1] = await a.rec.next('chat message');
    const [m2] = await a.rec.next('chat message');
    assert.deepEqual([m1.id, m2.id], [big.id, big2.id]);
    await sleep(QUIET_MS);
    assert.equal(a.rec.count('chat message'), 2);
    // The socket still works after all that.
    assert.ok(a.connected);
    assert.ok(Array.isArray((await ack(a, 'rooms')).rooms));
    await closeAll(a);
  });

  test('unknown namespaces get connect_error "Invalid namespace"', T, async () => {
    for (const ns of ['/Bad_NS!', '/admin', `/${'a'.repeat(33)}`, '/a b', '/acme/x']) {
      const s = await connect(stack.url, { name: 'nsp', ns, connect: false });
      const err = await connectError(s);
      // /admin is a reserved namespace: unknown until it is served, then it
      // refuses a client without an admin token (DESIGN.md).
      const allowed = ns === '/admin' ? ['Invalid namespace', 'unauthorized'] : ['Invalid namespace'];
      assert.ok(allowed.includes(err.message), `${ns}: connect_error ${JSON.stringify(err.message)} (${JSON.stringify(err.data)})`);
      await closeAll(s);
    }
    // The connection's other namespaces are unaffected: / still works.
    const a = await connect(stack.url, { name: uniq('ann') });
    assert.ok(Array.isArray((await ack(a, 'rooms')).rooms));
    await closeAll(a);
  });

  test('auth.name is validated: 1-32 characters, trimmed', T, async () => {
    for (const name of ['x'.repeat(33), '', '   ', 'a\u0001b', 42]) {
      const s = await connect(stack.url, { name, connect: false });
      const err = await connectError(s);
      assert.equal(typeof err.message, 'string', `name ${JSON.stringify(name)}`);
      await closeAll(s);
    }
    const ok = await connect(stack.url, { name: `  ${'y'.repeat(32)}  ` });
    const [session] = await ok.rec.next('session');
    assert.equal(session.user, 'y'.repeat(32));
    // No name: a guest name.
    const guest = await connect(stack.url, {});
    const [gs] = await guest.rec.next('session');
    assert.ok(gs.user.length >= 1 && gs.user.length <= 32, `guest name ${gs.user}`);
    await closeAll(ok, guest);
  });


  test('workspace namespaces have their own rooms; messages do not cross', T, async () => {
    const root = await connect(stack.url, { name: uniq('root') });
    const acme = await connect(stack.url, { name: uniq('acme'), ns: '/acme' });
    const beta = await connect(stack.url, { name: uniq('beta'), ns: '/beta-2' });
    const [s] = await acme.rec.next('session');
    assert.equal(s.namespace, '/acme');
    const jr = await join(root, 'general');
    const ja = await join(acme, 'general');
    const jb = await join(beta, 'general');
    assert.equal(ja.room, 'general');
    assert.equal(jr.room, 'general');
    const ra = (await restRoom(stack.url, 'general', '/acme')).id;
    const rr = (await restRoom(stack.url, 'general', '/')).id;
    assert.notEqual(ra, rr, 'general of /acme and of / are different rooms');
    assert.ok(jb.ok);

    const m1 = await ack(acme, 'chat message', { room: 'general', text: 'in acme' });
    const m2 = await ack(root, 'chat message', { room: 'general', text: 'in root' });
    assert.equal((await acme.rec.next('chat message'))[0].id, m1.id);
    assert.equal((await root.rec.next('chat message'))[0].id, m2.id);
    await sleep(QUIET_MS);
    assert.deepEqual(acme.rec.of('chat message').map(([m]) => m.text), ['in acme']);
    assert.deepEqual(root.rec.of('chat message').map(([m]) => m.text), ['in root']);
    assert.equal(beta.rec.count('chat message'), 0);
    // user connected and room created stay in their namespace too.
    assert.equal(root.rec.of('user connected').filter(([u]) => u.user.startsWith('acme') || u.user.startsWith('beta')).length, 0);
    // REST sees the workspace message in the workspace room only.
    const msgs = await api(stack.url, `/api/rooms/${ra}/messages?after=0&limit=500`);
    assert.deepEqual(msgs.body.messages.map((m) => m.id), [m1.id]);
    await closeAll(root, acme, beta);
  });

  test('a malformed packet closes that connection only', T, async () => {
    const room = await newRoom(stack.url);
    const c = await connect(stack.url, { name: uniq('cal') });
    const d = await connect(stack.url, { name: uniq('dan') });
    await join(c, room);
    await join(d, room);
    const garbage = ['42["msg",', '9', '42{"not":"an array"}', '4X', '42[1,2'];
    for (const g of garbage) {
      const raw = await rawWs(stack.url);
      const open = await raw.next((f) => f.startsWith('0'));
      const info = JSON.parse(open.slice(1));
      assert.equal(typeof info.sid, 'string');
      raw.send('40');
      const conn = await raw.next((f) => f.startsWith('40'));
      assert.match(conn, /^40\{"sid":"/);
      raw.send(g);
      const closed = await withTimeout(raw.closed, 3000, `server closing after ${JSON.stringify(g)}`).catch((e) => {
        raw.close();
        throw e;
      });
      assert.ok(closed.code, `closed (${closed.code})`);
      // Meanwhile the socket.io-client sockets still send and receive.
      const r = await ack(c, 'chat message', { room, text: `after ${g}` });
      const [m] = await d.rec.next('chat message', (m) => m.id === r.id);
      assert.equal(m.text, `after ${g}`);
    }
    assert.ok(c.connected && d.connected);
    await closeAll(c, d);
  });

  test('handshake: EIO=3 is refused, a plain GET /socket.io/ is a JSON 400', T, async () => {
    const status = await refusedUpgrade(stack.url, 'EIO=3&transport=websocket');
    assert.equal(status, 400, `EIO=3 upgrade answered ${status}`);
    const res = await api(stack.url, '/socket.io/');
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') || '', /json/);
    assert.equal(typeof res.body, 'object', `body ${JSON.stringify(res.body)}`);
    const bad = await api(stack.url, '/socket.io/?EIO=4&transport=carrier-pigeon');
    assert.equal(bad.status, 400);
    // EIO=4 over WebSocket is accepted and opens with a JSON handshake.
    const raw = await rawWs(stack.url);
    const open = JSON.parse((await raw.next()).slice(1));
    assert.equal(typeof open.sid, 'string');
    assert.deepEqual(open.upgrades, []);
    assert.equal(typeof open.pingInterval, 'number');
    assert.equal(typeof open.pingTimeout, 'number');
    assert.equal(typeof open.maxPayload, 'number');
    raw.close();
  });

  test('a disconnecting user: user left to its rooms, user disconnected to the namespace', T, async () => {
    const r1 = await newRoom(stack.url);
    const r2 = await newRoom(stack.url);
    const bob = uniq('bob');
    const a = await connect(stack.url, { name: uniq('ann') });
    const b = await connect(stack.url, { name: bob });
    const bSid = b.id;
    for (const r of [r1, r2]) {
      await join(a, r);
      await join(b, r);
    }
    // presence is netted per interval (--presence-interval): a leave is sent
    // once the join it undoes has been
    for (const r of [r1, r2]) await a.rec.next('user joined', (e) => e.user === bob && e.room === r);
    b.disconnect();
    const lefts = [await a.rec.next('user left', (e) => e.user === bob), await a.rec.next('user left', (e) => e.user === bob)];
    assert.deepEqual(lefts.map(([e]) => e.room).sort(), [r1, r2].sort());
    for (const l of lefts) assert.ok(isOffset(l.at(-1)), `user left carries an offset: ${JSON.stringify(l)}`);
    const [dis] = await a.rec.next('user disconnected', (e) => e.user === bob);
    assert.deepEqual(dis, { user: bob, sid: bSid });
    await closeAll(a, b);
  });

  test('an abrupt disconnect (transport closed) is seen the same way', T, async () => {
    const room = await newRoom(stack.url);
    const bob = uniq('bob');
    const a = await connect(stack.url, { name: uniq('ann') });
    const b = await connect(stack.url, { name: bob });
    await join(a, room);
    await join(b, room);
    await a.rec.next('user joined', (e) => e.user === bob);
    b.io.engine.close(); // no Socket.IO disconnect packet
    const [l] = await a.rec.next('user left', (e) => e.user === bob);
    assert.equal(l.room, room);
    await a.rec.next('user disconnected', (e) => e.user === bob);
    await closeAll(a, b);
  });

  test('GET /api/rooms online follows joins and disconnects', T, async () => {
    const room = await newRoom(stack.url);
    const online = async () => (await restRoom(stack.url, room)).online;
    assert.equal(await online(), 0);
    const a = await connect(stack.url, { name: uniq('ann') });
    await join(a, room);
    await until(async () => (await online()) === 1, 2000, 'online 1 after a join');
    const b = await connect(stack.url, { name: uniq('bob') });
    await join(b, room);
    await until(async () => (await online()) === 2, 2000, 'online 2 after two joins');
    await ack(b, 'leave', room);
    await until(async () => (await online()) === 1, 2000, 'online 1 after a leave');
    a.disconnect();
    await until(async () => (await online()) === 0, 2000, 'online 0 after the disconnect');
    await closeAll(a, b);
  });
});

describe('heartbeat', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsArgs: ['--ping-interval', '200', '--ping-timeout', '300'] });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('a client that never answers pings is closed; socket.io-client stays connected', T, async () => {
    const good = await connect(stack.url, { name: uniq('good') });
    let disconnects = 0;
    good.on('disconnect', () => disconnects++);
    const raw = await rawWs(stack.url);
    const start = Date.now();
    const open = JSON.parse((await raw.next()).slice(1));
    assert.equal(open.pingInterval, 200);
    assert.equal(open.pingTimeout, 300);
    raw.send('40');
    await raw.next((f) => f.startsWith('40'));
    await raw.next((f) => f === '2', 2000); // the server pings
    const closed = await withTimeout(raw.closed, 2500, 'server closing a silent client').catch((e) => {
      raw.close();
      throw e;
    });
    assert.ok(closed.at - start < 2000, `closed after ${closed.at - start} ms`);
    // A raw client that answers pings is kept.
    const polite = await rawWs(stack.url, { pong: true });
    await polite.next();
    polite.send('40');
    await sleep(2200);
    assert.equal(polite.isClosed(), false, 'a client answering pings was closed');
    assert.ok(polite.frames.filter((f) => f === '2').length >= 5, 'pings keep coming');
    polite.close();
    assert.equal(disconnects, 0);
    assert.ok(good.connected, 'socket.io-client was disconnected');
    assert.ok(Array.isArray((await ack(good, 'rooms')).rooms));
    await closeAll(good);
  });
});
