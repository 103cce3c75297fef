// http_transport.test.mjs -- chat-ws's HTTP long-polling as HTTP clients see it:
// connection reuse by a keep-alive agent (Node's http.Agent, the default since
// Node 19, with and without node-fetch's "Connection: close"), HTTP/1.0, the
// session-ending errors Engine.IO's server gives (invalid packet, aborted GET),
// the upgrade's noop, a second WebSocket on an upgraded session, and the
// methods and body framings Node's engine.io server meets (HEAD, OPTIONS with
// CORS, chunked, split and pipelined requests).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { ROOT, portOpen } from './lib/stack.mjs';
import { rawHttpParts } from './lib/rawws.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ORIGIN = 'http://app.example';
let cors, plain; // servers: with --cors-origin, and without (and a 400 ms connect timeout)

/* chat-ws --conformance on a free port, with the default heartbeat (25 s) so
 * that no test races a ping timeout. */
async function startServer(extra = []) {
  const port = 21000 + Math.floor(Math.random() * 9000);
  const proc = spawn(
    `${binDir}/chat-ws`,
    ['--conformance', '--ping-interval', '25000', '--ping-timeout', '20000', '--listen', `127.0.0.1:${port}`, ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.log = '';
  proc.stderr.on('data', (d) => (proc.log += d));
  for (let i = 0; i < 100 && !(await portOpen(port, 200)); i++) await sleep(50);
  return { proc, port, base: `/engine.io/?EIO=4&transport=polling` };
}

async function stopServer(s) {
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.once('exit', r));
  assert.doesNotMatch(s.proc.log, /AddressSanitizer|runtime error:|LeakSanitizer/);
}

before(async () => {
  [cors, plain] = await Promise.all([startServer(['--cors-origin', ORIGIN]), startServer(['--connect-timeout', '400'])]);
});

after(async () => {
  await stopServer(cors);
  await stopServer(plain);
});

/* One request through agent; resolves to { status, headers, body, socket }. */
function request(s, agent, { method = 'GET', query = '', body, headers = {}, signal } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: s.port, path: s.base + query, method, agent, headers, signal },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data, socket: req.socket }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function openSession(s, agent) {
  const res = await request(s, agent);
  assert.equal(res.status, 200);
  return JSON.parse(res.body.substring(1)).sid;
}

/* A WebSocket whose messages are awaited in order. */
function openWs(s, query) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/engine.io/?EIO=4&transport=websocket${query}`);
  const queue = [];
  const waiters = [];
  ws.on('error', () => {});
  ws.on('message', (data) => (waiters.length ? waiters.shift()(data.toString()) : queue.push(data.toString())));
  ws.opened = new Promise((r) => ws.once('open', () => r(true)));
  ws.closed = new Promise((r) => ws.once('close', (code) => r(code)));
  ws.next = (ms = 2000) =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no message in time')), ms);
          waiters.push((v) => (clearTimeout(t), resolve(v)));
        });
  return ws;
}

/* A test body given a keep-alive agent, destroyed after it. */
const withAgent = (body) => async () => {
  const agent = new http.Agent({ keepAlive: true });
  try {
    await body(agent);
  } finally {
    agent.destroy();
  }
};

/* A WebSocket probing the upgrade of polling session sid, "3probe" received. */
async function probe(s, sid) {
  const ws = openWs(s, `&sid=${sid}`);
  await ws.opened;
  ws.send('2probe');
  assert.equal(await ws.next(), '3probe');
  return ws;
}

// ---- connection reuse ----------------------------------------------------------

test('Connection: close is announced, so a keep-alive pool never reuses a closed connection', async () => {
  // node-fetch sends "Connection: close"; Node's pooled agent would put the
  // socket back unless the answer says it closes.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const close = { Connection: 'close' };
  try {
    const first = await request(cors, agent, { headers: close });
    assert.equal(first.headers.connection, 'close');
    const sid = JSON.parse(first.body.substring(1)).sid;
    for (let i = 0; i < 3; i++) {
      const push = await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: '4hello', headers: close });
      assert.equal(push.status, 200);
      assert.equal(push.headers.connection, 'close');
      const poll = await request(cors, agent, { query: `&sid=${sid}`, headers: close });
      assert.equal(poll.status, 200);
      assert.equal(poll.body, '4hello');
      assert.equal(poll.headers.connection, 'close');
    }
    // errors too
    const bad = await request(cors, agent, { query: '&sid=nope', headers: close });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.connection, 'close');
  } finally {
    agent.destroy();
  }
});

test('HTTP/1.1 without Connection: close keeps the connection; a POST answer closes it and says so', async () => {
  // POST answers close their connection on purpose: lws 4.1 loses a body
  // pipelined behind another one and can spin its loop (see the bodies test).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sockets = new Set();
    for (let i = 0; i < 3; i++) {
      const open = await request(cors, agent);
      assert.equal(open.status, 200);
      assert.equal(open.headers.connection, undefined);
      const sid = JSON.parse(open.body.substring(1)).sid;
      const unknown = await request(cors, agent, { query: `&sid=x${sid}` });
      assert.equal(unknown.status, 400);
      sockets.add(open.socket).add(unknown.socket);
    }
    assert.equal(sockets.size, 1, 'the GETs went over the first connection');
  } finally {
    agent.destroy();
  }
  const agent2 = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sid = await openSession(cors, agent2);
    for (let i = 0; i < 3; i++) {
      const push = await request(cors, agent2, { method: 'POST', query: `&sid=${sid}`, body: `4m${i}` });
      assert.equal(push.status, 200);
      assert.equal(push.headers.connection, 'close');
    }
  } finally {
    agent2.destroy();
  }
});

test('HTTP/1.0 closes unless keep-alive is asked, and says which', async () => {
  const get = (extra = '') => `GET ${cors.base} HTTP/1.0\r\nHost: x\r\n${extra}\r\n`;
  const closing = await rawHttpParts(cors.port, [get()], { waitMs: 2000 });
  assert.equal(closing.responses[0]?.status, 200);
  assert.equal(closing.responses[0].headers.connection, 'close');
  assert.ok(closing.closed, 'the server closed the HTTP/1.0 connection');
  const kept = await rawHttpParts(cors.port, [get('Connection: keep-alive\r\n')], { waitMs: 500 });
  assert.equal(kept.responses[0]?.status, 200);
  assert.equal(kept.responses[0].headers.connection, 'keep-alive');
  assert.ok(!kept.closed, 'the keep-alive connection stays open');
});

// ---- errors that end a polling session ----------------------------------------

test('a POST with an invalid packet gets 400 and ends the session', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const push = await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: 'abc' });
  assert.equal(push.status, 400);
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).status, 400);
  // a valid payload whose packet the session cannot take (a client ping) too
  const sid2 = await openSession(cors, agent);
  assert.equal((await request(cors, agent, { method: 'POST', query: `&sid=${sid2}`, body: '2' })).status, 400);
  assert.equal((await request(cors, agent, { query: `&sid=${sid2}` })).status, 400);
}));

test('an aborted polling GET ends the session: the next GET gets 400', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const controller = new AbortController();
  const held = request(cors, agent, { query: `&sid=${sid}`, signal: controller.signal }).catch(() => 'aborted');
  await sleep(50);
  controller.abort();
  assert.equal(await held, 'aborted');
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).status, 400);
  // the client's own close packet racing the abort is no error (a browser
  // would log one); anything else for the session is refused
  assert.equal((await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: '1' })).status, 200);
  assert.equal((await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: '4x' })).status, 400);

  // The abort and the next GET seen in the same turn of the server's loop:
  // the session is over at once, not only once it has been reaped. (The
  // held GET's connection is the older one, so its close is read first.)
  const sid2 = await openSession(cors, agent);
  const a = net.connect(cors.port, '127.0.0.1');
  await new Promise((r) => a.once('connect', r));
  const b = net.connect(cors.port, '127.0.0.1');
  await new Promise((r) => b.once('connect', r));
  a.on('error', () => {});
  a.write(`GET ${cors.base}&sid=${sid2} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await sleep(100);
  let answer = '';
  b.on('data', (d) => (answer += d));
  a.destroy();
  b.write(`GET ${cors.base}&sid=${sid2} HTTP/1.1\r\nHost: x\r\n\r\n`);
  for (let i = 0; i < 40 && !answer.includes('\r\n\r\n'); i++) await sleep(50);
  b.destroy();
  assert.match(answer, /^HTTP\/1.1 400 /);
}));

test('a session the server closes gives its close packet to the next GET, then is gone', withAgent(async (agent) => {
  // No Socket.IO CONNECT within the connect timeout: the server closes the
  // session (gracefully). Engine.IO holds it for the next poll, which gets
  // the close packet, rather than refusing that poll with a 400 (a browser
  // logs those as errors).
  const sio = { ...plain, base: '/socket.io/?EIO=4&transport=polling' };
  const open = await request(sio, agent);
  const sid = JSON.parse(open.body.substring(1)).sid;
  await sleep(800);
  const last = await request(sio, agent, { query: `&sid=${sid}` });
  assert.deepEqual([last.status, last.body], [200, '1']);
  assert.equal((await request(sio, agent, { query: `&sid=${sid}` })).status, 400);
  // with a GET waiting when the close comes, that GET carries it
  const open2 = await request(sio, agent);
  const sid2 = JSON.parse(open2.body.substring(1)).sid;
  const held = await request(sio, agent, { query: `&sid=${sid2}` });
  assert.deepEqual([held.status, held.body], [200, '1']);
}));

// ---- upgrade ---------------------------------------------------------------------

test('upgrade with no GET pending: no noop goes over the WebSocket; polling is refused after', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const ws = await probe(cors, sid);
  ws.send('5');
  ws.send('4hello');
  assert.equal(await ws.next(), '4hello', 'the first message after the upgrade is the echo');
  // the upgrade is done (the echo came after "5"): polling is over
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).status, 400);
  ws.close();
}));

test('upgrade: a GET pending at the probe, and one sent during it, get a noop', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const pending = request(cors, agent, { query: `&sid=${sid}` });
  await sleep(50);
  const ws = await probe(cors, sid);
  assert.equal((await pending).body, '6');
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).body, '6');
  ws.send('5');
  ws.send('4after');
  assert.equal(await ws.next(), '4after');
  ws.close();
}));

test('a second WebSocket with the sid of an upgraded session is opened, then closed', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const ws = await probe(cors, sid);
  ws.send('5');
  const second = openWs(cors, `&sid=${sid}`);
  assert.equal(await second.opened, true, 'the handshake completes');
  assert.equal(await second.closed, 1008);
  ws.send('4still');
  assert.equal(await ws.next(), '4still', 'the upgraded session goes on');
  // an unknown sid is still refused at the handshake
  const unknown = openWs(cors, '&sid=nope');
  const status = await new Promise((r) => unknown.once('unexpected-response', (_req, res) => r(res.statusCode)));
  assert.equal(status, 400);
  ws.close();
}));

// ---- methods and body framings ----------------------------------------------------

test('HEAD is refused like a GET would be, with no body', withAgent(async (agent) => {
  const noSid = await request(cors, agent, { method: 'HEAD' });
  assert.equal(noSid.status, 400);
  assert.equal(noSid.body, '');
  assert.ok(Number(noSid.headers['content-length']) > 0);
  const sid = await openSession(cors, agent);
  assert.equal((await request(cors, agent, { method: 'HEAD', query: `&sid=${sid}` })).status, 400);
  // the session is untouched
  await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: '4x' });
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).body, '4x');
}));

test('OPTIONS: a CORS preflight when CORS is on, else refused as a bad handshake method', withAgent(async (agent) => {
  const pre = await request(cors, agent, {
    method: 'OPTIONS',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  assert.match(pre.headers['access-control-allow-headers'], /content-type/i);
  const get = await request(cors, agent, { headers: { Origin: ORIGIN } });
  assert.equal(get.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(get.headers.vary, 'Origin');
  const refused = await request(plain, agent, { method: 'OPTIONS' });
  assert.equal(refused.status, 400);
  assert.equal(JSON.parse(refused.body).code, 2);
}));

test('bodies: split across segments, pipelined, chunked, missing, other methods', withAgent(async (agent) => {
  const sid = await openSession(cors, agent);
  const url = `${cors.base}&sid=${sid}`;
  const post = (body, extra = '') => `POST ${url} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;

  const split = await rawHttpParts(cors.port, [post('4hello').slice(0, -3), 'llo']);
  assert.equal(split.responses[0]?.status, 200);
  assert.equal(split.responses[0].body, 'ok');
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).body, '4hello');

  // Pipelined behind a POST: the POST is answered and the connection
  // closed (the client sends the rest again, as HTTP/1.1 asks of a
  // pipelining client). lws 4.1 spun its loop at 100% CPU on two
  // pipelined POSTs, which made one client a denial of service.
  const piped = await rawHttpParts(cors.port, [post('4one') + post('4two') + `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`]);
  assert.deepEqual(piped.responses.map((r) => [r.status, r.body, r.headers.connection]), [[200, 'ok', 'close']]);
  assert.ok(piped.closed);
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).body, '4one');
  // GET pipelined behind GET: both answered on the kept connection
  const gets = await rawHttpParts(cors.port, [`GET ${cors.base} HTTP/1.1\r\nHost: x\r\n\r\nGET ${cors.base} HTTP/1.1\r\nHost: x\r\n\r\n`]);
  assert.deepEqual(gets.responses.map((r) => r.status), [200, 200]);
  // A body on anything but a POST is refused and the connection closed
  // (GET, HEAD or OPTIONS with a body, twice pipelined, also spun lws).
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    const withBody = `${method} ${url} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`;
    const r = await rawHttpParts(cors.port, [withBody + withBody + withBody]);
    assert.equal(r.responses[0]?.status, 400, method);
    assert.ok(r.closed, method);
  }

  // lws cannot decode a chunked request body: 411, and the connection
  // closes so the chunks are never read as a request
  const chunked = await rawHttpParts(cors.port, [`POST ${url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n4bad\r\n0\r\n\r\n`]);
  assert.equal(chunked.responses[0]?.status, 411);
  assert.ok(chunked.closed);
  assert.equal(chunked.responses.length, 1);

  // other methods may carry a body: refused, connection closed
  const put = await rawHttpParts(cors.port, [`PUT ${url} HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`]);
  assert.equal(put.responses[0]?.status, 400);
  assert.ok(put.closed);
  assert.equal(put.responses.length, 1);

  // the session lived through all of that
  await request(cors, agent, { method: 'POST', query: `&sid=${sid}`, body: '4alive' });
  assert.equal((await request(cors, agent, { query: `&sid=${sid}` })).body, '4alive');

  // a POST without Content-Length has no body: answered at once (an empty
  // payload is invalid and ends the session), not left hanging
  const empty = await rawHttpParts(cors.port, [`POST ${url} HTTP/1.1\r\nHost: x\r\n\r\n`], { waitMs: 1500 });
  assert.equal(empty.responses[0]?.status, 400);
}));
