// ops.test.mjs -- operating it: Prometheus metrics of chat-ws and chat-fcgi
// (scraped through nginx, parsed with a real parser of the text format,
// access limited to local clients and admin tokens), log lines (level,
// key=value, no message text or token), and graceful restarts (SIGTERM under
// load loses nothing acknowledged and clients recover; the rolling restart
// script restarts every chat-ws behind nginx).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { ack, api, closeAll, closeLive, connect, join, sleep, until, waitConnect, withTimeout } from './lib/client.mjs';
import { killWs, ROOT, startStack, wsPids } from './lib/stack.mjs';

const run = promisify(execFile);
const T = { timeout: 60000 };
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };

let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

async function newRoom(url) {
  const res = await api(url, '/api/rooms', { method: 'POST', json: { name: uniq('room') } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/* A token from chat-ws --issue-token with the stack's secret. */
async function issue(stack, ...args) {
  const env = { ...process.env, CHAT_SECRET_FILE: stack.secretFile };
  return (await run(path.join(stack.binDir, 'chat-ws'), ['--issue-token', ...args], { env })).stdout.trim();
}

/* The ids of every message of a room, paging from the newest down with
 * `before` (without `after` the API answers the newest page). */
async function storedIds(url, roomId) {
  const ids = new Set();
  let before = '';
  for (;;) {
    const res = await api(url, `/api/rooms/${roomId}/messages?limit=500${before}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const m of res.body.messages) ids.add(m.id);
    if (res.body.messages.length < 500) return ids;
    before = `&before=${res.body.messages[0].id}`;
  }
}

/* GETs a metrics target; resolves to { status, text, families } where
 * families maps a name to the parser's family. */
async function scrape(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, text, families: null };
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  return { status: res.status, text, families };
}

/* The value of a counter or gauge sample whose labels include `labels`. */
function value(families, name, labels = {}) {
  const f = families.get(name);
  assert.ok(f, `no metric ${name}`);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  assert.ok(m, `no ${name} sample with ${JSON.stringify(labels)}`);
  return Number(m.value ?? m.count);
}

describe('metrics', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2 });
  });
  afterEach(closeLive);
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('every family has HELP and TYPE; counters move when a message is sent', T, async () => {
    const { name: room } = await newRoom(stack.url);
    // Both sockets on process 0 (directly, not through nginx's balancing).
    const direct = `http://127.0.0.1:${stack.wsPorts[0]}`;
    const a = await connect(direct, { name: uniq('ann') });
    const b = await connect(direct, { name: uniq('bob') });
    await join(a, room);
    await join(b, room);
    const target = `${stack.url}/metrics/ws/${stack.wsPorts[0]}`;
    const before = await scrape(target);
    assert.equal(before.status, 200, before.text);
    for (const line of before.text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const name = line.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, '');
      assert.ok(before.text.includes(`# TYPE ${name} `) || before.text.includes(`# TYPE ${line.split(/[{ ]/)[0]} `), `no TYPE for ${line}`);
    }
    for (const f of before.families.values()) assert.ok(f.help !== undefined && f.type, `${f.name} has HELP and TYPE`);
    for (const n of ['chat_messages_received_total', 'chat_messages_stored_total', 'chat_messages_delivered_total'])
      assert.equal(before.families.get(n).type, 'COUNTER');
    assert.equal(before.families.get('chat_commit_duration_seconds').type, 'HISTOGRAM');
    assert.ok(value(before.families, 'chat_ws_sockets', { namespace: '/' }) >= 2);
    assert.ok(value(before.families, 'chat_ws_rooms', { namespace: '/' }) >= 1);
    assert.ok(value(before.families, 'chat_ws_connections', { transport: 'websocket' }) >= 2);

    const sent = await ack(a, 'chat message', { room, text: 'count me' });
    await b.rec.next('chat message', (m) => m.id === sent.id);
    const afterSend = await scrape(target);
    const diff = (n) => value(afterSend.families, n) - value(before.families, n);
    assert.equal(diff('chat_messages_received_total'), 1);
    assert.equal(diff('chat_messages_stored_total'), 1);
    assert.ok(diff('chat_messages_delivered_total') >= 2, 'to a and b');
    assert.ok(diff('chat_commit_duration_seconds') >= 1, 'a commit was timed');
    assert.ok(diff('chat_commit_batch_size') >= 1);

    // The other process got it through the database: the bus lag moved there.
    const other = await scrape(`${stack.url}/metrics/ws/${stack.wsPorts[1]}`);
    assert.equal(other.status, 200);
    await until(async () => value((await scrape(`${stack.url}/metrics/ws/${stack.wsPorts[1]}`)).families, 'chat_bus_lag_seconds') >= 1, 5000, 'bus lag observed on ws-1');
    await closeAll(a, b);
  });

  test('chat-fcgi: its workers counted together; a REST post moves the stored counter', T, async () => {
    const room = await newRoom(stack.url);
    const before = await scrape(`${stack.url}/metrics`);
    assert.equal(before.status, 200, before.text);
    const posted = await api(stack.url, `/api/rooms/${room.id}/messages`, { method: 'POST', json: { user: 'bot', text: 'hello' } });
    assert.equal(posted.status, 201);
    const afterPost = await scrape(`${stack.url}/metrics`);
    assert.equal(value(afterPost.families, 'chat_messages_stored_total') - value(before.families, 'chat_messages_stored_total'), 1);
    assert.ok(value(afterPost.families, 'chat_fcgi_requests_total', { code: '2xx' }) > value(before.families, 'chat_fcgi_requests_total', { code: '2xx' }));
    assert.equal(afterPost.families.get('chat_fcgi_request_duration_seconds').type, 'HISTOGRAM');
  });

  test('only local clients or an admin token: chat-ws', T, async () => {
    const direct = `http://127.0.0.1:${stack.wsPorts[0]}/metrics`;
    const token = await issue(stack, '--admin', '--ttl', '600');
    // A remote client as nginx reports it.
    const remote = { 'X-Real-IP': '203.0.113.9', 'X-Forwarded-For': '203.0.113.9' };
    assert.equal((await scrape(direct, remote)).status, 403);
    assert.equal((await scrape(direct, { 'X-Forwarded-For': '127.0.0.1, 203.0.113.9' })).status, 403);
    assert.equal((await scrape(direct, { ...remote, Authorization: 'Bearer not-a-token' })).status, 403);
    const user = await issue(stack, '--workspace', '/acme');
    assert.equal((await scrape(direct, { ...remote, Authorization: `Bearer ${user}` })).status, 403, 'a non-admin token');
    assert.equal((await scrape(direct, { ...remote, Authorization: `Bearer ${token}` })).status, 200);
    const post = await fetch(direct, { method: 'POST' });
    assert.equal(post.status, 405);
  });

  test('only local clients or an admin token: chat-fcgi (as CGI, REMOTE_ADDR remote)', T, async () => {
    const token = await issue(stack, '--admin', '--ttl', '600');
    const cgi = async (env) => {
      const { stdout } = await run(path.join(stack.binDir, 'chat-fcgi'), ['--db', stack.dbPath], {
        env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', REQUEST_URI: '/metrics', ...env },
      });
      return Number(/^Status: (\d+)/.exec(stdout)[1]);
    };
    assert.equal(await cgi({ REMOTE_ADDR: '203.0.113.9' }), 401);
    assert.equal(await cgi({ REMOTE_ADDR: '203.0.113.9', HTTP_AUTHORIZATION: 'Bearer nope' }), 403);
    assert.equal(await cgi({ REMOTE_ADDR: '203.0.113.9', HTTP_AUTHORIZATION: `Bearer ${token}` }), 200);
    assert.equal(await cgi({ REMOTE_ADDR: '127.0.0.1' }), 200);
  });
});

describe('the Admin UI protocol (/socket.io-admin)', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  afterEach(closeLive);
  after(async () => {
    await closeLive();
    await stack?.stop();
  });
  const NS = '/socket.io-admin';

  test('admin token as password: session, config, all_sockets, live events, _disconnect', T, async () => {
    const room = await newRoom(stack.url);
    const ann = await connect(stack.url, { name: uniq('ann') });
    await join(ann, room.name);
    const token = await issue(stack, '--admin', '--ttl', '600');
    const ui = await connect(stack.url, { ns: NS, auth: { username: 'admin', password: token }, connect: false });
    const [session] = await ui.rec.next('session');
    const [config] = await ui.rec.next('config');
    const [all] = await ui.rec.next('all_sockets');
    await waitConnect(ui);
    assert.ok(config.supportedFeatures.includes('DISCONNECT'));
    const a = all.find((s) => s.id === ann.id);
    assert.ok(a, 'ann is listed');
    assert.equal(a.nsp, '/');
    assert.deepEqual(a.rooms, [room.name]);
    assert.equal(a.transport, 'websocket');
    assert.equal(a.data.user, ann.auth.name);
    // the session id is itself a way back in
    const again = await connect(stack.url, { ns: NS, auth: { sessionId: session } });
    await closeAll(again);
    // live: a socket connects, joins, leaves, disconnects
    const bob = await connect(stack.url, { name: uniq('bob') });
    const [connected] = await ui.rec.next('socket_connected', (s) => s.id === bob.id);
    assert.equal(connected.nsp, '/');
    await join(bob, room.name);
    await ui.rec.next('room_joined', (nsp, r, id) => nsp === '/' && r === room.name && id === bob.id);
    await ack(bob, 'leave', room.name);
    await ui.rec.next('room_left', (nsp, r, id) => r === room.name && id === bob.id);
    // a filter that is not a string disconnects nobody; a socket id, that socket.
    // bob's id is read before: socket.io-client forgets it (bob.id is undefined)
    // once bob hears its disconnect, which may come before the UI hears of it.
    const bobId = bob.id;
    ui.emit('_disconnect', '/', false, 42);
    ui.emit('_disconnect', '/', false, bobId);
    const [, id, reason] = await ui.rec.next('socket_disconnected', (nsp, sid) => sid === bobId);
    assert.equal(id, bobId);
    assert.equal(reason, 'server namespace disconnect');
    // ann answers after both requests were handled: she is still there
    assert.ok(Array.isArray((await ack(ann, 'rooms')).rooms), 'ann is still connected');
    assert.ok(!ui.rec.of('socket_disconnected').some(([, sid]) => sid === ann.id), 'ann was not disconnected');
    await closeAll(ann, bob, ui);
  });

  // Issue 21.15: the session id the UI keeps in the browser is a token of
  // scope "admin-ui": it lets the UI back in and is no admin token anywhere
  // else (REST, /admin); a full admin token is no session id either.
  test('the session is a scoped token: the UI takes it, REST and /admin refuse it', T, async () => {
    const admin = await issue(stack, '--admin', '--ttl', '600');
    const ui = await connect(stack.url, { ns: NS, auth: { username: 'admin', password: admin }, connect: false });
    const [session] = await ui.rec.next('session');
    await waitConnect(ui);
    const claims = JSON.parse(Buffer.from(session.split('.')[1], 'base64url'));
    assert.equal(claims.scope, 'admin-ui');
    assert.equal(claims.admin, undefined, 'no admin claim');
    assert.ok(Number.isInteger(claims.exp), 'it expires');
    const again = await connect(stack.url, { ns: NS, auth: { sessionId: session } });
    const room = await newRoom(stack.url);
    const del = await api(stack.url, `/api/rooms/${room.id}`, { method: 'DELETE', token: session });
    assert.equal(del.status, 403, JSON.stringify(del.body));
    assert.equal((await api(stack.url, `/api/rooms/${room.id}`)).status, 200, 'the room is still there');
    const health = await api(stack.url, '/api/health', { token: session });
    assert.equal(health.body.ws, undefined, 'no admin details for a session token');
    const adminNs = await connect(stack.url, { ns: '/admin', auth: { token: session }, connect: false });
    const err = await withTimeout(new Promise((r) => adminNs.once('connect_error', r)), 5000, 'refused');
    assert.equal(err.message, 'unauthorized');
    const fullAsSession = await connect(stack.url, { ns: NS, auth: { sessionId: admin }, connect: false });
    const err2 = await withTimeout(new Promise((r) => fullAsSession.once('connect_error', r)), 5000, 'refused');
    assert.equal(err2.message, 'invalid credentials');
    await closeAll(ui, again, adminNs, fullAsSession);
  });

  test('its page, through nginx, has a CSP and may not be framed', T, async () => {
    for (const target of ['/static/vendor/admin-ui/index.html', '/static/vendor/admin-ui/']) {
      const res = await fetch(stack.url + target);
      assert.equal(res.status, 200, target);
      const csp = res.headers.get('content-security-policy') || '';
      assert.match(csp, /frame-ancestors 'none'/, target);
      assert.match(csp, /script-src 'self'(;|$)/, target);
      assert.match(csp, /connect-src 'self'(;|$)/, target);
      assert.match(csp, /default-src 'none'/, target);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', target);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', target);
      await res.arrayBuffer();
    }
    const redirect = await fetch(`${stack.url}/admin-ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location').replace(/^https?:\/\/[^/]+/, ''), '/static/vendor/admin-ui/index.html');
  });

  test('without an admin token: connect_error "invalid credentials"', T, async () => {
    const user = await issue(stack, '--workspace', '/acme');
    for (const auth of [{}, { username: 'admin', password: 'nope' }, { password: user }, { sessionId: 'x' }]) {
      const s = await connect(stack.url, { ns: NS, auth, connect: false });
      const err = await withTimeout(new Promise((r) => s.once('connect_error', r)), 5000, 'refused');
      assert.equal(err.message, 'invalid credentials', JSON.stringify(auth));
      await closeAll(s);
    }
  });
});

describe('logs', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('one key=value line per event with a level; no message text, no token', T, async () => {
    const { name: room } = await newRoom(stack.url);
    const token = await issue(stack, '--admin', '--ttl', '600');
    const name = uniq('logan');
    const a = await connect(stack.url, { name });
    const sid = a.id;
    await join(a, room);
    const secretText = `secret-text-${uniq('x')}`;
    await ack(a, 'chat message', { room, text: secretText });
    const adm = await connect(stack.url, { ns: '/admin', auth: { token } });
    await closeAll(a, adm);
    const bad = await connect(stack.url, { ns: '/admin', auth: { token: `${token}x` }, connect: false });
    await withTimeout(new Promise((r) => bad.once('connect_error', r)), 5000, 'refused');
    await closeAll(bad);
    let log = '';
    await until(() => (log = stack.logs('ws-0')).includes('user disconnected'), 5000, 'the disconnect logged');
    const lines = log.split('\n').filter(Boolean);
    const kv = /^ts=\S+ level=(debug|info|warn|error) prog=chat-ws pid=\d+ msg=("([^"\\]|\\.)*"|\S+)( [a-z_]+=("([^"\\]|\\.)*"|\S*))*$/;
    for (const l of lines) assert.match(l, kv);
    const connected = lines.find((l) => l.includes('msg="a user connected"'));
    assert.ok(connected, 'proof of life');
    assert.ok(connected.includes(` sid=${sid} `), connected);
    assert.match(connected, new RegExp(`user=${name}\\b`));
    assert.ok(!log.includes(secretText), 'no message text');
    assert.ok(!log.includes(token), 'no token');
    assert.ok(!log.includes(token.split('.')[2]), 'no token signature');
  });
});

describe('graceful restarts', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2, env: { RESTART_SEC: '0.2' } });
  });
  afterEach(closeLive);
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  /* Clients that send without pause (each message acked, retried on
   * reconnection with its client_id) until stop() is called; resolves to
   * the acked ids. */
  function load(sockets, room) {
    let stopping = false;
    const acked = [];
    const loops = sockets.map(async (s, k) => {
      for (let i = 0; !stopping; i++) {
        const client_id = `${s.auth.name}-${i}`;
        for (;;) {
          if (stopping) return;
          try {
            const res = await s.timeout(3000).emitWithAck('chat message', { room, text: `m ${k}.${i}`, client_id });
            if (typeof res?.id === 'number') {
              acked.push(res.id);
              break;
            }
          } catch {
            /* no ack (disconnected): send again, the client_id dedups */
          }
          await sleep(50);
        }
      }
    });
    return {
      acked,
      async stop() {
        stopping = true;
        await Promise.all(loops);
      },
    };
  }

  test('SIGTERM drains a chat-ws under load: nothing acked lost, clients recover', T, async () => {
    const room = await newRoom(stack.url);
    const direct = (i) => `http://127.0.0.1:${stack.wsPorts[i]}`;
    // Senders on process 0 (the one restarted) and a listener on process 1.
    const senders = [];
    // through nginx, kept when it landed on ws-0 (sids start with its node)
    const elsewhere = [];
    for (let tries = 0; senders.length < 3 && tries < 20; tries++) {
      const s = await connect(stack.url, { name: uniq('s'), ...RECONNECT });
      (s.io.engine.id.startsWith('0') ? senders : elsewhere).push(s);
    }
    await closeAll(elsewhere);
    assert.equal(senders.length, 3, 'three senders on ws-0');
    const listener = await connect(direct(1), { name: uniq('l') });
    for (const s of [...senders, listener]) await join(s, room.name);
    const l = load(senders, room.name);
    await until(() => l.acked.length >= 20, 10000, 'load running');
    const gone = senders.map((s) => new Promise((r) => s.once('disconnect', r)));
    const { oldPid } = await killWs(stack, 0, 'SIGTERM');
    await withTimeout(Promise.all(gone), 10000, 'sockets told to reconnect');
    const n = l.acked.length;
    await until(() => senders.every((s) => s.connected) && l.acked.length >= n + 20, 15000, 'load goes on after the restart');
    await l.stop();
    for (const s of senders) assert.equal(s.recovered, true, `${s.auth.name} recovered`);
    const stored = await storedIds(stack.url, room.id);
    const lost = l.acked.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], 'every acked message is stored');
    // The listener elsewhere got every acked message.
    await until(() => l.acked.every((id) => listener.rec.of('chat message').some(([m]) => m.id === id)), 5000, 'listener has all');
    const runner = stack.logs('runner');
    assert.match(runner, new RegExp(`ws-0 \\(pid ${oldPid}\\) exited with status 0`), 'a clean exit, not a kill');
    assert.match(stack.logs('ws-0'), /msg=draining sessions=\d+/);
    await closeAll(senders, listener);
  });

  test('deploy/rolling-restart.sh restarts every chat-ws behind nginx; clients recover', T, async () => {
    const room = await newRoom(stack.url);
    const senders = [];
    for (let i = 0; i < 4; i++) senders.push(await connect(stack.url, { name: uniq('r'), ...RECONNECT }));
    for (const s of senders) await join(s, room.name);
    const l = load(senders, room.name);
    await until(() => l.acked.length >= 20, 10000, 'load running');
    const pidsBefore = wsPids(stack);
    const { stdout } = await run('bash', [path.join(ROOT, 'deploy/rolling-restart.sh'), stack.runDir], { timeout: 60000 });
    assert.match(stdout, /ws-0 is back/);
    assert.match(stdout, /ws-1 is back/);
    const pidsAfter = wsPids(stack);
    pidsBefore.forEach((p, i) => assert.notEqual(pidsAfter[i], p, `ws-${i} restarted`));
    const n = l.acked.length;
    await until(() => senders.every((s) => s.connected) && l.acked.length >= n + 20, 15000, 'load goes on');
    await l.stop();
    for (const s of senders) assert.equal(s.recovered, true, `${s.auth.name} recovered`);
    const stored = await storedIds(stack.url, room.id);
    const lost = l.acked.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], 'every acked message is stored');
    await closeAll(senders);
  });
});
