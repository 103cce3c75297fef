// cgi.test.mjs -- chat-fcgi run as a plain CGI program: one request from the
// environment and stdin, the response ("Status:" line, headers, body) on stdout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const bin = path.join(binDir, 'chat-fcgi');
const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

let dir;
let db;

/* What a web server puts in PATH_INFO: the decoded path (no NUL in an env). */
function pathInfo(raw) {
  try {
    return decodeURIComponent(raw).replaceAll('\0', '');
  } catch {
    return raw;
  }
}

/* Runs one CGI request. target is the raw request URI (path?query); opts:
 * body (string or Buffer), type (CONTENT_TYPE), length (CONTENT_LENGTH, the
 * body's by default), env (extra or overriding variables; null deletes), db.
 * Resolves to { code, status, headers, body, json, stderr }. */
function cgi(method, target, opts = {}) {
  const body = opts.body === undefined ? null : Buffer.from(opts.body);
  const [pathPart, query = ''] = target.split('?');
  const env = {
    PATH: process.env.PATH,
    // Leaks count here: a CGI run ends with a normal exit.
    ASAN_OPTIONS: 'detect_leaks=1',
    UBSAN_OPTIONS: 'print_stacktrace=1',
    CHAT_DB: opts.db ?? db,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: method,
    REQUEST_URI: target,
    SCRIPT_NAME: '',
    PATH_INFO: pathInfo(pathPart),
    QUERY_STRING: query,
  };
  if (body !== null) {
    env.CONTENT_LENGTH = String(opts.length ?? body.length);
    env.CONTENT_TYPE = opts.type ?? 'application/json';
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.on('error', () => {}); // it may exit before reading all of it
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const raw = Buffer.concat(out).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const head = split >= 0 ? raw.slice(0, split) : raw;
      const text = split >= 0 ? raw.slice(split + 4) : '';
      const headers = {};
      for (const line of head.split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = parseInt(headers.status, 10);
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      resolve({ code: code ?? signal, status, headers, body: text, json, stderr, raw });
    });
    if (body !== null) child.stdin.end(body);
    else child.stdin.end();
  });
}

/* The checks every run shares: exit 0, no sanitizer report, a well-formed
 * header block with a matching Content-Length. */
function assertClean(res) {
  assert.equal(res.code, 0, `exit status ${res.code}; stderr: ${res.stderr}`);
  assert.doesNotMatch(res.stderr, SANITIZER);
  assert.match(res.raw, /^Status: \d{3} [A-Za-z ]+\r\n/);
  if (res.status !== 204)
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body), 'Content-Length');
}

describe('chat-fcgi as CGI', { skip: !existsSync(bin) && `${bin} not built` }, () => {
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'chat-cgi-'));
    db = path.join(dir, 'chat.db');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('GET /api/rooms: Status 200 and the rooms as JSON', async () => {
    const res = await cgi('GET', '/api/rooms');
    assertClean(res);
    assert.equal(res.status, 200);
    assert.equal(res.headers.status, '200 OK');
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(Array.isArray(res.json.rooms));
    const general = res.json.rooms.find((r) => r.name === 'general');
    assert.ok(general, 'the schema seeds "general"');
    assert.deepEqual(Object.keys(general).sort(), ['created_at', 'id', 'last_message_id', 'name', 'namespace', 'online']);
  });

  test('POST /api/rooms: Status 201, Location, the room; then 409', async () => {
    const res = await cgi('POST', '/api/rooms', { body: '{"name":"cgi room"}' });
    assertClean(res);
    assert.equal(res.headers.status, '201 Created');
    assert.equal(res.json.name, 'cgi room');
    assert.equal(res.headers.location, `/api/rooms/${res.json.id}`);
    const again = await cgi('POST', '/api/rooms', { body: '{"name":"cgi room"}' });
    assertClean(again);
    assert.equal(again.status, 409);
    assert.equal(typeof again.json.error, 'string');
    const list = await cgi('GET', '/api/rooms?namespace=%2F');
    assert.ok(list.json.rooms.some((r) => r.id === res.json.id), 'each run sees the file');
  });

  test('POST then GET messages', async () => {
    const room = (await cgi('POST', '/api/rooms', { body: JSON.stringify({ name: 'cgi-messages' }) })).json;
    // Writing as a user needs its credential: claim the name, then present it.
    const secret = { CHAT_SECRET: 'a-cgi-test-secret-of-32-bytes!!!' };
    const claim = await cgi('POST', '/api/users', { body: JSON.stringify({ name: 'cgi' }), env: secret });
    assert.equal(claim.status, 201, claim.raw);
    const env = { ...secret, HTTP_AUTHORIZATION: `Bearer ${claim.json.token}` };
    const anon = await cgi('POST', `/api/rooms/${room.id}/messages`, { body: JSON.stringify({ user: 'cgi', text: 'x' }), env: secret });
    assert.equal(anon.status, 401);
    const posted = await cgi('POST', `/api/rooms/${room.id}/messages`, {
      body: JSON.stringify({ user: 'cgi', text: 'hello from stdin ✓', client_id: 'c1' }),
      type: 'application/json; charset=utf-8',
      env,
    });
    assertClean(posted);
    assert.equal(posted.status, 201);
    assert.equal(posted.json.text, 'hello from stdin ✓');
    assert.equal(posted.json.room, 'cgi-messages');
    assert.equal(posted.json.room_id, room.id);
    const dup = await cgi('POST', `/api/rooms/${room.id}/messages`, {
      body: JSON.stringify({ user: 'cgi', text: 'retry', client_id: 'c1' }),
      env,
    });
    assert.equal(dup.status, 200);
    assert.equal(dup.json.id, posted.json.id);
    const list = await cgi('GET', `/api/rooms/${room.id}/messages?limit=10`);
    assertClean(list);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.messages.map((m) => m.text), ['hello from stdin ✓']);
  });

  test('bad requests get JSON errors, never 500', async () => {
    const cases = [
      ['POST', '/api/rooms', { body: '{"name":"x"}', type: 'text/plain' }, 415],
      ['POST', '/api/rooms', { body: '{"name":' }, 400],
      ['POST', '/api/rooms', { body: '{"name":"a\\u0000"}' }, 400],
      ['GET', '/api/rooms/abc', {}, 404],
      ['GET', '/api/rooms/1/messages?limit=0', {}, 400],
      ['GET', '/api/rooms?namespace=%00', {}, 400],
      ['GET', '/nope', {}, 404],
      ['DELETE', '/api/rooms', {}, 405],
    ];
    for (const [method, target, opts, status] of cases) {
      const res = await cgi(method, target, opts);
      assertClean(res);
      assert.equal(res.status, status, `${method} ${target}: ${res.raw}`);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(typeof res.json?.error, 'string');
      if (status === 405) assert.match(res.headers.allow, /POST/);
    }
  });

  test('CONTENT_LENGTH is checked before reading: 413 over 64 KiB, 400 when short or invalid', async () => {
    const big = await cgi('POST', '/api/rooms', { body: '{"name":"x"}', length: 1 << 20 });
    assertClean(big);
    assert.equal(big.status, 413);
    const short = await cgi('POST', '/api/rooms', { body: '{"name":"x"}', length: 100 });
    assertClean(short);
    assert.equal(short.status, 400);
    const bad = await cgi('POST', '/api/rooms', { body: '{"name":"x"}', length: '12abc' });
    assertClean(bad);
    assert.equal(bad.status, 400);
    // Only CONTENT_LENGTH bytes are read: the rest of stdin is ignored.
    const extra = await cgi('POST', '/api/rooms', { body: '{"name":"exact"}garbage', length: 16 });
    assertClean(extra);
    assert.equal(extra.status, 201, extra.raw);
  });

  test('routes by PATH_INFO when there is no REQUEST_URI, and below a SCRIPT_NAME', async () => {
    const info = await cgi('GET', '/api/health', { env: { REQUEST_URI: null } });
    assertClean(info);
    assert.equal(info.status, 200);
    assert.equal(info.json.status, 'ok');
    const mounted = await cgi('GET', '/cgi-bin/chat/api/rooms/1', {
      env: { SCRIPT_NAME: '/cgi-bin/chat', PATH_INFO: '/api/rooms/1' },
    });
    assertClean(mounted);
    assert.equal(mounted.status, 200, mounted.raw);
    assert.equal(mounted.json.id, 1);
  });

  test('HEAD has the headers of GET and no body', async () => {
    const res = await cgi('HEAD', '/api/rooms');
    assert.equal(res.code, 0);
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers['content-length']) > 0);
    assert.equal(res.body, '');
  });

  test('GET / is the page with its CSP', async () => {
    const res = await cgi('GET', '/');
    assertClean(res);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.headers['content-security-policy'], /script-src 'self'/);
    assert.match(res.body, /<ul class="room-list" id="room-list">/);
  });

  test('an unusable database gives 503 JSON, not a crash', async () => {
    const res = await cgi('GET', '/api/health', { db: path.join(dir, 'missing-dir', 'x.db') });
    assertClean(res);
    assert.equal(res.status, 503);
    assert.equal(res.json.status, 'error');
    assert.equal(res.json.database, undefined, 'details only with an admin token');
    assert.ok(res.headers['retry-after']);
    const rooms = await cgi('GET', '/api/rooms', { db: path.join(dir, 'missing-dir', 'x.db') });
    assert.equal(rooms.status, 503);
  });

  test('without REQUEST_METHOD it prints its usage and exits 2', async () => {
    const res = await cgi('GET', '/', { env: { REQUEST_METHOD: null } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /usage: chat-fcgi/);
  });
});
