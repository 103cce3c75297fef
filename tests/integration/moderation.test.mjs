// moderation.test.mjs -- issue 24 items 4 and 5: roles per workspace, edits
// and deletions as log events, mutes and bans, the audit log. The same
// scenarios run on two chat-ws processes of one machine (SQLite, or
// PostgreSQL in the integration-pg pass) and, with PostgreSQL, on a cluster
// of 3 nodes and 2 chat-fcgi behind one nginx: a moderator deletes a message
// and it disappears for everyone (live, recovered, history, missed, the
// store), a banned user cannot come back with a new credential, a mute ends,
// the edit window is enforced and non-moderators are refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeAll, closeLive, connect, connectError, credential, join, until, waitConnect } from './lib/client.mjs';
import { startCluster } from './lib/cluster.mjs';
import { sqlite } from './lib/dbtools.mjs';
import { PG_URL, adminToken, startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

/* A query on the deployment's database: SQLite's shell, or psql. Resolves
 * to the rows' first column as strings. */
async function dbQuery(db, sql) {
  const out = /^postgres(ql)?:/.test(db)
    ? execFileSync('psql', [db, '-AtXq', '-c', sql], { encoding: 'utf8', timeout: 10000 })
    : await sqlite(db, sql);
  return out.split('\n').filter((l) => l !== '');
}

/*
 * The scenarios, on a deployment d = { url (through nginx), procs: [url of
 * each chat-ws / node], admin (token), db (path or URL) }.
 */
function scenarios(getD) {
  let d;
  /* The credential the socket's session event carried (a name claimed on
   * its first connect). */
  const tokenOf = async (s) => {
    let token = null;
    await until(() => (token = s.rec.of('session')[0]?.[0]?.token), 5000, 'a session credential');
    return token;
  };
  const as = (token) => ({ token });
  const roles = (user, role, token) =>
    api(d.url, '/api/moderation/roles', { method: 'PUT', json: { user, role }, token: token ?? d.admin });
  const newRoom = async () => {
    const res = await api(d.url, '/api/rooms', { method: 'POST', json: { name: uniq('mod') } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const history = async (roomId) => (await api(d.url, `/api/rooms/${roomId}/messages?after=0&limit=500`)).body.messages;

  before(() => {
    d = getD();
  });

  test('a moderator deletes a message: gone live, after a recovery, from history, missed and the store', T, async () => {
    const room = await newRoom();
    const mod = uniq('mod');
    assert.equal((await roles(mod, 'moderator')).status, 200);
    const bob = await connect(d.procs[0], { name: uniq('bob') });
    const carol = await connect(d.procs[1 % d.procs.length], { name: uniq('carol'), reconnection: false });
    const alice = await connect(d.procs[d.procs.length - 1], { name: mod });
    for (const s of [bob, carol, alice]) await join(s, room.name);
    const secret = `secret ${uniq('text')}`;
    const sent = await ack(bob, 'chat message', { room: room.name, text: secret });
    const kept = await ack(bob, 'chat message', { room: room.name, text: 'kept' });
    for (const s of [carol, alice]) await s.rec.next('chat message', (m) => m.id === kept.id);

    // carol goes away (her transport drops; she keeps her pid and offset,
    // and her credential where the client resends it)
    carol.auth.token = await tokenOf(carol);
    const down = new Promise((r) => carol.once('disconnect', r));
    carol.io.engine.close();
    await down;

    const del = await ack(alice, 'delete message', { id: sent.id });
    assert.deepEqual(del, { ok: true, id: sent.id });
    const [live] = await bob.rec.next('message deleted', (m) => m.id === sent.id);
    assert.equal(live.room, room.name);
    assert.equal(live.by, mod);

    // carol comes back: recovered, and told of the deletion
    carol.connect();
    await waitConnect(carol);
    assert.equal(carol.recovered, true, 'carol recovered');
    await carol.rec.next('message deleted', (m) => m.id === sent.id);

    const ids = (await history(room.id)).map((m) => m.id);
    assert.ok(!ids.includes(sent.id), 'history no longer has it');
    assert.ok(ids.includes(kept.id));
    assert.equal((await api(d.url, `/api/rooms/${room.id}/messages/${sent.id}`)).status, 404);
    // a first visit's missed list and a late joiner's are history too
    const late = await connect(d.url, { name: bob.auth.name, auth: { token: await tokenOf(bob) } });
    const joined = await join(late, room.name);
    assert.ok(!joined.missed.some((m) => m.id === sent.id));
    assert.equal((await dbQuery(d.db, `SELECT COUNT(*) FROM messages WHERE text LIKE '%${secret}%'`))[0], '0');
    // the moderator's deletion is in the audit log, which admins read
    const audit = await api(d.url, '/api/moderation/audit?namespace=/', as(d.admin));
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    assert.ok(audit.body.entries.some((e) => e.action === 'delete message' && e.target === String(sent.id) && e.actor === mod));
    await closeAll(bob, carol, alice, late);
  });

  test('a member edits and deletes their own message, within the edit window; others are refused', T, async () => {
    const room = await newRoom();
    const ann = await connect(d.procs[0], { name: uniq('ann') });
    const ben = await connect(d.procs[1 % d.procs.length], { name: uniq('ben') });
    await join(ann, room.name);
    await join(ben, room.name);
    const m = await ack(ann, 'chat message', { room: room.name, text: 'teh typo' });
    const edit = await ack(ann, 'edit message', { id: m.id, text: 'the typo' });
    assert.equal(edit.ok, true, JSON.stringify(edit));
    const [seen] = await ben.rec.next('message edited', (e) => e.id === m.id);
    assert.equal(seen.text, 'the typo');
    const h = (await history(room.id)).find((x) => x.id === m.id);
    assert.equal(h.text, 'the typo');
    assert.equal(typeof h.edited_at, 'number');
    // not the author: refused, on the socket and in REST
    assert.match((await ack(ben, 'edit message', { id: m.id, text: 'mine now' })).error, /author/);
    assert.match((await ack(ben, 'delete message', { id: m.id })).error, /author or a moderator/);
    const benToken = await tokenOf(ben);
    const patch = await api(d.url, `/api/rooms/${room.id}/messages/${m.id}`, { method: 'PATCH', json: { text: 'x' }, token: benToken });
    assert.equal(patch.status, 403);
    assert.equal((await api(d.url, `/api/rooms/${room.id}/messages/${m.id}`, { method: 'DELETE', token: benToken })).status, 403);
    // the author edits through REST too
    const annToken = await tokenOf(ann);
    const rest = await api(d.url, `/api/rooms/${room.id}/messages/${m.id}`, { method: 'PATCH', json: { text: 'edited by REST' }, token: annToken });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    await ben.rec.next('message edited', (e) => e.id === m.id && e.text === 'edited by REST');
    // past the window (its timestamp moved back 16 minutes): refused
    await dbQuery(d.db, `UPDATE messages SET ts = ts - 960000 WHERE id = ${m.id}`);
    assert.match((await ack(ann, 'edit message', { id: m.id, text: 'too late' })).error, /edit window/);
    const late = await api(d.url, `/api/rooms/${room.id}/messages/${m.id}`, { method: 'PATCH', json: { text: 'too late' }, token: annToken });
    assert.equal(late.status, 403);
    // but the author still deletes it, any time
    assert.equal((await api(d.url, `/api/rooms/${room.id}/messages/${m.id}`, { method: 'DELETE', token: annToken })).status, 204);
    await ben.rec.next('message deleted', (e) => e.id === m.id);
    await closeAll(ann, ben);
  });

  test('non-moderators cannot mute, ban, grant roles or read the audit log', T, async () => {
    const eve = await connect(d.procs[0], { name: uniq('eve') });
    const victim = uniq('victim');
    assert.match((await ack(eve, 'mute', { user: victim })).error, /only moderators/);
    assert.match((await ack(eve, 'ban', { user: victim })).error, /only moderators/);
    assert.match((await ack(eve, 'role', { user: eve.auth.name, role: 'owner' })).error, /only owners/);
    const token = await tokenOf(eve);
    assert.equal((await api(d.url, '/api/moderation/mute', { method: 'POST', json: { user: victim }, token })).status, 403);
    assert.equal((await api(d.url, '/api/moderation/ban', { method: 'POST', json: { user: victim }, token })).status, 403);
    assert.equal((await roles(eve.auth.name, 'owner', token)).status, 403);
    assert.equal((await api(d.url, '/api/moderation/audit', { token })).status, 403);
    assert.equal((await api(d.url, '/api/moderation/audit')).status, 401);
    // a moderator cannot sanction another moderator
    const m1 = uniq('m1');
    const m2 = uniq('m2');
    assert.equal((await roles(m1, 'moderator')).status, 200);
    assert.equal((await roles(m2, 'moderator')).status, 200);
    const mod = await connect(d.procs[0], { name: m1 });
    assert.match((await ack(mod, 'mute', { user: m2 })).error, /equal or higher/);
    // an operator's socket (an admin token) acts above every role
    const op = await connect(d.procs[0], { name: uniq('op'), auth: { token: d.admin } });
    const byOp = await ack(op, 'mute', { user: m2, seconds: 1 });
    assert.equal(byOp.ok, true, JSON.stringify(byOp));
    await closeAll(op);
    const listed = await api(d.url, '/api/moderation/roles?namespace=/');
    assert.ok(listed.body.roles.some((r) => r.user === m1 && r.role === 'moderator'));
    await closeAll(eve, mod);
  });

  test('a mute refuses chat message and REST posts, and ends by itself', T, async () => {
    const room = await newRoom();
    const mod = uniq('mod');
    assert.equal((await roles(mod, 'moderator')).status, 200);
    const moderator = await connect(d.procs[0], { name: mod });
    const noisy = await connect(d.procs[1 % d.procs.length], { name: uniq('noisy') });
    await join(noisy, room.name);
    const muted = await ack(moderator, 'mute', { user: noisy.auth.name, seconds: 2, reason: 'cool down' });
    assert.equal(muted.ok, true, JSON.stringify(muted));
    await until(async () => (await ack(noisy, 'chat message', { room: room.name, text: 'hello?' })).error, 5000, 'the mute to reach the other process');
    assert.match((await ack(noisy, 'chat message', { room: room.name, text: 'hello?' })).error, /muted/);
    const token = await tokenOf(noisy);
    const post = await api(d.url, `/api/rooms/${room.id}/messages`, { method: 'POST', json: { user: noisy.auth.name, text: 'hi' }, token });
    if (Date.now() < muted.until) assert.equal(post.status, 403);
    // it ends: the same message goes through again
    await until(async () => typeof (await ack(noisy, 'chat message', { room: room.name, text: 'back' })).id === 'number', 10000, 'the mute to end');
    const audit = await api(d.url, '/api/moderation/audit', as(d.admin));
    assert.ok(audit.body.entries.some((e) => e.action === 'mute' && e.target === noisy.auth.name && e.detail.reason === 'cool down'));
    await closeAll(moderator, noisy);
  });

  test('a banned user is evicted and cannot come back, with any credential of the name; unban lets it in', T, async () => {
    const name = uniq('mallory');
    const first = await credential(d.url, name);
    const mallory = await connect(d.procs[1 % d.procs.length], { name, auth: { token: first } });
    let fresh = null; // the credential the session event gave this connection
    await until(() => (fresh = mallory.rec.of('session')[0]?.[0]?.token), 5000, 'a session credential');
    const gone = new Promise((r) => mallory.once('disconnect', r));
    const ban = await api(d.url, '/api/moderation/ban', { method: 'POST', json: { user: name, reason: 'spam' }, token: d.admin });
    assert.equal(ban.status, 200, JSON.stringify(ban.body));
    await gone;
    assert.ok(mallory.rec.of('kicked').some(([k]) => k.reason === 'banned'));
    for (const token of [first, fresh, d.admin]) {
      for (const url of d.procs) {
        const again = await connect(url, { name, auth: { token }, connect: false });
        assert.equal((await connectError(again)).message, 'banned');
        await closeAll(again);
      }
    }
    const post = await api(d.url, '/api/moderation/sanctions?namespace=/', as(d.admin));
    assert.ok(post.body.sanctions.some((s) => s.kind === 'ban' && s.user === name));
    assert.equal((await api(d.url, '/api/moderation/unban', { method: 'POST', json: { user: name }, token: d.admin })).status, 200);
    await until(async () => {
      const back = await connect(d.procs[0], { name, auth: { token: first }, connect: false });
      try {
        await waitConnect(back);
        return true;
      } catch {
        return false;
      } finally {
        await closeAll(back);
      }
    }, 5000, 'unbanned');
  });
}

describe('moderation on two chat-ws processes', () => {
  let stack;
  let d;
  before(async () => {
    stack = await startStack({ wsProcs: 2 });
    d = {
      url: stack.url,
      procs: stack.wsPorts.map((p) => `http://127.0.0.1:${p}`),
      admin: await adminToken(stack),
      db: stack.dbPath,
    };
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });
  scenarios(() => d);

  test('SQLite: a deleted message\'s text is not left in the database file', { ...T, skip: PG_URL ? 'SQLite only' : false }, async () => {
    const room = (await api(stack.url, '/api/rooms', { method: 'POST', json: { name: uniq('file') } })).body;
    const s = await connect(d.procs[0], { name: uniq('shy') });
    await join(s, room.name);
    // long: the row written next reuses the end of its freed space, not the start
    const secret = `unique-${uniq('needle')}-${'x'.repeat(400)}`;
    const needle = secret.slice(0, 40);
    const m = await ack(s, 'chat message', { room: room.name, text: secret });
    await dbQuery(stack.dbPath, 'PRAGMA wal_checkpoint(TRUNCATE)');
    assert.ok(readFileSync(stack.dbPath).includes(secret), 'the text is in the file before');
    assert.equal((await ack(s, 'delete message', { id: m.id })).ok, true);
    await dbQuery(stack.dbPath, 'PRAGMA wal_checkpoint(TRUNCATE)');
    assert.ok(!readFileSync(stack.dbPath).includes(needle), 'the text is gone from the file');
    await closeAll(s);
  });
});

describe('moderation across nodes (PostgreSQL)', { skip: PG_URL ? false : 'needs CHAT_TEST_DB_URL' }, () => {
  let cluster;
  let d;
  before(async () => {
    cluster = await startCluster({ nodes: 3, fcgi: 2 });
    d = {
      url: cluster.url,
      procs: cluster.nodes.map((n) => `http://127.0.0.1:${n.port}`),
      admin: cluster.adminToken,
      db: cluster.dbUrl,
    };
  });
  after(async () => {
    await closeLive();
    await cluster?.stop();
  });
  scenarios(() => d);
});
