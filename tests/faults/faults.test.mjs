// faults.test.mjs -- the fault checker of docs/testing.md
// (issue 20): clients write and read one room through nginx while chat-ws
// and chat-fcgi processes are killed with SIGKILL, a chat-ws is frozen past
// the ping timeout and (on PostgreSQL) the server restarts; then every
// acknowledged message must be stored once and every client must have
// received every stored message in log order (lib/run.mjs lists the checks).
//
//   node --test tests/faults/                 # SQLite; PostgreSQL too with
//                                             # CHAT_TEST_DB_URL and PG_TEST_DIR
//   bash tests/run.sh faults                  # both, on a private PostgreSQL
//   make soak SOAK_MINUTES=10                 # the same for 10 minutes each
//
// FAULTS_SECONDS (30), FAULTS_KILL_EVERY (3) and the others in lib/run.mjs
// size the run. The report of each backend is printed and written to
// tests/out/faults-<sqlite|pg>.json.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG, faultRun, saveReport, summary, wsArgs } from './lib/run.mjs';
import { pgMissing, pgStack, sqliteStack } from './lib/stacks.mjs';

// The run, the drain and the catch-up, plus starting and stopping.
const T = { timeout: (CONFIG.seconds + CONFIG.drainSeconds + 120) * 1000 };

async function check(t, name, start) {
  const stack = await start(wsArgs());
  let r;
  try {
    r = await faultRun(stack, { log: process.env.FAULTS_VERBOSE ? (l) => t.diagnostic(l) : undefined });
  } catch (e) {
    e.message += `\n(run dir ${stack.runDir})`;
    throw e;
  } finally {
    await stack.stop();
  }
  const file = saveReport(name, r);
  for (const line of summary(r).split('\n')) t.diagnostic(line);
  t.diagnostic(`  report: ${file}`);
  assert.deepEqual(r.failures, [], summary(r));
}

test('faults: SQLite, 3 chat-ws', T, (t) => check(t, 'sqlite', sqliteStack));

test('faults: PostgreSQL, 3 nodes', { ...T, skip: pgMissing() ?? false }, (t) => check(t, 'pg', pgStack));
