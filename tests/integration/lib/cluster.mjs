// cluster.mjs -- starts deploy/multinode/run-local.sh for a test: N chat-ws
// nodes and M chat-fcgi servers, each in a folder of its own, on a fresh
// database of the test run's PostgreSQL, behind one nginx; and stops it.
//
//   const c = await startCluster({ nodes: 3, fcgi: 2 });
//   ... io(c.url), c.nodes[i] = { id, port, dir }, killNode(c, id) ...
//   await c.stop();   // throws if a sanitizer reported anything
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PG_URL, ROOT, pgCreate, pgDrop, portOpen, sanitizerReport } from './stack.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (f) => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};

/* A free port with count free ports after it (below the ephemeral range). */
async function pickPort(count) {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let p = port; ok && p <= port + count; p++) ok = !(await portOpen(p, 200));
    if (ok) return port;
  }
  throw new Error('no free port found');
}

/**
 * Options: nodes (3), fcgi (2), wsArgs (string), env, restart (true: the
 * runner restarts a process that dies; default: left down). Resolves to
 * { url, runDir, dbUrl, nodes: [{ id, port, dir }], adminToken, stop(), logs() }.
 */
export async function startCluster(opts = {}) {
  if (!PG_URL) throw new Error('startCluster needs CHAT_TEST_DB_URL (a PostgreSQL server)');
  const nodes = opts.nodes ?? 3;
  const fcgi = opts.fcgi ?? 2;
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'chat-cluster-'));
  const db = pgCreate();
  const port = await pickPort(nodes + fcgi);
  const child = spawn('bash', [path.join(ROOT, 'deploy/multinode/run-local.sh')], {
    cwd: ROOT,
    env: {
      ...process.env,
      CHAT_WRITE_BUDGET: '0/0/0/0',
      ...opts.env,
      PORT: String(port),
      NODES: String(nodes),
      FCGI: String(fcgi),
      DB: db.url,
      RUN_DIR: runDir,
      BIN_DIR: path.resolve(ROOT, process.env.BIN_DIR || 'build'),
      WS_ARGS: opts.wsArgs ?? '',
      RESTART: opts.restart ? '1' : '0',
      WATCH_PID: String(process.pid),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exitCode = null;
  const exited = new Promise((r) => child.once('exit', (code, sig) => r((exitCode = code ?? sig))));

  const logs = () =>
    [runDir, ...readdirSync(runDir).map((d) => path.join(runDir, d))]
      .flatMap((d) => {
        try {
          return readdirSync(d)
            .filter((f) => f.endsWith('.log'))
            .map((f) => `=== ${path.relative(runDir, path.join(d, f))}\n${text(path.join(d, f))}`);
        } catch {
          return [];
        }
      })
      .join('\n');

  let stopped = null;
  const stop = () => (stopped ??= doStop());
  async function doStop() {
    if (exitCode === null) {
      child.kill('SIGTERM');
      const late = sleep(10000).then(() => 'late');
      if ((await Promise.race([exited, late])) === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    pgDrop(db.name);
    const dirs = [runDir, ...readdirSync(runDir).map((d) => path.join(runDir, d))];
    const report = dirs.map((d) => sanitizerReport(d)).find(Boolean);
    if (report || process.env.KEEP_STACK === '1') {
      if (report) throw new Error(`sanitizer report (run dir kept: ${runDir})\n${report}`);
    } else {
      rmSync(runDir, { recursive: true, force: true });
    }
  }

  const deadline = Date.now() + (opts.timeout ?? 30000);
  while (!/ready at /.test(output)) {
    if (exitCode !== null || Date.now() > deadline) {
      await stop().catch(() => {});
      throw new Error(`run-local.sh not ready (exit ${exitCode})\n${output}\n${logs()}`);
    }
    await sleep(50);
  }
  const list = text(path.join(runDir, 'nodes'))
    .trim()
    .split('\n')
    .map((l) => {
      const [id, addr] = l.split(' ');
      return { id, port: Number(addr.split(':')[1]), dir: path.join(runDir, `node-${id}`) };
    });
  return {
    url: `http://127.0.0.1:${port}`,
    runDir,
    dbUrl: db.url,
    nodes: list,
    adminToken: text(path.join(runDir, 'admin.token')).trim(),
    stop,
    logs,
  };
}

/* The pid of node id's chat-ws. */
export function nodePid(cluster, id) {
  return Number(text(path.join(cluster.runDir, `node-${id}`, 'pid')));
}

/* kill -9 of node id (the runner leaves it down: RESTART=0). */
export function killNode(cluster, id) {
  const pid = nodePid(cluster, id);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/* Restarts the test run's PostgreSQL server (tests/lib/pg.sh's folder and
 * user, from the environment); false when this run has none of its own. */
export function pgRestartable() {
  return Boolean(process.env.PG_TEST_DIR && process.env.PG_TEST_BIN);
}
export function pgRestart() {
  const dir = process.env.PG_TEST_DIR;
  const ctl = [path.join(process.env.PG_TEST_BIN, 'pg_ctl'), '-D', path.join(dir, 'data'), '-m', 'fast', '-w', '-t', '60', 'restart'];
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? ['runuser', '-u', process.env.PG_TEST_USER || 'nobody', '--', ...ctl] : ctl;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd[0], cmd.slice(1), { cwd: dir, stdio: 'ignore' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart: ${code}`))));
  });
}
