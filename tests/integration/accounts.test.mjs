// accounts.test.mjs -- issue 24 (accounts, sign-in through nginx, guests) and
// issue 21 item 5 (name claims rate-limited per address, expired unused),
// through nginx as deployed: sign-up and sign-in with a password, the page's
// cookie session, API access and refresh tokens, listing and revoking (one,
// everywhere, by an admin) with the revoked sockets closed on every process,
// device-link codes, today's claimed names getting a password, guests, and
// nginx auth_request vouching for a user. SQLite and PostgreSQL
// (integration-pg).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { api, closeAll, closeLive, connect, connectError, sleep, until } from './lib/client.mjs';
import { uniq } from './lib/bystanders.mjs';
import { adminToken, startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const PASSWORD = 'correct horse battery';

/* POST path with a JSON body; opts.cookie, opts.token, opts.headers. */
async function post(url, path, json, opts = {}) {
  const headers = { 'content-type': 'application/json', ...(opts.headers || {}) };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(url + path, { method: 'POST', headers, body: JSON.stringify(json), signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body };
}

async function call(url, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(url + path, { method, headers, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/* The "name=value" of a Set-Cookie answer, for a Cookie header. */
const cookieOf = (res) => (res.headers.get('set-cookie') || '').split(';')[0];

/* A socket of a session: auth {token} only, the name comes from the token. */
const sessionSocket = (url, token) => connect(url, { auth: { token } });

/* Resolves with the `kicked` reason and the disconnect of socket. */
function evicted(socket) {
  return new Promise((resolve) => {
    let reason = null;
    socket.on('kicked', (k) => (reason = k?.reason));
    socket.on('disconnect', (why) => resolve({ reason, why }));
  });
}

describe('accounts', () => {
  let stack;
  before(async () => {
    // two ws processes: a revocation must reach the sockets of both
    stack = await startStack({ wsProcs: 2, env: { CHAT_SIGNIN_RATE: '3/1000' } });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('sign up, sign in from another device: the same name, the same unread counts', T, async () => {
    const name = uniq('ada');
    const up = await post(stack.url, '/api/accounts', { name, password: PASSWORD });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.name, name);
    assert.equal(up.body.token_type, 'Bearer');
    assert.ok(up.body.access_token && up.body.refresh_token && up.body.expires_in <= 900);

    const a = await sessionSocket(stack.url, up.body.access_token);
    const info = (await a.rec.next('session'))[0];
    assert.equal(info.user, name, 'the token names the user: auth.name may be left out');
    const join = await a.timeout(5000).emitWithAck('join', 'general');
    assert.equal(join.ok, true);
    await closeAll(a);
    // three messages while the user is away (a guest writes them)
    const g = await connect(stack.url, {});
    await g.timeout(5000).emitWithAck('join', 'general');
    for (let i = 0; i < 3; i++) await g.timeout(5000).emitWithAck('chat message', { room: 'general', text: `while away ${i}` });
    await closeAll(g);

    const again = await post(stack.url, '/api/accounts', { name, password: 'another password' });
    assert.equal(again.status, 409, 'a name with an account is not signed up twice');
    const wrong = await post(stack.url, '/api/sessions', { name, password: 'wrong password!' });
    assert.equal(wrong.status, 401);
    const inB = await post(stack.url, '/api/sessions', { name, password: PASSWORD });
    assert.equal(inB.status, 200, JSON.stringify(inB.body));
    assert.notEqual(inB.body.session, up.body.session, 'another device is another session');
    const b = await sessionSocket(stack.url, inB.body.access_token);
    const joinB = await b.timeout(5000).emitWithAck('join', 'general');
    assert.equal(joinB.ok, true);
    assert.deepEqual(
      joinB.missed.map((m) => m.text),
      ['while away 0', 'while away 1', 'while away 2'],
      'the read cursor is the account\'s: the other device has the same unread',
    );

    const rest = await api(stack.url, `/api/rooms?namespace=/`);
    const general = rest.body.rooms.find((r) => r.name === 'general');
    const posted = await post(stack.url, `/api/rooms/${general.id}/messages`, { user: name, text: 'over REST' }, { token: inB.body.access_token });
    assert.equal(posted.status, 201, 'an access token writes as its user over REST');
    await closeAll(b);
  });

  test('sign-in attempts are limited per account: 429 + Retry-After', T, async () => {
    const name = uniq('bob');
    assert.equal((await post(stack.url, '/api/accounts', { name, password: PASSWORD })).status, 201);
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(await post(stack.url, '/api/sessions', { name, password: 'not the password' }));
    assert.deepEqual(
      codes.map((r) => r.status),
      [401, 401, 401, 429],
    );
    assert.ok(Number(codes[3].headers.get('retry-after')) >= 1);
    const right = await post(stack.url, '/api/sessions', { name, password: PASSWORD });
    assert.equal(right.status, 429, 'even the right password waits: the account is being guessed');
  });

  test('the page\'s session is an HttpOnly SameSite cookie, refused cross-site; it mints socket tokens', T, async () => {
    const name = uniq('cat');
    const up = await post(stack.url, '/api/accounts', { name, password: PASSWORD, cookie: true });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const set = up.headers.get('set-cookie');
    assert.match(set, /^chat_session=[0-9a-f]{32}\.[0-9a-f]{64}; /);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.doesNotMatch(set, /Secure/, 'served over http here: the local runner has no TLS');
    assert.equal(up.body.access_token, undefined, 'the cookie is the credential: no token in the body');
    const cookie = cookieOf(up);

    const acc = await post(stack.url, '/api/sessions/access', {}, { cookie, headers: { origin: stack.url } });
    assert.equal(acc.status, 200, JSON.stringify(acc.body));
    assert.equal(acc.body.name, name);
    const cross = await post(stack.url, '/api/sessions/access', {}, { cookie, headers: { origin: 'https://evil.example' } });
    assert.equal(cross.status, 403, 'a cookie from another site is refused (CSRF)');
    const s = await sessionSocket(stack.url, acc.body.access_token);
    const list = await call(stack.url, 'GET', '/api/sessions', { cookie });
    assert.equal(list.status, 200);
    const mine = list.body.sessions.find((x) => x.current);
    assert.equal(mine.kind, 'cookie');

    const gone = evicted(s);
    const out = await call(stack.url, 'DELETE', `/api/sessions/${mine.id}`, { cookie, headers: { origin: stack.url } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie'), /Max-Age=0/, 'signing out clears the cookie');
    const ev = await gone;
    assert.equal(ev.reason, 'signed out');
    assert.equal((await post(stack.url, '/api/sessions/access', {}, { cookie })).status, 401);
  });

  test('revoking one device closes its sockets on every process; the other device stays', T, async () => {
    const name = uniq('dan');
    const one = await post(stack.url, '/api/accounts', { name, password: PASSWORD });
    const two = await post(stack.url, '/api/sessions', { name, password: PASSWORD });
    // four sockets of device one: least_conn spreads them over both processes
    const ones = [];
    for (let i = 0; i < 4; i++) ones.push(await sessionSocket(stack.url, one.body.access_token));
    const other = await sessionSocket(stack.url, two.body.access_token);
    const list = await call(stack.url, 'GET', '/api/sessions', { token: two.body.access_token });
    assert.deepEqual(list.body.sessions.map((x) => x.id).sort(), [one.body.session, two.body.session].sort());

    const gone = ones.map(evicted);
    const del = await call(stack.url, 'DELETE', `/api/sessions/${one.body.session}`, { token: two.body.access_token });
    assert.equal(del.status, 204);
    for (const ev of await Promise.all(gone)) assert.equal(ev.reason, 'signed out');
    assert.equal(other.connected, true, 'the other device keeps its socket');

    const again = connect(stack.url, { auth: { token: one.body.access_token }, connect: false });
    assert.match((await connectError(await again)).message, /revoked/);
    const rest = await call(stack.url, 'GET', '/api/sessions', { token: one.body.access_token });
    assert.equal(rest.status, 401, 'its access token is dead over REST too');
    const refresh = await post(stack.url, '/api/sessions/refresh', { refresh_token: one.body.refresh_token });
    assert.equal(refresh.status, 401, 'and its refresh token');
    await closeAll(other);
  });

  test('refresh rotates; a spent refresh token coming back revokes the session', T, async () => {
    const name = uniq('eve');
    const up = await post(stack.url, '/api/accounts', { name, password: PASSWORD });
    const r1 = await post(stack.url, '/api/sessions/refresh', { refresh_token: up.body.refresh_token });
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.notEqual(r1.body.refresh_token, up.body.refresh_token);
    assert.equal(r1.body.session, up.body.session);
    const replay = await post(stack.url, '/api/sessions/refresh', { refresh_token: up.body.refresh_token });
    assert.equal(replay.status, 401);
    const r2 = await post(stack.url, '/api/sessions/refresh', { refresh_token: r1.body.refresh_token });
    assert.equal(r2.status, 401, 'the thief and the owner both lose the session');
  });

  test('sign out everywhere, and an admin revokes any user', T, async () => {
    const name = uniq('fay');
    const a = await post(stack.url, '/api/accounts', { name, password: PASSWORD });
    const b = await post(stack.url, '/api/sessions', { name, password: PASSWORD });
    const sa = await sessionSocket(stack.url, a.body.access_token);
    const sb = await sessionSocket(stack.url, b.body.access_token);
    const gone = [sa, sb].map(evicted);
    assert.equal((await call(stack.url, 'DELETE', '/api/sessions', { token: a.body.access_token })).status, 204);
    await Promise.all(gone);

    const c = await post(stack.url, '/api/sessions', { name, password: PASSWORD });
    const sc = await sessionSocket(stack.url, c.body.access_token);
    const admin = await adminToken(stack);
    const listed = await call(stack.url, 'GET', `/api/sessions?user=${name}`, { token: admin });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.sessions.length, 1);
    const notMine = await call(stack.url, 'GET', `/api/sessions?user=${name}`, { token: c.body.access_token });
    assert.equal(notMine.status, 403, 'only an admin names another user');
    const goneC = evicted(sc);
    assert.equal((await call(stack.url, 'DELETE', `/api/sessions?user=${name}`, { token: admin })).status, 204);
    await goneC;
  });

  test('a device is linked with a one-time code', T, async () => {
    const name = uniq('gus');
    const up = await post(stack.url, '/api/accounts', { name, password: PASSWORD, cookie: true });
    const cookie = cookieOf(up);
    const code = await post(stack.url, '/api/link-codes', {}, { cookie, headers: { origin: stack.url } });
    assert.equal(code.status, 201, JSON.stringify(code.body));
    assert.match(code.body.code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const linked = await post(stack.url, '/api/sessions', { code: code.body.code.toLowerCase() });
    assert.equal(linked.status, 200, 'typed in any case, with its dash');
    assert.equal(linked.body.name, name);
    const twice = await post(stack.url, '/api/sessions', { code: code.body.code });
    assert.equal(twice.status, 401, 'a code signs in once');
    const wrong = await post(stack.url, '/api/sessions', { code: 'AAAA-AAAA' });
    assert.equal(wrong.status, 401);
  });

  test('a name claimed before accounts sets a password with its token; its token then still works', T, async () => {
    const name = uniq('hal');
    const claim = await post(stack.url, '/api/users', { name });
    assert.equal(claim.status, 201);
    const stranger = await post(stack.url, '/api/accounts', { name, password: PASSWORD });
    assert.equal(stranger.status, 409, 'without the claim\'s token: no');
    const owner = await post(stack.url, '/api/accounts', { name, password: PASSWORD }, { token: claim.body.token });
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
    const s = await connect(stack.url, { auth: { name, token: claim.body.token } });
    const list = await call(stack.url, 'GET', '/api/sessions', { token: owner.body.access_token });
    const claimRow = list.body.sessions.find((x) => x.kind === 'claim');
    assert.ok(claimRow, 'the claim is one of the credentials listed');
    const gone = evicted(s);
    assert.equal((await call(stack.url, 'DELETE', `/api/sessions/${claimRow.id}`, { token: owner.body.access_token })).status, 204);
    await gone;
    const again = connect(stack.url, { auth: { name, token: claim.body.token }, connect: false });
    assert.match((await connectError(await again)).message, /revoked/, 'a claim is revocable like any credential');
  });

  test('guests still connect and chat without any credential', T, async () => {
    const g = await connect(stack.url, {});
    const info = (await g.rec.next('session'))[0];
    assert.match(info.user, /^~guest-/);
    const join = await g.timeout(5000).emitWithAck('join', 'general');
    assert.equal(join.ok, true);
    await closeAll(g);
  });
});

describe('name claims (issue 21 item 5)', () => {
  let stack;
  before(async () => {
    stack = await startStack({ env: { CHAT_CLAIM_RATE: '5/1000', CHAT_CLAIM_TTL_S: '1' } });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('claims are rate-limited per address (429 + Retry-After), through REST and sockets', T, async () => {
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await post(stack.url, '/api/users', { name: uniq('sq') }));
    assert.deepEqual(
      got.map((r) => r.status),
      [201, 201, 201, 201, 201, 429],
    );
    assert.ok(Number(got[5].headers.get('retry-after')) >= 1);
    const s = connect(stack.url, { name: uniq('sock'), claim: false, connect: false });
    assert.match((await connectError(await s)).message, /too many names/);
  });

  // up to a minute waiting for a fresh claim window (clock minutes), then the
  // test itself: more than T's 60 s
  test('a claim never used expires: the name is free again and its old token is dead', { timeout: 150000 }, async () => {
    // a fresh minute window for this address: wait for it rather than assert on time
    await until(async () => (await post(stack.url, '/api/users', { name: uniq('probe') })).status === 201, 65000, 'claim window');
    const name = uniq('idle');
    const used = uniq('used');
    const first = await post(stack.url, '/api/users', { name });
    const kept = await post(stack.url, '/api/users', { name: used });
    assert.equal(first.status, 201);
    const s = await connect(stack.url, { auth: { name: used, token: kept.body.token } });
    await closeAll(s);
    await sleep(1500); // CHAT_CLAIM_TTL_S=1
    const second = await post(stack.url, '/api/users', { name });
    assert.equal(second.status, 201, 'the unused claim expired');
    const old = connect(stack.url, { auth: { name, token: first.body.token }, connect: false });
    assert.match((await connectError(await old)).message, /revoked|expired/);
    const stillMine = await post(stack.url, '/api/users', { name: used });
    assert.equal(stillMine.status, 409, 'a claim that was used does not expire');
  });
});

describe('sign-in through nginx auth_request', () => {
  let stack;
  let auth;
  before(async () => {
    // the identity provider: vouches for the user named in X-Test-User
    auth = http.createServer((req, res) => {
      const user = req.headers['x-test-user'];
      if (user) res.writeHead(200, { 'X-Auth-Request-User': user });
      else res.writeHead(401);
      res.end();
    });
    await new Promise((r) => auth.listen(0, '127.0.0.1', r));
    stack = await startStack({ env: { SSO_AUTH_URL: `http://127.0.0.1:${auth.address().port}/auth` } });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
    auth?.close();
  });

  test('the user nginx vouches for gets a session; nothing else can name one', T, async () => {
    const name = uniq('sso');
    const none = await post(stack.url, '/api/sessions/sso', {});
    assert.equal(none.status, 401, 'the provider refused: nginx answers 401');
    const spoof = await post(stack.url, '/api/sessions/sso', {}, { headers: { 'x-auth-request-user': 'mallory', 'chat-sso-user': 'mallory' } });
    assert.equal(spoof.status, 401, 'a client header is not the provider\'s answer');
    const ok = await post(stack.url, '/api/sessions/sso', { cookie: false }, { headers: { 'x-test-user': name } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.name, name);
    const s = await sessionSocket(stack.url, ok.body.access_token);
    const info = (await s.rec.next('session'))[0];
    assert.equal(info.user, name);
    await closeAll(s);
  });
});
