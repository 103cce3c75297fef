// deployment.test.mjs -- issue 21: the deployment is the attack surface. Each
// test goes through nginx as deploy/run.sh ships it (the same site template
// as production), or reads what the stack runs, and fails without its fix:
//   21.1  h2c: nginx passes only Upgrade: websocket, chat-ws refuses h2c
//   21.2  a bad WebSocket handshake gets a 4xx, and no answer ejects a process
//   21.3  chat-ws listens on exactly the address it is given
//   21.9  slow POST bodies: a deadline, and a cap per client address
//   21.16 the Origin check includes the scheme
//   21.17 IPv6 clients are counted by their /64
// A second client address is 127.0.0.2 (a client bound to it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rawHttp } from './lib/rawws.mjs';
import { startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const HANDSHAKE = '/socket.io/?EIO=4&transport=polling';
const get = (port, target, headers = '', opts = {}) =>
  rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}Connection: close\r\n\r\n`, opts);

let stack;

before(async () => {
  stack = await startStack({ wsProcs: 2 });
});

after(async () => {
  await stack?.stop();
});

describe('21.1 h2c smuggling', () => {
  const h2c = 'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';

  test('through nginx an Upgrade: h2c request is a plain polling handshake, never a 101', T, async () => {
    const res = await rawHttp(
      stack.port,
      `GET ${HANDSHAKE} HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\n${h2c}\r\n`,
      { localAddress: '127.0.0.2' },
    );
    assert.notEqual(res.status, 101, res.raw);
    assert.equal(res.status, 200, res.raw);
    assert.doesNotMatch(res.raw, /upgrade: h2c/i);
    assert.match(res.body, /^0\{"sid"/);
  });

  test('chat-ws itself answers h2c with 400, on the Engine.IO path and on /metrics', T, async () => {
    for (const target of [HANDSHAKE, '/metrics']) {
      const res = await get(stack.wsPorts[0], target, h2c);
      assert.equal(res.status, 400, `${target}: ${res.raw}`);
      assert.deepEqual(JSON.parse(res.body), { code: 3, message: 'Bad request' });
    }
  });
});

describe('21.2 no client can eject a chat-ws from rotation', () => {
  const noKey = 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  const wsTarget = '/socket.io/?EIO=4&transport=websocket';

  test('chat-ws answers a WebSocket upgrade without Sec-WebSocket-Key with 400', T, async () => {
    const res = await get(stack.wsPorts[0], wsTarget, noKey);
    assert.equal(res.status, 400, res.raw);
    assert.deepEqual(JSON.parse(res.body), { code: 3, message: 'Bad request' });
    const v12 = await get(stack.wsPorts[0], wsTarget, `${noKey}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n`);
    assert.equal(v12.status, 400, v12.raw);
  });

  test('bad handshakes from 127.0.0.2 through nginx: 4xx each, and 127.0.0.1 never gets a 502', T, async () => {
    const statuses = { bad: [], good: [] };
    for (let i = 0; i < 12; i++) {
      const bad = await get(stack.port, wsTarget, noKey, { localAddress: '127.0.0.2' });
      statuses.bad.push(bad.status);
      const good = await get(stack.port, HANDSHAKE);
      statuses.good.push(good.status);
    }
    assert.ok(statuses.bad.every((s) => s >= 400 && s < 500), `bad handshakes: ${statuses.bad}`);
    assert.deepEqual(statuses.good, statuses.good.map(() => 200), `other clients' handshakes: ${statuses.good}`);
  });

  test('the generated site ejects no upstream on errors (max_fails=0 on every server)', () => {
    const conf = readFileSync(`${stack.runDir}/nginx.conf`, 'utf8');
    const servers = [...conf.matchAll(/^\s*server\s+(?!unix:)[^;{]*;/gm)].map((m) => m[0].trim());
    assert.ok(servers.length >= 2, conf);
    for (const s of servers) if (!/ down;$/.test(s)) assert.match(s, /max_fails=0;$/, s);
  });
});

/* The local addresses of the listening TCP sockets on port, from /proc. */
function listeners(port) {
  const found = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]]) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A: LISTEN
      const [addr, p] = f[1].split(':');
      if (parseInt(p, 16) !== port) continue;
      found.push(v6 ? `[${addr}]` : addr.match(/../g).reverse().map((b) => parseInt(b, 16)).join('.'));
    }
  }
  return found;
}

describe('21.3 chat-ws binds exactly what it is given', () => {
  test('--listen 127.0.0.1:PORT listens on 127.0.0.1 only (no IPv6 wildcard)', T, () => {
    for (const port of stack.wsPorts) assert.deepEqual(listeners(port), ['127.0.0.1'], `port ${port}`);
  });
});

describe('21.16 the Origin check includes the scheme', () => {
  test('through nginx (http): Origin https://host is refused, http://host accepted', T, async () => {
    const host = `127.0.0.1:${stack.port}`;
    const https = await get(stack.port, HANDSHAKE, `Origin: https://${host}\r\n`);
    assert.equal(https.status, 403, https.raw);
    const http = await get(stack.port, HANDSHAKE, `Origin: http://${host}\r\n`);
    assert.equal(http.status, 200, http.raw);
  });
});

describe('21.9 and 21.17: per-address bounds', () => {
  let small;
  before(async () => {
    small = await startStack({ wsArgs: ['--max-per-address', '2', '--body-timeout', '1000', '--max-posts-per-address', '2'] });
  });
  after(async () => {
    await small?.stop();
  });

  /* A polling session's sid, opened through nginx from localAddress. */
  async function session(localAddress) {
    const res = await get(small.port, HANDSHAKE, '', { localAddress });
    assert.equal(res.status, 200, res.raw);
    return JSON.parse(res.body.slice(1)).sid;
  }

  /* A POST through nginx whose body trickles a byte every 200 ms. Resolves
   * to { status, closed } once the server answers or closes, or { open }
   * when it still holds it after ms. */
  function slowPost(sid, localAddress, ms) {
    return new Promise((resolve) => {
      const sock = net.connect({ port: small.port, host: '127.0.0.1', localAddress });
      let buf = '';
      let timer;
      const done = (r) => {
        clearInterval(timer);
        clearTimeout(limit);
        sock.destroy();
        resolve(r);
      };
      const limit = setTimeout(() => done({ open: true }), ms);
      sock.on('connect', () => {
        sock.write(`POST ${HANDSHAKE}&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n4`);
        timer = setInterval(() => sock.write('x'), 200);
      });
      sock.on('data', (d) => {
        buf += d;
        const m = /^HTTP\/1\.\d (\d+)/.exec(buf);
        if (m && buf.includes('\r\n\r\n')) done({ status: Number(m[1]) });
      });
      sock.on('error', () => done({ closed: true }));
      sock.on('close', () => done({ closed: true }));
    });
  }

  test('21.9 slow POST bodies through nginx: past the cap 429, each one ends by its deadline, others go on', T, async () => {
    const sid = await session('127.0.0.2');
    const slow = [slowPost(sid, '127.0.0.2', 20000), slowPost(sid, '127.0.0.2', 20000)];
    await sleep(300);
    const third = await slowPost(sid, '127.0.0.2', 20000);
    assert.equal(third.status, 429, `a third body in progress from 127.0.0.2: ${JSON.stringify(third)}`);
    // another client address is not held up by 127.0.0.2's
    const other = await session('127.0.0.1');
    const post = await rawHttp(small.port, `POST ${HANDSHAKE}&sid=${other} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n6`);
    assert.equal(post.status, 200, post.raw);
    // the two trickling bodies are cut off long before they would end (200 s)
    for (const r of await Promise.all(slow)) assert.ok(!r.open, `a slow body still open: ${JSON.stringify(r)}`);
  });

  test('21.17 IPv6 clients of one /64 share one quota; another /64 has its own', T, async () => {
    // chat-ws trusts X-Real-IP from a local proxy, as nginx sets it
    const port = small.wsPorts[0];
    const open = (ip) => get(port, HANDSHAKE, `X-Real-IP: ${ip}\r\n`);
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::7']) assert.equal((await open(ip)).status, 200, ip);
    assert.equal((await open('2001:db8:1:2:aaaa::3')).status, 403, 'a third session of the same /64 (--max-per-address 2)');
    assert.equal((await open('2001:db8:1:3::1')).status, 200, 'another /64');
    // an IPv4-mapped address is the IPv4 client
    for (const ip of ['192.0.2.7', '192.0.2.7']) assert.equal((await open(ip)).status, 200, ip);
    assert.equal((await open('::ffff:192.0.2.7')).status, 403, '::ffff:192.0.2.7 counts as 192.0.2.7');
  });
});
