// ephemeral.test.mjs -- typing never touches the disk (issue 13.1): it is
// emitted at once on the sender's process and crosses to the other chat-ws
// processes as unix datagrams (bus/bus_local.c), never through the database.
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import { closeAll, closeLive, connect, join, until } from './lib/client.mjs';
import { sqlite } from './lib/dbtools.mjs';
import { killWs, onPg, startStack, wsPids } from './lib/stack.mjs';

const T = { timeout: 60000 };
const TYPINGS = 200;

let seq = 0;
const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

/* What a write to the database would move: the control log's head, the
 * message log, the processes' heartbeats, and the -wal file. */
async function diskState(dbPath) {
  const out = await sqlite(
    dbPath,
    'SELECT (SELECT COALESCE(MAX(id), 0) FROM control), (SELECT COUNT(*) FROM messages), ' +
      "(SELECT COALESCE(MAX(id), 0) FROM messages), (SELECT group_concat(heartbeat_at, ',') FROM processes);",
    { args: ['-cmd', '.timeout 5000', '-readonly'] },
  );
  const [control, count, lastMessage, beats] = out.trim().split('|');
  let wal = null;
  try {
    const s = statSync(`${dbPath}-wal`);
    wal = { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    // no -wal file: nothing written since the last checkpoint closed it
  }
  return { control: Number(control), messages: `${count}/${lastMessage}`, beats, wal };
}

/* Sends TYPINGS typing events from a, each once b has the one before (a
 * volatile emit to a receiver still busy with the last one is dropped). */
async function typeAndReceive(a, b, room) {
  for (let i = 0; i < TYPINGS; i++) {
    const had = b.rec.count('typing');
    a.emit('typing', { room });
    await until(() => b.rec.count('typing') > had, 5000, `typing ${i} at the peer`, 1);
  }
}

describe('typing is ephemeral: a single process', { skip: onPg('it watches the SQLite file and its WAL') }, () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsArgs: ['--rate', '0'] }); // 200 events in a row
  });
  afterEach(async () => {
    await closeLive();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('200 typing events reach the room and leave the database untouched', T, async () => {
    const ann = uniq('ann');
    const a = await connect(stack.url, { name: ann });
    const b = await connect(stack.url, { name: uniq('bob') });
    for (const s of [a, b]) await join(s, 'general');
    // Let the joins' writes (presence, the control log) settle.
    await until(async () => {
      const x = await diskState(stack.dbPath);
      await new Promise((r) => setTimeout(r, 300));
      const y = await diskState(stack.dbPath);
      return JSON.stringify(x) === JSON.stringify(y);
    }, 15000, 'the database at rest');
    // A heartbeat (a write every few seconds) may fall inside a round: the
    // -wal file is compared only for a round without one, the logs always.
    let walChecked = false;
    for (let round = 0; round < 4 && !walChecked; round++) {
      const before = await diskState(stack.dbPath);
      await typeAndReceive(a, b, 'general');
      const after = await diskState(stack.dbPath);
      assert.equal(after.control, before.control, 'typing was appended to the control log');
      assert.equal(after.messages, before.messages, 'typing moved the message log');
      if (after.beats !== before.beats) continue;
      assert.deepEqual(after.wal, before.wal, 'typing wrote to the -wal file');
      walChecked = true;
    }
    assert.ok(walChecked, 'a heartbeat fell inside every round');
    const [t] = b.rec.of('typing').at(-1);
    assert.deepEqual(t, { room: 'general', user: ann });
    assert.equal(a.rec.count('typing'), 0, 'the sender got its own typing');
    await closeAll(a, b);
  });
});

// On PostgreSQL typing crosses processes through the bus (LISTEN/NOTIFY), not
// through sockets beside an SQLite file: not there yet.
const noPeers = onPg('typing crosses processes through sockets beside the SQLite file');

describe('typing is ephemeral: two processes', { skip: noPeers }, () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2, env: { RESTART_SEC: '0.2' } });
  });
  afterEach(async () => {
    await closeLive();
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('typing on one process reaches the room on the other, not through the database', T, async () => {
    assert.equal(stack.wsPorts.length, 2);
    const xena = uniq('xena');
    const yuri = uniq('yuri');
    const x = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: xena });
    const y = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: yuri });
    const outName = uniq('out');
    const out = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: outName });
    for (const s of [x, y]) await join(s, 'general');
    // Presence is coalesced per process: out's `user connected`, right after
    // yuri's on the same process, is written to the control log an interval
    // later. Count the log once every presence event is in.
    await x.rec.next('user joined', (j) => j.user === yuri);
    await x.rec.next('user connected', (u) => u.user === outName);
    const control = (await diskState(stack.dbPath)).control;
    // A datagram a busy peer could not take is dropped, so send until one
    // arrives (the first normally does).
    await until(() => {
      x.emit('typing', { room: 'general' });
      return y.rec.count('typing') > 0;
    }, 10000, 'typing from process 0 at process 1');
    assert.deepEqual(y.rec.of('typing')[0][0], { room: 'general', user: xena });
    y.emit('typing', { room: 'general' });
    await x.rec.next('typing', (t) => t.user === yuri);
    assert.equal(out.rec.count('typing'), 0, 'a socket outside the room got typing');
    assert.equal((await diskState(stack.dbPath)).control, control, 'typing went through the control log');
    await closeAll(x, y, out);
  });
});

describe('typing is ephemeral: the sockets of the processes', { skip: noPeers }, () => {
  test('a dead process\'s socket is unlinked by the next sender; a stopped stack leaves none', T, async () => {
    const stack = await startStack({ wsProcs: 2, env: { RESTART_SEC: '0.2' }, keep: true });
    try {
      const dir = `${stack.dbPath}-peers`;
      const names = () => readdirSync(dir).sort();
      await until(() => names().length === 2, 5000, 'both processes bound their socket');
      assert.deepEqual(names(), wsPids(stack).map(String).sort());
      const { oldPid } = await killWs(stack, 1, 'SIGKILL', { wait: false }); // no cleanup
      assert.ok(names().includes(String(oldPid)), 'the dead process\'s socket is there until someone sends');
      const x = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: uniq('xena') });
      const y = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: uniq('yuri') });
      for (const s of [x, y]) await join(s, 'general');
      await until(() => {
        x.emit('typing', { room: 'general' }); // once its process is gone, the socket refuses
        return !names().includes(String(oldPid));
      }, 10000, 'the stale socket unlinked');
      await y.rec.next('typing');
      await closeAll(x, y);
      await stack.stop();
      assert.deepEqual(names(), [], 'a process that stopped left its socket');
    } finally {
      await closeLive();
      await stack.stop();
      rmSync(stack.runDir, { recursive: true, force: true });
    }
  });
});
