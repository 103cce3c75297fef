// pg_outage.test.mjs -- the stack on PostgreSQL while the server goes away
// and comes back: writes get clear errors (REST 503 with {error}, a socket's
// ack {error}), no process crashes, and once the server is back the same
// processes reconnect and store again; nothing acknowledged is lost. Runs in
// tests/run.sh's integration-pg suite (tests/lib/pg.sh's server, which this
// test stops and starts); skipped on SQLite.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ack, api, closeLive, connect, join, roomMessages } from './lib/client.mjs';
import { ROOT, fcgiPid, startStack, wsPids } from './lib/stack.mjs';

const T = { timeout: 90000 };
const onServer = process.env.CHAT_TEST_DB_URL && process.env.PG_TEST_DIR;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* pg.sh's pg_test_server_stop / pg_test_server_start on the test server. */
function server(what, mode = '') {
  execFileSync('bash', ['-c', `. "${path.join(ROOT, 'tests/lib/pg.sh')}"; pg_test_server_${what} ${mode}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 60000,
  });
}

/* The server's backends of our programs (application_name chat...). */
function chatBackends() {
  const out = execFileSync('bash', ['-c', `. "${path.join(ROOT, 'tests/lib/pg.sh')}"; pg_test_psql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'chat%'"`], {
    encoding: 'utf8',
    timeout: 20000,
  });
  return out.split('\n').filter(Boolean).map(Number);
}

/* Retries fn until it returns a truthy value (up to ms). */
async function eventually(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(200);
  }
}

describe('PostgreSQL outage', { skip: onServer ? false : 'needs the PostgreSQL test server (integration-pg)' }, () => {
  let stack;
  let room;
  before(async () => {
    stack = await startStack({ wsProcs: 1 });
    room = (await api(stack.url, '/api/rooms', { method: 'POST', json: { name: 'outage' } })).body;
    assert.ok(room.id > 0, JSON.stringify(room));
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  for (const mode of ['fast', 'immediate']) {
    test(`a ${mode} stop: errors while it is down, the same processes store again after`, T, async () => {
      const post = (text) => api(stack.url, `/api/rooms/${room.id}/messages`, { method: 'POST', json: { user: 'rest', text } });
      const sock = await connect(stack.url, { name: `sam${mode[0]}` });
      await join(sock, 'outage');
      const pids = [fcgiPid(stack), ...wsPids(stack)];
      const acked = [];
      const before = await post(`before ${mode}`);
      assert.equal(before.status, 201, JSON.stringify(before.body));
      acked.push(before.body.id);
      acked.push((await ack(sock, 'chat message', { room: 'outage', text: `socket before ${mode}` })).id);

      server('stop', mode);
      try {
        const down = await post(`down ${mode}`);
        assert.equal(down.status, 503, JSON.stringify(down.body));
        assert.equal(typeof down.body.error, 'string');
        const a = await ack(sock, 'chat message', { room: 'outage', text: `socket down ${mode}` });
        assert.equal(typeof a.error, 'string', JSON.stringify(a));
      } finally {
        server('start');
      }
      // back: the next calls reconnect (after at most one backoff period)
      const back = await eventually(async () => {
        const r = await post(`after ${mode}`);
        return r.status === 201 ? r : null;
      }, 20000, 'a REST post after the restart');
      acked.push(back.body.id);
      const a = await eventually(async () => {
        const r = await ack(sock, 'chat message', { room: 'outage', text: `socket after ${mode}` });
        return r.id ? r : null;
      }, 20000, 'a socket send after the restart');
      acked.push(a.id);
      assert.deepEqual([fcgiPid(stack), ...wsPids(stack)], pids, 'no process died');
      // each chat-fcgi worker reconnects on its own next call: a read may
      // still meet one that has not (503) right after another one wrote
      const ids = await eventually(async () => {
        try {
          return (await roomMessages(stack.url, room.id)).map((m) => m.id);
        } catch {
          return null;
        }
      }, 20000, 'history after the restart');
      for (const id of acked) assert.ok(ids.includes(id), `acknowledged message ${id} is stored`);
      assert.deepEqual([...ids].sort((x, y) => x - y), ids, 'in id order');
      sock.close();
    });
  }

  // A server that accepts connections and never answers (its postmaster
  // stopped, our backends ended): each reconnect of the store used to block
  // the whole event loop for libpq's connect_timeout (3 s, PQreset); chat-ws
  // logs a turn of its loop over a second as "the event loop was held up".
  test('a hung server: reconnecting never holds chat-ws\'s event loop', T, async () => {
    const sock = await connect(stack.url, { name: 'hung' });
    await join(sock, 'outage');
    const logFrom = stack.logs('ws-0').length;
    const postmaster = Number(readFileSync(path.join(process.env.PG_TEST_DIR, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
    const backends = chatBackends();
    assert.ok(backends.length > 0, 'our programs have backends');
    process.kill(postmaster, 'SIGSTOP');
    try {
      for (const pid of backends) process.kill(pid, 'SIGTERM');
      // store calls while it hangs: each needs a reconnect
      for (let i = 0; i < 4; i++) {
        const a = await ack(sock, 'chat message', { room: 'outage', text: `hung ${i}` });
        assert.equal(typeof a.error, 'string', JSON.stringify(a));
        await sleep(1000);
      }
    } finally {
      process.kill(postmaster, 'SIGCONT');
    }
    const back = await eventually(async () => {
      const r = await ack(sock, 'chat message', { room: 'outage', text: 'after the hang' });
      return r.id ? r : null;
    }, 30000, 'a socket send after the hang');
    assert.ok(back.id > 0);
    assert.doesNotMatch(stack.logs('ws-0').slice(logFrom), /the event loop was held up/);
    sock.close();
  });
});
