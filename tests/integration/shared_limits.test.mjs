// shared_limits.test.mjs -- issue 21.12: --workspace-rate and
// --max-per-address were counted in each chat-ws, so two processes doubled
// them. Both are counted in the store now. Two chat-ws processes behind nginx
// as deploy/run.sh runs them; the client comes from 127.0.0.2 (a second
// loopback source address), and nginx (least_conn) spreads its sessions over
// both processes.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { closeAll, closeLive, connect } from './lib/client.mjs';
import { startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const OTHER = '127.0.0.2';

/* An Engine.IO polling handshake through nginx from localAddress; resolves
 * to the HTTP status. */
function handshake(url, localAddress) {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/socket.io/?EIO=4&transport=polling`, { localAddress, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

describe('--max-per-address across two chat-ws processes (issue 21.12)', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2, wsArgs: ['--max-per-address', 3] });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('one address holds --max-per-address sessions in all, whichever process serves it', T, async () => {
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push(await handshake(stack.url, OTHER));
    assert.equal(statuses.filter((s) => s === 200).length, 3, JSON.stringify(statuses));
    for (const s of statuses.filter((x) => x !== 200)) assert.ok(s >= 400 && s < 500, JSON.stringify(statuses));
    // both processes refused some: each saw the other's sessions
    for (const ws of ['ws-0', 'ws-1']) assert.match(stack.logs(ws), /max_per_address/, `${ws} refused one`);
    // another address is not affected
    assert.equal(await handshake(stack.url, '127.0.0.1'), 200);
  });
});

describe('--workspace-rate across two chat-ws processes (issue 21.12)', () => {
  let stack;
  before(async () => {
    stack = await startStack({ wsProcs: 2, env: { OPEN_WORKSPACES: '1' }, wsArgs: ['--workspace-rate', 2] });
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  test('one address creates --workspace-rate workspaces in all, whichever process serves it', T, async () => {
    const tag = process.pid % 10000;
    const outcomes = [];
    const sockets = [];
    // kept open, so nginx (least_conn) spreads the next ones over both processes
    for (let i = 0; i < 6; i++) {
      const s = await connect(stack.url, { ns: `/rate-${tag}-${i}`, connect: false, localAddress: OTHER });
      sockets.push(s);
      outcomes.push(
        await new Promise((resolve) => {
          s.once('connect', () => resolve('connected'));
          s.once('connect_error', (e) => resolve(e.message));
        }),
      );
    }
    assert.equal(outcomes.filter((o) => o === 'connected').length, 2, JSON.stringify(outcomes));
    for (const o of outcomes.filter((x) => x !== 'connected')) assert.match(o, /too many workspaces/);
    // both processes took part
    for (const ws of ['ws-0', 'ws-1']) assert.match(stack.logs(ws), /workspace creat/, `${ws} served a creation`);
    await closeAll(...sockets);
  });
});
