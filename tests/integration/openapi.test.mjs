// openapi.test.mjs -- GET /api/openapi.json describes what the server really
// answers: every REST call a client can make, through nginx, is checked
// against the document (operation, status, required headers, body schema),
// and every operation of the document is exercised. Also the rest of the
// developer surface: `more` on message pages, CORS for /api/ with its
// preflight, and 429's reason phrase and Retry-After.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, credential } from './lib/client.mjs';
import { checkAnswer, operations, validate } from './lib/openapi.mjs';
import { adminToken, hasBinary, ROOT, startStack } from './lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const skip = hasBinary(binDir, 'chat-fcgi') && hasBinary(binDir, 'chat-ws') ? false : `not built in ${binDir}`;
const T = { timeout: 60000 };
const ORIGINS = 'https://app.example.org http://localhost:5173';
const PASSWORD = 'correct horse battery';

describe('the OpenAPI document against live answers', { skip }, () => {
  let stack, doc, admin;
  const seen = new Map(); // "METHOD template" -> Set of statuses

  /* One call through nginx, checked against the document. */
  async function call(method, target, opts = {}) {
    const res = await api(stack.url, target, { method, ...opts });
    const { operation, status } = checkAnswer(doc, method, target, res);
    if (!seen.has(operation)) seen.set(operation, new Set());
    seen.get(operation).add(status);
    return res;
  }

  before(async () => {
    stack = await startStack({ env: { CHAT_CORS_ORIGIN: ORIGINS } });
    admin = await adminToken(stack);
  });
  after(async () => {
    await stack?.stop();
  });

  test('GET /api/openapi.json: an OpenAPI 3.1 document with the contract\'s limits', T, async () => {
    const res = await api(stack.url, '/api/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    doc = res.body;
    assert.equal(doc.openapi, '3.1.0');
    checkAnswer(doc, 'GET', '/api/openapi.json', res);
    seen.set('GET /api/openapi.json', new Set([200]));
    // The limits come from the server's contract table, not from the file.
    const limits = execFileSync(path.join(binDir, 'chat-fcgi'), ['--help'], { encoding: 'utf8' });
    assert.ok(doc.components.schemas.NewMessage.properties.text.maxLength > 0);
    assert.equal(doc.paths['/api/rooms/{room_id}/messages'].get.parameters.find((p) => p.name === 'limit').schema.maximum, 500);
    assert.ok(limits.length > 0);
    // Every $ref resolves and the validator knows every keyword used.
    for (const name of Object.keys(doc.components.schemas)) validate(doc, { $ref: `#/components/schemas/${name}` }, null);
  });

  test('every call and its statuses, as a client meets them', T, async () => {
    assert.ok(doc, 'the document was read');
    const name = `oa-${process.pid}`;
    const user = `ann-${process.pid}`;
    const token = await credential(stack.url, user);

    await call('GET', '/api/health');
    await call('GET', '/api/health', { token: admin });

    // users
    await call('POST', '/api/users', { json: { name: `bob-${process.pid}` } });
    await call('POST', '/api/users', { json: { name: `bob-${process.pid}` } }); // 409
    await call('POST', '/api/users', { json: { name: '' } }); // 400

    // rooms
    const created = await call('POST', '/api/rooms', { json: { name } });
    assert.equal(created.status, 201);
    const room = created.body;
    await call('POST', '/api/rooms', { json: { name } }); // 409
    await call('POST', '/api/rooms', { json: { name: '' } }); // 400
    await call('POST', '/api/rooms', { json: { name: 'x'.repeat(100) } }); // 400
    const notJson = await fetch(`${stack.url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    checkAnswer(doc, 'POST', '/api/rooms', { status: notJson.status, headers: notJson.headers, body: await notJson.json() });
    assert.equal(notJson.status, 415);
    const big = await fetch(`${stack.url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'y'.repeat(200000) }) });
    checkAnswer(doc, 'POST', '/api/rooms', { status: big.status, headers: big.headers, body: await big.json() });
    assert.equal(big.status, 413);
    await call('GET', '/api/rooms');
    await call('GET', '/api/rooms?limit=1');
    await call('GET', '/api/rooms?limit=0'); // 400
    await call('GET', `/api/rooms/${room.id}`);
    await call('GET', '/api/rooms/999999'); // 404

    // messages
    const posted = await call('POST', `/api/rooms/${room.id}/messages`, { json: { user, text: 'hello', client_id: 'c1' }, token });
    assert.equal(posted.status, 201);
    assert.equal((await call('POST', `/api/rooms/${room.id}/messages`, { json: { user, text: 'hello', client_id: 'c1' }, token })).status, 200);
    await call('POST', `/api/rooms/${room.id}/messages`, { json: { user, text: 'no token' }, as: false }); // 401
    await call('POST', `/api/rooms/${room.id}/messages`, { json: { user: 'someone-else', text: 'hi' }, token }); // 403
    await call('POST', `/api/rooms/${room.id}/messages`, { json: { user, text: '' }, token }); // 400
    await call('POST', '/api/rooms/999999/messages', { json: { user, text: 'x' }, token }); // 404
    for (let i = 0; i < 4; i++) await call('POST', `/api/rooms/${room.id}/messages`, { json: { user, text: `m${i}` }, token });
    await call('GET', posted.headers.get('location'));
    await call('GET', `/api/rooms/${room.id}/messages/999999`); // 404
    await call('GET', `/api/rooms/${room.id}/messages`);
    await call('GET', `/api/rooms/${room.id}/messages?limit=9999`); // 400
    await call('GET', `/api/rooms/${room.id}/messages?after=abc`); // 400
    await call('GET', '/api/rooms/999999/messages'); // 404

    // more: true while there is more, in the direction of the page
    const newest = await call('GET', `/api/rooms/${room.id}/messages?limit=2`);
    assert.equal(newest.body.more, true, 'older messages exist');
    const all = await call('GET', `/api/rooms/${room.id}/messages?after=0&limit=500`);
    assert.equal(all.body.more, false);
    const last = all.body.messages.at(-1).id;
    assert.equal((await call('GET', `/api/rooms/${room.id}/messages?after=0&limit=${all.body.messages.length}`)).body.more, false, 'a full last page');
    assert.equal((await call('GET', `/api/rooms/${room.id}/messages?after=0&limit=2`)).body.more, true);
    assert.equal((await call('GET', `/api/rooms/${room.id}/messages?before=${last}&limit=1`)).body.more, true);

    // workspaces
    const ws = `oa${process.pid}`;
    await call('GET', `/api/workspaces/${ws}`, { token: admin });
    await call('GET', `/api/workspaces/${ws}`); // 401: the admin's business
    await call('GET', `/api/workspaces/${ws}`, { token }); // 403
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false }, token: admin });
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false } }); // 401
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false }, token }); // 403
    await call('PUT', `/api/workspaces/${ws}`, { json: { colour: 'blue' }, token: admin }); // 400
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: true }, token: admin });
    await call('GET', `/api/rooms?namespace=/${ws}`); // 401
    await call('GET', `/api/rooms?namespace=/${ws}`, { token: admin });

    // edits and deletions (README "Roles and moderation")
    const eve = await credential(stack.url, `eve-${process.pid}`);
    const mine = `/api/rooms/${room.id}/messages/${posted.body.id}`;
    const edited = await call('PATCH', mine, { json: { text: 'hello, edited' }, token });
    assert.equal(edited.status, 200);
    assert.ok(edited.body.edited_at > 0, 'an edit answers edited_at');
    assert.ok((await call('GET', mine)).body.edited_at > 0, 'and GET shows it');
    await call('PATCH', mine, { json: { text: 'x' } }); // 401
    await call('PATCH', mine, { json: { text: 'x' }, token: eve }); // 403: not its author
    await call('PATCH', mine, { json: { text: '' }, token }); // 400
    await call('PATCH', mine, { json: { text: 'x'.repeat(3000) }, token }); // 400
    await call('PATCH', `/api/rooms/${room.id}/messages/999999`, { json: { text: 'x' }, token }); // 404
    await call('DELETE', mine); // 401
    await call('DELETE', mine, { token: eve }); // 403: neither author nor moderator
    assert.equal((await call('DELETE', mine, { token })).status, 204);
    await call('DELETE', mine, { token }); // 404

    // roles, mutes, bans, sanctions, audit
    const modName = `mod-${process.pid}`;
    const victim = `vic-${process.pid}`;
    const mod = await credential(stack.url, modName);
    assert.equal((await call('PUT', '/api/moderation/roles', { json: { user: modName, role: 'moderator' }, token: admin })).status, 200);
    await call('PUT', '/api/moderation/roles', { json: { user: modName, role: 'king' }, token: admin }); // 400
    await call('PUT', '/api/moderation/roles', { json: { user: victim, role: 'owner' }, token: mod }); // 403
    await call('PUT', '/api/moderation/roles', { json: { user: victim, role: 'owner' } }); // 401
    const roles = await call('GET', '/api/moderation/roles');
    assert.ok(roles.body.roles.some((r) => r.user === modName && r.role === 'moderator'), JSON.stringify(roles.body));
    await call('GET', '/api/moderation/roles?namespace=nope'); // 400
    await call('GET', `/api/moderation/roles?namespace=/${ws}`); // 401: a private workspace
    assert.equal((await call('POST', '/api/moderation/mute', { json: { user: victim, minutes: 5, reason: 'spam' }, token: mod })).status, 200);
    await call('POST', '/api/moderation/mute', { json: { user: victim }, token }); // 403: a member
    await call('POST', '/api/moderation/mute', { json: { user: victim } }); // 401
    await call('POST', '/api/moderation/mute', { json: { user: '' }, token: mod }); // 400
    await call('POST', '/api/moderation/mute', { json: { user: victim, minutes: 0 }, token: mod }); // 400
    const sanctions = await call('GET', '/api/moderation/sanctions', { token: mod });
    assert.ok(sanctions.body.sanctions.some((x) => x.kind === 'mute' && x.user === victim));
    await call('GET', '/api/moderation/sanctions', { token }); // 403
    await call('GET', '/api/moderation/sanctions'); // 401
    await call('GET', '/api/moderation/sanctions?namespace=nope', { token: mod }); // 400
    assert.equal((await call('POST', '/api/moderation/unmute', { json: { user: victim }, token: mod })).status, 200);
    assert.equal((await call('POST', '/api/moderation/ban', { json: { user: victim, reason: 'spam' }, token: admin })).status, 200);
    await call('POST', '/api/moderation/ban', { json: { user: victim, address: 'yes' }, token: admin }); // 400
    assert.equal((await call('POST', '/api/moderation/unban', { json: { user: victim }, token: mod })).status, 200);
    await call('POST', '/api/moderation/unban', { json: { user: victim }, token }); // 403
    const audit = await call('GET', '/api/moderation/audit', { token: admin });
    assert.ok(audit.body.entries.some((e) => e.action === 'role' && e.target === modName), JSON.stringify(audit.body));
    assert.equal((await call('GET', '/api/moderation/audit?namespace=/&limit=1', { token: admin })).body.more, true);
    await call('GET', '/api/moderation/audit?limit=0', { token: admin }); // 400
    await call('GET', '/api/moderation/audit', { token: mod }); // 403
    await call('GET', '/api/moderation/audit'); // 401

    // accounts (README "Accounts")
    const acct = `acc-${process.pid}`;
    const up = await call('POST', '/api/accounts', { json: { name: acct, password: PASSWORD } });
    assert.equal(up.status, 201);
    assert.ok(up.body.access_token && up.body.refresh_token);
    await call('POST', '/api/accounts', { json: { name: acct, password: PASSWORD } }); // 409
    await call('POST', '/api/accounts', { json: { name: `acb-${process.pid}`, password: 'short' } }); // 400
    await call('POST', '/api/accounts', { json: { password: PASSWORD } }); // 400
    const cookieUp = await call('POST', '/api/accounts', { json: { name: `acc-c-${process.pid}`, password: PASSWORD, cookie: true } });
    assert.equal(cookieUp.status, 201);
    const cookie = (cookieUp.headers.get('set-cookie') || '').split(';')[0];
    assert.match(cookie, /^chat_session=/);
    const signedIn = await call('POST', '/api/sessions', { json: { name: acct, password: PASSWORD } });
    assert.equal(signedIn.status, 200);
    await call('POST', '/api/sessions', { json: { name: acct, password: 'wrong password' } }); // 401
    await call('POST', '/api/sessions', { json: { name: acct } }); // 400
    const code = await call('POST', '/api/link-codes', { token: up.body.access_token });
    assert.equal(code.status, 201);
    await call('POST', '/api/link-codes'); // 401
    await call('POST', '/api/link-codes', { token: admin }); // 400
    const linked = await call('POST', '/api/sessions', { json: { code: code.body.code } });
    assert.equal(linked.status, 200);
    await call('POST', '/api/sessions', { json: { code: code.body.code } }); // 401: used
    const fresh = await call('POST', '/api/sessions/refresh', { json: { refresh_token: signedIn.body.refresh_token } });
    assert.equal(fresh.status, 200);
    await call('POST', '/api/sessions/refresh', { json: { refresh_token: 'nope' } }); // 401
    await call('POST', '/api/sessions/refresh', { json: { refresh_token: 5 } }); // 400
    await call('POST', '/api/sessions/refresh', { json: { refresh_token: signedIn.body.refresh_token } }); // 401: spent
    assert.equal((await call('POST', '/api/sessions/access')).body.signed_in, false);
    assert.equal((await call('POST', '/api/sessions/access', { headers: { cookie } })).body.signed_in, true);
    await call('POST', '/api/sessions/access', { headers: { cookie, origin: 'https://evil.example' } }); // 403
    await call('POST', '/api/sessions/access', { token: admin }); // 400
    await call('POST', '/api/sessions/access', { token: 'not-a-token' }); // 401
    await call('POST', '/api/sessions/access', { json: { workspace_token: 'bad' }, token: up.body.access_token }); // 403
    const list = await call('GET', '/api/sessions', { token: up.body.access_token });
    assert.ok(list.body.sessions.some((x) => x.id === up.body.session && x.current));
    await call('GET', `/api/sessions?user=${acct}`, { token: admin });
    await call('GET', '/api/sessions', { token: admin }); // 400
    await call('GET', `/api/sessions?user=${modName}`, { token: up.body.access_token }); // 403
    await call('GET', '/api/sessions'); // 401
    assert.equal((await call('DELETE', `/api/sessions/${linked.body.session}`, { token: up.body.access_token })).status, 204);
    await call('DELETE', `/api/sessions/${linked.body.session}`, { token: up.body.access_token }); // 404
    await call('DELETE', `/api/sessions/${'0'.repeat(32)}`); // 401
    await call('DELETE', `/api/sessions/${linked.body.session}`, { headers: { cookie, origin: 'https://evil.example' } }); // 403
    await call('DELETE', '/api/sessions', { token: admin }); // 400
    await call('DELETE', `/api/sessions?user=${modName}`, { token: up.body.access_token }); // 403
    await call('DELETE', '/api/sessions'); // 401
    assert.equal((await call('DELETE', '/api/sessions', { headers: { cookie } })).status, 204);
    assert.equal((await call('DELETE', `/api/sessions?user=${acct}`, { token: admin })).status, 204);
    await call('POST', '/api/sessions/access', { headers: { cookie } }); // 401: revoked
    await call('POST', '/api/sessions/sso', { json: {} }); // 404: not configured here
    // the page's claims: a cookie session, or one for a name's token
    assert.equal((await call('POST', '/api/users', { json: { name: `cat-${process.pid}`, cookie: true } })).status, 201);
    assert.equal((await call('POST', '/api/users', { json: { name: user, cookie: true }, token })).status, 200);

    // webhooks (README "Webhooks"): the admin's business
    const hookNs = `/wh${process.pid}`;
    const hook = await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'http://127.0.0.1:9/hook', events: ['chat message', 'message deleted'] }, token: admin });
    assert.equal(hook.status, 201);
    assert.match(hook.body.secret, /^[0-9a-f]{64}$/);
    await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'ftp://x' }, token: admin }); // 400
    await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'http://x', events: ['room created'] }, token: admin }); // 400
    await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'http://x' }, token }); // 403
    await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'http://x' } }); // 401
    for (let i = 1; i < 20; i++) await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: `http://127.0.0.1:9/${i}` }, token: admin });
    assert.equal((await call('POST', '/api/webhooks', { json: { namespace: hookNs, url: 'http://127.0.0.1:9/21' }, token: admin })).status, 429);
    const hooks = await call('GET', `/api/webhooks?namespace=${hookNs}`, { token: admin });
    assert.equal(hooks.body.webhooks.length, 20);
    assert.ok(hooks.body.webhooks.every((w) => !('secret' in w)), 'the secret is shown once');
    await call('GET', '/api/webhooks', { token: admin });
    await call('GET', '/api/webhooks?namespace=nope', { token: admin }); // 400
    await call('GET', '/api/webhooks', { token }); // 403
    await call('GET', '/api/webhooks'); // 401
    assert.equal((await call('GET', `/api/webhooks/${hook.body.id}`, { token: admin })).body.url, 'http://127.0.0.1:9/hook');
    await call('GET', '/api/webhooks/999999', { token: admin }); // 404
    await call('GET', `/api/webhooks/${hook.body.id}`); // 401
    assert.equal((await call('POST', `/api/webhooks/${hook.body.id}/unpark`, { token: admin })).body.parked, false);
    await call('POST', '/api/webhooks/999999/unpark', { token: admin }); // 404
    await call('POST', `/api/webhooks/${hook.body.id}/unpark`, { token }); // 403
    for (const w of hooks.body.webhooks) assert.equal((await call('DELETE', `/api/webhooks/${w.id}`, { token: admin })).status, 204);
    await call('DELETE', `/api/webhooks/${hook.body.id}`, { token: admin }); // 404
    await call('DELETE', `/api/webhooks/${hook.body.id}`); // 401

    // delete (admin)
    await call('DELETE', `/api/rooms/${room.id}`); // 401
    await call('DELETE', `/api/rooms/${room.id}`, { token }); // 403
    await call('DELETE', `/api/rooms/${room.id}`, { token: admin }); // 204
    await call('DELETE', `/api/rooms/${room.id}`, { token: admin }); // 404
    const general = (await call('GET', '/api/rooms')).body.rooms.find((r) => r.name === 'general');
    if (general) await call('DELETE', `/api/rooms/${general.id}`, { token: admin }); // 409

    // Every operation of the document was met.
    const missing = operations(doc).filter((op) => !seen.has(op));
    assert.deepEqual(missing, [], 'operations never exercised');
  });

  test('every route of the router has a path in the document, with the methods it answers', T, async () => {
    assert.ok(doc, 'the document was read');
    const templates = Object.keys(doc.paths);
    // The router's paths, from its source: every "/api/..." literal (a
    // trailing slash: a prefix of templated paths) and the moderation calls.
    const src = ['fcgi/router.c', 'fcgi/api_accounts.c', 'fcgi/api_webhooks.c'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
    const routes = new Set([...src.matchAll(/"(\/api\/[^"\s]*)"/g)].map((m) => m[1]));
    for (const m of src.matchAll(/strcmp\(m\.what, "([a-z-]+)"\)/g)) routes.add(`/api/moderation/${m[1]}`);
    assert.ok(routes.size > 10, `routes read from the source: ${[...routes]}`);
    for (const r of routes) {
      if (r.endsWith('/')) assert.ok(templates.some((t) => t.startsWith(r) && t.length > r.length), `${r}...: no path in the document`);
      else assert.ok(templates.includes(r), `${r}: no path in the document`);
    }
    // Each path of the document is a route, and its operations are the
    // methods the route answers (the Allow of an OPTIONS request).
    const sample = { room_id: '1', message_id: '1', name: 'x', session_id: '0'.repeat(32), id: '1' };
    for (const t of templates) {
      const concrete = t.replace(/\{([^}]+)\}/g, (_, p) => sample[p] ?? assert.fail(`${t}: no sample value for {${p}}`));
      const res = await fetch(stack.url + concrete, { method: 'OPTIONS' });
      await res.text();
      assert.equal(res.status, 204, `OPTIONS ${concrete}`);
      const allowed = res.headers.get('allow').split(/,\s*/).filter((m) => m !== 'OPTIONS' && m !== 'HEAD').sort();
      const documented = ['get', 'put', 'post', 'delete', 'patch'].filter((m) => doc.paths[t][m]).map((m) => m.toUpperCase()).sort();
      assert.deepEqual(allowed, documented, `${t}: the methods the server answers and the document's`);
    }
  });

  test('CORS: a listed origin gets Access-Control-Allow-Origin and a real preflight; others get none', T, async () => {
    const pre = await fetch(`${stack.url}/api/rooms`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.match(pre.headers.get('access-control-allow-methods'), /\bPOST\b/);
    assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/i);
    assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type/i);
    assert.match(pre.headers.get('vary') ?? '', /Origin/);
    const get = await fetch(`${stack.url}/api/rooms`, { headers: { origin: 'https://app.example.org' } });
    assert.equal(get.headers.get('access-control-allow-origin'), 'https://app.example.org');
    assert.match(get.headers.get('access-control-expose-headers'), /Location/);
    const other = await fetch(`${stack.url}/api/rooms`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const page = await fetch(`${stack.url}/`, { headers: { origin: 'https://app.example.org' } });
    assert.equal(page.headers.get('access-control-allow-origin'), null, 'only /api/');
  });

});

describe('POST /api/sessions/sso with sign-in through nginx configured', { skip }, () => {
  let stack, doc, auth;
  before(async () => {
    // the identity provider: vouches for the user named in X-Test-User
    auth = http.createServer((req, res) => {
      const user = req.headers['x-test-user'];
      res.writeHead(user ? 200 : 401, user ? { 'X-Auth-Request-User': user } : {});
      res.end();
    });
    await new Promise((r) => auth.listen(0, '127.0.0.1', r));
    stack = await startStack({ env: { SSO_AUTH_URL: `http://127.0.0.1:${auth.address().port}/auth` } });
    doc = (await api(stack.url, '/api/openapi.json')).body;
  });
  after(async () => {
    await stack?.stop();
    auth?.close();
  });

  test('a session for the vouched user; refusals as described', T, async () => {
    const check = async (opts) => {
      const res = await api(stack.url, '/api/sessions/sso', { method: 'POST', ...opts });
      checkAnswer(doc, 'POST', '/api/sessions/sso', res);
      return res;
    };
    const name = `sso-${process.pid}`;
    const cookie = await check({ headers: { 'x-test-user': name } });
    assert.equal(cookie.status, 200);
    assert.match(cookie.headers.get('set-cookie') || '', /^chat_session=/);
    const tokens = await check({ json: { cookie: false }, headers: { 'x-test-user': name } });
    assert.equal(tokens.status, 200);
    assert.ok(tokens.body.access_token && tokens.body.refresh_token);
    assert.equal((await check({ headers: { 'x-test-user': 'x'.repeat(100) } })).status, 403);
    assert.equal((await check({ json: {} })).status, 401, 'the provider refused');
  });
});

describe('429 from nginx\'s rate on REST writes', { skip }, () => {
  let stack, doc;
  before(async () => {
    stack = await startStack({ env: { API_RATE: '1', API_BURST: '2' } });
    doc = (await api(stack.url, '/api/openapi.json')).body;
  });
  after(async () => {
    await stack?.stop();
  });

  test('reason phrase, Retry-After, JSON error as described', T, async () => {
    // 2 over 1/s: 12 at once from one address go over it.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fetch(`${stack.url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `burst-${process.pid}-${i}` }) })),
    );
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length > 0, `statuses ${answers.map((r) => r.status)}`);
    for (const r of refused) {
      assert.equal(r.statusText, 'Too Many Requests');
      checkAnswer(doc, 'POST', '/api/rooms', { status: r.status, headers: r.headers, body: await r.json() });
    }
    await Promise.all(answers.filter((r) => r.status !== 429).map((r) => r.text()));
  });
});
