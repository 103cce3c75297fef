// crossproc.mjs -- cross-process delivery latency through the database bus.
// Starts the stack with two chat-ws processes, puts a socket on each, and
// measures commit -> `chat message` on the other process, for messages sent
// on ws-0 and for REST POSTs (chat-fcgi). Prints median / p99 / max in ms.
//   BIN_DIR=build node tests/bench/crossproc.mjs [count]
import { io } from 'socket.io-client';
import { startStack } from '../integration/lib/stack.mjs';

const N = Number(process.argv[2] || 200);
const stack = await startStack({ wsProcs: 2, wsArgs: '--rate 0' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const connect = async (port, name) => {
  const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], auth: { name } });
  await new Promise((r) => s.once('connect', r));
  await s.emitWithAck('join', 'general');
  return s;
};
try {
  const a = await connect(stack.wsPorts[0], 'a');
  const b = await connect(stack.wsPorts[1], 'b');
  const sentAt = new Map();
  const lat = { ws: [], rest: [] };
  b.on('chat message', (m) => {
    const t = sentAt.get(m.text);
    if (t) lat[m.text.startsWith('ws') ? 'ws' : 'rest'].push(performance.now() - t);
  });
  for (let i = 0; i < N; i++) {
    const text = `ws-${i}`;
    sentAt.set(text, performance.now());
    await a.emitWithAck('chat message', { room: 'general', text });
    await sleep(5);
  }
  // Names are owned: the REST sender claims "bot" once and presents its token.
  const { token } = await (await fetch(`${stack.url}/api/users`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bot' }),
  })).json();
  for (let i = 0; i < N; i++) {
    const text = `rest-${i}`;
    sentAt.set(text, performance.now());
    await fetch(`${stack.url}/api/rooms/1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ user: 'bot', text }),
    });
    await sleep(5);
  }
  await sleep(3000);
  for (const k of ['ws', 'rest']) {
    const xs = lat[k].sort((x, y) => x - y);
    console.log(`${k === 'ws' ? 'ws-0 -> ws-1 ' : 'REST -> ws-1 '} n=${xs.length}/${N}  median ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  max ${xs[xs.length - 1].toFixed(2)} ms  (send start to receive, ack round trip included)`);
  }
  a.close();
  b.close();
} finally {
  await stack.stop();
}
