// bystanders.mjs -- "the server keeps serving everyone else": two
// well-behaved socket.io-client sockets, connected before the abuse and kept
// through it, that prove after each abuse they are still connected and still
// send and receive in a room of their own.
//
//   const by = await bystanders(stack.url);
//   ... abuse ...
//   await by.check('after an unmasked frame');
//   await by.close();
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { ack, api, closeAll, closeLive, connect, join } from './client.mjs';
import { startStack } from './stack.mjs';

let seq = 0;
export const uniq = (p) => `${p}-${process.pid % 10000}-${++seq}`;

/* A new room in namespace ns via REST; resolves to the room (its JSON). */
export async function newRoom(url, ns = '/', name = uniq('room')) {
  const res = await api(url, '/api/rooms', { method: 'POST', json: ns === '/' ? { name } : { name, namespace: ns } });
  assert.equal(res.status, 201, `POST /api/rooms: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Two named sockets (a sends, b receives) in a new room of namespace '/'.
 * opts are passed to connect() (e.g. reconnection settings). check(label)
 * asserts both are connected and that a message from a reaches b.
 */
export async function bystanders(url, opts = {}) {
  const room = (await newRoom(url)).name;
  const a = await connect(url, { name: uniq('by-a'), ...opts });
  const b = await connect(url, { name: uniq('by-b'), ...opts });
  await join(a, room);
  await join(b, room);
  let n = 0;
  return {
    a,
    b,
    room,
    async check(label = '') {
      assert.ok(a.connected && b.connected, `a bystander was disconnected ${label}`);
      const text = `still serving ${++n} ${label}`.slice(0, 200);
      const res = await ack(a, 'chat message', { room, text });
      assert.equal(typeof res?.id, 'number', `bystander's message ${label}: ack ${JSON.stringify(res)}`);
      const [m] = await b.rec.next('chat message', (m) => m.id === res.id, 5000);
      assert.equal(m.text, text);
    },
    close: () => closeAll(a, b),
  };
}

/**
 * The fixture of a suite that abuses a server, registered inside describe():
 * before its tests, a stack started with opts and two bystanders, handed to
 * set({ stack, port, by }) (port: the first chat-ws's, for raw sessions);
 * after them, the bystanders, the raw sessions left open and the stack closed.
 * A suite's own before() hooks run after this one's.
 */
export function abuseFixture(opts, set) {
  const f = {};
  before(async () => {
    f.stack = await startStack(opts);
    f.port = f.stack.wsPorts[0];
    f.by = await bystanders(f.stack.url);
    set(f);
  });
  after(async () => {
    await f.by?.close();
    await closeLive();
    await f.stack?.stop();
  });
}
