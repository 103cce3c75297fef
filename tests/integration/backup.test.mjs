// backup.test.mjs -- chat-admin backup while the chat runs under load, and
// restore into a fresh run (docs/operations.md): every message
// acknowledged before the backup started is in it, the copy is one commit's
// state (no hole below its newest message), and the restored chat goes on.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ack, api, closeAll, closeLive, connect, join, roomMessages, sleep, until } from './lib/client.mjs';
import { onPg, startStack } from './lib/stack.mjs';

const run = promisify(execFile);
const T = { timeout: 120000 };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chat-backup-'));
const stacks = [];

after(async () => {
  await closeLive();
  for (const s of stacks) await s.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const admin = (stack, ...args) => run(path.join(stack.binDir, 'chat-admin'), args, { timeout: 60000 });

/* Senders that each send, wait for the ack, and send again (paced) until stopped;
 * acked lists { id, text } in the order acks came. */
async function load(url, room, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = await connect(url, { name: `loader-${i}` });
    await join(s, room);
    sockets.push(s);
  }
  const acked = [];
  let running = true;
  const loops = sockets.map(async (s, i) => {
    for (let k = 0; running; k++) {
      const text = `load ${i}.${k}`;
      const res = await ack(s, 'chat message', { room, text });
      assert.equal(typeof res?.id, 'number', JSON.stringify(res));
      acked.push({ id: res.id, text });
      await sleep(30); // under chat-ws's --rate (50 events/s per socket)
    }
  });
  return {
    acked,
    async stop() {
      running = false;
      await Promise.all(loops);
      await closeAll(sockets);
    },
  };
}

test('a backup under load has every message acknowledged before it; restored, a fresh run serves them and goes on', { ...T, skip: onPg('chat-admin backup copies SQLite; PostgreSQL uses pg_dump') }, async () => {
  const stack = await startStack({ wsProcs: 2 });
  stacks.push(stack);
  const room = (await api(stack.url, '/api/rooms', { method: 'POST', json: { name: 'backed-up' } })).body;
  const l = await load(stack.url, room.name, 4);
  await until(() => l.acked.length >= 200, 30000, '200 messages acknowledged');
  const before = l.acked.slice(); // acknowledged before the backup started
  const file = path.join(tmp, 'chat.backup');
  const { stdout } = await admin(stack, '--db', stack.dbPath, 'backup', file);
  const during = l.acked.length;
  await until(() => l.acked.length >= during + 50, 30000, 'the load goes on after the backup');
  await l.stop();
  assert.match(stdout, /^backup: .*messages up to id \d+/);
  const head = Number(stdout.match(/messages up to id (\d+)/)[1]);

  // The running database cannot be restored over.
  await assert.rejects(admin(stack, '--db', stack.dbPath, 'restore', file), /in use by running chat-ws/);
  await stack.stop();

  // Restore into a fresh run.
  const db = path.join(tmp, 'restored.db');
  const r = await admin(stack, '--db', db, 'restore', file);
  assert.match(r.stdout, new RegExp(`messages up to id ${head}\\b`));
  const fresh = await startStack({ dbPath: db });
  stacks.push(fresh);
  const got = await roomMessages(fresh.url, room.id);
  const byId = new Map(got.map((m) => [m.id, m.text]));
  for (const m of before) assert.equal(byId.get(m.id), m.text, `message ${m.id} acknowledged before the backup`);
  // One commit's state: every acknowledged message up to the copy's newest is there.
  const newest = Math.max(...got.map((m) => m.id));
  assert.equal(newest, head);
  for (const m of l.acked) if (m.id <= newest) assert.equal(byId.get(m.id), m.text, `hole at ${m.id}`);
  assert.ok(got.length < l.acked.length, 'messages sent after the backup are not in it');

  // The restored chat goes on, with offsets past the copy's.
  const s = await connect(fresh.url, { name: 'after-restore' });
  await join(s, room.name);
  const res = await ack(s, 'chat message', { room: room.name, text: 'after the restore' });
  assert.ok(res.id > newest);
  await closeAll(s);
});

test('restore refuses a file that is not a chat database, and backup an unwritable place', T, async () => {
  const bin = path.join(stacks[0]?.binDir ?? path.resolve('build'), 'chat-admin');
  const junk = path.join(tmp, 'junk');
  writeFileSync(junk, 'not a database at all, just text'.repeat(200));
  await assert.rejects(run(bin, ['--db', path.join(tmp, 'x.db'), 'restore', junk]), /restore failed/);
  await assert.rejects(run(bin, ['--db', path.join(tmp, 'x.db'), 'restore', path.join(tmp, 'missing')]), /No such file/);
  await assert.rejects(run(bin, ['--db', path.join(tmp, 'x.db'), 'backup', '/nonexistent-dir/b.db']), /backup failed/);
  await assert.rejects(run(bin, ['frobnicate']), /usage: chat-admin/);
});

/* Issue 21.8: a backup holds every message and recovery pid, so only its
 * owner may read it: 0600 under umask 022, and an older 0666 file in its
 * place is replaced, not kept world-readable. */
test('a backup is written 0600, whatever the umask and the mode of the file it replaces', { ...T, skip: onPg('chat-admin backup copies SQLite') }, async () => {
  const stack = await startStack();
  stacks.push(stack);
  const bin = path.join(stack.binDir, 'chat-admin');
  const fresh = path.join(tmp, 'fresh.backup');
  const old = path.join(tmp, 'old.backup');
  writeFileSync(old, 'an older backup');
  chmodSync(old, 0o666);
  const umask022 = (file) => run('sh', ['-c', 'umask 022 && exec "$0" --db "$1" backup "$2"', bin, stack.dbPath, file]);
  await umask022(fresh);
  await umask022(old);
  for (const f of [fresh, old]) assert.equal(statSync(f).mode & 0o777, 0o600, `${path.basename(f)} is 0600`);
});
