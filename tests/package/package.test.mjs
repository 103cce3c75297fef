// package.test.mjs -- the Debian package, installed for real
// (docs/installing.md): build it with dpkg-buildpackage (cached in build/deb/),
// install it on this machine, check what postinst made, `nginx -t` the
// installed site, `systemd-analyze verify` the units, run the installed
// programs as their units do (user chat, the unit's ExecStart) behind the
// installed site in an nginx of the test's own (only its listen address and
// the chat-ws ports substituted), REST and Socket.IO smoke tests through it,
// then purge and check that nothing is left.
//
// Needs root (it installs a package) and debhelper (deploy/install-deps.sh
// --package); skipped otherwise.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { io } from 'socket.io-client';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const T = { timeout: 120000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/dh') ? true : 'needs root and debhelper';

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}
const installed = () => {
  try {
    return sh('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', 'chat']).startsWith('ii');
  } catch {
    return false;
  }
};
const known = (db, key) => {
  try {
    sh('getent', [db, key]);
    return true;
  } catch {
    return false;
  }
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* Whether 127.0.0.1:port accepts a connection. */
function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/* An Engine.IO session over WebSocket at its smallest, from localAddress:
 * the upgrade and a pong for every ping. Resolves with the socket once the
 * open packet came. (No namespace CONNECT: 9,000 guests joining "/" would
 * each be announced to all the others, and the test would measure that
 * instead of the connections; a session may wait 45 s for its CONNECT.) */
function eioWebSocket(port, localAddress) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const send = (text) => {
      const payload = Buffer.from(text);
      const mask = crypto.randomBytes(4);
      const head = Buffer.from([0x81, 0x80 | payload.length]);
      sock.write(Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4])]));
    };
    let buf = Buffer.alloc(0);
    let upgraded = false;
    sock.setTimeout(60000, () => (sock.destroy(), reject(new Error('timeout'))));
    sock.on('error', (e) => reject(e));
    sock.on('close', () => reject(new Error(upgraded ? 'closed' : `closed before 101: ${buf.toString('latin1').split('\r\n')[0]}`)));
    sock.on('connect', () =>
      sock.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        if (!buf.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return sock.destroy();
        upgraded = true;
        buf = buf.subarray(at + 4);
      }
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const text = buf.subarray(off, off + len).toString();
        buf = buf.subarray(off + len);
        if (text.startsWith('0{')) {
          sock.setTimeout(0);
          resolve(sock);
        } else if (text === '2') send('3');
      }
    });
  });
}

/* The socket, owner, group and modes of an installed socket unit. */
function socketUnit(file) {
  const text = readFileSync(file, 'utf8');
  const get = (k) => text.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1];
  return { path: get('ListenStream'), user: get('SocketUser'), group: get('SocketGroup'), mode: get('SocketMode'), dirMode: get('DirectoryMode') ?? '0755' };
}

/* The ExecStart= and Environment= of an installed unit, %i replaced. */
function unitCommand(file, instance = '') {
  const text = readFileSync(file, 'utf8');
  const exec = text.match(/^ExecStart=(.*)$/m)[1].replaceAll('%i', instance).split(/\s+/);
  const env = [...text.matchAll(/^Environment=(.*)$/gm)].map((m) => m[1]);
  const umask = text.match(/^UMask=(.*)$/m)?.[1] ?? '0022';
  const nofile = text.match(/^LimitNOFILE=(\d+)$/m)?.[1] ?? '';
  return { exec, env, umask, nofile, user: text.match(/^User=(.*)$/m)[1] };
}

describe('the Debian package', { skip: canRun === true ? false : canRun }, () => {
  let deb, tmp, url;
  const procs = [];

  /* Starts argv as user (runuser) with the unit's umask and LimitNOFILE=
   * (up to the hard limit here; runuser's PAM session would leave 1024), as
   * systemd would, in its own process group. */
  function start(name, user, env, argv, umask = '0022', nofile = '') {
    const script = 'umask "$0" && { [ -z "$1" ] || ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; } && shift && exec env "$@"';
    return spawnKept(name, 'runuser', ['-u', user, '--', 'sh', '-c', script, umask, nofile, ...env, ...argv]);
  }

  /* Spawns cmd in its own process group, its output kept (tmp/name.log), and
   * stopped by after(). */
  function spawnKept(name, cmd, args) {
    const log = path.join(tmp, `${name}.log`);
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', () => writeFileSync(log, out));
    procs.push({ name, child, out: () => out });
    return child;
  }

  /* Starts a socket-activated unit's program as systemd would: the socket
   * made (owner, group, mode) and passed as fd 3 with LISTEN_FDS=1 and
   * LISTEN_PID, then the unit's user, umask and environment. */
  function startActivated(name, sock, unit) {
    const py = `
import grp, os, pwd, socket, sys
path, user, group, mode, dmode, umask, run_as = sys.argv[1:8]
os.makedirs(os.path.dirname(path), int(dmode, 8), exist_ok=True)
os.chmod(os.path.dirname(path), int(dmode, 8))
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
os.chmod(path, int(mode, 8))
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
pw = pwd.getpwnam(run_as)
os.setgroups([g.gr_gid for g in grp.getgrall() if run_as in g.gr_mem])
os.setgid(pw.pw_gid)
os.setuid(pw.pw_uid)
os.umask(int(umask, 8))
env = dict(os.environ, LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))
for kv in sys.argv[8:]:
    if kv == '--': break
    k, v = kv.split('=', 1); env[k] = v
argv = sys.argv[sys.argv.index('--') + 1:]
os.execvpe(argv[0], argv, env)
`;
    return spawnKept(name, 'python3', ['-c', py, sock.path, sock.user, sock.group, sock.mode, sock.dirMode, unit.umask, unit.user, ...unit.env, '--', ...unit.exec]);
  }

  before(async () => {
    deb = sh('bash', [path.join(ROOT, 'tests/package/build.sh')], { timeout: 600000 }).trim().split('\n').pop();
    if (installed()) sh('dpkg', ['--purge', 'chat']);
    sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', deb], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300000,
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'chat-package-'));
    chmodSync(tmp, 0o755); // nginx's worker (www-data) writes its temp files here
  });

  after(async () => {
    for (const p of procs) {
      try {
        process.kill(-p.child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await sleep(300);
    if (installed()) sh('dpkg', ['--purge', 'chat']);
    rmSync('/run/chat', { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('postinst: the chat user (www-data not in its group), the state directory, a secret, the site enabled', T, () => {
    const pw = sh('getent', ['passwd', 'chat']).trim().split(':');
    assert.equal(pw[5], '/var/lib/chat');
    assert.match(pw[6], /nologin$/);
    assert.ok(Number(pw[2]) < 1000, 'a system user');
    // issue 21.4: nginx's user gets the FastCGI socket, not the secret or the database
    assert.doesNotMatch(sh('id', ['-nG', 'www-data']), /\bchat\b/);
    const lib = statSync('/var/lib/chat');
    assert.equal(lib.mode & 0o777, 0o700);
    assert.equal(lib.uid, Number(pw[2]));
    const secret = statSync('/etc/chat/secret');
    assert.equal(secret.mode & 0o777, 0o640);
    assert.equal(secret.uid, 0);
    assert.match(readFileSync('/etc/chat/secret', 'utf8'), /^[0-9a-f]{64}$/);
    assert.equal(readlinkSync('/etc/nginx/sites-enabled/chat'), '../sites-available/chat');
    assert.ok(lstatSync('/etc/systemd/system/multi-user.target.wants/chat.target').isSymbolicLink(), 'chat.target enabled');
    assert.ok(lstatSync('/etc/systemd/system/sockets.target.wants/chat-fcgi.socket').isSymbolicLink(), 'chat-fcgi.socket enabled');
    assert.ok(lstatSync('/etc/systemd/system/multi-user.target.wants/chat-webhooks.service').isSymbolicLink(), 'chat-webhooks.service enabled');
    assert.match(readFileSync('/lib/systemd/system/chat.target', 'utf8'), /^Wants=.*\bchat-webhooks\.service\b/m, 'chat.target wants the sender');
    for (const f of ['/usr/bin/chat-fcgi', '/usr/bin/chat-ws', '/usr/bin/chat-admin', '/usr/bin/chat-webhooks', '/usr/share/chat/www/chat.js', '/usr/share/chat/www/vendor/socket.io.min.js', '/usr/share/chat/www/vendor/admin-ui/index.html', '/etc/nginx/snippets/chat-fastcgi.conf'])
      assert.ok(existsSync(f), f);
  });

  test('one source: the committed site is the generator\'s output and is what the package installs', T, () => {
    const generated = sh('bash', [path.join(ROOT, 'deploy/nginx/gen.sh'), 'production']);
    assert.equal(readFileSync(path.join(ROOT, 'deploy/nginx.conf'), 'utf8'), generated, 'deploy/nginx.conf is out of date: make deploy/nginx.conf');
    assert.equal(readFileSync('/etc/nginx/sites-available/chat', 'utf8'), generated);
  });

  test('nginx -t accepts the system config with the installed site', T, () => {
    const r = sh('nginx', ['-t'], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(typeof r, 'string');
  });

  test('systemd-analyze verify: the installed units', T, async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', 'chat.target', 'chat-fcgi.socket', 'chat-fcgi.service', 'chat-ws@9101.service', 'chat-webhooks.service']);
    assert.doesNotMatch(stdout + stderr, /chat/, `systemd-analyze verify: ${stdout}${stderr}`);
  });

  test('the installed programs behind the installed site: REST and Socket.IO smoke tests', T, async () => {
    // chat-fcgi serves the socket chat-fcgi.socket makes, as systemd would:
    // its owner, group and modes, passed as LISTEN_FDS
    const sock = socketUnit('/lib/systemd/system/chat-fcgi.socket');
    const fcgi = unitCommand('/lib/systemd/system/chat-fcgi.service');
    assert.equal(fcgi.user, 'chat');
    assert.ok(!fcgi.exec.includes('--listen'), 'chat-fcgi serves the socket unit\'s socket');
    startActivated('fcgi', sock, fcgi);
    // chat-ws on free ports in place of 9101/9102, each with the node
    // character the site routes to (chat-ws's default for 9101/9102)
    // The installed site is https only (snakeoil placeholders): the smoke
    // tests go through the same site generated with TLS=off and the
    // installed paths (the package test above checks the installed one).
    const site0 = sh('bash', [path.join(ROOT, 'deploy/nginx/gen.sh'), 'production', 'TLS=off']);
    const ports = { 9101: await freePort(), 9102: await freePort() };
    for (const [orig, port] of Object.entries(ports)) {
      const node = site0.match(new RegExp(`~\\^(\\w) chat_ws_${orig};`))[1];
      const ws = unitCommand('/lib/systemd/system/chat-ws@.service', String(port));
      start(`ws-${orig}`, ws.user, ws.env, [...ws.exec, '--node', node], ws.umask, ws.nofile);
    }
    const port = await freePort();
    let site = site0.replace(/^\s*listen \[::\]:80;\n/m, '').replace(/listen 80;/, `listen 127.0.0.1:${port};`);
    for (const [orig, p] of Object.entries(ports)) site = site.replaceAll(`127.0.0.1:${orig}`, `127.0.0.1:${p}`);
    writeFileSync(path.join(tmp, 'site'), site);
    writeFileSync(
      path.join(tmp, 'nginx.conf'),
      `user www-data;\nworker_processes 1;\npid ${tmp}/nginx.pid;\nerror_log ${tmp}/error.log;\ndaemon off;\nevents {}\n` +
        `http {\n  include /etc/nginx/mime.types;\n  access_log ${tmp}/access.log;\n  client_body_temp_path ${tmp}/cb;\n` +
        `  proxy_temp_path ${tmp}/proxy;\n  fastcgi_temp_path ${tmp}/fastcgi;\n  uwsgi_temp_path ${tmp}/uwsgi;\n  scgi_temp_path ${tmp}/scgi;\n` +
        `  include ${tmp}/site;\n}\n`,
    );
    sh('nginx', ['-t', '-q', '-c', path.join(tmp, 'nginx.conf')]);
    start('nginx', 'root', [], ['nginx', '-c', path.join(tmp, 'nginx.conf')]);
    url = `http://127.0.0.1:${port}`;

    // Health details (the ws processes) need an admin token; names are owned,
    // so the REST sender claims "rest" and presents its credential.
    const admin = sh('/usr/bin/chat-ws', ['--issue-token', '--admin', '--ttl', '600'], { env: { ...process.env, CHAT_SECRET_FILE: '/etc/chat/secret' } }).trim();
    let health;
    for (let i = 0; i < 200; i++) {
      try {
        health = await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${admin}` } });
        if (health.status === 200 && (await health.json()).ws?.filter((w) => w.alive).length === 2) break;
      } catch {
        /* not up yet */
      }
      await sleep(100);
    }
    assert.equal(health?.status, 200, procs.map((p) => `${p.name}: ${p.out()}`).join('\n'));
    assert.equal((await fetch(`${url}/`)).status, 200);
    const js = await fetch(`${url}/static/vendor/socket.io.min.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    const created = await fetch(`${url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'packaged' }) });
    assert.equal(created.status, 201);
    const room = await created.json();
    const claim = await fetch(`${url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'rest' }) });
    assert.equal(claim.status, 201);
    const { token } = await claim.json();
    const posted = await fetch(`${url}/api/rooms/${room.id}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ user: 'rest', text: 'over REST' }) });
    assert.equal(posted.status, 201);
    const bad = await fetch(`${url}/api/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(bad.status, 400);

    // Socket.IO: a WebSocket client and a long-polling one (routed by sid)
    const sockets = ['websocket', 'polling'].map((t) => io(url, { transports: [t], forceNew: true, reconnection: false, auth: { name: `pkg-${t}` } }));
    try {
      await Promise.all(sockets.map((s) => new Promise((ok, ko) => (s.once('connect', ok), s.once('connect_error', ko)))));
      for (const s of sockets) {
        const j = await s.timeout(5000).emitWithAck('join', 'packaged');
        assert.equal(j.ok, true);
      }
      const got = new Promise((ok) => sockets[1].on('chat message', (m) => m.text === 'over sockets' && ok(m)));
      const a = await sockets[0].timeout(5000).emitWithAck('chat message', { room: 'packaged', text: 'over sockets' });
      assert.equal(typeof a.id, 'number');
      assert.equal((await got).id, a.id);
    } finally {
      for (const s of sockets) s.close();
    }

    // the webhook sender as its unit runs it: a message posted after a
    // webhook is registered reaches the receiver, signed with its secret
    const deliveries = [];
    const receiver = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => (deliveries.push({ headers: req.headers, body: b }), res.end()));
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const wh = unitCommand('/lib/systemd/system/chat-webhooks.service');
      assert.equal(wh.user, 'chat');
      start('webhooks', wh.user, wh.env, wh.exec, wh.umask, wh.nofile);
      const reg = await fetch(`${url}/api/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ url: `http://127.0.0.1:${receiver.address().port}/hook` }) });
      assert.equal(reg.status, 201);
      const { secret } = await reg.json();
      const hooked = await fetch(`${url}/api/rooms/${room.id}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ user: 'rest', text: 'to the webhook' }) });
      assert.equal(hooked.status, 201);
      for (let i = 0; i < 300 && !deliveries.some((d) => d.body.includes('to the webhook')); i++) await sleep(100);
      const d = deliveries.find((x) => x.body.includes('to the webhook'));
      assert.ok(d, `no delivery; chat-webhooks: ${procs.find((p) => p.name === 'webhooks').out()}`);
      const mac = crypto.createHmac('sha256', Buffer.from(secret, 'hex')).update(`${d.headers['x-chat-timestamp']}.${d.body}`).digest('hex');
      assert.equal(d.headers['x-chat-signature'], `v1=${mac}`);
    } finally {
      receiver.close();
    }

    // the operator's tool, as the chat user, on the live database
    const out = sh('runuser', ['-u', 'chat', '--', '/usr/bin/chat-admin', 'backup', '/var/lib/chat/backup.db']);
    assert.match(out, /^backup: /);
  });

  test('issue 22.2: the installed nginx holds 9,000 WebSockets (Debian\'s nginx.conf as the package leaves it)', { timeout: 300000 }, async () => {
    // what the package set: worker_connections in nginx.conf's events {},
    // worker_rlimit_nofile in modules-enabled (main context)
    const debian = readFileSync('/etc/nginx/nginx.conf', 'utf8');
    assert.match(debian, /^\s*worker_connections 19000; # chat package: was \d+/m);
    assert.match(readFileSync('/etc/nginx/modules-enabled/90-chat-capacity.conf', 'utf8'), /^worker_rlimit_nofile 20000;/m);
    assert.match(readFileSync('/etc/nginx/sites-available/chat', 'utf8'), /^\s*error_log \/var\/log\/nginx\/error\.log warn;/m, 'the site logs warnings (running out of connections)');
    // Debian's nginx.conf as it is (main, events, http), only its files
    // (pid, logs, the site) in the test's folder, and the smoke test's site
    // (TLS off, the test's chat-ws ports) on another port
    const port = await freePort();
    const site = readFileSync(path.join(tmp, 'site'), 'utf8')
      .replace(/listen 127\.0\.0\.1:\d+;/, `listen 127.0.0.1:${port};`)
      .replace(/error_log \S+ warn;/, `error_log ${tmp}/capacity-site-error.log warn;`);
    writeFileSync(path.join(tmp, 'capacity-site'), site);
    const conf = debian
      .replace(/^pid .*$/m, `pid ${tmp}/capacity.pid;`)
      .replace(/^error_log .*$/m, `error_log ${tmp}/capacity-error.log;`)
      .replace(/access_log [^;]*;/, `access_log off;`)
      .replace(/include \/etc\/nginx\/sites-enabled\/\*;/, `include ${tmp}/capacity-site;`);
    writeFileSync(path.join(tmp, 'capacity.conf'), conf);
    sh('nginx', ['-t', '-q', '-c', path.join(tmp, 'capacity.conf')]);
    start('nginx-capacity', 'root', [], ['nginx', '-g', 'daemon off;', '-c', path.join(tmp, 'capacity.conf')]);
    for (let i = 0; i < 100 && !(await portOpen(port)); i++) await sleep(100);

    // 9,000 Engine.IO sessions over WebSocket, 20 from each of 450 loopback
    // addresses (within the site's per-address limits), 100 at a time
    const N = 9000;
    const sockets = [];
    const failed = [];
    const t0 = Date.now();
    try {
      for (let i = 0; i < N; i += 100) {
        const batch = [];
        for (let k = i; k < Math.min(N, i + 100); k++) batch.push(eioWebSocket(port, `127.1.${Math.floor(k / 20 / 250)}.${1 + ((k / 20) | 0) % 250}`));
        for (const r of await Promise.allSettled(batch)) r.status === 'fulfilled' ? sockets.push(r.value) : failed.push(r.reason.message);
      }
      await sleep(1000);
      const open = sockets.filter((s) => !s.destroyed).length;
      const workers = sh('pgrep', ['-P', readFileSync(path.join(tmp, 'capacity.pid'), 'utf8').trim()]).trim().split('\n');
      console.log(`capacity: ${open} of ${N} WebSockets open through nginx (${workers.length} workers) in ${Date.now() - t0} ms; failures: ${failed.length} ${[...new Set(failed)].slice(0, 3).join(' | ')}`);
      assert.equal(open, N, `WebSockets held: ${open}; failures: ${[...new Set(failed)].slice(0, 5).join(' | ')}`);
      const log = existsSync(path.join(tmp, 'capacity-site-error.log')) ? readFileSync(path.join(tmp, 'capacity-site-error.log'), 'utf8') : '';
      assert.doesNotMatch(log, /worker_connections are not enough|Too many open files/);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  test('issue 21.4: www-data reaches the FastCGI socket and nothing else; the files are the chat user\'s alone', T, () => {
    const s = statSync('/run/chat/fcgi.sock');
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o660, 'srw-rw----');
    assert.equal(s.uid, Number(sh('id', ['-u', 'chat'])));
    assert.equal(s.gid, Number(sh('getent', ['group', 'www-data']).split(':')[2]), 'group www-data');
    const secret = statSync('/etc/chat/secret');
    assert.equal(secret.mode & 0o777, 0o640);
    assert.equal(secret.gid, Number(sh('getent', ['group', 'chat']).split(':')[2]), 'group chat');
    // what chat-fcgi, chat-ws and chat-admin made under their units' umask
    for (const f of readdirSync('/var/lib/chat')) {
      const st = statSync(path.join('/var/lib/chat', f));
      assert.equal(st.mode & 0o077, 0, `/var/lib/chat/${f} is ${(st.mode & 0o777).toString(8)}`);
    }
    const asWww = (cmd) => spawnSync('runuser', ['-u', 'www-data', '--', 'sh', '-c', cmd]).status;
    assert.notEqual(asWww('cat /etc/chat/secret'), 0, 'www-data reads the secret');
    assert.notEqual(asWww('cat /var/lib/chat/chat.db'), 0, 'www-data reads the database');
    assert.notEqual(asWww('cat /var/lib/chat/backup.db'), 0, 'www-data reads a backup');
    assert.notEqual(asWww('ls /var/lib/chat'), 0, 'www-data lists the state directory');
    assert.equal(asWww('test -w /run/chat/fcgi.sock'), 0, 'www-data may connect to the socket');
  });

  test('purge removes the programs, the user, the state, the secret and the site', T, async () => {
    for (const p of procs) {
      try {
        process.kill(-p.child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    // deluser refuses a user that still owns a process (even one exiting)
    for (let i = 0; i < 100 && spawnSync('pgrep', ['-u', 'chat']).status === 0; i++) await sleep(100);
    sh('dpkg', ['--purge', 'chat']);
    assert.equal(installed(), false);
    for (const f of ['/usr/bin/chat-ws', '/usr/share/chat', '/var/lib/chat', '/etc/chat', '/etc/nginx/sites-available/chat', '/lib/systemd/system/chat.target', '/lib/systemd/system/chat-fcgi.socket'])
      assert.equal(existsSync(f), false, `${f} is left`);
    assert.throws(() => lstatSync('/etc/nginx/sites-enabled/chat'), /ENOENT/);
    assert.throws(() => lstatSync('/etc/systemd/system/multi-user.target.wants/chat.target'), /ENOENT/);
    assert.equal(known('passwd', 'chat'), false, 'user chat is left');
    assert.equal(known('group', 'chat'), false, 'group chat is left');
    assert.doesNotMatch(sh('id', ['-nG', 'www-data']), /\bchat\b/);
  });
});
