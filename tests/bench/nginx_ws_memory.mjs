// nginx_ws_memory.mjs -- what one proxied WebSocket costs nginx (issue 22.2):
// starts the stack as deploy/run.sh runs it (nginx with the production site
// template), opens N Engine.IO WebSockets through nginx, and prints the
// growth of nginx's worker (VmRSS, and its private dirty memory) per socket.
//
//   node tests/bench/nginx_ws_memory.mjs [N]      (default 3000)
//
// Clients come from 127.0.0.1 .. 127.0.0.50 so that per-address limits do
// not interfere; the figures are printed, nothing is asserted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import crypto from 'node:crypto';
import path from 'node:path';
import { startStack } from '../integration/lib/stack.mjs';

const N = Number(process.argv[2] || 3000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* VmRSS and the private dirty memory (smaps_rollup) of pid, in KiB. */
function memKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (text, name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  return { rss: field(status, 'VmRSS'), dirty: field(rollup, 'Private_Dirty') };
}

/* One WebSocket through nginx; resolves with the socket once the Engine.IO
 * open packet came. */
function open(port, i) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (i % 50)}` });
    let buf = '';
    sock.setTimeout(20000, () => reject(new Error('timeout')));
    sock.on('error', reject);
    sock.on('connect', () =>
      sock.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.startsWith('HTTP/1.1 101')) {
        if (buf.includes('\r\n\r\n')) reject(new Error(buf.split('\r\n')[0]));
        return;
      }
      if (buf.includes('0{"sid"')) {
        sock.setTimeout(0);
        sock.removeAllListeners('data');
        sock.on('data', () => {});
        resolve(sock);
      }
    });
  });
}

const stack = await startStack({
  wsProcs: 2,
  wsArgs: ['--max-per-address', '100000', '--ping-interval', '300000', '--ping-timeout', '60000'],
  env: { SIO_CONN: '60000', SIO_RATE: '10000', SIO_BURST: '10000' },
});
const sockets = [];
try {
  const master = Number(readFileSync(path.join(stack.runDir, 'nginx.pid'), 'utf8'));
  const worker = Number(execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).trim().split('\n')[0]);
  // warm up (pools, the upstream keepalive cache), then the baseline
  for (let i = 0; i < 50; i++) sockets.push(await open(stack.port, i));
  await sleep(500);
  const before = memKiB(worker);
  for (let i = 50; i < N; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(N, i + 100); k++) batch.push(open(stack.port, k));
    sockets.push(...(await Promise.all(batch)));
  }
  await sleep(1000);
  const afterMem = memKiB(worker);
  const n = sockets.length - 50;
  const conf = readFileSync(path.join(stack.runDir, 'nginx.conf'), 'utf8');
  const buffers = [...conf.matchAll(/^\s*((?:proxy_buffer_size|client_header_buffer_size|large_client_header_buffers|proxy_buffers|client_body_buffer_size)\s[^;]*);/gm)].map((m) => m[1]);
  console.log(`nginx worker, ${n} proxied WebSockets (${buffers.join('; ') || 'nginx defaults'}):`);
  console.log(`  VmRSS         ${before.rss} -> ${afterMem.rss} KiB: ${(((afterMem.rss - before.rss) * 1024) / n).toFixed(0)} bytes per socket`);
  console.log(`  Private_Dirty ${before.dirty} -> ${afterMem.dirty} KiB: ${(((afterMem.dirty - before.dirty) * 1024) / n).toFixed(0)} bytes per socket`);
} finally {
  for (const s of sockets) s.destroy();
  await stack.stop();
}
