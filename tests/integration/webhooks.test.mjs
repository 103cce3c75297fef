// webhooks.test.mjs -- issue 25 item 5: outgoing webhooks, the queue's
// promise for HTTP listeners. Through the stack of deploy/run.sh (nginx,
// chat-fcgi, chat-ws and one chat-webhooks), on SQLite, or PostgreSQL in
// the integration-pg pass. A receiver that is down for a while, then up,
// gets every event once, in log order, each request signed; one answering
// 500 every time gets its webhook parked, with the error visible, and
// unparking delivers the rest; a second sender process on the same store
// never sends a webhook's batch while the first does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, sleep, until } from './lib/client.mjs';
import { adminToken, startStack } from './lib/stack.mjs';

const T = { timeout: 90000 };
let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

// Fast retries so a test sees many attempts; parked after 12 in a row.
const SENDER_ARGS = ['--poll-ms', '50', '--batch', '5', '--retry-base-ms', '50', '--retry-cap-ms', '300', '--max-attempts', '12', '--lease-ms', '4000'];

/* A receiver on 127.0.0.1 at a fixed port that can go down and come up:
 * records every request (headers, body, whether its signature verifies) and
 * the most requests of one webhook it ever had in flight at once. */
function receiver({ secret = () => null, status = () => 200, delayMs = 0 } = {}) {
  const r = { requests: [], inFlight: 0, maxInFlight: 0, server: null, port: 0 };
  const handle = (req, res) => {
    const chunks = [];
    r.inFlight++;
    r.maxInFlight = Math.max(r.maxInFlight, r.inFlight);
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = req.headers['x-chat-timestamp'];
      const sig = req.headers['x-chat-signature'] || '';
      const key = secret();
      const want = key ? 'v1=' + createHmac('sha256', Buffer.from(key, 'hex')).update(`${ts}.${body}`).digest('hex') : '';
      const verified = !!key && sig.length === want.length && timingSafeEqual(Buffer.from(sig), Buffer.from(want));
      if (delayMs) await sleep(delayMs);
      const code = status();
      r.requests.push({ delivery: req.headers['x-chat-delivery'], ts, verified, code, body: JSON.parse(body) });
      r.inFlight--;
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  };
  r.up = () =>
    new Promise((resolve, reject) => {
      r.server = createServer(handle);
      r.server.once('error', reject);
      r.server.listen(r.port, '127.0.0.1', () => {
        r.port = r.server.address().port;
        resolve();
      });
    });
  r.down = () =>
    new Promise((resolve) => {
      if (!r.server) return resolve();
      r.server.closeAllConnections?.();
      r.server.close(() => resolve());
      r.server = null;
    });
  /* The events delivered with a 2xx, in the order they came. */
  r.accepted = () => r.requests.filter((q) => q.code < 300).flatMap((q) => q.body.events);
  return r;
}

describe('webhooks', () => {
  let stack, admin;
  const extra = [];

  before(async () => {
    stack = await startStack({ env: { WEBHOOKS_ARGS: SENDER_ARGS.join(' ') } });
    admin = await adminToken(stack);
  });

  after(async () => {
    for (const p of extra) p.kill('SIGTERM');
    await stack?.stop();
  });

  const hooks = async () => (await api(stack.url, '/api/webhooks', { token: admin })).body.webhooks;
  const hook = async (id) => (await api(stack.url, `/api/webhooks/${id}`, { token: admin })).body;
  const register = async (url, events) => {
    const res = await api(stack.url, '/api/webhooks', { method: 'POST', token: admin, json: { url, events } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.secret, /^[0-9a-f]{64}$/);
    return res.body;
  };
  const newRoom = async (name) => {
    const res = await api(stack.url, '/api/rooms', { method: 'POST', json: { name } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const post = async (room, user, text) => {
    const res = await api(stack.url, `/api/rooms/${room.id}/messages`, { method: 'POST', json: { user, text } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  test('only an admin manages webhooks; bad input is refused; the secret is shown once', T, async () => {
    assert.equal((await api(stack.url, '/api/webhooks')).status, 401);
    const bad = [
      { url: 'ftp://127.0.0.1/x' },
      { url: 'http://' },
      { url: 'http://127.0.0.1/a b' },
      { url: 'http://127.0.0.1/' + 'x'.repeat(3000) },
      { url: 'http://127.0.0.1/', events: ['nope'] },
      { url: 'http://127.0.0.1/', events: [] },
      { url: 'http://127.0.0.1/', namespace: 'no-slash' },
    ];
    for (const json of bad) {
      const res = await api(stack.url, '/api/webhooks', { method: 'POST', token: admin, json });
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.equal(typeof res.body.error, 'string');
    }
    const w = await register('http://127.0.0.1:9/never', ['chat message']);
    const listed = (await hooks()).find((h) => h.id === w.id);
    assert.equal(listed.secret, undefined, 'GET never shows the secret');
    assert.equal(listed.state, 'ok');
    assert.equal((await api(stack.url, `/api/webhooks/${w.id}`, { method: 'DELETE', token: admin })).status, 204);
    assert.equal((await api(stack.url, `/api/webhooks/${w.id}`, { token: admin })).status, 404);
  });

  test('a receiver down for a while, then up: nothing lost, nothing out of order, each signed', T, async () => {
    let secret = null;
    const rx = receiver({ secret: () => secret });
    await rx.up(); // take a port, then go down before anything is sent
    await rx.down();
    const w = await register(`http://127.0.0.1:${rx.port}/hook?x=1`, ['chat message', 'message deleted']);
    secret = w.secret;
    const a = await newRoom(uniq('wa'));
    const b = await newRoom(uniq('wb'));
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(await post(i % 2 ? a : b, uniq('u'), `m${i}`));
    const gone = sent[3];
    const del = await api(stack.url, `/api/rooms/${gone.room_id ?? b.id}/messages/${gone.id}`, { method: 'DELETE', token: admin });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    // The sender retries against the closed port and says so.
    await until(async () => (await hook(w.id)).attempts >= 3, 20000, 'failed attempts');
    const failing = await hook(w.id);
    assert.equal(failing.state, 'retrying');
    assert.equal(failing.parked, false);
    assert.ok(failing.last_error.length > 0);
    await rx.up();
    // The message deleted before it could be delivered is gone from the
    // log (its text with it): the receiver gets the deletion only.
    await until(() => rx.accepted().length >= 12, 30000, 'every event delivered');
    await sleep(300); // nothing more should come
    const events = rx.accepted();
    assert.equal(events.length, 12, 'each event once');
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'log order');
    assert.deepEqual(
      events.slice(0, 11).map((e) => e.text),
      sent.filter((m) => m !== gone).map((m) => m.text),
    );
    assert.ok(events.slice(0, 11).every((e) => e.event === 'chat message'));
    assert.equal(events[11].event, 'message deleted');
    assert.equal(events[11].target, gone.id);
    assert.ok(rx.requests.every((q) => q.verified), 'every signature verifies');
    assert.ok(rx.requests.every((q) => q.body.delivery === q.delivery));
    assert.ok(rx.requests.length >= 3, 'batches of at most 5');
    const done = await hook(w.id);
    assert.equal(done.state, 'ok');
    assert.equal(done.attempts, 0);
    assert.equal(done.cursor, ids.at(-1));
    assert.equal(done.delivered, 12);
    await rx.down();
  });

  test('a receiver answering 500 every time: parked with its error, unparked delivers the rest', T, async () => {
    let code = 500;
    let secret = null;
    const rx = receiver({ secret: () => secret, status: () => code });
    await rx.up();
    const w = await register(`http://127.0.0.1:${rx.port}/`);
    secret = w.secret;
    const room = await newRoom(uniq('wp'));
    for (let i = 0; i < 3; i++) await post(room, uniq('u'), `p${i}`);
    await until(async () => (await hook(w.id)).parked, 40000, 'the webhook parked');
    const parked = await hook(w.id);
    assert.equal(parked.state, 'parked');
    assert.equal(parked.last_status, 500);
    assert.equal(parked.last_error, 'HTTP 500');
    assert.equal(parked.attempts, 12);
    const tried = rx.requests.length;
    assert.equal(tried, 12);
    // The same batch every time, under the same delivery id.
    assert.equal(new Set(rx.requests.map((q) => q.delivery)).size, 1);
    await sleep(500);
    assert.equal(rx.requests.length, tried, 'a parked webhook is not tried');
    code = 200;
    const res = await api(stack.url, `/api/webhooks/${w.id}/unpark`, { method: 'POST', token: admin });
    assert.equal(res.status, 200);
    await until(() => rx.accepted().length >= 3, 20000, 'delivered after unparking');
    assert.deepEqual(rx.accepted().map((e) => e.text), ['p0', 'p1', 'p2']);
    assert.equal((await hook(w.id)).state, 'ok');
    await rx.down();
  });

  test('two sender processes never send the same webhook at once, nor an event twice', T, async () => {
    let secret = null;
    const rx = receiver({ secret: () => secret, delayMs: 150 });
    await rx.up();
    const second = spawn(path.join(stack.binDir, 'chat-webhooks'), ['--db', stack.dbPath, ...SENDER_ARGS], { stdio: 'ignore' });
    extra.push(second);
    const w = await register(`http://127.0.0.1:${rx.port}/`);
    secret = w.secret;
    const room = await newRoom(uniq('wt'));
    const texts = [];
    for (let i = 0; i < 40; i++) {
      texts.push(`t${i}`);
      await post(room, uniq('u'), `t${i}`);
    }
    await until(() => rx.accepted().length >= 40, 40000, 'all 40 delivered');
    await sleep(500);
    assert.equal(rx.maxInFlight, 1, 'one request in flight per webhook');
    const deliveries = rx.requests.map((q) => q.delivery);
    assert.equal(new Set(deliveries).size, deliveries.length, 'no batch sent twice');
    assert.deepEqual(rx.accepted().map((e) => e.text), texts);
    assert.ok(rx.requests.every((q) => q.verified));
    second.kill('SIGTERM');
    await rx.down();
  });
});
