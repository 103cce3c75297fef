// smoke.test.mjs -- the stack starts as `make run` starts it, nginx routes each
// path to the right place, errors nginx makes are JSON, a killed ws process
// comes back, and stop() leaves nothing behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { ROOT, fcgiPid, hasBinary, killWs, portOpen, startStack, wsPids } from './lib/stack.mjs';

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/* Connects a socket.io client through nginx with the given transports and
 * resolves to the connected socket's transport name once connected. */
function connect(url, transports) {
  return new Promise((resolve, reject) => {
    // A guest: several of these connect at once, and a name is owned.
    const socket = io(url, { transports, reconnection: false, timeout: 5000 });
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no connect with ${transports}`));
    }, 8000);
    socket.once('connect_error', (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
    socket.once('connect', () => {
      const done = () => {
        clearTimeout(timer);
        const name = socket.io.engine.transport.name;
        socket.close();
        resolve(name);
      };
      // With polling first, wait for the upgrade to WebSocket through nginx.
      if (transports.length > 1 && socket.io.engine.transport.name !== 'websocket')
        socket.io.engine.once('upgrade', done);
      else done();
    });
  });
}

describe('stack', () => {
  let stack;
  const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
  const haveWs = hasBinary(binDir, 'chat-ws');

  before(async () => {
    stack = await startStack({ wsProcs: 2 });
  });
  after(async () => {
    await stack?.stop();
  });

  test('GET / is the HTML page', async () => {
    const res = await fetch(`${stack.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(await res.text(), /<html|<!doctype/i);
  });

  test('GET /api/health is JSON', async () => {
    const res = await fetch(`${stack.url}/api/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(typeof (await res.json()), 'object');
  });

  test('/static/ serves www/ (the vendored socket.io client)', async (t) => {
    const file = path.join(ROOT, 'www/vendor/socket.io.min.js');
    if (!existsSync(file)) return t.skip('www/vendor/socket.io.min.js missing: run deploy/install-deps.sh');
    const res = await fetch(`${stack.url}/static/vendor/socket.io.min.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /javascript/);
    assert.ok(res.headers.get('etag'), 'an ETag for revalidation');
    const body = await res.text();
    assert.ok(body.includes('socket.io') || body.includes('engine.io'), 'looks like the client');
  });

  test('/static/ does not escape www/', async () => {
    const res = await fetch(`${stack.url}/static/../Makefile`);
    assert.notEqual(res.status, 200);
    const res2 = await fetch(`${stack.url}/static/..%2fMakefile`);
    assert.notEqual(res2.status, 200);
  });

  test('a 100 KB body gets a JSON 413', async () => {
    const res = await fetch(`${stack.url}/api/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(100 * 1024) }),
    });
    assert.equal(res.status, 413);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { error: 'request body too large' });
  });

  test('socket.io connects through nginx over WebSocket', { skip: !haveWs && 'chat-ws not built' }, async () => {
    assert.equal(await connect(stack.url, ['websocket']), 'websocket');
  });

  test('socket.io polling upgrades to WebSocket through nginx', { skip: !haveWs && 'chat-ws not built' }, async () => {
    assert.equal(await connect(stack.url, ['polling', 'websocket']), 'websocket');
  });

  test('a ws process killed with SIGKILL is restarted', { skip: !haveWs && 'chat-ws not built' }, async () => {
    const before = wsPids(stack);
    assert.equal(before.length, 2);
    const { oldPid, pid } = await killWs(stack, 0, 'SIGKILL');
    assert.equal(oldPid, before[0]);
    assert.notEqual(pid, oldPid);
    assert.equal(wsPids(stack)[1], before[1], 'the other process is untouched');
    assert.match(stack.logs('runner'), /ws-0 \(pid \d+\) was killed by SIGKILL: restarting/);
    assert.equal(await connect(stack.url, ['websocket']), 'websocket');
  });

  test('stop() stops every process', async () => {
    const pids = [fcgiPid(stack), ...wsPids(stack)].filter(Boolean);
    assert.ok(pids.length >= 1);
    const ports = [...stack.wsPorts, stack.port];
    await stack.stop();
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still alive`);
    for (const port of ports) assert.equal(await portOpen(port), false, `port ${port} still open`);
  });
});
