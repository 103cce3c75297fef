// conformance.test.mjs -- chat-ws --conformance behaves as the official Engine.IO v4
// and Socket.IO v5 test suites expect of a server under test (our own tests of the
// same behaviour: handshakes, heartbeat, close, upgrade, echo, namespaces, acks,
// binary attachments, malformed packets).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { ROOT, portOpen } from './lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let server, dir, URL, WS_URL;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'chat-conformance-'));
  const port = 21000 + Math.floor(Math.random() * 9000);
  URL = `http://127.0.0.1:${port}`;
  WS_URL = `ws://127.0.0.1:${port}`;
  server = spawn(`${binDir}/chat-ws`, ['--conformance', '--db', `${dir}/c.db`, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr.on('data', (d) => (server.log = (server.log || '') + d));
  for (let i = 0; i < 100 && !(await portOpen(port, 200)); i++) await sleep(50);
});

after(async () => {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  assert.doesNotMatch(server.log || '', /AddressSanitizer|runtime error:|LeakSanitizer/);
});

/* A WebSocket whose messages and close are awaited in order. */
function openWs(url) {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  const waiters = [];
  ws.closed = new Promise((r) => ws.once('close', (code) => r(code)));
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const v = isBinary ? Buffer.from(data) : data.toString();
    if (waiters.length) waiters.shift()(v);
    else queue.push(v);
  });
  ws.next = (ms = 2000) =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no message in time')), ms);
          waiters.push((v) => (clearTimeout(t), resolve(v)));
        });
  /* the next message that is not a ping */
  ws.nextData = async () => {
    for (;;) {
      const m = await ws.next();
      if (m !== '2') return m;
    }
  };
  ws.opened = new Promise((r) => ws.once('open', r));
  return ws;
}

const closedWithin = (ws, ms = 2000) =>
  Promise.race([ws.closed.then(() => true), sleep(ms).then(() => false)]);

async function pollingSession(prefix = 'engine.io') {
  const res = await fetch(`${URL}/${prefix}/?EIO=4&transport=polling`);
  return JSON.parse((await res.text()).substring(1)).sid;
}

const poll = (sid, extra = '') => fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}${extra}`);
const push = (sid, body) =>
  fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });

// ---- Engine.IO: handshake ------------------------------------------------

test('polling handshake opens a session with the suite settings', async () => {
  const res = await fetch(`${URL}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(text.startsWith('0'));
  const open = JSON.parse(text.substring(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, 300);
  assert.equal(open.pingTimeout, 200);
  assert.equal(open.maxPayload, 1000000);
});

test('bad EIO, transport or method get HTTP 400', async () => {
  for (const q of ['transport=polling', 'EIO=abc&transport=polling', 'EIO=4', 'EIO=4&transport=abc']) {
    assert.equal((await fetch(`${URL}/engine.io/?${q}`)).status, 400, q);
  }
  assert.equal((await fetch(`${URL}/engine.io/?EIO=4&transport=polling`, { method: 'POST' })).status, 400);
  assert.equal((await fetch(`${URL}/engine.io/?EIO=4&transport=polling`, { method: 'PUT' })).status, 400);
});

test('WebSocket handshake offers no upgrade; bad query closes', async () => {
  const ws = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket`);
  const open = JSON.parse((await ws.next()).substring(1));
  assert.deepEqual(open.upgrades, []);
  assert.equal(open.pingInterval, 300);
  ws.close();
  for (const q of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=4', 'EIO=4&transport=abc']) {
    assert.ok(await closedWithin(openWs(`${WS_URL}/engine.io/?${q}`)), q);
  }
});

// ---- Engine.IO: messages ---------------------------------------------------

test('polling echoes one, several, and text + binary packets', async () => {
  for (const body of ['4hello', '4test1\x1e4test2\x1e4test3', '4hello\x1ebAQIDBA==']) {
    const sid = await pollingSession();
    const res = await push(sid, body);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
    const got = await poll(sid);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), body);
  }
});

test('polling: an invalid packet closes the session', async () => {
  const sid = await pollingSession();
  assert.equal((await push(sid, 'abc')).status, 400);
  assert.equal((await poll(sid)).status, 400);
});

test('polling: a second concurrent GET closes the session', async () => {
  const sid = await pollingSession();
  const [first, second] = await Promise.all([poll(sid), sleep(20).then(() => poll(sid, '&t=burst'))]);
  assert.equal(first.status, 200);
  assert.equal(await first.text(), '1');
  assert.ok([400, 500].includes(second.status));
  assert.equal((await poll(sid)).status, 400);
});

test('polling: a cancelled GET closes the session', async () => {
  const sid = await pollingSession();
  const controller = new AbortController();
  poll(sid).catch(() => {});
  fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { signal: controller.signal }).catch(() => {});
  await sleep(50);
  controller.abort();
  await sleep(50);
  assert.equal((await poll(sid)).status, 400);
});

test('WebSocket echoes text and binary; an invalid packet closes', async () => {
  const ws = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket`);
  await ws.next();
  ws.send('4hello');
  assert.equal(await ws.nextData(), '4hello');
  ws.send(Uint8Array.from([1, 2, 3, 4]));
  assert.deepEqual(await ws.nextData(), Buffer.from([1, 2, 3, 4]));
  ws.send('abc');
  assert.ok(await closedWithin(ws));
});

// ---- Engine.IO: heartbeat and close ----------------------------------------

test('polling ping/pong, three rounds, then ping timeout closes', async () => {
  const sid = await pollingSession();
  for (let i = 0; i < 3; i++) {
    const res = await poll(sid);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '2');
    assert.equal((await push(sid, '3')).status, 200);
  }
  const idle = await pollingSession();
  await sleep(300 + 200);
  assert.equal((await poll(idle)).status, 400);
});

test('WebSocket ping/pong, three rounds; a silent client is closed', async () => {
  const ws = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket`);
  await ws.next();
  for (let i = 0; i < 3; i++) {
    assert.equal(await ws.next(), '2');
    ws.send('3');
  }
  ws.close();
  const silent = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket`);
  assert.ok(await closedWithin(silent, 2000));
});

test('close: polling GET gets a noop, then the session is gone; WebSocket closes', async () => {
  const sid = await pollingSession();
  const [get] = await Promise.all([poll(sid), sleep(20).then(() => push(sid, '1'))]);
  assert.equal(get.status, 200);
  assert.equal(await get.text(), '6');
  assert.equal((await poll(sid)).status, 400);
  const ws = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket`);
  await ws.next();
  ws.send('1');
  assert.ok(await closedWithin(ws));
});

// ---- Engine.IO: upgrade ------------------------------------------------------

test('upgrade: probe, noop for the poll, then the WebSocket carries the session', async () => {
  const sid = await pollingSession();
  const ws = openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
  await ws.opened;
  ws.send('2probe');
  assert.equal(await ws.next(), '3probe');
  const res = await poll(sid);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '6');
  ws.send('5');
  ws.send('4hello');
  assert.equal(await ws.nextData(), '4hello');
  // after the upgrade: HTTP requests and a second WebSocket with the sid are refused
  assert.equal((await poll(sid)).status, 400);
  assert.ok(await closedWithin(openWs(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`)));
  ws.close();
});

// ---- Socket.IO -----------------------------------------------------------------

async function sioSocket(auth = '') {
  const ws = openWs(`${WS_URL}/socket.io/?EIO=4&transport=websocket`);
  await ws.next(); // Engine.IO open
  ws.send(`40${auth}`);
  const connect = await ws.nextData();
  const auth_ = await ws.nextData();
  return { ws, connect, auth: auth_ };
}

test('CONNECT to / and /custom, with and without payload: sid only, auth echoed', async () => {
  for (const [send, prefix, authEcho] of [
    ['40', '40', '42["auth",{}]'],
    ['40{"token":"123"}', '40', '42["auth",{"token":"123"}]'],
    ['40/custom,', '40/custom,', '42/custom,["auth",{}]'],
    ['40/custom,{"token":"abc"}', '40/custom,', '42/custom,["auth",{"token":"abc"}]'],
  ]) {
    const ws = openWs(`${WS_URL}/socket.io/?EIO=4&transport=websocket`);
    await ws.next();
    ws.send(send);
    const reply = await ws.nextData();
    assert.ok(reply.startsWith(prefix), reply);
    assert.deepEqual(Object.keys(JSON.parse(reply.substring(prefix.length))), ['sid']);
    assert.equal(await ws.nextData(), authEcho);
    ws.close();
  }
});

test('unknown namespace, invalid handshake, no handshake', async () => {
  const ws = openWs(`${WS_URL}/socket.io/?EIO=4&transport=websocket`);
  await ws.next();
  ws.send('40/random');
  assert.equal(await ws.nextData(), '44/random,{"message":"Invalid namespace"}');
  ws.close();
  const bad = openWs(`${WS_URL}/socket.io/?EIO=4&transport=websocket`);
  await bad.next();
  bad.send('4abc');
  assert.ok(await closedWithin(bad));
  const silent = openWs(`${WS_URL}/socket.io/?EIO=4&transport=websocket`);
  assert.ok(await closedWithin(silent, 2500));
});

test('DISCONNECT from / and from /custom; the main namespace still answers', async () => {
  const { ws } = await sioSocket();
  ws.send('41');
  assert.equal(await ws.next(), '2'); // nothing but the next ping
  ws.close();
  const { ws: ws2 } = await sioSocket();
  ws2.send('40/custom');
  await ws2.nextData();
  await ws2.nextData();
  ws2.send('41/custom');
  ws2.send('42["message","message to main namespace"]');
  assert.equal(await ws2.nextData(), '42["message-back","message to main namespace"]');
  ws2.close();
});

test('events, acks and binary attachments are echoed', async () => {
  const { ws } = await sioSocket();
  ws.send('42["message",1,"2",{"3":[true]}]');
  assert.equal(await ws.nextData(), '42["message-back",1,"2",{"3":[true]}]');
  ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  assert.equal(await ws.nextData(), '43456[1,"2",{"3":[false]}]');
  const ph = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}';
  ws.send(`452-["message",${ph}]`);
  ws.send(Uint8Array.from([1, 2, 3]));
  ws.send(Uint8Array.from([4, 5, 6]));
  assert.equal(await ws.nextData(), `452-["message-back",${ph}]`);
  assert.deepEqual(await ws.nextData(), Buffer.from([1, 2, 3]));
  assert.deepEqual(await ws.nextData(), Buffer.from([4, 5, 6]));
  ws.send(`452-789["message-with-ack",${ph}]`);
  ws.send(Uint8Array.from([1, 2, 3]));
  ws.send(Uint8Array.from([4, 5, 6]));
  assert.equal(await ws.nextData(), `462-789[${ph}]`);
  assert.deepEqual(await ws.nextData(), Buffer.from([1, 2, 3]));
  assert.deepEqual(await ws.nextData(), Buffer.from([4, 5, 6]));
  ws.close();
});

test('malformed Socket.IO packets close the connection', async () => {
  for (const bad of ['4abc', '42{}', '42abc["message-with-ack",1,"2",{"3":[false]}]']) {
    const { ws } = await sioSocket();
    ws.send(bad);
    assert.ok(await closedWithin(ws), bad);
  }
});

// ---- beyond the suites: server -> client acks, with the official client --------

test('server emits with an ack: the answer comes back; no answer times out', async () => {
  const s = io(URL, { transports: ['websocket'], reconnection: false });
  try {
    await new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('connect_error', reject);
    });
    s.on('ask', (x, cb) => cb(`${x}!`, 42));
    const received = new Promise((r) => s.once('ack-received', (...args) => r(args)));
    s.emit('ask-me', 'hi');
    assert.deepEqual(await received, ['hi!', 42]);
    s.off('ask');
    s.on('ask', () => {}); // never acks
    const timedOut = new Promise((r) => s.once('ack-timeout', (...args) => r(args)));
    const t0 = Date.now();
    s.emit('ask-me', 'silence');
    assert.deepEqual(await timedOut, ['timeout']);
    assert.ok(Date.now() - t0 >= 450, 'not before the 500 ms timeout');
  } finally {
    s.close();
  }
});
