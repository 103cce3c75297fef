// package.test.mjs -- the Debian package, installed for real (README
// "Installing"): build it with dpkg-buildpackage (cached in build/deb/),
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
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/* The ExecStart= and Environment= of an installed unit, %i replaced. */
function unitCommand(file, instance = '') {
  const text = readFileSync(file, 'utf8');
  const exec = text.match(/^ExecStart=(.*)$/m)[1].replaceAll('%i', instance).split(/\s+/);
  const env = [...text.matchAll(/^Environment=(.*)$/gm)].map((m) => m[1]);
  const umask = text.match(/^UMask=(.*)$/m)?.[1] ?? '0022';
  return { exec, env, umask, user: text.match(/^User=(.*)$/m)[1] };
}

describe('the Debian package', { skip: canRun === true ? false : canRun }, () => {
  let deb, tmp, url;
  const procs = [];

  /* Starts argv as user (runuser) with the unit's umask, as systemd would,
   * in its own process group. */
  function start(name, user, env, argv, umask = '0022') {
    const log = path.join(tmp, `${name}.log`);
    const child = spawn('runuser', ['-u', user, '--', 'sh', '-c', 'umask "$0" && exec env "$@"', umask, ...env, ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', () => writeFileSync(log, out));
    procs.push({ name, child, out: () => out });
    return child;
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

  test('postinst: the chat user, www-data in its group, the state directory, a secret, the site enabled', T, () => {
    const pw = sh('getent', ['passwd', 'chat']).trim().split(':');
    assert.equal(pw[5], '/var/lib/chat');
    assert.match(pw[6], /nologin$/);
    assert.ok(Number(pw[2]) < 1000, 'a system user');
    assert.match(sh('id', ['-nG', 'www-data']), /\bchat\b/);
    const lib = statSync('/var/lib/chat');
    assert.equal(lib.mode & 0o777, 0o750);
    assert.equal(lib.uid, Number(pw[2]));
    const secret = statSync('/etc/chat/secret');
    assert.equal(secret.mode & 0o777, 0o640);
    assert.equal(secret.uid, 0);
    assert.match(readFileSync('/etc/chat/secret', 'utf8'), /^[0-9a-f]{64}$/);
    assert.equal(readlinkSync('/etc/nginx/sites-enabled/chat'), '../sites-available/chat');
    assert.ok(lstatSync('/etc/systemd/system/multi-user.target.wants/chat.target').isSymbolicLink(), 'chat.target enabled');
    for (const f of ['/usr/bin/chat-fcgi', '/usr/bin/chat-ws', '/usr/bin/chat-admin', '/usr/share/chat/www/chat.js', '/usr/share/chat/www/vendor/socket.io.min.js', '/usr/share/chat/www/vendor/admin-ui/index.html', '/etc/nginx/snippets/chat-fastcgi.conf'])
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
    const { stdout, stderr } = await run('systemd-analyze', ['verify', 'chat.target', 'chat-fcgi.service', 'chat-ws@9101.service']);
    assert.doesNotMatch(stdout + stderr, /chat/, `systemd-analyze verify: ${stdout}${stderr}`);
  });

  test('the installed programs behind the installed site: REST and Socket.IO smoke tests', T, async () => {
    // /run/chat as RuntimeDirectory= makes it
    sh('install', ['-d', '-o', 'chat', '-g', 'chat', '-m', '0750', '/run/chat']);
    const fcgi = unitCommand('/lib/systemd/system/chat-fcgi.service');
    assert.equal(fcgi.user, 'chat');
    start('fcgi', fcgi.user, fcgi.env, fcgi.exec, fcgi.umask);
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
      start(`ws-${orig}`, ws.user, ws.env, [...ws.exec, '--node', node], ws.umask);
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

    // the operator's tool, as the chat user, on the live database
    const out = sh('runuser', ['-u', 'chat', '--', '/usr/bin/chat-admin', 'backup', '/var/lib/chat/backup.db']);
    assert.match(out, /^backup: /);
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
    for (const f of ['/usr/bin/chat-ws', '/usr/share/chat', '/var/lib/chat', '/etc/chat', '/etc/nginx/sites-available/chat', '/lib/systemd/system/chat.target'])
      assert.equal(existsSync(f), false, `${f} is left`);
    assert.throws(() => lstatSync('/etc/nginx/sites-enabled/chat'), /ENOENT/);
    assert.throws(() => lstatSync('/etc/systemd/system/multi-user.target.wants/chat.target'), /ENOENT/);
    assert.equal(known('passwd', 'chat'), false, 'user chat is left');
    assert.equal(known('group', 'chat'), false, 'group chat is left');
    assert.doesNotMatch(sh('id', ['-nG', 'www-data']), /\bchat\b/);
  });
});
