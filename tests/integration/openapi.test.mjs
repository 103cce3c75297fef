// openapi.test.mjs -- GET /api/openapi.json describes what the server really
// answers: every REST call a client can make, through nginx, is checked
// against the document (operation, status, required headers, body schema),
// and every operation of the document is exercised. Also the rest of the
// developer surface: `more` on message pages, CORS for /api/ with its
// preflight, and 429's reason phrase and Retry-After.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, credential } from './lib/client.mjs';
import { checkAnswer, operations, validate } from './lib/openapi.mjs';
import { adminToken, hasBinary, ROOT, startStack } from './lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const skip = hasBinary(binDir, 'chat-fcgi') && hasBinary(binDir, 'chat-ws') ? false : `not built in ${binDir}`;
const T = { timeout: 60000 };
const ORIGINS = 'https://app.example.org http://localhost:5173';

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
    await call('GET', `/api/workspaces/${ws}`);
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false }, token: admin });
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false } }); // 401
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: false }, token }); // 403
    await call('PUT', `/api/workspaces/${ws}`, { json: { colour: 'blue' }, token: admin }); // 400
    await call('PUT', `/api/workspaces/${ws}`, { json: { private: true }, token: admin });
    await call('GET', `/api/rooms?namespace=/${ws}`); // 401
    await call('GET', `/api/rooms?namespace=/${ws}`, { token: admin });

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
