// rest.test.mjs -- every row of DESIGN.md's REST table and its errors, through
// nginx and chat-fcgi as `make run` starts them, with fetch as a client would.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { credential } from './lib/client.mjs';
import { ROOT, adminToken, fcgiPid, hasBinary, startStack } from './lib/stack.mjs';

const JSON_TYPE = 'application/json; charset=utf-8';
const ROOM_KEYS = ['created_at', 'id', 'last_message_id', 'name', 'namespace', 'online'];
const MESSAGE_KEYS = ['id', 'room', 'room_id', 'text', 'ts', 'user'];

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const haveWs = hasBinary(binDir, 'chat-ws');

let stack;

/* One HTTP call. body: an object (sent as JSON), a string, or a Buffer (sent
 * with no Content-Type unless type is given). Resolves to { status, headers,
 * text, json } where json is null when the body is not JSON. */
async function call(method, target, { body, type, token } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (type === undefined && !Buffer.isBuffer(body)) type = 'application/json';
    if (type) headers['content-type'] = type;
  }
  const res = await fetch(stack.url + target, { method, headers, body: payload, redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

/* Asserts an error answer: the status, JSON content type, {"error": string}. */
function assertError(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: content type`);
  assert.equal(typeof res.json?.error, 'string', `${what}: {"error": string}, got ${res.text.slice(0, 200)}`);
}

function assertRoom(room) {
  assert.deepEqual(Object.keys(room).sort(), ROOM_KEYS);
  assert.ok(Number.isInteger(room.id) && room.id > 0);
  assert.equal(typeof room.name, 'string');
  assert.equal(typeof room.namespace, 'string');
  assert.ok(Number.isInteger(room.created_at) && room.created_at > 1.5e12, 'created_at in ms');
  assert.ok(Number.isInteger(room.online) && room.online >= 0);
  assert.ok(Number.isInteger(room.last_message_id) && room.last_message_id >= 0);
}

function assertMessage(msg) {
  for (const k of MESSAGE_KEYS) assert.ok(k in msg, `message has ${k}: ${JSON.stringify(msg)}`);
  assert.ok(Number.isInteger(msg.id) && msg.id > 0);
  assert.ok(Number.isInteger(msg.room_id) && msg.room_id > 0);
  assert.equal(typeof msg.room, 'string');
  assert.equal(typeof msg.user, 'string');
  assert.equal(typeof msg.text, 'string');
  assert.ok(Number.isInteger(msg.ts) && msg.ts > 1.5e12, 'ts in ms');
}

let seq = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${++seq}`;

async function createRoom(name, namespace) {
  if (namespace && namespace !== '/') {
    // rooms go into workspaces that exist: an admin creates them
    const ws = await call('PUT', `/api/workspaces${namespace}`, { body: { retention: {} }, token: await adminToken(stack) }); // settings kept
    assert.equal(ws.status, 200, ws.text);
  }
  const res = await call('POST', '/api/rooms', { body: namespace ? { name, namespace } : { name } });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/* POSTs a message as body.user, with that name's credential (claimed on first
 * use, as a bot would: docs/security.md). */
async function post(roomId, body) {
  const token = typeof body?.user === 'string' ? await credential(stack.url, body.user) : null;
  return call('POST', `/api/rooms/${roomId}/messages`, { body, token });
}

describe('REST API through nginx', () => {
  before(async () => {
    stack = await startStack({ wsProcs: 1 });
  });
  after(async () => {
    await stack?.stop();
  });

  describe('GET /api/rooms', () => {
    test('lists the rooms of "/" with their state; "general" exists', async () => {
      const res = await call('GET', '/api/rooms');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assert.deepEqual(Object.keys(res.json).sort(), ['more', 'rooms']);
      assert.ok(Array.isArray(res.json.rooms));
      res.json.rooms.forEach(assertRoom);
      const general = res.json.rooms.find((r) => r.name === 'general');
      assert.ok(general, 'room general');
      assert.equal(general.namespace, '/');
      const ids = res.json.rooms.map((r) => r.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ordered by id');
    });

    test('namespace=/ and namespace=%2F are the default', async () => {
      const a = await call('GET', '/api/rooms');
      for (const q of ['?namespace=/', '?namespace=%2F']) {
        const b = await call('GET', `/api/rooms${q}`);
        assert.equal(b.status, 200);
        assert.deepEqual(b.json, a.json);
      }
    });

    test('a workspace lists only its own rooms', async () => {
      const ns = `/ws-${process.pid}`;
      const empty = await call('GET', `/api/rooms?namespace=${encodeURIComponent(ns)}`);
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.json, { rooms: [], more: false });
      const room = await createRoom('team', ns);
      assert.equal(room.namespace, ns);
      const listed = await call('GET', `/api/rooms?namespace=${ns}`);
      assert.deepEqual(listed.json.rooms.map((r) => r.id), [room.id]);
      const root = await call('GET', '/api/rooms');
      assert.ok(!root.json.rooms.some((r) => r.id === room.id), 'not listed in "/"');
    });

    for (const q of ['namespace=', 'namespace=bad', 'namespace=/Upper', 'namespace=/a_b', 'namespace=/admin',
      `namespace=/${'a'.repeat(33)}`, 'namespace=%00', 'namespace=/%zz', 'x=%4']) {
      test(`400 for ?${q.slice(0, 40)}`, async () => {
        assertError(await call('GET', `/api/rooms?${q}`), 400, q);
      });
    }

    test('414 for a query string over 4 KiB', async () => {
      assertError(await call('GET', `/api/rooms?namespace=/&pad=${'x'.repeat(5000)}`), 414, 'long query');
    });
  });

  describe('POST /api/rooms', () => {
    test('201 with Location and the room, which GET Location returns', async () => {
      const name = unique('lobby');
      const res = await call('POST', '/api/rooms', { body: { name } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assertRoom(res.json);
      assert.equal(res.json.name, name);
      assert.equal(res.json.namespace, '/');
      assert.equal(res.json.online, 0);
      assert.equal(res.json.last_message_id, 0);
      assert.equal(res.headers.get('location'), `/api/rooms/${res.json.id}`);
      const again = await call('GET', res.headers.get('location'));
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, res.json);
      const list = await call('GET', '/api/rooms');
      assert.ok(list.json.rooms.some((r) => r.id === res.json.id && r.name === name));
    });

    test('the name is trimmed; 409 when it exists in the namespace', async () => {
      const name = unique('dup');
      const room = await createRoom(`  ${name}\t`);
      assert.equal(room.name, name);
      assertError(await call('POST', '/api/rooms', { body: { name } }), 409, 'same name');
      assertError(await call('POST', '/api/rooms', { body: { name: ` ${name} ` } }), 409, 'same name, spaces');
      const other = await createRoom(name, `/ws-${process.pid}`);
      assert.notEqual(other.id, room.id, 'the same name in another namespace is another room');
    });

    test('names count characters: 64 accepted, 65 refused; UTF-8 kept', async () => {
      const name = `${'é'.repeat(60)}${String(process.pid % 1000).padStart(3, '0')}☕`;
      assert.equal([...name].length, 64);
      const room = await createRoom(name);
      assert.equal(room.name, name);
      assertError(await call('POST', '/api/rooms', { body: { name: 'n'.repeat(65) } }), 400, '65 chars');
    });

    test('Content-Type application/json with parameters is accepted', async () => {
      const res = await call('POST', '/api/rooms', {
        body: JSON.stringify({ name: unique('charset') }),
        type: 'application/json; charset=utf-8',
      });
      assert.equal(res.status, 201, res.text);
    });

    const invalid = [
      ['no name', '{}'],
      ['empty name', '{"name":""}'],
      ['blank name', '{"name":"   "}'],
      ['name not a string', '{"name":5}'],
      ['name null', '{"name":null}'],
      ['control character', '{"name":"a\\u0001b"}'],
      ['newline inside', '{"name":"a\\nb"}'],
      ['NUL escape', '{"name":"a\\u0000b"}'],
      ['bad namespace', '{"name":"x","namespace":"nope"}'],
      ['namespace /admin', '{"name":"x","namespace":"/admin"}'],
      ['namespace not a string', '{"name":"x","namespace":1}'],
      ['malformed JSON', '{"name":'],
      ['trailing garbage', '{"name":"x"} y'],
      ['empty body', ''],
      ['an array', '["x"]'],
      ['a string', '"x"'],
      ['duplicate keys', '{"name":"a","name":"b"}'],
    ];
    for (const [what, body] of invalid) {
      test(`400 for ${what}`, async () => {
        assertError(await call('POST', '/api/rooms', { body }), 400, what);
      });
    }

    test('400 for invalid UTF-8', async () => {
      const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      assertError(await call('POST', '/api/rooms', { body, type: 'application/json' }), 400, 'bad UTF-8');
    });

    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp', null]) {
      test(`415 for Content-Type ${type ?? '(none)'}`, async () => {
        const body = type === null ? Buffer.from('{"name":"x"}') : '{"name":"x"}';
        assertError(await call('POST', '/api/rooms', { body, type }), 415, String(type));
      });
    }

    test('413 for a body over 64 KiB; just under it is fine', async () => {
      const big = await call('POST', '/api/rooms', { body: { name: 'big', pad: 'x'.repeat(70 * 1024) } });
      assertError(big, 413, '70 KiB');
      const ok = await call('POST', '/api/rooms', { body: { name: unique('almost'), pad: 'x'.repeat(60 * 1024) } });
      assert.equal(ok.status, 201, ok.text.slice(0, 200));
    });
  });

  describe('GET /api/rooms/{id}', () => {
    test('200 with the room', async () => {
      const room = await createRoom(unique('get'));
      const res = await call('GET', `/api/rooms/${room.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assert.deepEqual(res.json, room);
    });

    for (const id of ['999999', '0', 'abc', '-1', '1x', '99999999999999999999999', '9223372036854775807']) {
      test(`404 for id ${id}`, async () => {
        assertError(await call('GET', `/api/rooms/${id}`), 404, id);
      });
    }
  });

  describe('POST /api/rooms/{id}/messages', () => {
    let room;
    before(async () => {
      room = await createRoom(unique('post'));
    });

    test('201 with Location and the message', async () => {
      const res = await post(room.id, { user: ' ann ', text: 'hello <b>world</b> & co' });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assertMessage(res.json);
      assert.equal(res.json.user, 'ann', 'user trimmed');
      assert.equal(res.json.text, 'hello <b>world</b> & co', 'text as sent');
      assert.equal(res.json.room, room.name);
      assert.equal(res.json.room_id, room.id);
      assert.ok(Math.abs(res.json.ts - Date.now()) < 60000, 'ts is now');
      assert.equal(res.headers.get('location'), `/api/rooms/${room.id}/messages/${res.json.id}`);
      const again = await call('GET', res.headers.get('location'));
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, res.json);
      const r = await call('GET', `/api/rooms/${room.id}`);
      assert.equal(r.json.last_message_id, res.json.id);
    });

    test('the same client_id twice stores one message (200 the first)', async () => {
      const client_id = unique('cid');
      const first = await post(room.id, { user: 'bob', text: 'once', client_id });
      assert.equal(first.status, 201, first.text);
      assert.equal(first.json.client_id, client_id);
      const second = await post(room.id, { user: 'bob', text: 'twice?', client_id });
      assert.equal(second.status, 200, second.text);
      assert.equal(second.json.id, first.json.id);
      assert.equal(second.json.text, 'once');
      const other = await post(room.id, { user: 'carl', text: 'mine', client_id });
      assert.equal(other.status, 201, 'another user may use the same client_id');
      const list = await call('GET', `/api/rooms/${room.id}/messages?after=${first.json.id - 1}`);
      assert.equal(list.json.messages.filter((m) => m.text === 'twice?').length, 0);
    });

    test('limits count characters: user 32, text 4000, client_id 64 bytes', async () => {
      const ok = await post(room.id, { user: 'ü'.repeat(32), text: '€'.repeat(4000), client_id: 'k'.repeat(64) });
      assert.equal(ok.status, 201, ok.text.slice(0, 200));
      assert.equal([...ok.json.text].length, 4000);
      assertError(await post(room.id, { user: 'u'.repeat(33), text: 'x' }), 400, 'user 33');
      assertError(await post(room.id, { user: 'u', text: 'x'.repeat(4001) }), 400, 'text 4001');
      assertError(await post(room.id, { user: 'u', text: 'x', client_id: 'k'.repeat(65) }), 400, 'client_id 65');
    });

    const invalid = [
      ['no user', { text: 'x' }],
      ['no text', { user: 'u' }],
      ['empty user', { user: '', text: 'x' }],
      ['blank user', { user: '  ', text: 'x' }],
      ['control character in user', { user: 'a\u0007', text: 'x' }],
      ['empty text', { user: 'u', text: '' }],
      ['text not a string', { user: 'u', text: 5 }],
      ['user not a string', { user: ['u'], text: 'x' }],
      ['client_id not a string', { user: 'u', text: 'x', client_id: 7 }],
      ['empty client_id', { user: 'u', text: 'x', client_id: '' }],
      ['NUL in text', { user: 'u', text: 'a\u0000b' }],
      ['malformed JSON', '{"user":"u","text":'],
      ['not an object', '[1,2]'],
    ];
    for (const [what, body] of invalid) {
      test(`400 for ${what}`, async () => {
        assertError(await post(room.id, body), 400, what);
      });
    }

    test('415 when not JSON, 413 when too large', async () => {
      assertError(
        await call('POST', `/api/rooms/${room.id}/messages`, { body: 'user=u&text=x', type: 'text/plain' }),
        415,
        'text/plain',
      );
      assertError(await post(room.id, { user: 'u', text: 'x', pad: 'p'.repeat(70 * 1024) }), 413, '70 KiB');
    });

    test('404 for an unknown room', async () => {
      assertError(await post(999999, { user: 'u', text: 'x' }), 404, 'room 999999');
      assertError(await call('POST', '/api/rooms/abc/messages', { body: { user: 'u', text: 'x' } }), 404, 'abc');
    });

    test('a REST post is delivered live to the room\'s sockets', { skip: !haveWs && 'chat-ws not built' }, async () => {
      const socket = io(stack.url, { transports: ['websocket'], reconnection: false, auth: { name: 'listener' } });
      try {
        await new Promise((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        const ack = await socket.timeout(5000).emitWithAck('join', room.name);
        assert.ok(ack?.ok, `join ack: ${JSON.stringify(ack)}`);
        const got = new Promise((resolve) =>
          socket.on('chat message', (msg) => {
            if (msg?.text === 'live from REST') resolve(msg);
          }),
        );
        const res = await post(room.id, { user: 'rest', text: 'live from REST' });
        assert.equal(res.status, 201);
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no chat message in 5 s')), 5000));
        const msg = await Promise.race([got, timeout]);
        assert.equal(msg.id, res.json.id);
        assert.equal(msg.user, 'rest');
        assert.equal(msg.room, room.name);
      } finally {
        socket.close();
      }
    });
  });

  describe('GET /api/rooms/{id}/messages', () => {
    let room;
    const ids = [];
    before(async () => {
      room = await createRoom(unique('history'));
      for (let i = 0; i < 12; i++) {
        const res = await post(room.id, { user: 'h', text: `m${i}` });
        assert.equal(res.status, 201);
        ids.push(res.json.id);
      }
    });

    test('200 with the newest messages, ascending by id, limit 50 by default', async () => {
      const res = await call('GET', `/api/rooms/${room.id}/messages`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assert.deepEqual(Object.keys(res.json), ['messages', 'more']);
      assert.equal(res.json.more, false);
      res.json.messages.forEach(assertMessage);
      assert.deepEqual(res.json.messages.map((m) => m.id), ids);
      assert.deepEqual(res.json.messages.map((m) => m.text), ids.map((_, i) => `m${i}`));
      for (const m of res.json.messages) {
        assert.equal(m.room, room.name);
        assert.equal(m.room_id, room.id);
      }
    });

    test('limit gives the newest ones; after and before page through', async () => {
      const newest = await call('GET', `/api/rooms/${room.id}/messages?limit=3`);
      assert.deepEqual(newest.json.messages.map((m) => m.id), ids.slice(-3));
      assert.equal(newest.json.more, true, 'older messages remain');
      const afterFirst = await call('GET', `/api/rooms/${room.id}/messages?after=${ids[0]}&limit=2`);
      assert.deepEqual(afterFirst.json.messages.map((m) => m.id), ids.slice(1, 3));
      const beforeFifth = await call('GET', `/api/rooms/${room.id}/messages?before=${ids[4]}&limit=2`);
      assert.deepEqual(beforeFifth.json.messages.map((m) => m.id), ids.slice(2, 4));
      const none = await call('GET', `/api/rooms/${room.id}/messages?after=${ids.at(-1)}`);
      assert.deepEqual(none.json, { messages: [], more: false });
      const max = await call('GET', `/api/rooms/${room.id}/messages?limit=500`);
      assert.equal(max.status, 200);
      assert.equal(max.json.messages.length, ids.length);
    });

    for (const q of ['limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'limit=1.5', 'after=abc', 'after=-1',
      'before=x', 'after=99999999999999999999', 'after=%00']) {
      test(`400 for ?${q}`, async () => {
        assertError(await call('GET', `/api/rooms/${room.id}/messages?${q}`), 400, q);
      });
    }

    test('404 for an unknown room', async () => {
      assertError(await call('GET', '/api/rooms/999999/messages'), 404, '999999');
      assertError(await call('GET', '/api/rooms/x/messages'), 404, 'x');
    });
  });

  describe('GET /api/health', () => {
    test('public: 200 {"status":"ok"} and nothing else', async () => {
      const res = await call('GET', '/api/health');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { status: 'ok' });
    });

    test('with an admin token: 200 with the database and the ws processes', async () => {
      const res = await call('GET', '/api/health', { token: await adminToken(stack) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), JSON_TYPE);
      assert.equal(res.json.status, 'ok');
      assert.equal(res.json.database.ok, true);
      assert.ok(Number.isInteger(res.json.database.rooms) && res.json.database.rooms >= 1);
      assert.ok(Number.isInteger(res.json.database.messages) && res.json.database.messages >= 0);
      assert.ok(Array.isArray(res.json.ws));
      for (const p of res.json.ws) {
        assert.deepEqual(Object.keys(p).sort(), ['alive', 'connections', 'heartbeat_at', 'host', 'id', 'listen', 'node', 'pid']);
        assert.equal(typeof p.alive, 'boolean');
        assert.equal(typeof p.listen, 'string');
        assert.match(p.node, /^[0-9a-z]$/, 'the node character of its sids');
        assert.equal(typeof p.host, 'string');
      }
      if (haveWs) assert.ok(res.json.ws.some((p) => p.alive), 'the ws process is listed alive');
    });

    test('the message count follows posts', async () => {
      const token = await adminToken(stack);
      const a = await call('GET', '/api/health', { token });
      const room = await createRoom(unique('count'));
      await post(room.id, { user: 'c', text: 'one' });
      const b = await call('GET', '/api/health', { token });
      assert.equal(b.json.database.messages, a.json.database.messages + 1);
      assert.equal(b.json.database.rooms, a.json.database.rooms + 1);
    });
  });

  describe('errors', () => {
    // (/api itself is nginx's: a 301 to /api/, as for any prefix location.)
    for (const target of ['/nope', '/api/', '/api/rooms/', '/api/roomsx', '/api/rooms/1/messages/', '/w']) {
      test(`404 JSON for ${target}`, async () => {
        assertError(await call('GET', target), 404, target);
      });
    }

    const wrong = [
      ['DELETE', '/api/rooms', 'GET, HEAD, POST'],
      ['PUT', '/api/rooms/1', 'GET, HEAD, DELETE'],
      ['PATCH', '/api/rooms/1', 'GET, HEAD, DELETE'],
      ['POST', '/api/rooms/1', 'GET, HEAD, DELETE'],
      ['POST', '/api/workspaces/acme', 'GET, HEAD, PUT'],
      ['DELETE', '/api/workspaces/acme', 'GET, HEAD, PUT'],
      ['POST', '/w/acme', 'GET'],
      ['POST', '/api/health', 'GET'],
      ['PATCH', '/api/rooms/1/messages', 'POST'],
      ['POST', '/', 'GET'],
    ];
    for (const [method, target, allow] of wrong) {
      test(`405 with Allow for ${method} ${target}`, async () => {
        const res = await call(method, target, method === 'GET' ? {} : { body: {} });
        assertError(res, 405, `${method} ${target}`);
        const got = res.headers.get('allow') ?? '';
        for (const m of allow.split(', ')) assert.ok(got.includes(m), `Allow "${got}" has ${m}`);
        assert.ok(!got.includes(method), `Allow "${got}" lacks ${method}`);
      });
    }

    test('DELETE /api/rooms/{id} without a token: 401 with the Bearer challenge (admin_rest.test.mjs has the rest)', async () => {
      const res = await call('DELETE', '/api/rooms/1');
      assertError(res, 401, 'DELETE without a token');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="chat"');
      assert.equal((await call('GET', '/api/rooms/1')).status, 200);
    });

    test('OPTIONS answers 204 with Allow', async () => {
      const res = await call('OPTIONS', '/api/rooms');
      assert.equal(res.status, 204);
      assert.match(res.headers.get('allow'), /POST/);
    });

    test('a bad escape in the path or query is 400, never 500', async () => {
      for (const target of ['/api/rooms/1%00', '/api/rooms?namespace=%0', '/api/rooms/1/messages?limit=%zz']) {
        const res = await call('GET', target);
        assert.equal(res.status, 400, `${target}: ${res.status}`);
      }
    });

    test('API answers are not cached and not sniffed', async () => {
      const res = await call('GET', '/api/rooms');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    });
  });

  describe('chat-fcgi workers', () => {
    /* Pids of the master's children (its pre-forked workers). */
    const workers = () => {
      const pid = fcgiPid(stack);
      try {
        return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };

    test('a worker killed with SIGKILL is replaced and requests go on', async () => {
      const before = workers();
      assert.equal(before.length, 2, `two workers (--workers 2): ${before}`);
      process.kill(before[0], 'SIGKILL');
      const deadline = Date.now() + 5000;
      let now = workers();
      while (Date.now() < deadline && !(now.length === 2 && !now.includes(before[0]))) {
        await new Promise((r) => setTimeout(r, 50));
        now = workers();
      }
      assert.equal(now.length, 2, `replaced: ${now}`);
      assert.ok(!now.includes(before[0]));
      assert.ok(now.includes(before[1]), 'the other worker is untouched');
      for (let i = 0; i < 20; i++) assert.equal((await call('GET', '/api/rooms')).status, 200);
    });
  });

  describe('GET / (the page)', () => {
    test('HTML with a strict CSP, the assets and the rooms', async () => {
      const res = await call('GET', '/');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", 'connect-src', "img-src 'self' data:"])
        assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
      assert.ok(!csp.includes('unsafe-inline'));
      assert.match(res.text, /^<!doctype html>/i);
      assert.match(res.text, /href="\/static\/chat\.css"/);
      assert.match(res.text, /src="\/static\/chat\.js"/);
      assert.match(res.text, /src="\/static\/vendor\/socket\.io\.min\.js"/);
      assert.match(res.text, />general<\/span>/);
      // No inline script (only JSON data) and no style attribute.
      const scripts = [...res.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      for (const [, attrs, body] of scripts)
        if (body.trim()) assert.match(attrs, /type="application\/json"/, 'inline scripts are data only');
      assert.ok(!/\sstyle=/.test(res.text), 'no style attribute');
      assert.ok(!/\son[a-z]+=/.test(res.text), 'no inline handler');
      const data = res.text.match(/<script type="application\/json" id="chat-data">([\s\S]*?)<\/script>/);
      assert.ok(data, 'initial data block');
      const parsed = JSON.parse(data[1]);
      assert.equal(parsed.namespace, '/');
      assert.ok(parsed.rooms.some((r) => r.name === 'general'));
    });

    test('room names are HTML-escaped in the page and in its JSON', async () => {
      const name = `<script>alert("x${process.pid}")</script>&'`;
      await createRoom(name);
      const res = await call('GET', '/');
      assert.ok(!res.text.includes(`<script>alert("x${process.pid}")`), 'no raw markup');
      assert.ok(res.text.includes(`&lt;script&gt;alert(&quot;x${process.pid}&quot;)&lt;/script&gt;&amp;&#39;`));
      const data = res.text.match(/<script type="application\/json" id="chat-data">([\s\S]*?)<\/script>/);
      assert.ok(JSON.parse(data[1]).rooms.some((r) => r.name === name), 'the JSON data keeps the exact name');
    });

    test('GET /w/<workspace>: the same page for that namespace, with its rooms only', async () => {
      const ws = `team-${process.pid}`;
      const room = await createRoom(unique('board'), `/${ws}`);
      const res = await call('GET', `/w/${ws}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.match(res.text, new RegExp(`<body data-namespace="/${ws}"`));
      assert.match(res.text, new RegExp(`<title>${ws} · Chat</title>`));
      assert.ok(res.text.includes(`>${room.name}</span>`));
      assert.ok(!res.text.includes('>general</span>'), 'not the rooms of /');
      const data = JSON.parse(res.text.match(/<script type="application\/json" id="chat-data">([\s\S]*?)<\/script>/)[1]);
      assert.equal(data.namespace, `/${ws}`);
      assert.equal(data.private, false);
      assert.deepEqual(data.rooms.map((r) => r.name), [room.name]);
      // The same rooms as the API's.
      const api = await call('GET', `/api/rooms?namespace=/${ws}`);
      assert.deepEqual(api.json.rooms.map((r) => r.id), data.rooms.map((r) => r.id));
    });

    test('GET /w/<invalid name>: an HTML 404 page; /admin is not a workspace', async () => {
      for (const target of ['/w/', '/w/Acme', '/w/admin', '/w/a_b', `/w/${'x'.repeat(33)}`, '/w/acme/', '/w/acme/x', '/w/%2Facme']) {
        const res = await call('GET', target);
        assert.equal(res.status, 404, target);
        assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', target);
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
        assert.match(res.text, /No such workspace/);
        assert.ok(!/<script/.test(res.text));
      }
      assert.equal((await call('GET', `/w/${'x'.repeat(32)}`)).status, 200);
    });

    test('the page has every element chat.js looks up', async () => {
      const js = readFileSync(path.join(ROOT, 'www/chat.js'), 'utf8');
      const ids = [...js.matchAll(/\$\('([a-z-]+)'\)/g)].map((m) => m[1]);
      assert.ok(ids.length > 20, `ids found in chat.js: ${ids.length}`);
      for (const target of ['/', '/w/acme']) {
        const res = await call('GET', target);
        for (const id of ids) assert.match(res.text, new RegExp(`id="${id}"`), `${target} has #${id}`);
      }
    });

    test('the page carries the contract\'s limits: maxlength and data-*-max from the table chat-ws prints', async () => {
      // The table: chat-ws --print-limits, "| name | value | unit | min..max | ...".
      const table = new Map();
      const md = execFileSync(path.join(binDir, 'chat-ws'), ['--print-limits'], { encoding: 'utf8' });
      for (const m of md.matchAll(/^\| ([a-z_]+) \| [^|]* \| [^|]* \| (\d+)\.\.(\d+) \|/gm)) table.set(m[1], Number(m[3]));
      assert.equal(table.get('text'), 4000, 'the table has the text limit');
      for (const target of ['/', '/w/acme']) {
        const html = (await call('GET', target)).text;
        const body = html.match(/<body [^>]*>/)[0];
        const attrs = [...body.matchAll(/data-([a-z-]+)-max="(\d+)"/g)];
        assert.ok(attrs.length >= 6, body);
        for (const [, name, max] of attrs) assert.equal(Number(max), table.get(name.replaceAll('-', '_')), `${target} data-${name}-max`);
        const maxlength = (id) => Number(html.match(new RegExp(`id="${id}"[^>]*maxlength="(\\d+)"`))[1]);
        assert.equal(maxlength('room-name'), table.get('room_name'));
        assert.equal(maxlength('text'), table.get('text'));
        assert.equal(maxlength('name'), table.get('user_name'));
        // every limit chat.js reads is on the page
        const js = readFileSync(path.join(ROOT, 'www/chat.js'), 'utf8');
        for (const [, name] of js.matchAll(/limit\('([a-z-]+)'\)/g)) assert.match(body, new RegExp(`data-${name}-max="\\d+"`), name);
      }
    });

    test('the static assets are served', async () => {
      for (const [file, type] of [['chat.js', /javascript/], ['chat.css', /text\/css/]]) {
        const res = await fetch(`${stack.url}/static/${file}`);
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get('content-type'), type);
        assert.ok((await res.text()).length > 100);
      }
    });
  });
});

/* The options' ranges are the table's: one past either end of every numeric
 * option of chat-ws, chat-fcgi and chat-admin exits 2 with the table's range. */
/* docs/configuration.md shows chat-ws --help as it is (make limits rewrites it). */
test('docs/configuration.md shows chat-ws --help as the binary prints it', () => {
  const help = execFileSync(path.join(binDir, 'chat-ws'), ['--help'], { encoding: 'utf8' });
  const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const block = doc.match(/^`chat-ws --help`:\n\n```\n([\s\S]*?)^```$/m);
  assert.ok(block, 'docs/configuration.md has the chat-ws --help block');
  assert.equal(block[1], help, 'docs/configuration.md\'s chat-ws --help block is stale: run make limits');
});

test('command-line ranges come from the contract table (--print-limits)', () => {
  const md = execFileSync(path.join(binDir, 'chat-ws'), ['--print-limits'], { encoding: 'utf8' });
  const rows = [...md.matchAll(/^\| ([a-z_]+) \| [^|]* \| [^|]* \| (-?\d+)\.\.(\d+) \| `(--[a-z-]+)`/gm)];
  assert.ok(rows.length >= 30, `options in the table: ${rows.length}`);
  const program = { '--workers': 'chat-fcgi', '--days': 'chat-admin', '--max-messages': 'chat-admin' };
  const seen = new Set();
  for (const [, name, min, max, option] of rows) {
    if (option === '--write-budget' || seen.has(option)) continue; // four counts in one string
    seen.add(option);
    const bin = path.join(binDir, program[option] ?? 'chat-ws');
    for (const v of [BigInt(min) - 1n, BigInt(max) + 1n]) {
      const r = spawnSync(bin, [option, String(v)], { encoding: 'utf8', env: { ...process.env, CHAT_DB: '' } });
      assert.equal(r.status, 2, `${name}: ${option} ${v} → ${r.status} ${r.stderr}`);
      assert.ok(r.stderr.includes(`${option} must be a number in ${min}..${max}`), `${option} ${v}: ${r.stderr}`);
    }
  }
});
