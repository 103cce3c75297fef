// faults.test.mjs -- the faults of issue 8: chat-fcgi killed with SIGKILL in
// the middle of a request (a worker, then the parent), the database locked by
// another process past busy_timeout, a full disk, and nginx killed and
// restarted under live sockets. Each checks the answer during the fault, that
// nothing half-done was stored, and that service resumes after it.
// (kill -9 of a ws process under a checker is in queue.test.mjs.)
import assert from 'node:assert/strict';
import { readFileSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeAll, closeLive, connect, credential, join, roomMessages, sleep, until, withTimeout } from './lib/client.mjs';
import { bystanders, newRoom, uniq } from './lib/bystanders.mjs';
import { holdWriteLock, mountTmpfs, sqlite } from './lib/dbtools.mjs';
import { fcgiPid, onPg, startStack } from './lib/stack.mjs';

const T = { timeout: 30000 };
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 };

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const isJson = (res) => /application\/json/.test(res.headers.get('content-type') ?? '');

/* POST a message; resolves to { status, body, headers } (never throws on a 5xx). */
const postMessage = (url, roomId, body, timeout = 15000) => api(url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: body, timeout });

describe('faults: chat-fcgi killed with SIGKILL mid-request', { skip: onPg('a slow POST is made by locking the SQLite file') }, () => {
  let stack, by;
  const locks = [];
  before(async () => {
    stack = await startStack({ fcgiWorkers: 1 });
    by = await bystanders(stack.url);
  });
  after(async () => {
    for (const l of locks) l.kill();
    await by?.close();
    await closeLive();
    await stack?.stop();
  });

  /* A POST that hangs in chat-fcgi: the database is locked, so the worker
   * waits in its busy_timeout (5 s). Resolves to the pending response and
   * the lock. */
  async function slowPost(roomId, body) {
    const lock = await holdWriteLock(stack.dbPath);
    locks.push(lock);
    const pending = postMessage(stack.url, roomId, body);
    await sleep(300); // the request is inside the worker, waiting for the lock
    return { pending, lock };
  }

  test('the worker handling a slow POST: 502 JSON for it; the worker is replaced; the retried POST with the same client_id stores one message', T, async () => {
    const room = await newRoom(stack.url);
    const master = fcgiPid(stack);
    const [worker] = childrenOf(master);
    assert.ok(worker, `a worker of chat-fcgi ${master}`);
    const body = { user: 'killer', text: 'sent while the worker dies', client_id: uniq('cid') };
    await credential(stack.url, body.user); // claimed before the lock
    const { pending, lock } = await slowPost(room.id, body);
    process.kill(worker, 'SIGKILL');
    const res = await pending;
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.ok(isJson(res), 'a JSON 502');
    assert.equal(typeof res.body.error, 'string');
    await lock.release();
    await until(() => childrenOf(master).some((p) => p !== worker), 5000, 'a new worker');
    assert.ok(alive(master), 'the parent lives on');
    // the client retries with the same client_id: stored once
    const r1 = await postMessage(stack.url, room.id, body);
    const r2 = await postMessage(stack.url, room.id, body);
    assert.equal(r1.status, 201, JSON.stringify(r1.body));
    assert.equal(r2.status, 200, `the retry is a duplicate: ${JSON.stringify(r2.body)}`);
    assert.equal(r2.body.id, r1.body.id);
    const rows = await roomMessages(stack.url, room.id);
    assert.deepEqual(rows.map((m) => m.client_id), [body.client_id]);
    await by.check('after a worker was killed');
  });

  test('the parent (with its worker) mid-request: 502 JSON, the runner restarts it, the retry stores one message', T, async () => {
    const room = await newRoom(stack.url);
    const master = fcgiPid(stack);
    const body = { user: 'killer', text: 'sent while chat-fcgi dies', client_id: uniq('cid') };
    await credential(stack.url, body.user); // claimed before the lock
    const { pending, lock } = await slowPost(room.id, body);
    process.kill(master, 'SIGKILL'); // the runner kills the group, then restarts it after 1 s
    const res = await pending;
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.ok(isJson(res));
    await lock.release();
    await until(async () => {
      const pid = fcgiPid(stack);
      return pid && pid !== master && (await api(stack.url, '/api/health').catch(() => ({}))).status === 200;
    }, 10000, 'chat-fcgi restarted by the runner');
    assert.match(stack.logs('runner'), /fcgi \(pid \d+\) was killed by SIGKILL: restarting/);
    let r1;
    for (let i = 0; i < 3; i++) {
      r1 = await postMessage(stack.url, room.id, body);
      if (r1.status !== 502) break;
      await sleep(300);
    }
    const r2 = await postMessage(stack.url, room.id, body);
    assert.equal(r1.status, 201, JSON.stringify(r1.body));
    assert.equal(r2.status, 200);
    const rows = await roomMessages(stack.url, room.id);
    assert.deepEqual(rows.map((m) => m.client_id), [body.client_id]);
    await by.check('after chat-fcgi was killed');
  });
});

describe('faults: the database locked by another process past busy_timeout', { skip: onPg('the SQLite file is locked; pg_outage covers PostgreSQL') }, () => {
  let stack, by, lock;
  before(async () => {
    stack = await startStack();
    by = await bystanders(stack.url);
  });
  after(async () => {
    lock?.kill();
    await by?.close();
    await closeLive();
    await stack?.stop();
  });

  test('REST POST → 503 JSON + Retry-After; socket → ack {error: "database busy…"}; reads go on; nothing half-written; then service resumes', T, async (t) => {
    const room = await newRoom(stack.url);
    const s = await connect(stack.url, { name: uniq('busy') });
    await join(s, room.name);
    const before0 = await roomMessages(stack.url, room.id);
    const count0 = Number((await sqlite(stack.dbPath, 'SELECT count(*) FROM messages;')).trim());

    const reader = await connect(stack.url, { name: uniq('reader') });
    await credential(stack.url, 'rest'); // claimed before the lock
    lock = await holdWriteLock(stack.dbPath);
    const t0 = Date.now();
    // Meanwhile, reads over another socket every 250 ms for 6.5 s (longer than
    // the ws heartbeat, 5 s): how long does each wait for its answer?
    const readLatencies = [];
    const probing = (async () => {
      while (Date.now() - t0 < 6500) {
        const t1 = Date.now();
        const r = await ack(reader, 'rooms', { __ms: 15000 }).catch((e) => e);
        readLatencies.push(Array.isArray(r?.rooms) ? Date.now() - t1 : `${r}`);
        await sleep(250);
      }
    })();
    const [rest, sock] = await Promise.all([
      postMessage(stack.url, room.id, { user: 'rest', text: 'while locked', client_id: 'locked-rest' }),
      ack(s, 'chat message', { room: room.name, text: 'while locked', client_id: 'locked-sock' }, { __ms: 10000 }),
    ]);
    await probing;
    t.diagnostic(`REST ${rest.status} ${JSON.stringify(rest.body)} Retry-After ${rest.headers.get('retry-after')}; socket ack ${JSON.stringify(sock)}; ${Date.now() - t0} ms`);
    t.diagnostic(`socket reads during the lock, ms: ${readLatencies.join(' ')}`);
    assert.equal(rest.status, 503, JSON.stringify(rest.body));
    assert.ok(isJson(rest));
    assert.match(rest.body.error, /busy/);
    assert.ok(Number(rest.headers.get('retry-after')) >= 1, 'Retry-After');
    assert.match(sock?.error ?? '', /^database busy/, JSON.stringify(sock));
    // reading goes on under the lock (WAL), over REST and over the socket
    const during = await api(stack.url, `/api/rooms/${room.id}/messages`);
    assert.equal(during.status, 200);
    const slowest = Math.max(...readLatencies.map((v) => (typeof v === 'number' ? v : Infinity)));
    // One busy_timeout (2 s: a chat message's commit waits that long on the
    // event loop) is the most a read may wait.
    assert.ok(slowest < 2500, `a read over the socket waited ${slowest} ms during the lock: ${readLatencies.join(' ')}`);

    await lock.release();
    lock = null;
    // nothing of the refused writes is in the database
    assert.equal(Number((await sqlite(stack.dbPath, 'SELECT count(*) FROM messages;')).trim()), count0);
    assert.deepEqual(await roomMessages(stack.url, room.id), before0);
    assert.equal((await sqlite(stack.dbPath, "SELECT count(*) FROM messages WHERE client_id LIKE 'locked-%';")).trim(), '0');
    // the same sends now succeed, once each
    const rest2 = await postMessage(stack.url, room.id, { user: 'rest', text: 'while locked', client_id: 'locked-rest' });
    assert.equal(rest2.status, 201, JSON.stringify(rest2.body));
    const sock2 = await ack(s, 'chat message', { room: room.name, text: 'while locked', client_id: 'locked-sock' });
    assert.equal(typeof sock2?.id, 'number', JSON.stringify(sock2));
    const rows = await roomMessages(stack.url, room.id);
    assert.deepEqual(rows.map((m) => m.client_id).sort(), ['locked-rest', 'locked-sock']);
    await closeAll(s, reader);
    await by.check('after the lock was released');
  });
});

describe('faults: disk full (the stack on a 3 MiB tmpfs)', { skip: onPg('the SQLite file on a small tmpfs') }, () => {
  let stack, by, fs, filler, savedTmp;
  let skip = false;
  before(async () => {
    try {
      fs = await mountTmpfs(3 * 1024);
    } catch (e) {
      skip = `cannot mount a tmpfs: ${e.message}`;
      return;
    }
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = fs.dir; // startStack makes its run directory, database included, there
    try {
      stack = await startStack();
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    assert.ok(stack.dbPath.startsWith(fs.dir));
    by = await bystanders(stack.url);
  });
  after(async () => {
    await by?.close();
    await closeLive();
    if (filler) {
      try {
        unlinkSync(filler);
      } catch {
        /* gone */
      }
    }
    try {
      await stack?.stop();
    } finally {
      await fs?.umount();
    }
  });

  test('sends until the disk is full: errors are clear, every acked message is in the database, after freeing space sends succeed, integrity ok', T, async (t) => {
    if (skip) return t.skip(skip);
    const room = await newRoom(stack.url);
    const s = await connect(stack.url, { name: uniq('full') });
    await join(s, room.name);
    await credential(stack.url, 'rest'); // claimed before the disk fills
    // fill the file system, leaving 512 KiB
    filler = path.join(fs.dir, 'filler');
    const st = statfsSync(fs.dir);
    const free = st.bavail * st.bsize;
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 512 * 1024)));
    const text = 'd'.repeat(3900);
    const acked = new Map(); // id -> client_id
    const errors = new Map(); // error text -> count
    const restStatuses = {};
    let failedBatches = 0;
    // batches of 10 at once, so that the group commit of chat-ws fails whole batches
    for (let b = 0; b < 40 && failedBatches < 3; b++) {
      const batch = Array.from({ length: 10 }, (_, k) => {
        const client_id = `full-${b}-${k}`;
        return ack(s, 'chat message', { room: room.name, text, client_id }, { __ms: 10000 }).then((r) => ({ r, client_id }));
      });
      const rest = postMessage(stack.url, room.id, { user: 'rest', text, client_id: `rest-${b}` });
      let ok = 0;
      for (const { r, client_id } of await Promise.all(batch)) {
        if (typeof r?.id === 'number') {
          acked.set(r.id, client_id);
          ok++;
        } else {
          errors.set(r?.error, (errors.get(r?.error) ?? 0) + 1);
        }
      }
      failedBatches = ok ? 0 : failedBatches + 1;
      const rr = await rest;
      restStatuses[rr.status] = (restStatuses[rr.status] ?? 0) + 1;
      if (rr.status >= 500) {
        assert.ok(isJson(rr), `REST ${rr.status} is JSON`);
        assert.equal(rr.status, 507, `REST on a full disk: ${rr.status} ${JSON.stringify(rr.body)}`);
      }
    }
    t.diagnostic(`acked ${acked.size}; socket errors ${JSON.stringify([...errors])}; REST statuses ${JSON.stringify(restStatuses)}`);
    assert.ok(errors.size > 0, 'the disk got full');
    for (const e of errors.keys()) assert.equal(e, 'storage unavailable, try again');
    assert.ok(s.connected, 'the sender is still connected');

    // free the space: the same sends go through, once each
    unlinkSync(filler);
    filler = null;
    const retried = await ack(s, 'chat message', { room: room.name, text, client_id: 'after-free' }, { __ms: 10000 });
    assert.equal(typeof retried?.id, 'number', `after freeing space: ${JSON.stringify(retried)}`);
    acked.set(retried.id, 'after-free');
    const rest = await postMessage(stack.url, room.id, { user: 'rest', text: 'after free', client_id: 'rest-after-free' });
    assert.equal(rest.status, 201, JSON.stringify(rest.body));

    // every acked message is in the database; nothing else from the socket
    const rows = await sqlite(stack.dbPath, `SELECT id, client_id FROM messages WHERE room_id = ${room.id} AND user <> 'rest' ORDER BY id;`);
    const stored = new Map(rows.trim().split('\n').filter(Boolean).map((l) => l.split('|')).map(([id, cid]) => [Number(id), cid]));
    for (const [id, cid] of acked) assert.equal(stored.get(id), cid, `acked ${id} (${cid}) in the database`);
    assert.equal(stored.size, acked.size, `stored ${stored.size}, acked ${acked.size}: a message stored without an ack`);
    assert.equal((await sqlite(stack.dbPath, 'PRAGMA integrity_check;')).trim(), 'ok');
    await closeAll(s);
    await by.check('after the disk was full');
  });
});

describe('faults: nginx killed with SIGKILL and restarted', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('socket.io-clients reconnect through the new nginx, recovered, with the messages they missed', T, async (t) => {
    const room = await newRoom(stack.url);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(stack.url, { name: uniq('nx'), ...RECONNECT });
      await join(c, room.name);
      clients.push(c);
    }
    // a sender straight to the ws port: it does not go through nginx
    const direct = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: uniq('direct') });
    await join(direct, room.name);
    const first = await ack(direct, 'chat message', { room: room.name, text: 'before' });
    for (const c of clients) await c.rec.next('chat message', (m) => m.id === first.id);

    const nginxPid = Number(readFileSync(path.join(stack.runDir, 'nginx.pid'), 'utf8'));
    const downs = clients.map((c) => withTimeout(new Promise((r) => c.once('disconnect', r)), 15000, 'disconnect'));
    process.kill(nginxPid, 'SIGKILL');
    await Promise.all(downs);
    const missed = [];
    for (let i = 0; i < 5; i++) missed.push((await ack(direct, 'chat message', { room: room.name, text: `while nginx was down ${i}` })).id);
    await until(
      () => clients.every((c) => c.connected),
      10000,
      'every client reconnected',
    );
    const newPid = Number(readFileSync(path.join(stack.runDir, 'nginx.pid'), 'utf8'));
    t.diagnostic(`nginx ${nginxPid} → ${newPid}`);
    assert.notEqual(newPid, nginxPid);
    for (const c of clients) {
      assert.equal(c.recovered, true, `${c.auth.name} recovered`);
      await until(() => missed.every((id) => c.rec.of('chat message').some(([m]) => m.id === id)), 5000, `${c.auth.name} got the missed messages`);
      const ids = c.rec.of('chat message').map(([m]) => m.id);
      assert.deepEqual(ids, [first.id, ...missed], `${c.auth.name}: each message once, in order`);
    }
    // and live traffic flows again through nginx
    const after1 = await ack(clients[0], 'chat message', { room: room.name, text: 'after' });
    for (const c of clients.slice(1)) await c.rec.next('chat message', (m) => m.id === after1.id);
    assert.equal((await api(stack.url, '/api/health')).status, 200);
    await closeAll(clients, direct);
  });
});
