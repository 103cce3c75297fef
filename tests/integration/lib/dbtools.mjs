// dbtools.mjs -- the sqlite3 command-line shell against a stack's database
// (queries, a write lock held by another process) and a small tmpfs for
// disk-full tests (needs root).
//
//   const lock = await holdWriteLock(stack.dbPath);  // BEGIN EXCLUSIVE, kept
//   ... writers get SQLITE_BUSY after their busy_timeout ...
//   await lock.release();                            // ROLLBACK, exit
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/* Runs sql with the sqlite3 shell (-batch) and resolves to its stdout. */
export async function sqlite(dbPath, sql, opts = {}) {
  const { stdout } = await run('sqlite3', ['-batch', ...(opts.args ?? []), dbPath, sql], { timeout: opts.timeout ?? 10000 });
  return stdout;
}

/**
 * Starts a sqlite3 shell that takes the database's write lock (BEGIN
 * EXCLUSIVE) and keeps it until release(). Resolves once the lock is held.
 * release() rolls back and waits for the shell to exit; kill() ends it
 * without a word (the lock goes with the process).
 */
export async function holdWriteLock(dbPath, ms = 5000) {
  const child = spawn('sqlite3', ['-batch', dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.write(".timeout 3000\nBEGIN EXCLUSIVE;\nSELECT 'lock-held';\n");
  const deadline = Date.now() + ms;
  while (!out.includes('lock-held')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sqlite3 did not take the lock: ${err || out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid,
    async release() {
      if (child.exitCode !== null) return;
      child.stdin.end('ROLLBACK;\n.quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/* Mounts a tmpfs of sizeKiB on a new directory under the system temp dir
 * and resolves to { dir, umount() }. Rejects when mounting is not possible
 * (not root, no mount permission). */
export async function mountTmpfs(sizeKiB) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir], { timeout: 10000 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let mounted = true;
  return {
    dir,
    async umount() {
      if (!mounted) return;
      try {
        await run('umount', [dir], { timeout: 10000 });
      } catch {
        await run('umount', ['-l', dir], { timeout: 10000 }).catch(() => {});
      }
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
