// retention.test.mjs -- retention (docs/operations.md): per-workspace
// settings over the admin REST API, pruning in the background by count and by
// age (the test moves the messages' clock: it backdates their rows), and
// history, `missed` on join and recovery saying `truncated: true` when
// retention deleted part of what they cover.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeAll, closeLive, connect, join, until, withTimeout } from './lib/client.mjs';
import { sqlite } from './lib/dbtools.mjs';
import { onPg, startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const DAY = 86400000;
const WAIT = { args: ['-cmd', '.timeout 5000'] }; // the sqlite3 shell waits for the lock
let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

describe('retention', () => {
  let stack, admin;
  before(async () => {
    // a step every 50 ms of at most 3 rows: pruning takes several steps
    stack = await startStack({ wsArgs: ['--prune-interval', '50', '--prune-batch', '3'] });
    admin = execFileSync(path.join(stack.binDir, 'chat-ws'), ['--issue-token', '--admin', '--ttl', '600'], {
      env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
      encoding: 'utf8',
    }).trim();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  const put = (ws, body, token = admin) =>
    fetch(`${stack.url}/api/workspaces/${ws}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const history = async (roomId, query = '') => {
    const res = await api(stack.url, `/api/rooms/${roomId}/messages?${query.includes('limit=') ? '' : 'limit=500'}${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const post = async (roomId, text, user = 'poster') => {
    const res = await api(stack.url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: { user, text } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const newRoom = async (ns) => {
    const res = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: uniq('room'), namespace: ns } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };

  test('settings: admin only, validated, a field left out kept, null back to the default', T, async () => {
    const ws = uniq('conf');
    assert.equal((await put(ws, { retention: { days: 7 } }, null)).status, 401);
    for (const body of [{ retention: 5 }, { retention: { days: -1 } }, { retention: { days: 'x' } }, { retention: { days: 36501 } }, { retention: { max_messages: 1e10 } }, { retention: { days: 1.5 } }]) {
      const res = await put(ws, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.json.error, 'string');
    }
    let res = await put(ws, { retention: { days: 7 } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { namespace: `/${ws}`, private: false, retention: { days: 7, max_messages: 0 } });
    res = await put(ws, { retention: { max_messages: 10 } });
    assert.deepEqual(res.json.retention, { days: 7, max_messages: 10 }, 'days kept');
    res = await put(ws, { private: true });
    assert.deepEqual(res.json, { namespace: `/${ws}`, private: true, retention: { days: 7, max_messages: 10 } });
    res = await put(ws, { retention: { days: null, max_messages: null } });
    assert.deepEqual(res.json.retention, { days: 90, max_messages: 0 }, 'back to the defaults');
    assert.deepEqual((await api(stack.url, `/api/workspaces/${ws}`, { token: admin })).body.retention, { days: 90, max_messages: 0 });
  });

  test('a count limit prunes in the background; history, missed and recovery say truncated', T, async () => {
    const ws = uniq('keep');
    assert.equal((await put(ws, { retention: { max_messages: 3 } })).status, 200);
    const ns = `/${ws}`;
    const room = await newRoom(ns);
    // bob's cursor: he saw the first message, then left
    const first = await post(room.id, 'first');
    const bob = await connect(stack.url, { name: uniq('bob'), ns });
    assert.equal((await join(bob, room.name)).truncated, false);
    await closeAll(bob);
    // ann stays for recovery: her transport drops, she comes back later
    const ann = await connect(stack.url, { name: uniq('ann'), ns, reconnection: true, reconnectionDelay: 100 });
    await join(ann, room.name);
    const seen = await post(room.id, 'seen by ann');
    await ann.rec.next('chat message', (m) => m.id === seen.id);
    ann.io.reconnection(false);
    const gone = withTimeout(new Promise((r) => ann.once('disconnect', r)), 5000, 'disconnect');
    ann.io.engine.close();
    await gone;

    const ids = [];
    for (let i = 0; i < 10; i++) ids.push((await post(room.id, `m${i}`)).id);
    const kept = ids.slice(-3);
    await until(async () => (await history(room.id)).messages.length === 3, 20000, 'pruned to 3');
    const latest = await history(room.id);
    assert.deepEqual(latest.messages.map((m) => m.id), kept, 'the newest three are kept');
    assert.equal(latest.truncated, true, 'the latest page reaches the pruned part');
    assert.equal((await history(room.id, `&after=${first.id}`)).truncated, true, 'after an id that was pruned');
    const tail = await history(room.id, `&after=${kept[0] - 1}`);
    assert.equal(tail.truncated, undefined, 'nothing pruned after the oldest kept');
    assert.deepEqual(tail.messages.map((m) => m.id), kept);
    assert.equal((await history(room.id, `&limit=2`)).truncated, undefined, 'a page that does not reach back');

    // bob comes back: his missed messages were partly deleted
    const bob2 = await connect(stack.url, { name: bob.auth.name, ns });
    const j = await join(bob2, room.name);
    assert.equal(j.truncated, true);
    assert.deepEqual(j.missed.map((m) => m.id), kept);
    // a first visit misses nothing, so nothing was cut
    const carol = await connect(stack.url, { name: uniq('carol'), ns });
    assert.equal((await join(carol, room.name)).truncated, false);

    // ann recovers her session: recovered, but told that part is gone
    const back = withTimeout(new Promise((r) => ann.once('connect', r)), 8000, 'reconnect');
    ann.connect();
    await back;
    assert.equal(ann.recovered, true);
    const [session] = await ann.rec.next('session', (s) => s.recovered === true);
    assert.equal(session.truncated, true);
    await closeAll(ann, bob2, carol);
  });

  test('an age limit prunes messages older than the days kept (their clock moved back); the file gives pages back', { ...T, skip: onPg('it moves clocks back in the SQLite file and counts its pages') }, async () => {
    const ws = uniq('short');
    assert.equal((await put(ws, { retention: { days: 1 } })).status, 200);
    const room = await newRoom(`/${ws}`);
    const big = 'x'.repeat(4000);
    const old = [];
    for (let i = 0; i < 20; i++) old.push((await post(room.id, big)).id);
    const young = await post(room.id, 'young');
    assert.equal((await history(room.id)).messages.length, 21, 'nothing is a day old yet');
    // two days pass for the old ones
    await sqlite(stack.dbPath, `UPDATE messages SET ts = ts - ${2 * DAY} WHERE id IN (${old.join(',')});`, WAIT);
    await until(async () => (await history(room.id)).messages.length === 1, 20000, 'the old messages pruned');
    const h = await history(room.id);
    assert.equal(h.messages[0].id, young.id);
    assert.equal(h.truncated, true);
    // a room of another workspace (default 90 days) keeps its messages
    const long = uniq('long');
    assert.equal((await put(long, { private: false })).status, 200); // created by an admin
    const other = await newRoom(`/${long}`);
    const o = await post(other.id, 'stays');
    await sqlite(stack.dbPath, `UPDATE messages SET ts = ts - ${2 * DAY} WHERE id = ${o.id};`, WAIT);
    // incremental vacuum: free pages go back to the file system
    assert.equal((await sqlite(stack.dbPath, 'PRAGMA auto_vacuum;')).trim(), '2');
    await until(async () => (await sqlite(stack.dbPath, 'PRAGMA freelist_count;', WAIT)).trim() === '0', 20000, 'free pages returned');
    assert.deepEqual((await history(other.id)).messages.map((m) => m.id), [o.id]);
    assert.equal((await history(other.id)).truncated, undefined);
  });
});
