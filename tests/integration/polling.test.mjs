// polling.test.mjs -- Engine.IO long-polling and the upgrade, through nginx:
// the chat flow with transports ['polling'] and with the default (polling,
// then WebSocket), the HTTP error answers, recovery over polling, and a
// polling session across two ws processes (routed by sid, no stickiness).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack } from './lib/stack.mjs';
import { ack, closeAll, closeLive, connect, join, sleep, withTimeout } from './lib/client.mjs';

const T = { timeout: 30000 };

/* The chat flow of the sockets tests over the given transports. */
async function chatFlow(url, transports) {
  const opts = { transports, upgrade: transports.length > 1 };
  const a = await connect(url, { name: 'ann', ...opts });
  const b = await connect(url, { name: 'bob', ...opts });
  try {
    const room = `poll-${transports.join('-')}-${Date.now()}`;
    assert.equal((await ack(a, 'create room', { name: room })).ok, true);
    await b.rec.next('room created', (r) => r.name === room);
    await join(a, room);
    const jb = await join(b, room);
    assert.deepEqual(jb.members.sort(), ['ann', 'bob']);
    await a.rec.next('user joined', (x) => x.user === 'bob');
    const sent = await ack(a, 'chat message', { room, text: 'über polling ✓', client_id: `c-${room}` });
    const [mb, offset] = await b.rec.next('chat message', (m) => m.id === sent.id);
    const [ma] = await a.rec.next('chat message', (m) => m.id === sent.id);
    assert.equal(mb.text, 'über polling ✓');
    assert.equal(ma.user, 'ann');
    assert.equal(offset, String(sent.id));
    const again = await ack(a, 'chat message', { room, text: 'über polling ✓', client_id: `c-${room}` });
    assert.deepEqual(again, sent, 'the same client_id stores one message');
    b.emit('typing', { room });
    await a.rec.next('typing', (x) => x.user === 'bob');
    const rooms = await ack(b, 'rooms');
    assert.ok(rooms.rooms.some((r) => r.name === room));
    assert.equal((await ack(b, 'leave', room)).ok, true);
    await a.rec.next('user left', (x) => x.user === 'bob');
    await sleep(300);
    return [a.io.engine.transport.name, b.io.engine.transport.name];
  } finally {
    await closeAll(a, b);
  }
}

describe('one ws process', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('the whole chat flow over polling only (WebSockets blocked)', T, async () => {
    assert.deepEqual(await chatFlow(stack.url, ['polling']), ['polling', 'polling']);
  });

  test('the whole chat flow with the default: polling, then upgraded to WebSocket', T, async () => {
    assert.deepEqual(await chatFlow(stack.url, ['polling', 'websocket']), ['websocket', 'websocket']);
  });

  test('HTTP errors: bad EIO, bad transport, unknown sid, bad method, oversize POST', T, async () => {
    const base = `${stack.url}/socket.io/`;
    const json = async (res) => [res.status, await res.json()];
    assert.deepEqual(await json(await fetch(`${base}?EIO=3&transport=polling`)), [400, { code: 5, message: 'Unsupported protocol version' }]);
    assert.deepEqual(await json(await fetch(`${base}?EIO=4&transport=carrier-pigeon`)), [400, { code: 0, message: 'Transport unknown' }]);
    assert.deepEqual(await json(await fetch(`${base}?EIO=4&transport=polling&sid=nope`)), [400, { code: 1, message: 'Session ID unknown' }]);
    assert.deepEqual(await json(await fetch(`${base}?EIO=4&transport=polling`, { method: 'PUT' })), [400, { code: 2, message: 'Bad handshake method' }]);
    const open = await (await fetch(`${base}?EIO=4&transport=polling`)).text();
    const { sid } = JSON.parse(open.slice(1));
    const big = await fetch(`${base}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '4' + 'x'.repeat(1_000_001) });
    assert.ok([413].includes(big.status), `oversize POST: ${big.status}`);
    await sleep(100);
    assert.equal((await fetch(`${base}?EIO=4&transport=polling&sid=${sid}`)).status, 400, 'the session ended');
  });

  test("a keep-alive client (Node's agent, with and without Connection: close) polls a session through nginx", T, async () => {
    // nginx keeps a pool of upstream connections to chat-ws; the client's
    // agent keeps its own. Every answer that closes must say so on both legs.
    const { port } = new URL(stack.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const req = (method, query, body, close) =>
      new Promise((resolve, reject) => {
        const r = http.request(
          { host: '127.0.0.1', port, method, agent, path: `/socket.io/?EIO=4&transport=polling${query}`, headers: close ? { Connection: 'close' } : {} },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve({ status: res.statusCode, body: data }));
          },
        );
        r.on('error', reject);
        r.end(body);
      });
    try {
      const open = await req('GET', '', undefined, false);
      assert.equal(open.status, 200);
      const { sid } = JSON.parse(open.body.slice(1));
      assert.equal((await req('POST', `&sid=${sid}`, '40{"name":"kai"}', true)).status, 200);
      let got = '';
      while (!got.includes('"session"')) got += (await req('GET', `&sid=${sid}`, undefined, false)).body;
      for (let i = 0; i < 12; i++) {
        const close = i % 2 === 0;
        const push = await req('POST', `&sid=${sid}`, `42${i}["rooms"]`, close);
        assert.equal(push.status, 200, `round ${i}`);
        let answer = '';
        while (!answer.includes(`43${i}[`)) {
          const poll = await req('GET', `&sid=${sid}`, undefined, close);
          assert.equal(poll.status, 200, `round ${i}`);
          answer += poll.body;
        }
        assert.match(answer, new RegExp(`43${i}\\[\\{"rooms":`));
      }
    } finally {
      agent.destroy();
    }
  });

  test('a second concurrent GET ends the session', T, async () => {
    const base = `${stack.url}/socket.io/?EIO=4&transport=polling`;
    const { sid } = JSON.parse((await (await fetch(base)).text()).slice(1));
    const [first, second] = await Promise.all([
      fetch(`${base}&sid=${sid}`),
      sleep(50).then(() => fetch(`${base}&sid=${sid}&t=2`)),
    ]);
    assert.equal(second.status, 400);
    assert.equal(await first.text(), '1', 'the held GET gets the close packet');
  });

  test('recovery over polling: a dropped transport gets exactly what it missed', T, async () => {
    const a = await connect(stack.url, { name: 'pat', transports: ['polling'], reconnection: true, reconnectionDelay: 100 });
    const b = await connect(stack.url, { name: 'quinn' });
    try {
      await join(a, 'general');
      await join(b, 'general');
      const first = await ack(b, 'chat message', { room: 'general', text: 'before' });
      await a.rec.next('chat message', (m) => m.id === first.id);
      const back = withTimeout(new Promise((r) => a.once('connect', r)), 8000, 'reconnect');
      a.io.engine.close();
      const missed = [];
      for (let i = 0; i < 3; i++) missed.push((await ack(b, 'chat message', { room: 'general', text: `m${i}` })).id);
      await back;
      assert.equal(a.recovered, true);
      for (const id of missed) await a.rec.next('chat message', (m) => m.id === id);
      await sleep(300);
      const got = a.rec.of('chat message').map(([m]) => m.id);
      assert.deepEqual(got, [first.id, ...missed], 'each once, in order');
    } finally {
      await closeAll(a, b);
    }
  });
});

describe('two ws processes behind nginx', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2 });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('polling sessions land on both processes, keep working (routed by sid) and upgrade', T, async () => {
    const polling = [];
    const nodes = new Set();
    try {
      for (let i = 0; i < 6 && nodes.size < 2; i++) {
        const s = await connect(stack.url, { name: `p${i}`, transports: ['polling'] });
        polling.push(s);
        nodes.add(s.io.engine.id[0]);
      }
      assert.equal(nodes.size, 2, 'least_conn spreads new sessions over both processes');
      for (const s of polling) await join(s, 'general');
      // many polling requests per session: every one must reach its own process
      for (let round = 0; round < 5; round++) {
        const s = polling[round % polling.length];
        const sent = await ack(s, 'chat message', { room: 'general', text: `round ${round}` });
        for (const r of polling) await r.rec.next('chat message', (m) => m.id === sent.id);
      }
      // and the default transports upgrade through nginx to the process holding the session
      const up = await connect(stack.url, { name: 'upgrader', transports: ['polling', 'websocket'] });
      await withTimeout(new Promise((r) => (up.io.engine.transport.name === 'websocket' ? r() : up.io.engine.once('upgrade', r))), 5000, 'upgrade');
      await join(up, 'general');
      const sent = await ack(up, 'chat message', { room: 'general', text: 'after the upgrade' });
      for (const r of polling) await r.rec.next('chat message', (m) => m.id === sent.id);
      await closeAll(up);
    } finally {
      await closeAll(polling);
    }
  });
});
