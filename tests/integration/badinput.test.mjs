// badinput.test.mjs -- hostile and broken input of issue 8 at every layer:
// WebSocket frames (a hand-made client over node:net, straight to a ws
// port), Engine.IO and Socket.IO packets, chat events, and HTTP through
// nginx. Each test states the outcome seen (close codes per RFC 6455: 1002
// protocol error, 1007 invalid data, 1009 too big) and checks with
// bystanders -- socket.io-client sockets connected through it all -- that
// the server keeps serving everyone else.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ack, api, closeAll, connect, join, roomMessages, sleep, until } from './lib/client.mjs';
import { abuseFixture, newRoom, uniq } from './lib/bystanders.mjs';
import { OP, closePayload, frame, rawHttp, rawSession } from './lib/rawws.mjs';
import { adminToken } from './lib/stack.mjs';

const T = { timeout: 30000 };
const PAYLOAD = 4096;
const PING = 500;

describe('bad input: WebSocket frames (raw, to a ws port)', () => {
  let stack, port, by;
  abuseFixture({ wsArgs: ['--max-payload', PAYLOAD, '--ping-interval', PING, '--ping-timeout', PING] }, (f) => ({ stack, port, by } = f));

  /* A connected raw session, the bytes written, then how it was closed. */
  async function outcome(write, ms = 3000) {
    const c = await rawSession(port);
    write(c);
    return c.waitClosed(ms);
  }

  test(
    'an unmasked client frame: close 1002 (RFC 6455 5.1 MUST)',
    { ...T, todo: 'libwebsockets 4.1.6 accepts unmasked client frames and serves them (docs/http.md, "HTTP as chat-ws speaks it")' },
    async () => {
      const c = await rawSession(port);
      c.write(frame({ opcode: OP.TEXT, payload: '427["rooms"]', mask: false }));
      const answered = await c.nextText((t) => t.startsWith('437'), 1000).then(() => true, () => false);
      const closed = await c.waitClosed(1000).catch(() => null);
      c.destroy();
      await by.check('after an unmasked frame');
      assert.equal(answered, false, 'the unmasked frame was served');
      assert.equal(closed?.code, 1002, `close ${JSON.stringify(closed)}`);
    },
  );

  test('reserved bits set (RSV1, RSV2, RSV3; no extension negotiated): close 1002', T, async () => {
    for (const rsv of [4, 2, 1]) {
      const closed = await outcome((c) => c.write(frame({ opcode: OP.TEXT, payload: '42["rooms"]', rsv })));
      assert.equal(closed.code, 1002, `rsv ${rsv}: ${JSON.stringify(closed)}`);
    }
    await by.check('after RSV bits');
  });

  test('unknown opcodes (3-7 data, 0xB-0xF control): close 1002', T, async () => {
    for (const opcode of [3, 7, 0xb, 0xf]) {
      const closed = await outcome((c) => c.write(frame({ opcode, payload: 'x' })));
      assert.equal(closed.code, 1002, `opcode ${opcode}: ${JSON.stringify(closed)}`);
    }
    await by.check('after unknown opcodes');
  });

  test('a fragmented control frame (ping without FIN): close 1002', T, async () => {
    const closed = await outcome((c) => c.write(frame({ opcode: OP.PING, payload: 'x', fin: false })));
    assert.equal(closed.code, 1002, JSON.stringify(closed));
    await by.check('after a fragmented ping');
  });

  test('an oversize control frame (ping of 126 bytes): the connection is dropped at once', T, async () => {
    const t0 = Date.now();
    const closed = await outcome((c) => c.write(frame({ opcode: OP.PING, payload: Buffer.alloc(126, 97) })));
    // lws fails the connection without a close frame (RFC 6455 7.1.7 allows it)
    assert.ok(closed.code === null || closed.code === 1002, JSON.stringify(closed));
    assert.ok(Date.now() - t0 < 1000);
    // 125 bytes is a valid ping: answered with a pong, the session lives
    const c = await rawSession(port);
    c.write(frame({ opcode: OP.PING, payload: Buffer.alloc(125, 98) }));
    await until(() => c.frames.some((f) => f.opcode === OP.PONG && f.payload.length === 125), 2000, 'pong of 125 bytes');
    assert.equal(c.isClosed(), false);
    c.destroy();
    await by.check('after an oversize ping');
  });

  test('invalid UTF-8 in a text frame: close 1007, nothing stored', T, async () => {
    const room = await newRoom(stack.url);
    const c = await rawSession(port, { auth: { name: uniq('utf') } });
    c.sendText(`421["join",${JSON.stringify(room.name)}]`);
    await c.nextText((t) => t.startsWith('431'));
    const bad = Buffer.concat([Buffer.from(`422["chat message",{"room":${JSON.stringify(room.name)},"text":"`), Buffer.from([0xc0, 0xaf, 0xff, 0xfe]), Buffer.from('"}]')]);
    c.write(frame({ opcode: OP.TEXT, payload: bad }));
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1007, JSON.stringify(closed));
    // split across two fragments, a valid 2-byte sequence is fine; a truncated one is not
    const d = await rawSession(port);
    const euro = Buffer.from('427["rooms","€"]');
    d.write(frame({ opcode: OP.TEXT, payload: euro.subarray(0, 13), fin: false }));
    d.write(frame({ opcode: OP.CONT, payload: euro.subarray(13) }));
    await d.nextText((t) => t.startsWith('437'));
    d.write(frame({ opcode: OP.TEXT, payload: Buffer.from([0x34, 0x32, 0xe2, 0x82]) }));
    assert.equal((await d.waitClosed()).code, 1007);
    assert.deepEqual(await roomMessages(stack.url, room.id), []);
    await by.check('after invalid UTF-8');
  });

  test('a 64-bit length with the high bit set: the connection is dropped at once', T, async () => {
    const t0 = Date.now();
    const closed = await outcome((c) => c.write(frame({ opcode: OP.TEXT, payload: 'abc', length: 2n ** 63n + 3n })));
    assert.ok(closed.code === null || closed.code === 1002, JSON.stringify(closed));
    assert.ok(Date.now() - t0 < 1000);
    await by.check('after a 2^63 length');
  });

  test('a frame announcing 2^40 bytes: 1009 once maxPayload bytes are in; the bare header is closed by the ping timeout', T, async (t) => {
    const big = await outcome((c) => c.write(frame({ opcode: OP.TEXT, payload: Buffer.alloc(PAYLOAD + 1, 50), length: 2n ** 40n })));
    assert.equal(big.code, 1009, JSON.stringify(big));
    const t0 = Date.now();
    const bare = await outcome((c) => c.write(frame({ opcode: OP.TEXT, payload: '42', length: 2n ** 40n })), 2 * PING + 2000);
    t.diagnostic(`header alone: ${JSON.stringify(bare)} after ${Date.now() - t0} ms`);
    assert.ok(Date.now() - t0 < 2 * PING + 1500, 'bounded by the ping timeout');
    await by.check('after a 2^40 length');
  });

  test('continuation fragments over maxPayload: close 1009', T, async () => {
    const closed = await outcome((c) => {
      c.write(frame({ opcode: OP.TEXT, payload: '4', fin: false }));
      for (let i = 0; i * 100 <= PAYLOAD; i++) c.write(frame({ opcode: OP.CONT, payload: Buffer.alloc(100, 50), fin: false }));
    });
    assert.equal(closed.code, 1009, JSON.stringify(closed));
    await by.check('after fragments over the limit');
  });

  test('endless tiny continuation fragments (10000 × 1 byte, never final): closed by the payload limit', T, async (t) => {
    let sid;
    const closed = await outcome((c) => {
      sid = c.open.sid;
      c.write(frame({ opcode: OP.TEXT, payload: '4', fin: false }));
      for (let i = 0; i < 10000; i++) c.write(frame({ opcode: OP.CONT, payload: '2', fin: false }));
    });
    // The server closes with 1009 while fragments are still unread, so its
    // kernel resets the connection and the close frame may be lost.
    t.diagnostic(`outcome: ${JSON.stringify(closed)}`);
    assert.ok(closed.code === null || closed.code === 1009, JSON.stringify(closed));
    await until(() => stack.logs('ws-0').includes(`msg="eio: closed" sid=${sid} reason="message over maxPayload"`), 2000, 'the ws log naming the payload limit');
    await by.check('after endless fragments');
  });

  test('endless EMPTY continuation fragments: closed by the ping timeout (no pong can interleave)', T, async () => {
    const c = await rawSession(port);
    c.write(frame({ opcode: OP.TEXT, payload: '4', fin: false }));
    const feed = setInterval(() => {
      for (let i = 0; i < 200; i++) c.write(frame({ opcode: OP.CONT, payload: '', fin: false }));
    }, 5);
    const t0 = Date.now();
    try {
      const closed = await c.waitClosed(2 * PING + 2000);
      // still sending when the server closes: its close frame may be lost to a reset
      assert.ok(closed.code === null || closed.code === 1000, JSON.stringify(closed));
      assert.ok(Date.now() - t0 < 2 * PING + 1000, `closed after ${Date.now() - t0} ms`);
      await until(() => stack.logs('ws-0').includes(`msg="eio: closed" sid=${c.open.sid} reason="ping timeout"`), 2000, 'the ws log: ping timeout');
    } finally {
      clearInterval(feed);
      c.destroy();
    }
    await by.check('after endless empty fragments');
  });

  test('a continuation with no message started, or a new message inside one: close 1002', T, async () => {
    assert.equal((await outcome((c) => c.write(frame({ opcode: OP.CONT, payload: '42["rooms"]' })))).code, 1002);
    const closed = await outcome((c) => {
      c.write(frame({ opcode: OP.TEXT, payload: '42["ro', fin: false }));
      c.write(frame({ opcode: OP.TEXT, payload: 'oms"]' }));
    });
    assert.equal(closed.code, 1002, JSON.stringify(closed));
    await by.check('after bad continuations');
  });

  test('close frames: invalid codes get 1002, valid ones are echoed', T, async (t) => {
    const seen = {};
    for (const code of [0, 999, 1004, 1005, 1006, 1016, 2999, 1000, 1001, 3000, 4999, 5000, 65535]) {
      const closed = await outcome((c) => c.sendClose(code, 'bye'));
      seen[code] = closed.code;
    }
    const oneByte = await outcome((c) => c.write(frame({ opcode: OP.CLOSE, payload: Buffer.from([3]) })));
    seen['1-byte payload'] = oneByte.code;
    const badReason = await outcome((c) => c.write(frame({ opcode: OP.CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) })));
    seen['reason not UTF-8'] = badReason.code;
    t.diagnostic(`close code sent → close code answered: ${JSON.stringify(seen)}`);
    for (const code of [0, 999, 1004, 1005, 1006, 1016, 2999]) assert.equal(seen[code], 1002, `close ${code} answered ${seen[code]}`);
    for (const code of [1000, 1001, 3000, 4999]) assert.equal(seen[code], code, `close ${code} answered ${seen[code]}`);
    await by.check('after odd close frames');
  });
});

describe('bad input: Engine.IO and Socket.IO packets', () => {
  let stack, port, by;
  // maxPayload above 10^6 so that a million '[' reach the JSON decoder
  abuseFixture({ wsArgs: ['--max-payload', 2100000] }, (f) => ({ stack, port, by } = f));

  /* Sends packets (strings: text frames, Buffers: binary frames) on a
   * connected raw session and resolves to how it was closed. */
  async function closedBy(packets, opts = {}) {
    const c = await rawSession(port, opts);
    for (const p of [].concat(packets)) {
      if (Buffer.isBuffer(p)) c.sendBinary(p);
      else c.sendText(p);
    }
    return c.waitClosed(5000);
  }

  test('unknown Engine.IO packet types (7, 9, x, an empty frame, a client "open"): close 1002', T, async () => {
    for (const p of ['7', '9', 'x', '', '0{}', '5']) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${JSON.stringify(p)}: ${JSON.stringify(closed)}`);
    }
    await by.check('after unknown Engine.IO types');
  });

  test('unknown Socket.IO packet types (47, 4x, a client CONNECT_ERROR 44): close 1002', T, async () => {
    for (const p of ['47', '4x', '44{"message":"x"}', '4']) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${JSON.stringify(p)}: ${JSON.stringify(closed)}`);
    }
    await by.check('after unknown Socket.IO types');
  });

  test('truncated JSON 42["msg", and other broken JSON: close 1002', T, async () => {
    for (const p of ['42["msg",', '42["msg"', '42[', '42["rooms"]x', '42["rooms"] ', "42['rooms']"]) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${JSON.stringify(p)}: ${JSON.stringify(closed)}`);
    }
    await by.check('after truncated JSON');
  });

  test('a non-string event name, a non-array EVENT payload: close 1002', T, async () => {
    for (const p of ['42[1]', '42[null]', '42[["rooms"]]', '42[{"a":1}]', '42[]', '42{"a":1}', '42"rooms"', '421']) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${JSON.stringify(p)}: ${JSON.stringify(closed)}`);
    }
    await by.check('after non-string event names');
  });

  test('ack ids: 0 and 2^53-1 are answered; negative or over 2^53-1: close 1002', T, async () => {
    const c = await rawSession(port);
    for (const id of ['0', '9007199254740991']) {
      c.sendText(`42${id}["rooms"]`);
      const a = await c.nextText((t) => t.startsWith(`43${id}[`));
      assert.ok(Array.isArray(JSON.parse(a.slice(2 + id.length))[0].rooms));
    }
    c.destroy();
    for (const p of ['42-1["rooms"]', '429007199254740992["rooms"]', `42${'9'.repeat(400)}["rooms"]`, '43-5[]']) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${p.slice(0, 40)}: ${JSON.stringify(closed)}`);
    }
    // an ACK for an id the server never used is ignored
    const d = await rawSession(port);
    d.sendText('4312345[1]');
    d.sendText('427["rooms"]');
    await d.nextText((t) => t.startsWith('437'));
    d.destroy();
    await by.check('after odd ack ids');
  });

  test('attachments that lie: announce 2, send 1 then a text packet → close 1002; placeholders not matching the count → 1002', T, async () => {
    const ph = (n) => `{"_placeholder":true,"num":${n}}`;
    assert.equal((await closedBy([`452-["rooms",${ph(0)},${ph(1)}]`, Buffer.from([1]), '42["rooms"]'])).code, 1002);
    assert.equal((await closedBy(['451-["rooms"]'])).code, 1002, 'count 1, no placeholder');
    assert.equal((await closedBy([`451-["rooms",${ph(0)},${ph(0)}]`])).code, 1002, 'placeholder twice');
    assert.equal((await closedBy([`451-["rooms",${ph(5)}]`])).code, 1002, 'placeholder out of range');
    assert.equal((await closedBy([`45999999999999-["rooms"]`])).code, 1002, 'absurd count');
    await by.check('after lying attachment counts');
  });

  test('a binary frame with no pending packet: close 1002', T, async () => {
    assert.equal((await closedBy([Buffer.from([1, 2, 3])])).code, 1002);
    await by.check('after an unannounced attachment');
  });

  test('10^6 levels of [ (and of {"a":): closed as malformed, the process survives', T, async () => {
    for (const p of ['42' + '['.repeat(1e6), '42["rooms",' + '['.repeat(1e6) + ']'.repeat(1e6) + ']', '42["rooms",' + '{"a":'.repeat(2e5)]) {
      const closed = await closedBy(p);
      assert.equal(closed.code, 1002, `${p.slice(0, 20)}… (${p.length} bytes): ${JSON.stringify(closed)}`);
    }
    await by.check('after a million [');
  });

  test('namespaces: a comma in it cannot be expressed (the separator) and closes; invalid names get connect_error', T, async () => {
    // "/we,ird,{}" reads as namespace "/we" followed by "ird,{}": no JSON
    assert.equal((await closedBy('40/we,ird,{}')).code, 1002);
    const c = await rawSession(port, { connect: false });
    for (const ns of ['/ACME', '/../etc', '/a b', '/admin%2c', `/${'a'.repeat(40)}`]) {
      c.sendText(`40${ns},`);
      const err = await c.nextText((t) => t.startsWith(`44${ns},`));
      assert.deepEqual(JSON.parse(err.slice(3 + ns.length)), { message: 'Invalid namespace' }, ns);
    }
    c.sendText(`40/${'a'.repeat(200)},`); // over 128 bytes: malformed
    assert.equal((await c.waitClosed()).code, 1002);
    await by.check('after odd namespaces');
  });

  test('a CONNECT to the same namespace twice: connect_error, the first socket keeps working', T, async () => {
    const c = await rawSession(port);
    c.sendText('40');
    const err = await c.nextText((t) => t.startsWith('44'));
    assert.match(JSON.parse(err.slice(2)).message, /already connected/);
    c.sendText('427["rooms"]');
    await c.nextText((t) => t.startsWith('437'));
    assert.equal(c.isClosed(), false);
    c.destroy();
    await by.check('after a double CONNECT');
  });

  test('a polling POST of malformed packets ends the session; the POST is answered', T, async (t) => {
    const open = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
    const sid = JSON.parse(open.body.slice(1)).sid;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = (body) => fetch(stack.url + q, { method: 'POST', body, signal: AbortSignal.timeout(3000) });
    assert.equal((await post('40')).status, 200);
    const bad = await post('42["msg",');
    assert.ok([200, 400].includes(bad.status), `POST of a malformed packet: ${bad.status}`);
    const next = await api(stack.url, q);
    t.diagnostic(`POST 42["msg",: ${bad.status} ${await bad.text()}; next GET: ${next.status} ${JSON.stringify(next.body)}`);
    assert.ok((next.status === 200 && String(next.body).includes('1')) || next.status === 400, `after: ${next.status} ${JSON.stringify(next.body)}`);
    // a payload that does not split into packets: HTTP 400 {"code":3}
    const open2 = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
    const q2 = `/socket.io/?EIO=4&transport=polling&sid=${JSON.parse(open2.body.slice(1)).sid}`;
    const res = await fetch(stack.url + q2, { method: 'POST', body: '40\x1eb!!!!', signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.equal(JSON.parse(text).code, 3);
    await by.check('after malformed polling payloads');
  });
});

describe('bad input: chat events', () => {
  let stack, by;
  abuseFixture({}, (f) => ({ stack, by } = f));

  test('room names: NUL, ../, 10 KB', T, async () => {
    const s = await connect(stack.url, { name: uniq('rooms') });
    const isErr = (r, what) => assert.equal(typeof r?.error, 'string', `${what} → ${JSON.stringify(r)}`);
    isErr(await ack(s, 'join', 'gen\u0000eral'), 'join "gen\\0eral"');
    isErr(await ack(s, 'create room', { name: 'a\u0000b' }), 'create "a\\0b"');
    isErr(await ack(s, 'join', '../general'), 'join "../general"');
    isErr(await ack(s, 'join', 'x'.repeat(10240)), 'join of a 10 KB name');
    isErr(await ack(s, 'create room', { name: 'x'.repeat(10240) }), 'create of a 10 KB name');
    // "../" is just characters: a room may be called that, and is stored literally
    const name = `../../etc/${uniq('passwd')}`;
    const made = await ack(s, 'create room', { name });
    assert.equal(made.ok, true, JSON.stringify(made));
    assert.equal(made.room.name, name);
    assert.equal((await join(s, name)).room, name);
    const viaRest = await api(stack.url, `/api/rooms/${made.room.id}`);
    assert.equal(viaRest.body.name, name);
    assert.ok(s.connected);
    await closeAll(s);
    await by.check('after odd room names');
  });

  test('message text: 4001 characters → {error}; NUL → {error}; nothing stored', T, async () => {
    const room = await newRoom(stack.url);
    const s = await connect(stack.url, { name: uniq('text') });
    await join(s, room.name);
    const over = await ack(s, 'chat message', { room: room.name, text: 'x'.repeat(4001) });
    assert.match(over?.error ?? '', /1-4000/, JSON.stringify(over));
    const nul = await ack(s, 'chat message', { room: room.name, text: 'a\u0000b' });
    assert.equal(typeof nul?.error, 'string', JSON.stringify(nul));
    assert.deepEqual(await roomMessages(stack.url, room.id), []);
    assert.ok(s.connected);
    await closeAll(s);
    await by.check('after refused texts');
  });

  test('a join to a room that exists only in /acme, from /: {error}', T, async () => {
    const only = uniq('acme-only');
    // the workspace exists once an admin made it
    const made = await api(stack.url, '/api/workspaces/acme', { method: 'PUT', json: { retention: {} }, token: await adminToken(stack) });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    await newRoom(stack.url, '/acme', only);
    const root = await connect(stack.url, { name: uniq('root') });
    const res = await ack(root, 'join', only);
    assert.equal(typeof res?.error, 'string', JSON.stringify(res));
    const msg = await ack(root, 'chat message', { room: only, text: 'cross' });
    assert.equal(typeof msg?.error, 'string', JSON.stringify(msg));
    const acme = await connect(stack.url, { name: uniq('acme'), ns: '/acme' });
    assert.equal((await join(acme, only)).room, only);
    await closeAll(root, acme);
    await by.check('after a cross-workspace join');
  });

  test('<script> and SQL-looking text are stored and returned literally, over REST and the socket', T, async () => {
    const room = await newRoom(stack.url);
    const s = await connect(stack.url, { name: uniq('lit') });
    await join(s, room.name);
    const texts = [
      '<script>alert(1)</script>',
      "'); DROP TABLE messages;--",
      '" OR 1=1 --',
      '%s %n %x \\u0000 \\"',
      '<img src=x onerror=alert(1)>&amp;&lt;',
    ];
    const ids = [];
    for (const text of texts) {
      const r = await ack(s, 'chat message', { room: room.name, text });
      assert.equal(typeof r?.id, 'number', JSON.stringify(r));
      ids.push(r.id);
      const [m] = await s.rec.next('chat message', (m) => m.id === r.id);
      assert.equal(m.text, text);
    }
    // REST POST with the same texts as user names too
    const post = await api(stack.url, `/api/rooms/${room.id}/messages`, { method: 'POST', json: { user: "Robert'); DROP", text: texts[1] } });
    assert.equal(post.status, 201, JSON.stringify(post.body));
    const rows = await roomMessages(stack.url, room.id);
    assert.deepEqual(rows.map((m) => m.text), [...texts, texts[1]]);
    assert.equal(rows.at(-1).user, "Robert'); DROP");
    // the table is still there, and holds more than this room
    const health = await api(stack.url, '/api/health', { token: await adminToken(stack) });
    assert.ok(health.body.database.messages >= texts.length + 1, JSON.stringify(health.body));
    await closeAll(s);
    await by.check('after literal texts');
  });

  test('invalid UTF-8 in a message: over WebSocket close 1007 (above); over a polling POST the session ends, nothing stored', T, async (t) => {
    const room = await newRoom(stack.url);
    const open = await api(stack.url, '/socket.io/?EIO=4&transport=polling');
    const sid = JSON.parse(open.body.slice(1)).sid;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = (body) => fetch(stack.url + q, { method: 'POST', body, signal: AbortSignal.timeout(3000) });
    assert.equal((await post(`40{"name":"poller"}`)).status, 200);
    assert.equal((await post(`421["join",${JSON.stringify(room.name)}]`)).status, 200);
    const first = await api(stack.url, q);
    assert.match(String(first.body), /431\[\{"ok":true/);
    const bad = Buffer.concat([Buffer.from(`422["chat message",{"room":${JSON.stringify(room.name)},"text":"`), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}]')]);
    const res = await post(bad);
    assert.ok([200, 400].includes(res.status), `POST: ${res.status}`);
    const next = await api(stack.url, q);
    t.diagnostic(`POST of invalid UTF-8: ${res.status} ${await res.text()}; next GET: ${next.status} ${JSON.stringify(next.body)}`);
    assert.ok((next.status === 200 && /(^|\x1e)1/.test(String(next.body))) || next.status === 400, `after: ${next.status} ${JSON.stringify(next.body)}`);
    assert.ok(!/432/.test(String(next.body)), 'no ack for the bad message');
    assert.deepEqual(await roomMessages(stack.url, room.id), []);
    await by.check('after invalid UTF-8 over polling');
  });
});

describe('bad input: HTTP and REST through nginx', () => {
  let stack, by;
  abuseFixture({}, (f) => ({ stack, by } = f));

  const raw = (method, target, { headers = '', body } = {}) =>
    rawHttp(
      stack.port,
      Buffer.concat([
        Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\nConnection: close\r\n${headers}${body !== undefined ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n`),
        body === undefined ? Buffer.alloc(0) : Buffer.from(body),
      ]),
    );
  const isJsonError = (r, status, what) => {
    assert.equal(r.status, status, `${what}: ${r.status} ${r.raw.slice(0, 300)}`);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: content type of ${r.raw.slice(0, 300)}`);
    assert.equal(typeof JSON.parse(r.body).error, 'string', `${what}: {"error"}`);
  };

  test('bad JSON, wrong content type, a body over the limit: 400, 415, 413 JSON', T, async () => {
    const json = 'Content-Type: application/json\r\n';
    isJsonError(await raw('POST', '/api/rooms', { headers: json, body: '{"name":' }), 400, 'truncated JSON');
    isJsonError(await raw('POST', '/api/rooms', { headers: json, body: '[' + '['.repeat(100000) }), 413, 'a deep array over 64 KiB');
    isJsonError(await raw('POST', '/api/rooms', { headers: json, body: '['.repeat(60000) }), 400, 'a deep array under 64 KiB');
    isJsonError(await raw('POST', '/api/rooms', { headers: json, body: '{"name":"a","name":"b"}' }), 400, 'duplicate keys');
    isJsonError(await raw('POST', '/api/rooms', { headers: 'Content-Type: text/plain\r\n', body: '{"name":"x"}' }), 415, 'text/plain');
    isJsonError(await raw('POST', '/api/rooms', { body: '{"name":"x"}' }), 415, 'no content type');
    isJsonError(await raw('POST', '/api/rooms', { headers: json, body: `{"name":"${'x'.repeat(70000)}"}` }), 413, '70 KB');
    const room = await newRoom(stack.url);
    isJsonError(await raw('POST', `/api/rooms/${room.id}/messages`, { headers: json, body: '{"user":"u","text":' }), 400, 'truncated message');
    isJsonError(await raw('POST', `/api/rooms/${room.id}/messages`, { headers: json, body: Buffer.concat([Buffer.from('{"user":"u","text":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]) }), 400, 'overlong UTF-8 in the body');
    assert.deepEqual(await roomMessages(stack.url, room.id), []);
    await by.check('after bad REST bodies');
  });

  test('%00 and overlong UTF-8 (%C0%AF) in paths: 400 or 404, JSON, never 500', T, async (t) => {
    const seen = {};
    for (const target of ['/api/rooms/%00', '/api/rooms%00', '/api/rooms/1%00', '/api/rooms/%C0%AF', '/api/%C0%AE%C0%AE/health', '/api/rooms/1/messages%C0%AF', '/api/rooms?namespace=%00', '/api/rooms?namespace=%C0%AF']) {
      const r = await raw('GET', target);
      seen[target] = `${r.status} ${(r.headers['content-type'] ?? '').split(';')[0]}`;
      assert.ok([400, 404].includes(r.status), `${target}: ${r.status}`);
    }
    t.diagnostic(JSON.stringify(seen));
    for (const [target, what] of Object.entries(seen)) assert.match(what, /application\/json/, `${target}: ${what}`);
    await by.check('after %00 paths');
  });

  test('huge query strings: 414 JSON (over 4 KiB at chat-fcgi, over 8 KiB at nginx)', T, async () => {
    isJsonError(await raw('GET', `/api/rooms?namespace=${'a'.repeat(5000)}`), 414, '5 KB query');
    isJsonError(await raw('GET', `/api/rooms?x=${'a'.repeat(20000)}`), 414, '20 KB query (nginx)');
    await by.check('after huge queries');
  });

  test('methods not allowed: 405 JSON with Allow', T, async () => {
    for (const [method, target, allow] of [
      ['PUT', '/api/rooms', /POST/],
      ['DELETE', '/api/health', /GET/],
      ['PATCH', '/api/rooms/1', /GET/],
      ['FOO', '/api/rooms', /GET/],
      ['TRACE', '/api/rooms', /GET/],
    ]) {
      const r = await raw(method, target);
      isJsonError(r, 405, `${method} ${target}`);
      assert.match(r.headers.allow ?? '', allow, `${method} ${target}: Allow`);
    }
    await by.check('after 405s');
  });

  test('slow clients (headers, then a stall; a body that never comes) do not hold up anyone else', T, async () => {
    const net = await import('node:net');
    const stalled = [];
    for (let i = 0; i < 40; i++) {
      const s = net.connect({ port: stack.port, host: '127.0.0.1' });
      s.on('error', () => {});
      if (i % 2) s.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
      else s.write(`POST /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na`);
      stalled.push(s);
    }
    try {
      await sleep(200);
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) {
        const r = await api(stack.url, '/api/health', { timeout: 2000 });
        assert.equal(r.status, 200);
      }
      assert.ok(Date.now() - t0 < 3000, `10 health calls took ${Date.now() - t0} ms`);
      await by.check('with 40 stalled HTTP clients');
      // the stalled ones are still waiting (nginx's client_*_timeout, 60 s, ends them)
      assert.ok(stalled.every((s) => !s.destroyed), 'a stalled client was dropped early');
    } finally {
      for (const s of stalled) s.destroy();
    }
  });
});
