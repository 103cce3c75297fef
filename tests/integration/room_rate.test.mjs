// room_rate.test.mjs -- issue 21.6: room creation has an hourly rate per
// client address and per named user, counted in the store so that it holds
// across REST (every chat-fcgi worker) and the socket's `create room` (every
// chat-ws process). Through nginx as deploy/run.sh runs it, with a second
// client address (127.0.0.2 as the source address on loopback).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ack, closeAll, closeLive, connect } from './lib/client.mjs';
import { uniq } from './lib/bystanders.mjs';
import { adminToken, startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const PER_ADDRESS = 5;
const PER_USER = 3;
const OTHER = '127.0.0.2'; // a second client address

/* POST /api/rooms through nginx from localAddress; resolves to { status,
 * headers, body }. */
function createRoom(url, name, { localAddress = '127.0.0.1', token } = {}) {
  const body = JSON.stringify({ name });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/rooms`,
      {
        method: 'POST',
        localAddress,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode, headers: res.headers, body: json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function assertRateRefused(res, what) {
  assert.equal(res.status, 429, `${what}: ${JSON.stringify(res.body)}`);
  assert.match(res.headers['content-type'], /^application\/json/, what);
  assert.match(res.body.error, /too many rooms/, what);
  const retry = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `${what}: Retry-After ${res.headers['retry-after']}`);
}

describe('room creation rate (issue 21.6)', () => {
  let stack;
  before(async () => {
    stack = await startStack({
      wsProcs: 2,
      env: { CHAT_ROOM_RATE_ADDRESS: String(PER_ADDRESS), CHAT_ROOM_RATE_USER: String(PER_USER) },
    });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('per address: REST and the socket share it, across processes; another address is not affected', T, async () => {
    // three over REST, two over the socket (one on each chat-ws process)
    for (let i = 0; i < 3; i++) assert.equal((await createRoom(stack.url, uniq('r'))).status, 201);
    const sockets = [];
    for (let i = 0; i < 4; i++) sockets.push(await connect(stack.url, { name: uniq('guestish'), claim: false }));
    for (const s of sockets.slice(0, 2)) {
      const res = await ack(s, 'create room', { name: uniq('s') });
      assert.equal(res.ok, true, JSON.stringify(res));
    }
    // the address has used its rate: REST and the socket refuse, on any process
    assertRateRefused(await createRoom(stack.url, uniq('r')), 'REST over the rate');
    for (const s of sockets.slice(2)) {
      const res = await ack(s, 'create room', { name: uniq('s') });
      assert.match(res.error ?? '', /too many rooms/, JSON.stringify(res));
      assert.ok(res.retry_after >= 1, JSON.stringify(res));
    }
    // another client address still creates rooms
    assert.equal((await createRoom(stack.url, uniq('other'), { localAddress: OTHER })).status, 201);
    // an admin is not limited
    assert.equal((await createRoom(stack.url, uniq('admin'), { token: await adminToken(stack) })).status, 201);
    await closeAll(...sockets);
  });

  test('per user: a named user is limited on REST and the socket alike, whatever its address', T, async () => {
    const name = uniq('maker');
    const s = await connect(stack.url, { name, transports: ['websocket'], localAddress: OTHER });
    const token = s.auth.token;
    assert.ok(token, 'the name is claimed');
    // 127.0.0.2 made one room above: PER_USER more keeps it under its own rate
    for (let i = 0; i < PER_USER; i++) {
      const res = await ack(s, 'create room', { name: uniq('u') });
      assert.equal(res.ok, true, JSON.stringify(res));
    }
    const refused = await ack(s, 'create room', { name: uniq('u') });
    assert.match(refused.error ?? '', /too many rooms/, JSON.stringify(refused));
    assertRateRefused(await createRoom(stack.url, uniq('u'), { localAddress: OTHER, token }), 'REST with the user token');
    // the address itself has room left: without the user's token it creates
    assert.equal((await createRoom(stack.url, uniq('anon'), { localAddress: OTHER })).status, 201);
    await closeAll(s);
  });

  test('a refused creation is not counted: 409s do not use the rate', T, async () => {
    const third = '127.0.0.3';
    const first = await createRoom(stack.url, uniq('dup'), { localAddress: third });
    assert.equal(first.status, 201);
    for (let i = 0; i < PER_ADDRESS + 2; i++)
      assert.equal((await createRoom(stack.url, first.body.name, { localAddress: third })).status, 409);
    for (let i = 1; i < PER_ADDRESS; i++) assert.equal((await createRoom(stack.url, uniq('n'), { localAddress: third })).status, 201);
    assertRateRefused(await createRoom(stack.url, uniq('n'), { localAddress: third }), 'the sixth from 127.0.0.3');
  });
});

