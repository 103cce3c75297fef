// security.test.mjs -- issue 14, hostile clients (items 5, 8, 9, 11, 12, 13,
// 14): bounded room lists and the room cap, client_id scoped to the room,
// owned names, name validation, the run folder's permissions, public health,
// the CSP and the production TLS config, and REST paging from the oldest.
// Each test fails when its protection is removed. Two bystanders keep chatting
// through every attack.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeAll, closeLive, connect, connectError, credential, join } from './lib/client.mjs';
import { bystanders, newRoom, uniq } from './lib/bystanders.mjs';
import { ROOT, adminToken, startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const MAX_ROOMS = 40; // CHAT_MAX_ROOMS of this stack: rooms per namespace

let stack;
let by;

before(async () => {
  stack = await startStack({ env: { CHAT_MAX_ROOMS: String(MAX_ROOMS) } });
  by = await bystanders(stack.url);
});

after(async () => {
  await by?.close();
  await closeLive();
  await stack?.stop();
});

/* POSTs a message as user with the user's credential (or opts.token). */
async function post(roomId, body, opts = {}) {
  return api(stack.url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: body, ...opts });
}

const messages = async (roomId, q) => {
  const res = await api(stack.url, `/api/rooms/${roomId}/messages?${q}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.messages.map((m) => m.id);
};

describe('14.14 REST paging', () => {
  test('after=0 pages forward from the oldest; before pages backward; over several pages', T, async () => {
    const room = await newRoom(stack.url);
    const ids = [];
    for (let i = 0; i < 25; i++) {
      const res = await post(room.id, { user: 'pager', text: `p${i}` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    // forward: 10, 10, 5, then nothing
    let afterId = 0;
    const forward = [];
    for (const size of [10, 10, 5, 0]) {
      const page = await messages(room.id, `after=${afterId}&limit=10`);
      assert.equal(page.length, size, `a forward page after ${afterId}`);
      forward.push(...page);
      if (page.length) afterId = page.at(-1);
    }
    assert.deepEqual(forward, ids, 'every message once, oldest first');
    // backward: the newest 10, then before the oldest of each page
    const backward = [];
    let page = await messages(room.id, 'limit=10');
    assert.deepEqual(page, ids.slice(15));
    while (page.length) {
      backward.unshift(...page);
      page = await messages(room.id, `before=${page[0]}&limit=10`);
    }
    assert.deepEqual(backward, ids);
    await by.check('after paging');
  });
});

describe('14.8 client_id is scoped to the room', () => {
  test('REST: the same client_id in room A then room B stores both; B answers B\'s text', T, async () => {
    const a = await newRoom(stack.url);
    const b = await newRoom(stack.url);
    const client_id = uniq('cid');
    const first = await post(a.id, { user: 'bot', text: 'secret of A', client_id });
    assert.equal(first.status, 201);
    const second = await post(b.id, { user: 'bot', text: 'for B', client_id });
    assert.equal(second.status, 201, 'stored in B, not answered from A');
    assert.equal(second.body.text, 'for B');
    assert.equal(second.body.room_id, b.id);
    assert.notEqual(second.body.id, first.body.id);
    const retry = await post(b.id, { user: 'bot', text: 'retry', client_id });
    assert.equal(retry.status, 200, 'a retry in B is answered with B\'s message');
    assert.equal(retry.body.id, second.body.id);
    assert.equal(retry.body.text, 'for B');
    assert.deepEqual(await messages(b.id, 'after=0'), [second.body.id]);
  });

  test('sockets: the same client_id in two rooms gives two messages', T, async () => {
    const ra = (await newRoom(stack.url)).name;
    const rb = (await newRoom(stack.url)).name;
    const s = await connect(stack.url, { name: uniq('cid-user') });
    await join(s, ra);
    await join(s, rb);
    const client_id = uniq('cid');
    const x = await ack(s, 'chat message', { room: ra, text: 'in a', client_id });
    const y = await ack(s, 'chat message', { room: rb, text: 'in b', client_id });
    assert.equal(typeof x.id, 'number');
    assert.equal(typeof y.id, 'number');
    assert.notEqual(x.id, y.id);
    const [m] = await s.rec.next('chat message', (msg) => msg.id === y.id);
    assert.equal(m.text, 'in b');
    const again = await ack(s, 'chat message', { room: rb, text: 'in b', client_id });
    assert.equal(again.id, y.id, 'a retry in the same room is the same message');
    await closeAll(s);
  });
});

describe('14.9 names are owned', () => {
  test('REST: POST /api/users claims a name once; writes under it need its token or an admin token', T, async () => {
    const name = uniq('owner');
    const claim = await api(stack.url, '/api/users', { method: 'POST', json: { name } });
    assert.equal(claim.status, 201, JSON.stringify(claim.body));
    assert.equal(claim.body.name, name);
    assert.equal(typeof claim.body.token, 'string');
    assert.equal((await api(stack.url, '/api/users', { method: 'POST', json: { name } })).status, 409);
    const room = await newRoom(stack.url);
    const body = { user: name, text: 'hi' };
    const anon = await post(room.id, body, { as: false });
    assert.equal(anon.status, 401, 'no token');
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/);
    const other = await post(room.id, body, { token: await credential(stack.url, uniq('other')) });
    assert.equal(other.status, 403, 'another name\'s token');
    assert.equal((await post(room.id, body, { token: 'not.a.token' })).status, 401);
    assert.equal((await post(room.id, body, { token: claim.body.token })).status, 201);
    assert.equal((await post(room.id, body, { token: await adminToken(stack) })).status, 201);
    assert.deepEqual((await api(stack.url, `/api/rooms/${room.id}/messages?after=0`)).body.messages.map((m) => m.user), [name, name]);
  });

  test('sockets: the first connection claims the name and gets its credential in `session`; others need it', T, async () => {
    const name = uniq('claimer');
    const first = await connect(stack.url, { name, claim: false });
    const [info] = await first.rec.next('session');
    assert.equal(info.user, name);
    assert.equal(typeof info.token, 'string', 'the credential of the first claim');
    // Without the credential, the name is someone else's.
    const thief = await connect(stack.url, { name, claim: false, connect: false });
    const err = await connectError(thief);
    assert.match(err.message, /taken/);
    const wrong = await connect(stack.url, { name, auth: { token: await credential(stack.url, uniq('x')) }, connect: false });
    assert.match((await connectError(wrong)).message, /another name/);
    // With it, the owner connects again (any number of sockets).
    const second = await connect(stack.url, { name, auth: { token: info.token } });
    const [again] = await second.rec.next('session');
    assert.equal(again.user, name);
    assert.equal(typeof again.token, 'string', 'a fresh credential');
    await closeAll(first, second, thief, wrong);
    await by.check('after name theft attempts');
  });

  test('an impostor cannot move the owner\'s read cursor: the owner still gets what they missed', T, async () => {
    const room = (await newRoom(stack.url)).name;
    const ann = uniq('ann');
    const bob = await connect(stack.url, { name: uniq('bob') });
    await join(bob, room);
    await ack(bob, 'chat message', { room, text: 'before' }); // ann's cursor starts here
    const a = await connect(stack.url, { name: ann });
    const joined = await join(a, room);
    await closeAll(a);
    for (let i = 0; i < 3; i++) await ack(bob, 'chat message', { room, text: `while away ${i}` });
    // mallory says she is ann, without ann's credential
    const mallory = await connect(stack.url, { name: ann, claim: false, connect: false });
    assert.match((await connectError(mallory)).message, /taken/);
    // a guest's read moves no one's cursor
    const guest = await connect(stack.url, {});
    const [ginfo] = await guest.rec.next('session');
    assert.match(ginfo.user, /^~guest-/, 'a guest has the unclaimable display form');
    assert.equal(ginfo.token, undefined, 'no credential for a guest');
    await join(guest, room);
    assert.deepEqual(await ack(guest, 'read', { room, id: 2 ** 53 - 1 }), { ok: true });
    const back = await connect(stack.url, { name: ann });
    const res = await join(back, room);
    assert.ok(joined.ok);
    assert.deepEqual(res.missed.map((m) => m.text), ['while away 0', 'while away 1', 'while away 2']);
    await closeAll(bob, mallory, guest, back);
  });

  test('the guest form cannot be claimed', T, async () => {
    for (const name of ['~guest-abc123', '~x']) {
      const res = await api(stack.url, '/api/users', { method: 'POST', json: { name } });
      assert.equal(res.status, 400, name);
      const s = await connect(stack.url, { name, claim: false, connect: false });
      assert.match((await connectError(s)).message, /invalid name/);
      await closeAll(s);
    }
  });
});

describe('14.11 names that look like other names', () => {
  const bad = [
    ['a C1 control (U+0085)', 'x\u0085y'],
    ['CSI (U+009B)', 'x\u009by'],
    ['right-to-left override', 'admin\u202Egpj.exe'],
    ['left-to-right embedding', 'a\u202Ab'],
    ['a first-strong isolate', 'a\u2068b'],
    ['pop directional isolate', 'a\u2069b'],
    ['right-to-left mark', 'a\u200Fb'],
    ['zero width space', 'a\u200Bb'],
  ];
  for (const [what, name] of bad) {
    test(`refused in room and user names: ${what}`, T, async () => {
      const room = await api(stack.url, '/api/rooms', { method: 'POST', json: { name } });
      assert.equal(room.status, 400, `room: ${JSON.stringify(room.body)}`);
      const user = await api(stack.url, '/api/users', { method: 'POST', json: { name } });
      assert.equal(user.status, 400, `user: ${JSON.stringify(user.body)}`);
      const s = await connect(stack.url, { name, claim: false, connect: false });
      assert.match((await connectError(s)).message, /invalid name/);
      const c = await connect(stack.url, { name: uniq('maker') });
      assert.ok((await ack(c, 'create room', { name })).error, 'create room over the socket');
      await closeAll(s, c);
    });
  }

  test('names are normalised to NFC: a decomposed name is the composed one', T, async () => {
    const tag = uniq('n');
    const decomposed = `Cafe\u0301 ${tag}`;
    const composed = `Caf\u00e9 ${tag}`;
    const room = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: decomposed } });
    assert.equal(room.status, 201);
    assert.equal(room.body.name, composed);
    assert.equal((await api(stack.url, '/api/rooms', { method: 'POST', json: { name: composed } })).status, 409);
    const user = await api(stack.url, '/api/users', { method: 'POST', json: { name: `Zoe\u0301${process.pid % 1000}` } });
    assert.equal(user.status, 201);
    assert.equal(user.body.name, `Zo\u00e9${process.pid % 1000}`);
    assert.equal((await api(stack.url, '/api/users', { method: 'POST', json: { name: `Zo\u00e9${process.pid % 1000}` } })).status, 409);
  });
});

describe('21.7 invisible and look-alike names', () => {
  const bad = [
    ['soft hyphen', 'a\u00ADb'],
    ['ZWNJ between letters', 'a\u200Cb'],
    ['ZWJ between letters', 'a\u200Db'],
    ['U+034F', 'a\u034Fb'],
    ['U+180E', 'a\u180Eb'],
    ['U+115F', 'a\u115Fb'],
    ['U+1160', 'a\u1160b'],
    ['U+3164', 'a\u3164b'],
    ['U+FFA0', 'a\uFFA0b'],
    ['U+2800', 'a\u2800b'],
    ['U+17B4', 'a\u17B4b'],
    ['U+206A', 'a\u206Ab'],
    ['a tag character', 'a\u{E0061}b'],
    ['a variation selector on a letter', 'a\uFE0F'],
    ['U+1D173', 'a\u{1D173}b'],
    ['only U+3164', '\u3164\u3164\u3164'],
    ['only U+2800', '\u2800\u2800'],
    ['Latin with a Cyrillic a', 'p\u0430ypal'],
  ];
  test('refused in room and user names, over REST and the socket; emoji sequences stay valid', T, async () => {
    const maker = await connect(stack.url, { name: uniq('maker') });
    for (const [what, name] of bad) {
      const room = await api(stack.url, '/api/rooms', { method: 'POST', json: { name } });
      assert.equal(room.status, 400, `${what}: room ${JSON.stringify(room.body)}`);
      assert.match(room.body.error, /invalid/, what);
      const user = await api(stack.url, '/api/users', { method: 'POST', json: { name } });
      assert.equal(user.status, 400, `${what}: user ${JSON.stringify(user.body)}`);
      const s = await connect(stack.url, { name, claim: false, connect: false });
      assert.match((await connectError(s)).message, /invalid name/, what);
      await closeAll(s);
      assert.ok((await ack(maker, 'create room', { name })).error, `${what}: create room over the socket`);
    }
    const tag = process.pid % 1000;
    for (const emoji of ['\u{1F468}\u200D\u{1F4BB}', '\u2764\uFE0F\u200D\u{1F525}', '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', '1\uFE0F\u20E3']) {
      const room = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: `${emoji} ${tag}` } });
      assert.equal(room.status, 201, `${JSON.stringify(emoji)}: ${JSON.stringify(room.body)}`);
      const s = await connect(stack.url, { name: `${emoji}${uniq('e')}` });
      await closeAll(s);
    }
    await closeAll(maker);
  });

  test('the fullwidth tilde cannot pass for a guest; claims ignore case and look-alikes', T, async () => {
    for (const name of ['\uFF5Eguest-abc123', '\u223Cguest-abc123']) {
      assert.equal((await api(stack.url, '/api/users', { method: 'POST', json: { name } })).status, 400, name);
      const s = await connect(stack.url, { name, claim: false, connect: false });
      assert.match((await connectError(s)).message, /invalid name/);
      await closeAll(s);
    }
    const base = `abc${process.pid % 10000}x${Date.now() % 100000}`;
    const first = await api(stack.url, '/api/users', { method: 'POST', json: { name: base } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    for (const other of [base.toUpperCase(), `A${base.slice(1)}`, base.replace(/^abc/, '\uFF41bc')]) {
      const res = await api(stack.url, '/api/users', { method: 'POST', json: { name: other } });
      assert.equal(res.status, 409, `${other}: ${JSON.stringify(res.body)}`);
      // without abc's credential, nobody chats as ABC either
      const s = await connect(stack.url, { name: other, claim: false, connect: false });
      assert.match((await connectError(s)).message, /taken/, other);
      await closeAll(s);
    }
    // the owner still connects under the name as claimed
    const owner = await connect(stack.url, { name: base, auth: { name: base, token: first.body.token } });
    await closeAll(owner);
  });
});

describe('14.12 the run folder', () => {
  test('is 0700, its files 0600, and no log holds the admin token', T, async () => {
    const token = await adminToken(stack);
    const mode = (p) => statSync(p).mode & 0o777;
    assert.equal(mode(stack.runDir), 0o700, 'run folder');
    // on PostgreSQL the database is no file of the run folder
    const db = stack.pg ? [] : ['chat.db', 'chat.db-wal'];
    for (const f of ['admin.token', 'secret', 'fcgi.sock', ...db, 'runner.log']) {
      const p = path.join(stack.runDir, f);
      assert.equal(mode(p) & 0o077, 0, `${f} is ${mode(p).toString(8)}`);
    }
    for (const f of readdirSync(stack.runDir).filter((n) => n.endsWith('.log')))
      assert.ok(!readFileSync(path.join(stack.runDir, f), 'utf8').includes(token), `${f} holds the token`);
  });
});

describe('14.13 health, CSP and TLS', () => {
  test('public health says up and nothing more; details need an admin token', T, async () => {
    const pub = await api(stack.url, '/api/health');
    assert.equal(pub.status, 200);
    assert.deepEqual(pub.body, { status: 'ok' });
    const bad = await api(stack.url, '/api/health', { token: 'x.y.z' });
    assert.deepEqual(bad.body, { status: 'ok' }, 'a bad token sees the public answer');
    const full = await api(stack.url, '/api/health', { token: await adminToken(stack) });
    assert.ok(Array.isArray(full.body.ws) && full.body.ws.length > 0);
    assert.ok(full.body.ws.every((p) => typeof p.pid === 'number'));
  });

  test('the page may connect to its own origin only', T, async () => {
    const res = await fetch(stack.url + '/');
    const csp = res.headers.get('content-security-policy') ?? '';
    const connect = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src'));
    assert.equal(connect, "connect-src 'self'");
  });

  test('the production nginx config serves https (HSTS) and redirects http; nginx -t accepts it', T, async () => {
    const conf = readFileSync(path.join(ROOT, 'deploy/nginx.conf'), 'utf8');
    assert.match(conf, /listen 443 ssl/);
    assert.match(conf, /ssl_certificate\s+\S+;/);
    assert.match(conf, /add_header Strict-Transport-Security "max-age=\d+[^"]*" always;/);
    assert.match(conf, /return 301 https:\/\/\$host\$request_uri;/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`,
        '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=chat.example.org'], { stdio: 'ignore' });
      const site = conf
        .replace(/\/etc\/ssl\/certs\/ssl-cert-snakeoil\.pem/g, `${dir}/cert.pem`)
        .replace(/\/etc\/ssl\/private\/ssl-cert-snakeoil\.key/g, `${dir}/key.pem`)
        .replace(/\/etc\/nginx\/snippets\/chat-fastcgi\.conf/g, path.join(ROOT, 'deploy/chat-fastcgi.conf'));
      writeFileSync(`${dir}/nginx.conf`, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\naccess_log off;\n${site}\n}\n`);
      execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('14.5 bounded room lists and the room cap', () => {
  test('GET /api/rooms and the `rooms` ack page with limit and after', T, async () => {
    for (let i = 0; i < 3; i++) await newRoom(stack.url);
    const all = [];
    let afterId = 0;
    for (;;) {
      const res = await api(stack.url, `/api/rooms?limit=2&after=${afterId}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.rooms.length <= 2);
      all.push(...res.body.rooms.map((r) => r.id));
      if (!res.body.more) break;
      afterId = res.body.rooms.at(-1).id;
    }
    const whole = await api(stack.url, '/api/rooms?limit=500');
    assert.deepEqual(all, whole.body.rooms.map((r) => r.id));
    assert.equal((await api(stack.url, '/api/rooms?limit=501')).status, 400);
    assert.equal((await api(stack.url, '/api/rooms?limit=0')).status, 400);
    const s = await connect(stack.url, { name: uniq('lister') });
    const page = await ack(s, 'rooms', { limit: 2 });
    assert.deepEqual(page.rooms.map((r) => r.id), all.slice(0, 2));
    assert.equal(page.more, true);
    const next = await ack(s, 'rooms', { limit: 2, after: all[1] });
    assert.deepEqual(next.rooms.map((r) => r.id), all.slice(2, 4));
    assert.match((await ack(s, 'rooms', { limit: 100000 })).error, /limit/);
    assert.match((await ack(s, 'rooms', { after: 'x' })).error, /after/);
    const dflt = await ack(s, 'rooms');
    assert.ok(dflt.rooms.length <= 100, 'one page by default');
    await closeAll(s);
  });

  test(`at most ${MAX_ROOMS} rooms per namespace: then 403 / an {error} ack`, T, async () => {
    let made = 0;
    for (let i = 0; i < MAX_ROOMS + 5; i++) {
      const res = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: uniq('cap') } });
      if (res.status === 403) {
        assert.match(res.body.error, /maximum/);
        break;
      }
      assert.equal(res.status, 201, JSON.stringify(res.body));
      made++;
    }
    const list = await api(stack.url, '/api/rooms?limit=500');
    assert.equal(list.body.rooms.length, MAX_ROOMS, `made ${made} before the cap`);
    const s = await connect(stack.url, { name: uniq('capper') });
    assert.match((await ack(s, 'create room', { name: uniq('over') })).error, /maximum/);
    await closeAll(s);
    await by.check('at the room cap');
  });
});
