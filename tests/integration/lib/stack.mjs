// stack.mjs -- starts the real stack (deploy/run.sh: nginx, chat-fcgi, chat-ws)
// for a test, in a fresh temporary directory, and stops it.
//
//   import { startStack, killWs } from './lib/stack.mjs';
//   const stack = await startStack({ wsProcs: 2 });
//   ... fetch(`${stack.url}/api/health`), io(stack.url, ...) ...
//   await stack.stop();   // throws if a sanitizer reported anything
//
// The binaries come from opts.binDir, else $BIN_DIR, else build/ (relative
// paths are taken from the repository root); tests/run.sh sets build/asan.
//
// With $CHAT_TEST_DB_URL set (a PostgreSQL URL of a database the test may
// connect to for CREATE/DROP DATABASE, e.g. tests/lib/pg.sh's
// $CHAT_TEST_PG_ADMIN_URL), each stack gets a fresh PostgreSQL database of
// its own, dropped by stop(), instead of an SQLite file: stack.pg is true and
// stack.dbPath its URL. Tests that read the SQLite file skip with onPg().
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const SANITIZER_PATTERNS = ['ERROR: AddressSanitizer', 'runtime error:', 'ERROR: LeakSanitizer'];
const live = new Set(); // runners not stopped yet, SIGTERMed if the test process exits

process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGTERM');
    } catch {
      /* already gone */
    }
  }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* The PostgreSQL server of this test run, or null for SQLite. */
export const PG_URL = process.env.CHAT_TEST_DB_URL || null;

/* For a test that needs SQLite's file (it reads or copies chat.db): the skip
 * reason on PostgreSQL, else false. Use as test(name, { skip: onPg('...') }). */
export function onPg(why) {
  return PG_URL ? `PostgreSQL run: ${why}` : false;
}

function psql(url, sql) {
  const bin = process.env.PG_TEST_BIN ? path.join(process.env.PG_TEST_BIN, 'psql') : 'psql';
  execFileSync(bin, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

let pgDatabases = 0;

/* Creates a fresh database on the PostgreSQL server of PG_URL; resolves to
 * { name, url }. The name is ours (letters, digits, _), never input. */
export function pgCreate() {
  const name = `chat_t${process.pid}_${++pgDatabases}_${Math.floor(Math.random() * 1e6)}`;
  psql(PG_URL, `CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export function pgDrop(name) {
  try {
    psql(PG_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch {
    /* the server is gone: its folder goes with it */
  }
}

/* Resolves true when nothing holds 127.0.0.1:port. */
function portFree(port) {
  return new Promise((done) => {
    const s = net.createServer();
    s.once('error', () => done(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => done(true)));
  });
}

/* Resolves true when something accepts connections on 127.0.0.1:port. */
export function portOpen(port, timeoutMs = 1000) {
  return new Promise((done) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const end = (ok) => {
      s.destroy();
      done(ok);
    };
    s.setTimeout(timeoutMs, () => end(false));
    s.once('connect', () => end(true));
    s.once('error', () => end(false));
  });
}

/* A free port for nginx with `count` free ports after it (the runner gives the
 * ws processes the first free ports after PORT). Chosen below the kernel's
 * ephemeral range (32768+), so that no outgoing connection takes a ws port
 * while its process restarts. */
async function pickPort(count) {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let p = port; ok && p <= port + count; p++) ok = await portFree(p);
    if (ok) return port;
  }
  throw new Error('no free port found');
}

function readText(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readPid(file) {
  const n = parseInt(readText(file), 10);
  return Number.isInteger(n) && n > 0 ? n : null;
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/* Every log file of the run directory, runner first. */
function logFiles(runDir) {
  let names = [];
  try {
    names = readdirSync(runDir).filter((n) => n.endsWith('.log'));
  } catch {
    return [];
  }
  const rank = (n) => (n === 'runner.log' ? 0 : n === 'fcgi.log' ? 1 : n.startsWith('ws-') ? 2 : 3);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
  return names.map((n) => path.join(runDir, n));
}

/* The first sanitizer report of the run directory's logs with some lines
 * around it, or null when there is none. */
export function sanitizerReport(runDir) {
  for (const file of logFiles(runDir)) {
    const lines = readText(file).split('\n');
    const at = lines.findIndex((l) => SANITIZER_PATTERNS.some((p) => l.includes(p)));
    if (at >= 0) {
      const excerpt = lines.slice(Math.max(0, at - 5), at + 60).join('\n');
      return `${path.basename(file)}:\n${excerpt}`;
    }
  }
  return null;
}

/**
 * Starts deploy/run.sh with its own RUN_DIR and database in a new temporary
 * directory and waits (up to opts.timeout ms, 20000) until /api/health answers
 * 200. Options:
 *   binDir       directory of chat-fcgi and chat-ws (default $BIN_DIR or build)
 *   wsProcs      number of chat-ws processes (default 1)
 *   wsArgs       extra chat-ws arguments, an array or a string
 *   fcgiWorkers  chat-fcgi --workers (default 2)
 *   port         nginx port (default: a free one)
 *   dbPath       the database file (default: chat.db in the run directory),
 *                e.g. one a test restored from a backup
 *   env          more environment for the runner and the programs
 *   keep         keep the temporary directory after stop() (also: KEEP_STACK=1)
 * Resolves to { url, port, dbPath, runDir, binDir, secretFile, wsPorts,
 * stop(), logs(), logs(name) }: url has no trailing slash; logs() is the text
 * of every log (runner.log, fcgi.log, ws-<i>.log, nginx's), logs('ws-0') one.
 * stop() is idempotent and throws when a sanitizer reported in any log.
 */
export async function startStack(opts = {}) {
  const wsProcs = opts.wsProcs ?? 1;
  const binDir = path.resolve(ROOT, opts.binDir || process.env.BIN_DIR || 'build');
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'chat-stack-'));
  const pgDb = PG_URL && !opts.dbPath ? pgCreate() : null;
  const dbPath = opts.dbPath ?? (pgDb ? pgDb.url : path.join(runDir, 'chat.db'));
  const port = opts.port ?? (await pickPort(wsProcs));
  const url = `http://127.0.0.1:${port}`;
  const wsArgs = Array.isArray(opts.wsArgs) ? opts.wsArgs.join(' ') : opts.wsArgs || '';
  const timeout = opts.timeout ?? 20000;

  const env = {
    ...process.env,
    // No write budgets (issue 14.7) unless a test sets them: several tests
    // send thousands of messages from one address on purpose.
    CHAT_WRITE_BUDGET: '0/0/0/0',
    // Likewise no room creation rates (issue 21.6) unless a test sets them:
    // several tests create hundreds of rooms from one address.
    CHAT_ROOM_RATE_ADDRESS: '0',
    CHAT_ROOM_RATE_USER: '0',
    // And no name-claim rate (issue 21.5): tests connect hundreds of named
    // clients from 127.0.0.1; accounts.test.mjs sets one to test it.
    CHAT_CLAIM_RATE: '0/0',
    ...opts.env,
    PORT: String(port),
    RUN_DIR: runDir,
    DB: dbPath,
    BIN_DIR: binDir,
    WS_PROCS: String(wsProcs),
    WS_ARGS: wsArgs,
    FCGI_WORKERS: String(opts.fcgiWorkers ?? 2),
    CHAT_SECRET_FILE: path.join(runDir, 'secret'),
    TAIL_LOGS: '0',
    READY_TIMEOUT: String(Math.ceil(timeout / 1000)),
    WATCH_PID: String(process.pid),
  };
  const child = spawn('bash', [path.join(ROOT, 'deploy/run.sh')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exitCode = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? signal;
      live.delete(child);
      resolve(exitCode);
    }),
  );

  const logs = (name) => {
    if (name) return readText(path.join(runDir, name.endsWith('.log') ? name : `${name}.log`));
    return logFiles(runDir)
      .map((f) => `=== ${path.basename(f)}\n${readText(f)}`)
      .join('\n');
  };

  let stopped = null;
  const stop = () => (stopped ??= doStop());
  async function doStop() {
    if (exitCode === null) {
      child.kill('SIGTERM');
      let timer;
      // The runner's stop_all takes up to 4 s; a trap waits for the command in
      // the foreground (a health probe, the admin token) before it runs: 10 s.
      const late = new Promise((r) => (timer = setTimeout(() => r('timeout'), 10000)));
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // Whatever is left (the runner was killed, or failed to stop something):
    // each program runs in its own process group.
    const left = [];
    for (const f of ['fcgi.pid', 'nginx.pid', ...readdirSync(runDir).filter((n) => /^ws-\d+\.pid$/.test(n))]) {
      const pid = readPid(path.join(runDir, f));
      // Only a process of this stack: its command line names the run directory.
      if (alive(pid) && readText(`/proc/${pid}/cmdline`).includes(runDir)) {
        left.push(`${f.replace('.pid', '')} (pid ${pid})`);
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone meanwhile */
          }
        }
      }
    }
    if (pgDb) pgDrop(pgDb.name);
    const report = sanitizerReport(runDir);
    const keep = opts.keep || process.env.KEEP_STACK === '1' || report || left.length;
    if (!keep) rmSync(runDir, { recursive: true, force: true });
    if (report) throw new Error(`sanitizer report (run dir kept: ${runDir})\n${report}`);
    if (left.length) throw new Error(`stop() left ${left.join(', ')} running (run dir kept: ${runDir})\n${output}`);
  }

  const stack = {
    url,
    port,
    dbPath,
    pg: Boolean(pgDb),
    runDir,
    binDir,
    secretFile: env.CHAT_SECRET_FILE,
    wsPorts: [],
    stop,
    logs,
  };

  // Wait for a 200 from /api/health through nginx.
  const deadline = Date.now() + timeout;
  let last = 'no answer';
  for (;;) {
    if (exitCode !== null) {
      await stop().catch(() => {});
      throw new Error(`deploy/run.sh exited (${exitCode}) before the stack was ready\n${output}\n${logs()}`);
    }
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.status === 200) break;
      last = `${res.status} ${body.slice(0, 300)}`;
    } catch (e) {
      last = String(e.cause?.code ?? e.message);
    }
    if (Date.now() > deadline) {
      await stop().catch(() => {});
      throw new Error(`stack not ready after ${timeout} ms (last /api/health: ${last})\n${output}\n${logs()}`);
    }
    await sleep(100);
  }
  // The runner reports ready once every ws process listens; health may come first.
  while (exitCode === null && !/ready at /.test(output) && Date.now() < deadline) await sleep(50);
  stack.wsPorts = wsPorts(stack);
  return stack;
}

/* Pids of the chat-ws processes, index i for ws-<i> (null if it has none). */
export function wsPids(stack) {
  const n = readdirSync(stack.runDir).filter((f) => /^ws-\d+\.port$/.test(f)).length;
  return Array.from({ length: n }, (_, i) => readPid(path.join(stack.runDir, `ws-${i}.pid`)));
}

/* Ports of the chat-ws processes, index i for ws-<i>: connect there to reach
 * one process directly, without nginx. */
export function wsPorts(stack) {
  const n = readdirSync(stack.runDir).filter((f) => /^ws-\d+\.port$/.test(f)).length;
  return Array.from({ length: n }, (_, i) => parseInt(readText(path.join(stack.runDir, `ws-${i}.port`)), 10));
}

/* The pid of chat-fcgi's master process. */
export function fcgiPid(stack) {
  return readPid(path.join(stack.runDir, 'fcgi.pid'));
}

/**
 * Sends signal (default SIGKILL) to chat-ws process n (0-based). Unless
 * opts.wait is false, then waits (up to opts.timeout ms, 15000) until the
 * runner has restarted it: a new pid, alive, and its port accepting
 * connections. Resolves to { oldPid, pid } (pid null when not waiting).
 */
export async function killWs(stack, n, signal = 'SIGKILL', opts = {}) {
  const pidFile = path.join(stack.runDir, `ws-${n}.pid`);
  const oldPid = readPid(pidFile);
  if (!alive(oldPid)) throw new Error(`ws-${n} is not running (pid ${oldPid})`);
  process.kill(oldPid, signal);
  if (opts.wait === false) return { oldPid, pid: null };
  const port = parseInt(readText(path.join(stack.runDir, `ws-${n}.port`)), 10);
  const deadline = Date.now() + (opts.timeout ?? 15000);
  while (Date.now() < deadline) {
    const pid = readPid(pidFile);
    if (pid && pid !== oldPid && alive(pid) && (await portOpen(port))) return { oldPid, pid };
    await sleep(50);
  }
  throw new Error(`ws-${n} was not restarted after ${signal}\n${stack.logs('runner')}`);
}

/* True when the file exists in the binaries directory (to skip a test whose
 * program is not built yet). */
export function hasBinary(binDir, name) {
  return existsSync(path.join(binDir, name));
}

/* The admin token the runner wrote to RUN_DIR/admin.token (0600; it is never
 * printed nor logged), waiting for the file up to ms. */
export async function adminToken(stack, ms = 10000) {
  const file = path.join(stack.runDir, 'admin.token');
  const deadline = Date.now() + ms;
  for (;;) {
    const token = readText(file).trim();
    if (token) return token;
    if (Date.now() > deadline) throw new Error(`no ${file} after ${ms} ms`);
    await sleep(50);
  }
}
