// limits.test.mjs -- the protections of issue 8, each with a small value set
// through chat-ws's flags, each checked to bite exactly where it should, and
// each with bystanders (well-behaved socket.io-client sockets connected
// through the abuse) proving the server keeps serving everyone else:
// max payload, event name length, arguments, JSON depth, attachments, rooms
// per socket, the event rate, connections per process and per address, the
// send queue of a slow reader (with the process's memory), the connect
// timeout, ping timeouts (WebSocket and polling) and allowed Origins.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeAll, connect, join, sleep, until, withTimeout } from './lib/client.mjs';
import { abuseFixture, newRoom, uniq } from './lib/bystanders.mjs';
import { OP, frame, rawHttp, rawSession, rawUpgrade, rssKiB } from './lib/rawws.mjs';
import { wsPids } from './lib/stack.mjs';

const T = { timeout: 30000 };
const EIO_WS = '/socket.io/?EIO=4&transport=websocket';

/* Sends packet on a fresh raw session to the ws port and resolves to how the
 * server closed it (rejects if it did not within ms). */
async function closedAfter(port, packets, ms = 3000) {
  const c = await rawSession(port);
  for (const p of [].concat(packets)) {
    if (Buffer.isBuffer(p)) c.sendBinary(p);
    else c.sendText(p);
  }
  return c.waitClosed(ms);
}

/* Sends text with ack id 7 and resolves to the ack's payload (parsed). */
async function ackOf(c, packetWithId7, ms = 3000) {
  c.sendText(packetWithId7);
  const a = await c.nextText((t) => t.startsWith('437'), ms);
  return JSON.parse(a.slice(3));
}

describe('limits: decoder, payload, rooms, rate, timeouts, origins', () => {
  let stack, port, by;
  const LIM = { payload: 2048, eventName: 16, args: 4, depth: 5, attachments: 2, rooms: 3, rate: 20, burst: 10, connectTimeout: 700, ping: 400 };
  abuseFixture({
    wsArgs: [
      ['--max-payload', LIM.payload],
      ['--max-event-name', LIM.eventName],
      ['--max-args', LIM.args],
      ['--max-depth', LIM.depth],
      ['--max-attachments', LIM.attachments],
      ['--max-rooms', LIM.rooms],
      ['--rate', LIM.rate],
      ['--burst', LIM.burst],
      ['--connect-timeout', LIM.connectTimeout],
      ['--ping-interval', LIM.ping],
      ['--ping-timeout', LIM.ping],
    ].flat(),
  }, (f) => ({ stack, port, by } = f));

  test('max payload: a WebSocket message of max+1 bytes gets close 1009, max bytes is served', T, async () => {
    // exactly the limit: a rooms call padded with an ignored argument
    const c = await rawSession(port);
    const head = '427["rooms","';
    const exact = head + 'x'.repeat(LIM.payload - head.length - 2) + '"]';
    assert.equal(Buffer.byteLength(exact), LIM.payload);
    const r = await ackOf(c, exact);
    assert.ok(Array.isArray(r[0].rooms), `rooms at the limit: ${JSON.stringify(r).slice(0, 200)}`);
    // one byte more
    c.sendText(head + 'x'.repeat(LIM.payload - head.length - 1) + '"]');
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1009, `close ${JSON.stringify(closed)}`);
    await by.check('after a message over max payload');
  });

  test('max payload: a polling POST over the limit gets HTTP 413 JSON and the session ends', T, async () => {
    const open = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
    assert.equal(open.status, 200);
    const sid = JSON.parse(open.body.slice(1)).sid;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const res = await fetch(stack.url + q, { method: 'POST', body: '4' + 'x'.repeat(LIM.payload + 10), headers: { 'content-type': 'text/plain;charset=UTF-8' }, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    assert.equal(res.status, 413, body);
    assert.equal(JSON.parse(body).code, 3, body);
    // the session is closed: the next GET is told so (close packet or unknown sid)
    const next = await api(stack.url, q);
    assert.ok((next.status === 200 && String(next.body).startsWith('1')) || (next.status === 400 && next.body.code === 1), `after: ${next.status} ${JSON.stringify(next.body)}`);
    await by.check('after a polling POST over max payload');
  });

  test('max payload: socket.io-client emitting an oversize message is disconnected', T, async () => {
    const s = await connect(stack.url, { name: uniq('big') });
    const gone = withTimeout(new Promise((r) => s.once('disconnect', r)), 3000, 'disconnect');
    s.emit('chat message', { room: 'general', text: 'y'.repeat(LIM.payload + 100) });
    assert.equal(await gone, 'transport close');
    await closeAll(s);
    await by.check('after an oversize socket.io-client emit');
  });

  test('max event name: 16 bytes answered (unknown event), 17 bytes closes as malformed', T, async () => {
    const c = await rawSession(port);
    const r = await ackOf(c, `427["${'e'.repeat(LIM.eventName)}"]`);
    assert.deepEqual(r, [{ error: 'unknown event' }]);
    c.sendText(`42["${'e'.repeat(LIM.eventName + 1)}"]`);
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1002, JSON.stringify(closed));
    // a multi-byte name counts bytes: 6 × "é" (12 bytes) passes, 9 × (18 bytes) does not
    const c2 = await rawSession(port);
    assert.deepEqual(await ackOf(c2, `427["${'é'.repeat(6)}"]`), [{ error: 'unknown event' }]);
    c2.sendText(`42["${'é'.repeat(9)}"]`);
    assert.equal((await c2.waitClosed()).code, 1002);
    await by.check('after an over-long event name');
  });

  test('max args: 4 array elements (the name and 3 arguments) served, 5 close as malformed', T, async () => {
    const c = await rawSession(port);
    const r = await ackOf(c, '427["rooms",1,2,3]');
    assert.ok(Array.isArray(r[0].rooms));
    c.sendText('42["rooms",1,2,3,4]');
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1002, JSON.stringify(closed));
    // acks count too
    assert.equal((await closedAfter(port, '431[1,2,3,4,5]')).code, 1002);
    await by.check('after too many arguments');
  });

  test('max depth: 5 levels of nesting served, 6 close as malformed', T, async () => {
    const c = await rawSession(port);
    const r = await ackOf(c, '427["rooms",[[[[1]]]]]'); // the packet array + 4
    assert.ok(Array.isArray(r[0].rooms));
    c.sendText('42["rooms",[[[[[1]]]]]]');
    assert.equal((await c.waitClosed()).code, 1002);
    // objects count like arrays
    assert.equal((await closedAfter(port, '42["rooms",{"a":{"b":{"c":{"d":{}}}}}]')).code, 1002);
    await by.check('after JSON nested too deep');
  });

  test('max attachments: 2 binary attachments served, 3 close as malformed', T, async () => {
    const c = await rawSession(port);
    c.sendText('452-7["rooms",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    c.sendBinary(Buffer.from([1, 2, 3]));
    c.sendBinary(Buffer.from([4]));
    const a = await c.nextText((t) => t.startsWith('437'));
    assert.ok(Array.isArray(JSON.parse(a.slice(3))[0].rooms), a);
    c.sendText('453-["rooms",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]');
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1002, JSON.stringify(closed));
    await by.check('after too many attachments');
  });

  test('max rooms per socket: the 4th join acks {error}; after a leave it succeeds', T, async () => {
    const rooms = [];
    for (let i = 0; i < LIM.rooms + 1; i++) rooms.push((await newRoom(stack.url)).name);
    // The event bucket is kept per client address (issue 14.2), and the tests
    // before spent 127.0.0.1's: let it refill (burst / rate) before the 7
    // events below, which are fewer than --burst.
    await sleep((LIM.burst / LIM.rate) * 1000 + 200);
    const s = await connect(stack.url, { name: uniq('joiner') });
    for (const r of rooms.slice(0, LIM.rooms)) await join(s, r);
    const refused = await ack(s, 'join', rooms[LIM.rooms]);
    assert.match(refused?.error ?? '', /too many rooms/, JSON.stringify(refused));
    // re-joining a room it is in is no new room
    const rejoin = await ack(s, 'join', rooms[0]);
    assert.equal(rejoin.ok, true, JSON.stringify(rejoin));
    const left = await ack(s, 'leave', rooms[0]);
    assert.equal(left.ok, true, JSON.stringify(left));
    const joined = await ack(s, 'join', rooms[LIM.rooms]);
    assert.equal(joined.ok, true, JSON.stringify(joined));
    assert.ok(s.connected);
    await closeAll(s);
    await by.check('after a socket hit max rooms');
  });

  // The event bucket is kept per client address across transports (issue
  // 14.2): each rate test speaks as an address of its own (the ws process
  // trusts X-Forwarded-For from a loopback peer, as from nginx).
  const own = (n) => ({ 'X-Forwarded-For': `10.8.0.${n}` });
  const direct = () => `http://127.0.0.1:${port}`;

  test('rate: 40 events at once: --burst served, then error acks "rate limit exceeded", then the connection is closed', T, async () => {
    const c = await rawSession(port, { headers: own(1) });
    c.write(Buffer.concat(Array.from({ length: 40 }, (_, k) => frame({ opcode: OP.TEXT, payload: `42${k}["rooms"]` }))));
    const closed = await c.waitClosed();
    const acks = c.texts.filter((f) => f.startsWith('43'));
    const limited = acks.filter((f) => f.includes('rate limit exceeded'));
    assert.equal(acks.length - limited.length, LIM.burst, `served: ${acks.length - limited.length}`);
    assert.equal(limited.length, LIM.burst, 'refused in a row before the disconnect');
    // close 1008 "rate limit exceeded" -- or a bare TCP close when the rest of
    // the 40 frames was still unread (the reset loses the close frame; see
    // docs/http.md, "HTTP as chat-ws speaks it")
    assert.ok(closed.code === null || (closed.code === 1008 && closed.reason === 'rate limit exceeded'), JSON.stringify(closed));
    await until(() => stack.logs('ws-0').includes(`msg="eio: closed" sid=${c.open.sid} reason="rate limit exceeded"`), 2000, 'the ws log: rate limit exceeded');
    await by.check('after a burst');
  });

  test('rate: socket.io-client sending as fast as acks come back: error acks, then a disconnect', T, async (t) => {
    const s = await connect(direct(), { name: uniq('flood'), extraHeaders: own(2) });
    let reason = null;
    s.once('disconnect', (r) => (reason = r));
    const results = [];
    for (let i = 0; i < 80 && !reason; i++) {
      const r = await s.timeout(2000).emitWithAck('rooms').then((x) => (x?.error ? `error: ${x.error}` : 'ok'), () => 'no ack');
      results.push(r);
    }
    await until(() => reason, 3000, 'the disconnect');
    const ok = results.filter((r) => r === 'ok').length;
    const limited = results.filter((r) => /rate limit exceeded/.test(r)).length;
    t.diagnostic(`${results.length} sent: ${ok} ok, ${limited} rate-limited; disconnect: ${reason}`);
    assert.ok(ok >= LIM.burst, `${ok} served, burst ${LIM.burst}`);
    assert.ok(limited >= LIM.burst - 1, `${limited} error acks`);
    assert.equal(reason, 'transport close');
    assert.match(stack.logs('ws-0'), /msg="sio: rate limit exceeded, disconnecting" sid=\S+ refused=\d+/);
    await closeAll(s);
    await by.check('after a rate-limited flooder');
  });

  test('rate: a client steadily at twice the rate is disconnected too (refusals counted over 10 s)', T, async (t) => {
    const s = await connect(direct(), { name: uniq('double'), extraHeaders: own(3) });
    let reason = null;
    s.once('disconnect', (r) => (reason = r));
    let ok = 0;
    let limited = 0;
    for (let i = 0; i < 200 && !reason; i++) {
      s.timeout(2000)
        .emitWithAck('rooms')
        .then((x) => (x?.error ? limited++ : ok++), () => {});
      await sleep(1000 / (2 * LIM.rate)); // twice the rate, never a burst
    }
    await until(() => reason, 5000, 'the disconnect');
    t.diagnostic(`${ok} ok, ${limited} rate-limited before the disconnect`);
    assert.ok(ok > LIM.burst, 'served events were interleaved with the refusals');
    assert.equal(reason, 'transport close');
    await closeAll(s);
    await by.check('after a client at twice the rate');
  });

  test('rate: a client at the rate is never limited', T, async () => {
    const s = await connect(direct(), { name: uniq('steady'), extraHeaders: own(4) });
    for (let i = 0; i < 15; i++) {
      const r = await ack(s, 'rooms');
      assert.ok(Array.isArray(r.rooms), `call ${i}: ${JSON.stringify(r)}`);
      await sleep(1000 / LIM.rate + 10);
    }
    assert.ok(s.connected);
    await closeAll(s);
  });

  test('connect timeout: an Engine.IO session that never sends CONNECT is closed', T, async () => {
    const c = await rawSession(port, { connect: false, eioPong: true });
    const t0 = Date.now();
    const closed = await c.waitClosed(LIM.connectTimeout + 2000);
    const took = Date.now() - t0;
    assert.equal(closed.code, 1008, JSON.stringify(closed));
    assert.match(closed.reason, /no namespace joined/);
    assert.ok(took >= LIM.connectTimeout - 100, `closed after ${took} ms, timeout ${LIM.connectTimeout}`);
    // one that connects in time stays (and answers pings)
    const d = await rawSession(port, { eioPong: true });
    await sleep(LIM.connectTimeout + 500);
    assert.equal(d.isClosed(), false, 'a connected session was closed by the connect timeout');
    d.destroy();
    await by.check('after a connect timeout');
  });

  test('ping timeout: a WebSocket client that stops answering pings is closed', T, async () => {
    const c = await rawSession(port); // never answers Engine.IO pings
    const t0 = Date.now();
    await c.nextText((f) => f === '2', LIM.ping + 1000);
    const closed = await c.waitClosed(2 * LIM.ping + 1500);
    assert.equal(closed.reason, 'ping timeout', JSON.stringify(closed));
    assert.ok(Date.now() - t0 < 2 * LIM.ping + 1000);
    await by.check('after a ping timeout');
  });

  test('ping timeout: an idle polling session (no GET) is ended; its sid is then unknown', T, async () => {
    const open = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
    const sid = JSON.parse(open.body.slice(1)).sid;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = await fetch(stack.url + q, { method: 'POST', body: '40', signal: AbortSignal.timeout(3000) });
    assert.equal(post.status, 200);
    await sleep(2 * LIM.ping + 700); // ping due, never fetched, timeout passed
    const res = await api(stack.url, q);
    assert.ok(res.status === 400 || String(res.body).startsWith('1'), `late GET: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.status === 400) assert.equal(res.body.code, 1);
    await by.check('after an idle polling session');
  });

  describe('allowed origins (default: the site\'s own)', () => {
    const upgrade = (origin, path = EIO_WS) => rawUpgrade(stack.port, { path, headers: { Origin: origin } });
    test('a foreign Origin gets 403 JSON {"code":4} before the upgrade, WebSocket and polling', T, async () => {
      for (const origin of ['http://evil.example', `http://127.0.0.1:${stack.port}.evil.example`, 'null', `https://127.0.0.1:${stack.port + 1}`]) {
        const c = await upgrade(origin);
        assert.equal(c.status, 403, `Origin ${origin}: ${c.status}`);
        assert.equal(JSON.parse(c.body).code, 4, c.body);
        c.destroy();
        const p = await rawHttp(stack.port, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\nOrigin: ${origin}\r\nConnection: close\r\n\r\n`);
        assert.equal(p.status, 403, `polling, Origin ${origin}: ${p.raw.slice(0, 200)}`);
      }
      await by.check('after foreign Origins');
    });
    test('the site\'s own Origin through nginx, and no Origin, are allowed', T, async () => {
      for (const origin of [`http://127.0.0.1:${stack.port}`, undefined]) {
        const c = await rawUpgrade(stack.port, { headers: origin ? { Origin: origin } : {} });
        assert.equal(c.status, 101, `Origin ${origin}: ${c.status} ${c.body}`);
        const open = await c.nextText((f) => f.startsWith('0'));
        assert.equal(typeof JSON.parse(open.slice(1)).sid, 'string');
        c.destroy();
      }
      // socket.io-client in node sends no Origin: the bystanders got in that way
      await by.check('after allowed Origins');
    });
  });
});

describe('limits: connections per process and per client address', () => {
  let stack, port, by;
  const MAX_CONN = 6;
  const PER_ADDR = 2;
  // the bystanders: two sessions of 127.0.0.1 through nginx
  abuseFixture({ wsArgs: ['--max-connections', MAX_CONN, '--max-per-address', PER_ADDR] }, (f) => ({ stack, port, by } = f));

  /* A raw session straight to the ws port as client address addr (the ws
   * process trusts X-Forwarded-For from a loopback peer, as from nginx). */
  const asAddress = (addr) => rawUpgrade(port, { headers: { 'X-Forwarded-For': addr } });

  test('per address: the 3rd session of an address gets 403 {"code":4}; other addresses are not affected', T, async () => {
    const a1 = await asAddress('10.9.9.1');
    const a2 = await asAddress('10.9.9.1');
    assert.equal(a1.status, 101);
    assert.equal(a2.status, 101);
    const a3 = await asAddress('10.9.9.1');
    assert.equal(a3.status, 403, `3rd session of 10.9.9.1: ${a3.status}`);
    assert.deepEqual(JSON.parse(a3.body), { code: 4, message: 'Forbidden' });
    assert.match(stack.logs('ws-0'), /msg="eio: refused a session" reason=max_per_address peer=10\.9\.9\.1/);
    const b1 = await asAddress('10.9.9.2');
    assert.equal(b1.status, 101, 'another address is admitted');
    // a session that ends frees its place
    a1.destroy();
    await until(async () => {
      const again = await asAddress('10.9.9.1');
      again.destroy();
      return again.status === 101;
    }, 3000, 'a place of 10.9.9.1 freed by a closed session');
    for (const c of [a2, a3, b1]) c.destroy();
    await by.check('after the per-address limit');
  });

  test('per address through nginx: 127.0.0.1 already holds 2 (the bystanders): a 3rd gets 403', T, async () => {
    const c = await rawUpgrade(stack.port, {});
    assert.equal(c.status, 403, `3rd session of 127.0.0.1 through nginx: ${c.status}`);
    assert.equal(JSON.parse(c.body).code, 4);
    c.destroy();
    await by.check('after a refused 3rd local session');
  });

  test('per address through nginx: a client cannot escape it with its own X-Forwarded-For', T, async () => {
    // nginx appends the real address to what the client sent; only nginx's
    // entry (the last) may be trusted.
    const opened = [];
    const statuses = [];
    for (const spoof of ['10.7.7.1', '10.7.7.2', '10.7.7.3']) {
      const c = await rawUpgrade(stack.port, { headers: { 'X-Forwarded-For': spoof } });
      statuses.push(c.status);
      opened.push(c);
    }
    for (const c of opened) c.destroy();
    assert.deepEqual(statuses, [403, 403, 403], 'sessions of 127.0.0.1 over its limit, each claiming another address');
    await by.check('after spoofed X-Forwarded-For');
  });

  test('per process: past --max-connections, 403 {"code":4} before the upgrade (direct and through nginx); a freed place is reused', T, async () => {
    const opened = [];
    // the bystanders hold 2; fill the rest with distinct addresses
    for (let i = 0; i < MAX_CONN - 2; i++) {
      const c = await asAddress(`10.8.0.${i + 1}`);
      assert.equal(c.status, 101, `session ${i + 3} of ${MAX_CONN}`);
      await c.nextText((f) => f.startsWith('0'));
      opened.push(c);
    }
    const over = await asAddress('10.8.1.1');
    assert.equal(over.status, 403, `session ${MAX_CONN + 1}: ${over.status}`);
    assert.deepEqual(JSON.parse(over.body), { code: 4, message: 'Forbidden' });
    over.destroy();
    assert.match(stack.logs('ws-0'), /msg="eio: refused a session" reason=max_connections/);
    // through nginx too (a polling handshake; 127.0.0.1 is also at its own limit)
    const viaNginx = await rawHttp(stack.port, `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\nX-Forwarded-For: 10.8.1.2\r\nConnection: close\r\n\r\n`);
    assert.equal(viaNginx.status, 403, viaNginx.raw.slice(0, 300));
    assert.match(viaNginx.headers['content-type'] ?? '', /json/);
    assert.equal(JSON.parse(viaNginx.body).code, 4);
    await by.check('with the process full');
    opened.pop().destroy();
    await until(async () => {
      const c = await asAddress('10.8.1.3');
      c.destroy();
      return c.status === 101;
    }, 3000, 'a freed place admits a new session');
    for (const c of opened) c.destroy();
    await by.check('after the process was full');
  });
});

describe('limits: send queue of a slow reader, and memory', () => {
  let stack, by;
  const QUEUE = 256 * 1024;
  abuseFixture({
    wsArgs: ['--max-queue-bytes', QUEUE, '--rate', '0'],
    // a small ASan quarantine, so that RSS follows what is really held
    env: { ASAN_OPTIONS: 'detect_leaks=0:quarantine_size_mb=1:malloc_context_size=5' },
  }, (f) => ({ stack, by } = f));

  test('raw clients that never read (and a polling session that stops polling) while their room is flooded are disconnected; the ws process\'s memory stays bounded', T, async (t) => {
    const room = (await newRoom(stack.url)).name;
    const readers = [];
    for (let i = 0; i < 3; i++) {
      const name = uniq('slow');
      const c = await rawSession(stack.wsPorts[0], { auth: { name } });
      c.sendText(`421["join",${JSON.stringify(room)}]`);
      await c.nextText((f) => f.startsWith('431'));
      c.sock.pause(); // never reads again
      readers.push({ c, name });
    }
    // and a polling session that stops polling
    {
      const name = uniq('slow-poll');
      const open = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
      const q = `/socket.io/?EIO=4&transport=polling&sid=${JSON.parse(open.body.slice(1)).sid}`;
      const post = (body) => fetch(stack.url + q, { method: 'POST', body, signal: AbortSignal.timeout(3000) });
      assert.equal((await post(`40${JSON.stringify({ name })}`)).status, 200);
      assert.equal((await post(`421["join",${JSON.stringify(room)}]`)).status, 200);
      await until(async () => /431\[\{"ok":true/.test(String((await api(stack.url, q)).body)), 3000, 'the polling join ack');
      readers.push({ c: { destroy() {} }, name });
    }
    const sender = await connect(stack.url, { name: uniq('sender') });
    const watcher = await connect(stack.url, { name: uniq('watcher') });
    await join(sender, room);
    await join(watcher, room);
    const pid = wsPids(stack)[0];
    const rss0 = await rssKiB(pid);
    // 4000 four-byte characters: a 16 KB frame per message
    const text = '😀'.repeat(4000);
    const N = 1200; // ~19 MB to each member
    let acked = 0;
    let maxRss = rss0;
    const sampler = setInterval(async () => {
      const r = await rssKiB(pid).catch(() => null);
      if (r) maxRss = Math.max(maxRss, r);
    }, 50);
    try {
      for (let i = 0; i < N; i += 50) {
        const batch = [];
        for (let k = i; k < Math.min(N, i + 50); k++) batch.push(ack(sender, 'chat message', { room, text, client_id: `f${k}` }, { __ms: 15000 }));
        const res = await Promise.all(batch);
        acked += res.filter((r) => typeof r?.id === 'number').length;
      }
      await until(() => watcher.rec.count('chat message') >= N, 15000, 'the watcher reading every message');
    } finally {
      clearInterval(sampler);
    }
    // at once (chat-ws drops a choked connection on close; its tick enforces
    // a 2 s close deadline besides)
    const hasLeft = (name) => watcher.rec.of('user left').some(([e]) => e.user === name);
    const floodEnd = Date.now();
    await until(() => readers.every(({ name }) => hasLeft(name)), 3000, 'user left of every slow reader').catch(() => {});
    t.diagnostic(`every slow reader gone ${Date.now() - floodEnd} ms after the flood`);
    const rss1 = await rssKiB(pid);
    const left = readers.map(({ name }) => watcher.rec.of('user left').some(([e]) => e.user === name));
    t.diagnostic(`acked ${acked}/${N}; VmRSS ${rss0} → peak ${maxRss} → ${rss1} KiB; flood ${((N * text.length * 2) / 1e6).toFixed(1)} MB per member; slow readers left: ${left}`);
    assert.equal(acked, N);
    assert.deepEqual(left, [true, true, true, true], 'every slow reader (3 WebSocket, 1 polling) was disconnected (user left)');
    assert.match(stack.logs('ws-0'), /slow reader: send queue full/);
    // Readers that kept everything would hold the flood (one copy, shared by
    // reference: measured +18 MB, +27 MB under ASan with the limit off); with
    // it, +2.4 MB (+4.7 MB under ASan).
    const growthMB = (maxRss - rss0) / 1024;
    assert.ok(growthMB < 12, `VmRSS grew by ${growthMB.toFixed(1)} MB`);
    assert.ok(watcher.connected && sender.connected);
    for (const { c } of readers) c.destroy();
    await closeAll(sender, watcher);
    await by.check('after the slow readers');
  });
});
