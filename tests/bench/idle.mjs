// idle.mjs -- CPU use of an idle stack: nginx, chat-fcgi and N chat-ws, no
// clients, over a window. The tailers wait on inotify, so this is the cost of
// heartbeats and the 2 s fallback check only.
//   BIN_DIR=build node tests/bench/idle.mjs [seconds] [wsProcs]
import { readFileSync, readdirSync } from 'node:fs';
import { startStack } from '../integration/lib/stack.mjs';

const seconds = Number(process.argv[2] || 30);
const wsProcs = Number(process.argv[3] || 2);
const TICK = 100; // USER_HZ on Linux

/* utime + stime in ticks of every process whose command line names the run dir */
function cpuTicks(runDir) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(runDir)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return total;
}

const stack = await startStack({ wsProcs });
try {
  await new Promise((r) => setTimeout(r, 3000)); // let start-up settle
  const t0 = cpuTicks(stack.runDir);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = (cpuTicks(stack.runDir) - t0) / TICK;
  console.log(`idle stack (nginx + chat-fcgi + ${wsProcs} chat-ws) over ${seconds} s: ` +
    `${used.toFixed(2)} CPU-seconds = ${((100 * used) / seconds).toFixed(3)}% of one core`);
} finally {
  await stack.stop();
}
