// stacks.mjs -- the two deployments the fault checker runs against, as the
// runners start them, behind nginx, with the runner restarting whatever dies:
//   sqliteStack(wsArgs): deploy/run.sh, 3 chat-ws processes, one chat-fcgi,
//                        one SQLite file;
//   pgStack(wsArgs):     deploy/multinode/run-local.sh, 3 chat-ws nodes and
//                        2 chat-fcgi servers on a fresh database of the test
//                        run's PostgreSQL (tests/lib/pg.sh's), which the
//                        nemesis may restart.
// Each resolves to { label, url, targets (for nemesis.mjs), stop(), logs() }.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pgRestart, pgRestartable, startCluster } from '../../integration/lib/cluster.mjs';
import { startStack } from '../../integration/lib/stack.mjs';

export async function sqliteStack(wsArgs) {
  const dbDir = mkdtempSync(path.join(os.tmpdir(), 'chat-faults-'));
  const stack = await startStack({ wsProcs: 3, wsArgs, dbPath: path.join(dbDir, 'chat.db'), timeout: 30000 });
  const dir = stack.runDir;
  return {
    label: 'SQLite, 3 chat-ws',
    url: stack.url,
    runDir: dir,
    targets: {
      ws: stack.wsPorts.map((port, i) => ({ name: `ws-${i}`, pidFile: path.join(dir, `ws-${i}.pid`), port })),
      fcgi: [{ name: 'fcgi', pidFile: path.join(dir, 'fcgi.pid') }],
      pgRestart: null,
    },
    logs: () => stack.logs(),
    async stop() {
      try {
        await stack.stop();
      } finally {
        rmSync(dbDir, { recursive: true, force: true });
      }
    },
  };
}

/* Why the PostgreSQL run cannot happen here, or null. */
export function pgMissing() {
  if (!process.env.CHAT_TEST_DB_URL) return 'no PostgreSQL server (CHAT_TEST_DB_URL; tests/run.sh faults starts one)';
  if (!pgRestartable()) return 'the PostgreSQL server is not this run\'s own (PG_TEST_DIR): it cannot be restarted';
  return null;
}

export async function pgStack(wsArgs) {
  const c = await startCluster({ nodes: 3, fcgi: 2, wsArgs, restart: true, timeout: 60000 });
  return {
    label: 'PostgreSQL, 3 nodes',
    url: c.url,
    runDir: c.runDir,
    targets: {
      ws: c.nodes.map((n) => ({ name: `node-${n.id}`, pidFile: path.join(n.dir, 'pid'), port: n.port })),
      fcgi: [0, 1].map((i) => {
        const dir = path.join(c.runDir, `fcgi-${i}`);
        return { name: `fcgi-${i}`, pidFile: path.join(dir, 'pid'), port: Number(readFileSync(path.join(dir, 'port'), 'utf8')) };
      }),
      pgRestart,
    },
    logs: () => c.logs(),
    stop: () => c.stop(),
  };
}
