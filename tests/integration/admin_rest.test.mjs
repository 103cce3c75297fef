// admin_rest.test.mjs -- the admin side of the REST API (DESIGN.md, issue 6)
// through nginx and chat-fcgi, with real HS256 tokens: DELETE /api/rooms/{id},
// GET/PUT /api/workspaces/{name}, and what "private" means for REST and for
// socket.io-client connecting to the workspace's namespace.
//
// Tokens come from `chat-ws --issue-token` (the server's own issuer) or are
// signed here with node:crypto (HS256 over the same secret file): both must
// work, expired / wrongly signed / unsigned ones must not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ack, closeAll, closeLive, connect, connectError, join } from './lib/client.mjs';
import { ROOT, hasBinary, startStack } from './lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const haveWs = hasBinary(binDir, 'chat-ws');
const T = { timeout: 30000 };

let stack;
let secret; // the server's secret, as token_secret_load reads it
let seq = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${++seq}`;

/* One call through nginx: { status, headers, text, json }. */
async function call(method, target, { body, token, authorization, type } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = type ?? 'application/json';
  if (authorization !== undefined) headers.authorization = authorization;
  else if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(stack.url + target, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

function assertError(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: JSON`);
  assert.equal(typeof res.json?.error, 'string', `${what}: {"error": string}`);
}

function assert401(res, what) {
  assertError(res, 401, what);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="chat"/, `${what}: WWW-Authenticate`);
}

/* A token from the server's own issuer: chat-ws --issue-token args...
 * (--ttl 600 unless args name a ttl). */
function issue(...args) {
  if (!args.includes('--ttl')) args.push('--ttl', '600');
  return execFileSync(path.join(stack.binDir, 'chat-ws'), ['--issue-token', ...args], {
    env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
    encoding: 'utf8',
  }).trim();
}

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/* A JWT signed here: HS256 with key unless header says otherwise. */
function sign(claims, key = secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const data = `${b64url(header)}.${b64url(claims)}`;
  if (header.alg === 'none') return `${data}.`;
  const hash = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${data}.${createHmac(hash, key).update(data).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);

async function createRoom(name, namespace, token) {
  if (namespace && namespace !== '/') {
    // rooms go into workspaces that exist: an admin creates them
    const ws = await call('PUT', `/api/workspaces${namespace}`, { body: { retention: {} }, token: issue('--admin', '--ttl', '600') }); // settings kept
    assert.equal(ws.status, 200, ws.text);
  }
  const res = await call('POST', '/api/rooms', { body: namespace ? { name, namespace } : { name }, token });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function findRoom(name, namespace = '/', token) {
  const res = await call('GET', `/api/rooms?namespace=${encodeURIComponent(namespace)}`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json.rooms.find((r) => r.name === name);
}

describe('admin REST', () => {
  let admin;
  before(async () => {
    stack = await startStack({ wsProcs: 1 });
    // token_secret_load drops trailing whitespace of the file.
    secret = readFileSync(stack.secretFile, 'utf8').replace(/[\r\n ]+$/, '');
    admin = issue('--admin', '--ttl', '600');
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  describe('tokens', () => {
    test('no token, another scheme, or a bad token: 401 with the Bearer challenge', T, async () => {
      const room = await createRoom(unique('t'));
      const target = `/api/rooms/${room.id}`;
      const res = await call('DELETE', target);
      assert401(res, 'no token');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="chat"');

      const bad = {
        'Basic auth': 'Basic YWRtaW46YWRtaW4=',
        'empty bearer': 'Bearer ',
        garbage: 'Bearer not-a-jwt',
        'wrong signature': `Bearer ${sign({ admin: true }, 'another-secret-that-is-long-enough')}`,
        expired: `Bearer ${sign({ admin: true, exp: now() - 60 })}`,
        'not yet valid': `Bearer ${sign({ admin: true, exp: now() + 7200, nbf: now() + 3600 })}`,
        // issue 21.13: a numeric exp in the future, and no crit header
        'no exp': `Bearer ${sign({ admin: true })}`,
        'exp 0': `Bearer ${sign({ admin: true, exp: 0 })}`,
        'exp a string in the past': `Bearer ${sign({ admin: true, exp: String(now() - 60) })}`,
        'exp a float in the past': `Bearer ${sign({ admin: true, exp: now() - 60.5 })}`,
        'crit header': `Bearer ${sign({ admin: true, exp: now() + 600 }, secret, { alg: 'HS256', typ: 'JWT', crit: ['exp'] })}`,
        'alg none': `Bearer ${sign({ admin: true }, secret, { alg: 'none', typ: 'JWT' })}`,
        'HS512, not HS256': `Bearer ${sign({ admin: true }, secret, { alg: 'HS512', typ: 'JWT' })}`,
        'tampered claims': `Bearer ${(() => {
          const [h, , s] = sign({ admin: false }).split('.');
          return `${h}.${b64url({ admin: true })}.${s}`;
        })()}`,
      };
      for (const [what, authorization] of Object.entries(bad)) {
        const r = await call('DELETE', target, { authorization });
        assert401(r, what);
      }
      const expired = await call('DELETE', target, { token: sign({ admin: true, exp: now() - 60 }) });
      assert.match(expired.headers.get('www-authenticate'), /error="invalid_token"/);
      assert.match(expired.json.error, /expired/);
      // None of that deleted anything.
      assert.equal((await call('GET', target)).status, 200);
    });

    test('a valid token that is not an admin one: 403', T, async () => {
      const room = await createRoom(unique('t'));
      for (const token of [issue('--workspace', '/acme'), sign({ sub: 'ann', exp: now() + 600 }), sign({ admin: false, exp: now() + 600 })]) {
        const res = await call('DELETE', `/api/rooms/${room.id}`, { token });
        assertError(res, 403, 'non-admin token');
        assert.equal(res.headers.get('www-authenticate'), null);
      }
      assert.equal((await call('GET', `/api/rooms/${room.id}`)).status, 200);
    });

    test('admin tokens from chat-ws --issue-token and signed with node:crypto both work', T, async () => {
      for (const token of [admin, sign({ admin: true, exp: now() + 600 })]) {
        const room = await createRoom(unique('t'));
        const res = await call('DELETE', `/api/rooms/${room.id}`, { token });
        assert.equal(res.status, 204, res.text);
      }
    });

    // A token with no "exp" would be valid forever: refused (issue 21.13,
    // in the table above); our own issuer always writes one.
    test('chat-ws --issue-token without --ttl gives a token that expires in an hour (issue 14.10)', T, async () => {
      const issued = execFileSync(path.join(stack.binDir, 'chat-ws'), ['--issue-token', '--admin'], {
        env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
        encoding: 'utf8',
      }).trim();
      const { exp } = JSON.parse(Buffer.from(issued.split('.')[1], 'base64url'));
      assert.ok(Number.isInteger(exp) && exp > now() && exp <= now() + 3600 + 5, `exp ${exp}`);
    });
  });

  describe('DELETE /api/rooms/{id}', () => {
    test('204 with no body; the room, its messages and its history are gone; then 404', T, async () => {
      const room = await createRoom(unique('gone'));
      for (const text of ['a', 'b'])
        assert.equal((await call('POST', `/api/rooms/${room.id}/messages`, { body: { user: 'ann', text }, token: admin })).status, 201);
      const res = await call('DELETE', `/api/rooms/${room.id}`, { token: admin });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      assert.equal((await call('GET', `/api/rooms/${room.id}`)).status, 404);
      assert.equal((await call('GET', `/api/rooms/${room.id}/messages`)).status, 404);
      assert.equal((await call('POST', `/api/rooms/${room.id}/messages`, { body: { user: 'a', text: 'b' } })).status, 404);
      assert.equal(await findRoom(room.name), undefined);
      assertError(await call('DELETE', `/api/rooms/${room.id}`, { token: admin }), 404, 'again');
      assertError(await call('DELETE', '/api/rooms/999999', { token: admin }), 404, 'unknown');
      // The name can be used again: a new room, a new id.
      const again = await createRoom(room.name);
      assert.notEqual(again.id, room.id);
    });

    test('the general room of a namespace is kept: 409', T, async () => {
      const general = await findRoom('general');
      assertError(await call('DELETE', `/api/rooms/${general.id}`, { token: admin }), 409, 'general of /');
      const ws = `/${unique('ws')}`;
      await createRoom('first', ws); // the namespace's rooms; general is made on first socket use
      if (haveWs) {
        const s = await connect(stack.url, { name: 'ann', ns: ws });
        await closeAll(s);
        const wsGeneral = await findRoom('general', ws);
        assert.ok(wsGeneral);
        assertError(await call('DELETE', `/api/rooms/${wsGeneral.id}`, { token: admin }), 409, 'general of a workspace');
      }
      const first = await findRoom('first', ws);
      assert.equal((await call('DELETE', `/api/rooms/${first.id}`, { token: admin })).status, 204);
    });

    test('Allow and OPTIONS name DELETE; other methods are 405', T, async () => {
      const general = await findRoom('general');
      const opt = await call('OPTIONS', `/api/rooms/${general.id}`);
      assert.equal(opt.status, 204);
      assert.equal(opt.headers.get('allow'), 'GET, HEAD, DELETE, OPTIONS');
      const put = await call('PUT', `/api/rooms/${general.id}`, { body: {}, token: admin });
      assertError(put, 405, 'PUT a room');
      assert.equal(put.headers.get('allow'), 'GET, HEAD, DELETE, OPTIONS');
    });

    test('live sockets: "room deleted" {id, name} to the namespace; sends to it get an error ack', { ...T, skip: !haveWs && 'chat-ws not built' }, async () => {
      const name = unique('live');
      const room = await createRoom(name);
      const s = await connect(stack.url, { name: 'ann' });
      const other = await connect(stack.url, { name: 'bob' }); // in the namespace, not the room
      try {
        await join(s, name);
        assert.equal((await call('DELETE', `/api/rooms/${room.id}`, { token: admin })).status, 204);
        for (const sock of [s, other]) {
          const [ev] = await sock.rec.next('room deleted', (e) => e?.id === room.id);
          assert.deepEqual(ev, { id: room.id, name });
        }
        const res = await ack(s, 'chat message', { room: name, text: 'anyone?' });
        assert.equal(typeof res.error, 'string', JSON.stringify(res));
        const health = await call('GET', '/api/health', { token: admin });
        assert.equal(health.status, 200);
        assert.ok(health.json.ws.every((p) => p.alive));
        await join(s, 'general');
      } finally {
        await closeAll(s, other);
      }
    });
  });

  // the config table's defaults (docs/operations.md)
  const DEFAULT_RETENTION = { days: 90, max_messages: 0 };

  describe('/api/workspaces/{name}', () => {
    test('GET needs an admin token, private or not (issue 21.14): {"namespace","private","retention"}, false and the defaults by default', T, async () => {
      const name = unique('pub');
      assert401(await call('GET', `/api/workspaces/${name}`), 'no token');
      assertError(await call('GET', `/api/workspaces/${name}`, { token: issue('--workspace', `/${name}`) }), 403, 'the workspace\'s own token');
      const hidden = unique('hid');
      assert.equal((await call('PUT', `/api/workspaces/${hidden}`, { body: { private: true, retention: { days: 3 } }, token: admin })).status, 200);
      for (const res of [await call('GET', `/api/workspaces/${hidden}`), await call('GET', `/api/workspaces/${hidden}`, { token: issue('--workspace', `/${name}`) })])
        assert.ok(!/private|retention/.test(res.text), res.text);
      const res = await call('GET', `/api/workspaces/${name}`, { token: admin });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.deepEqual(res.json, { namespace: `/${name}`, private: false, retention: DEFAULT_RETENTION });
    });

    test('invalid names are 404', T, async () => {
      for (const name of ['Acme', 'admin', 'a_b', 'a.b', 'x'.repeat(33), '', 'a/b', '%2Facme'])
        assertError(await call('GET', `/api/workspaces/${name}`), 404, `name "${name}"`);
    });

    test('PUT needs an admin token and {"private": boolean}', T, async () => {
      const name = unique('conf');
      const target = `/api/workspaces/${name}`;
      assert401(await call('PUT', target, { body: { private: true } }), 'no token');
      assert401(await call('PUT', target, { body: { private: true }, token: sign({ admin: true, exp: now() - 1 }) }), 'expired');
      assertError(await call('PUT', target, { body: { private: true }, token: issue('--workspace', `/${name}`) }), 403, 'the workspace\'s own token');
      for (const body of [{}, { private: 'yes' }, { private: 1 }, { private: null }, [true]])
        assertError(await call('PUT', target, { body, token: admin }), 400, `body ${JSON.stringify(body)}`);
      assertError(await call('PUT', target, { body: '{"private":', token: admin }), 400, 'bad JSON');
      assertError(await call('PUT', target, { body: '{"private":true}', type: 'text/plain', token: admin }), 415, 'not JSON');
      assert.equal((await call('GET', target, { token: admin })).json.private, false, 'nothing changed');

      const on = await call('PUT', target, { body: { private: true }, token: admin });
      assert.equal(on.status, 200, on.text);
      assert.deepEqual(on.json, { namespace: `/${name}`, private: true, retention: DEFAULT_RETENTION });
      assert.deepEqual((await call('GET', target, { token: admin })).json, { namespace: `/${name}`, private: true, retention: DEFAULT_RETENTION });
      const off = await call('PUT', target, { body: { private: false }, token: admin });
      assert.deepEqual(off.json, { namespace: `/${name}`, private: false, retention: DEFAULT_RETENTION });
      assert.deepEqual((await call('GET', target, { token: admin })).json, { namespace: `/${name}`, private: false, retention: DEFAULT_RETENTION });
      const opt = await call('OPTIONS', target);
      assert.equal(opt.headers.get('allow'), 'GET, HEAD, PUT, OPTIONS');
    });
  });

  describe('private workspaces', () => {
    const ws = '/acme';

    test('socket.io-client: refused without a token (connect_error "unauthorized"), admitted with one', { ...T, skip: !haveWs && 'chat-ws not built' }, async () => {
      assert.equal((await call('PUT', '/api/workspaces/acme', { body: { private: true }, token: admin })).status, 200);
      const refused = [
        {},
        { token: 'garbage' },
        { token: issue('--workspace', '/other') },
        { token: sign({ workspace: ws, exp: now() - 60 }) },
        { token: sign({ workspace: ws }, 'a-secret-that-is-not-the-server-one') },
      ];
      for (const auth of refused) {
        const s = await connect(stack.url, { name: 'mallory', ns: ws, auth, connect: false });
        try {
          const err = await connectError(s);
          assert.equal(err.message, 'unauthorized', JSON.stringify(auth));
        } finally {
          await closeAll(s);
        }
      }
      // ann's name is owned: her workspace tokens name her too (sub), as the
      // server's own credential of a private workspace does.
      const fresh = unique('newcomer');
      for (const [name, token] of [['ann', issue('--workspace', ws, '--sub', 'ann')], ['ann', sign({ workspace: ws, sub: 'ann', exp: now() + 600 })],
        ['ann', admin], [fresh, issue('--workspace', ws)]]) {
        const s = await connect(stack.url, { name, ns: ws, auth: { token } });
        try {
          const res = await join(s, 'general');
          assert.equal(res.room, 'general');
          const sent = await ack(s, 'chat message', { room: 'general', text: 'inside acme' });
          assert.ok(Number.isInteger(sent.id), JSON.stringify(sent));
        } finally {
          await closeAll(s);
        }
      }
    });

    test('REST: its rooms and messages need a token of the workspace (or an admin one)', T, async () => {
      assert.equal((await call('PUT', '/api/workspaces/acme', { body: { private: true }, token: admin })).status, 200);
      const mine = issue('--workspace', ws, '--sub', 'ann');
      const room = await createRoom(unique('plans'), ws, mine);
      assert.equal((await call('POST', `/api/rooms/${room.id}/messages`, { body: { user: 'ann', text: 'secret plan' }, token: mine })).status, 201);

      const targets = [`/api/rooms?namespace=${encodeURIComponent(ws)}`, `/api/rooms/${room.id}`, `/api/rooms/${room.id}/messages`];
      for (const target of targets) {
        const res = await call('GET', target);
        assert401(res, `${target} without a token`);
        assert.ok(!res.text.includes('secret plan'));
        assertError(await call('GET', target, { token: issue('--workspace', '/other') }), 403, `${target}, another workspace`);
        assert.equal((await call('GET', target, { token: mine })).status, 200, target);
        assert.equal((await call('GET', target, { token: admin })).status, 200, target);
      }
      assert401(await call('POST', `/api/rooms/${room.id}/messages`, { body: { user: 'x', text: 'y' } }), 'post without a token');
      assert401(await call('POST', '/api/rooms', { body: { name: 'x', namespace: ws } }), 'create without a token');
      // The page renders, without the rooms.
      const page = await call('GET', '/w/acme');
      assert.equal(page.status, 200);
      assert.match(page.text, /data-private="true"/);
      assert.ok(!page.text.includes(room.name));
      assert.equal((await call('GET', '/api/workspaces/acme', { token: admin })).json.private, true);
    });

    test('made public again: anyone gets in', { ...T, skip: !haveWs && 'chat-ws not built' }, async () => {
      assert.equal((await call('PUT', '/api/workspaces/acme', { body: { private: false }, token: admin })).status, 200);
      const s = await connect(stack.url, { name: 'bob', ns: ws });
      try {
        await join(s, 'general');
      } finally {
        await closeAll(s);
      }
      assert.equal((await call('GET', `/api/rooms?namespace=${encodeURIComponent(ws)}`)).status, 200);
    });
  });
});
