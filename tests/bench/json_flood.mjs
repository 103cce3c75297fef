// json_flood.mjs -- issue 21.10: what N Socket.IO packets of ~990 KB that
// parse into hundreds of thousands of JSON nodes (42["x",[{},{},...]]) cost
// one chat-ws, through nginx: its peak RSS (VmHWM) and CPU time before and
// after, and the ack time of a bystander's message sent meanwhile.
//   BIN_DIR=build node tests/bench/json_flood.mjs [packets]
import { readFileSync } from 'node:fs';
import { ack, closeAll, connect, join, rawWs } from '../integration/lib/client.mjs';
import { startStack, wsPids } from '../integration/lib/stack.mjs';

const packets = Number(process.argv[2] || 20);
const TICK = 100; // USER_HZ on Linux

function proc(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, cpu: (Number(f[11]) + Number(f[12])) / TICK };
}

/* 42["x",[{},{},...]] of about 990 KB */
const objects = Math.floor((990000 - 12) / 3); // under --max-payload (1000000 bytes)
const payload = `42["x",[${Array(objects).fill('{}').join(',')}]]`;

const stack = await startStack({ wsProcs: 1 });
try {
  const [pid] = wsPids(stack);
  const a = await connect(stack.url, { name: 'bystander-a' });
  await ack(a, 'create room', { name: 'bench' });
  await join(a, 'bench');
  const before = proc(pid);
  const acks = [];
  const sent = [];
  for (let i = 0; i < packets; i++) {
    const ws = await rawWs(stack.url, { pong: true });
    await ws.next((f) => f.startsWith('0{')); // Engine.IO open
    ws.send('40');
    await ws.next((f) => f.startsWith('40'));
    sent.push(ws);
    ws.send(payload);
    const t0 = performance.now();
    await ack(a, 'chat message', { room: 'bench', text: `m${i}` });
    acks.push(performance.now() - t0);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = proc(pid);
  acks.sort((x, y) => x - y);
  console.log(`${packets} packets of ${(payload.length / 1024).toFixed(0)} KB (${objects} objects each) to one chat-ws:`);
  console.log(`  RSS ${before.rss.toFixed(1)} -> ${after.rss.toFixed(1)} MB, peak (VmHWM) ${before.hwm.toFixed(1)} -> ${after.hwm.toFixed(1)} MB`);
  console.log(`  CPU ${(after.cpu - before.cpu).toFixed(2)} s`);
  console.log(`  bystander ack: median ${acks[acks.length >> 1].toFixed(1)} ms, max ${acks[acks.length - 1].toFixed(1)} ms`);
  for (const ws of sent) ws.close?.();
  await closeAll(a);
} finally {
  await stack.stop();
}
