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
import { ack, api, closeAll, connect, join } from './client.mjs';

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
