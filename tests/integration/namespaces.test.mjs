// namespaces.test.mjs -- workspaces and /admin: multiplexing over one transport,
// rooms of the same name kept apart, JWT middleware, announce, kick, and the
// same across two ws processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Manager } from 'socket.io-client';
import { startStack } from './lib/stack.mjs';
import { ack, api, closeAll, closeLive, connect, connectError, credential, join, sleep, waitConnect } from './lib/client.mjs';

let stack;
before(async () => {
  stack = await startStack({ wsProcs: 2 });
});
after(async () => {
  await closeLive();
  await stack?.stop();
});

/* An HS256 JWT signed with key (our own signer, to make bad tokens too). */
function jwt(claims, key) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}
const secret = () => readFileSync(stack.secretFile, 'utf8').trim();
const now = () => Math.floor(Date.now() / 1000);

test('one transport multiplexes / and a workspace; leaving one keeps the other', async () => {
  const manager = new Manager(stack.url, { transports: ['websocket'], reconnection: false });
  const token = await credential(stack.url, 'mux'); // both sockets are the owner of 'mux'
  const root = manager.socket('/', { auth: { name: 'mux', token } });
  const acme = manager.socket('/acme', { auth: { name: 'mux', token } });
  try {
    await Promise.all([waitConnect(root), waitConnect(acme)]);
    assert.equal(root.io, acme.io, 'one Manager, one Engine.IO connection');
    assert.equal((await join(root, 'general')).ok, true);
    assert.equal((await join(acme, 'general')).ok, true);
    acme.disconnect(); // leaves /acme only
    await sleep(200);
    assert.equal(root.connected, true);
    const sent = await ack(root, 'chat message', { room: 'general', text: 'still here' });
    assert.equal(typeof sent.id, 'number');
  } finally {
    root.close();
    acme.close();
    manager.engine?.close();
  }
});

test('rooms of the same name in two workspaces stay apart', async () => {
  const a = await connect(stack.url, { name: 'ann', ns: '/acme' });
  const b = await connect(stack.url, { name: 'bob', ns: '/beta' });
  const r = await connect(stack.url, { name: 'rob' });
  try {
    const ja = await join(a, 'general');
    const jb = await join(b, 'general');
    const jr = await join(r, 'general');
    assert.notEqual(ja.room_id, jb.room_id);
    assert.notEqual(ja.room_id, jr.room_id);
    await ack(a, 'chat message', { room: 'general', text: 'acme only' });
    await a.rec.next('chat message', (m) => m.text === 'acme only');
    await sleep(300);
    assert.equal(b.rec.of('chat message').length, 0, 'nothing crossed into /beta');
    assert.equal(r.rec.of('chat message').length, 0, 'nothing crossed into /');
    // REST sees each workspace's own rooms
    const rooms = await api(stack.url, '/api/rooms?namespace=/acme');
    assert.equal(rooms.status, 200);
    assert.ok(rooms.body.rooms.every((x) => x.namespace === '/acme'));
    // a room made in /acme is not joinable from /
    assert.equal((await ack(a, 'create room', { name: 'acme-only' })).ok, true);
    assert.ok((await ack(r, 'join', 'acme-only')).error);
  } finally {
    await closeAll(a, b, r);
  }
});

test('/admin refuses no token, an expired one, a bad signature, a non-admin one', async () => {
  const cases = {
    none: {},
    expired: { token: jwt({ admin: true, exp: now() - 10 }, secret()) },
    'bad signature': { token: jwt({ admin: true, exp: now() + 600 }, 'not-the-server-secret-at-all') },
    'not admin': { token: jwt({ sub: 'x', exp: now() + 600 }, secret()) },
    garbage: { token: 'a.b.c' },
  };
  for (const [what, auth] of Object.entries(cases)) {
    const s = await connect(stack.url, { ns: '/admin', auth, connect: false });
    const err = await connectError(s);
    assert.equal(err.message, 'unauthorized', what);
    s.close();
  }
  // and the token never reaches the logs
  assert.ok(!stack.logs().includes(cases.expired.token));
});

test('/admin with a good token: stats, announce to every chat namespace, kick', async () => {
  const token = execFileSync(`${stack.binDir}/chat-ws`, ['--issue-token', '--admin', '--ttl', '600'], {
    env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
  })
    .toString()
    .trim();
  const admin = await connect(stack.url, { ns: '/admin', auth: { token } });
  // clients straight on each ws process, so announce and kick must cross processes
  const u = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: 'ursula' });
  const w = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: 'wes', ns: '/acme' });
  const k = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: 'mallory' });
  try {
    const stats = await ack(admin, 'stats');
    assert.equal(typeof stats.connections, 'number');
    assert.equal(typeof stats.messages, 'number');
    assert.ok(stats.per_namespace['/admin']);
    const res = await ack(admin, 'announce', { text: 'maintenance at 5' });
    assert.equal(res.ok, true);
    const [au] = await u.rec.next('announcement');
    const [aw] = await w.rec.next('announcement');
    assert.equal(au.text, 'maintenance at 5');
    assert.equal(aw.text, 'maintenance at 5');
    assert.ok((await ack(admin, 'announce', {})).error);
    const gone = new Promise((r) => k.once('disconnect', r));
    assert.equal((await ack(admin, 'kick', { user: 'mallory', reason: 'spam' })).ok, true);
    const [kicked] = await k.rec.next('kicked');
    assert.equal(kicked.reason, 'spam');
    assert.equal(await gone, 'io server disconnect');
    assert.equal(u.connected, true, 'only the kicked user goes');
    assert.ok((await ack(admin, 'kick', {})).error);
  } finally {
    await closeAll(admin, u, w, k);
  }
});

test('an unknown namespace gets Invalid namespace', async () => {
  for (const ns of ['/Bad_NS', '/a.b', '/' + 'x'.repeat(33)]) {
    const s = await connect(stack.url, { ns, connect: false });
    assert.equal((await connectError(s)).message, 'Invalid namespace', ns);
    s.close();
  }
});

test('room created and user connected reach sockets on the other ws process', async () => {
  const a = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: 'amy' });
  const b = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: 'ben' });
  try {
    const name = `x-proc-${Date.now()}`;
    assert.equal((await ack(a, 'create room', { name })).ok, true);
    const [room] = await b.rec.next('room created', (r) => r.name === name);
    assert.equal(room.namespace, '/');
    const c = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: 'cat' });
    const [who] = await b.rec.next('user connected', (x) => x.user === 'cat');
    assert.equal(who.sid, c.id);
    await join(a, name);
    await join(b, name);
    await join(c, name);
    const [joined] = await a.rec.next('user joined', (x) => x.user === 'cat');
    assert.equal(joined.room, name);
    await closeAll(c);
    await b.rec.next('user left', (x) => x.user === 'cat');
    await b.rec.next('user disconnected', (x) => x.user === 'cat');
  } finally {
    await closeAll(a, b);
  }
});
