// nodes_config.test.mjs -- nginx routing to nodes on several hosts
// (deploy/nginx/gen.sh NODES_FILE, FCGI_SERVERS): every node id gets its own
// upstream and route, nginx -t accepts the result, the shipped multi-node
// example is up to date, and a nodes file that could inject configuration or
// route ambiguously is refused with a line number.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './lib/stack.mjs';

const GEN = path.join(ROOT, 'deploy/nginx/gen.sh');

function gen(dir, nodes, extra = []) {
  const file = path.join(dir, 'nodes');
  writeFileSync(file, nodes);
  return spawnSync('bash', [GEN, 'production', `NODES_FILE=${file}`, ...extra], { encoding: 'utf8' });
}

describe('nodes on several hosts', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'chat-nodes-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each node id routes to its own host; nginx -t accepts the site', () => {
    const r = gen(dir, '# three hosts\na 10.0.0.11:9101\nb ws2.example.internal:9101  # a name\n\nc [fd00::13]:9101\n', [
      'FCGI_SERVERS=10.0.0.11:9000 unix:/run/chat/fcgi.sock',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const conf = r.stdout;
    assert.match(conf, /upstream chat_ws_node_a \{ server 10\.0\.0\.11:9101 max_fails=0; keepalive 16; \}/);
    assert.match(conf, /upstream chat_ws_node_b \{ server ws2\.example\.internal:9101 max_fails=0; keepalive 16; \}/);
    assert.match(conf, /upstream chat_ws_node_c \{ server \[fd00::13\]:9101 max_fails=0; keepalive 16; \}/);
    for (const id of 'abc') assert.match(conf, new RegExp(`~\\^${id} chat_ws_node_${id};`));
    assert.match(conf, /upstream chat_fcgi \{\n    server 10\.0\.0\.11:9000 [^\n]*\n    server unix:\/run\/chat\/fcgi\.sock [^\n]*\n\}/);
    assert.equal((conf.match(/fastcgi_pass chat_fcgi;/g) ?? []).length, 2);
    assert.match(conf, /location = \/metrics\/node\/b \{\n\s+proxy_pass http:\/\/chat_ws_node_b\/metrics;/);
    // nginx -t resolves upstream host names: check the site with addresses only
    const ok = gen(dir, 'a 127.0.0.1:9101\nb 127.0.0.2:9101\nc [::1]:9101\n', ['TLS=off', 'LISTEN=127.0.0.1:1']).stdout;
    const site = ok.replace(/\/etc\/nginx\/snippets\/chat-fastcgi\.conf/g, path.join(ROOT, 'deploy/chat-fastcgi.conf'));
    writeFileSync(`${dir}/nginx.conf`, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\naccess_log off;\n${site}\n}\n`);
    execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], { stdio: 'pipe' });
  });

  test('a nodes file that is not "ID HOST:PORT" lines is refused, naming the line', () => {
    const cases = [
      ['A 10.0.0.1:1', /line 1: node id 'A'/],
      ['ab 10.0.0.1:1', /line 1: node id 'ab'/],
      ['a 10.0.0.1:1;}\n', /line 1: '10\.0\.0\.1:1;}' is not HOST:PORT/],
      ['a 10.0.0.1:1; include /etc/passwd;', /line 1: '10\.0\.0\.1:1;' is not HOST:PORT/],
      ['a 10.0.0.1:1 extra', /line 1: one node per line/],
      ['a 10.0.0.1', /is not HOST:PORT/],
      ['a 10.0.0.1:70000', /bad port 70000/],
      ['a 10.0.0.1:1\n# c\na 10.0.0.2:1', /line 3: node id a twice/],
      ['# nothing\n', /no node in/],
    ];
    for (const [nodes, why] of cases) {
      const r = gen(dir, nodes);
      assert.equal(r.status, 2, `${JSON.stringify(nodes)} accepted`);
      assert.match(r.stderr, why, JSON.stringify(nodes));
      assert.equal(r.stdout, '', 'no partial config written');
    }
    const bad = spawnSync('bash', [GEN, 'production', 'FCGI_SERVERS=10.0.0.1:9000;'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /FCGI server '10\.0\.0\.1:9000;'/);
  });

  test('the multi-node units: --db names no password (PGPASSFILE does), systemd-analyze verify accepts them', () => {
    const units = ['chat-ws-node.service', 'chat-fcgi-node.service'];
    for (const u of units) {
      const text = readFileSync(path.join(ROOT, 'deploy/multinode/systemd', u), 'utf8');
      const exec = text.split('\n').find((l) => l.startsWith('ExecStart='));
      assert.match(exec, /--db postgresql:\/\/[a-z]+@[^\s:@/]+(:\d+)?\/\w+ /, `${u}: --db is user@host/db, no password`);
      assert.match(text, /^Environment=PGPASSFILE=\/etc\/chat\/pgpass$/m, `${u}: the password from PGPASSFILE`);
    }
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) return; // not on this machine
    for (const u of units) {
      const text = readFileSync(path.join(ROOT, 'deploy/multinode/systemd', u), 'utf8').replace(
        /\/usr\/local\/bin\/(chat-\w+)/g,
        (_, b) => path.join(ROOT, 'build', b),
      );
      writeFileSync(path.join(dir, u), text);
    }
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => path.join(dir, u))], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });

  test('deploy/multinode/nginx.conf is what gen.sh makes of nodes.example (make deploy/multinode/nginx.conf)', () => {
    const want = execFileSync('make', ['-s', '-C', ROOT, '--no-print-directory', '-B', '-n', 'deploy/multinode/nginx.conf'], { encoding: 'utf8' });
    assert.match(want, /NODES_FILE=deploy\/multinode\/nodes\.example/);
    const made = execFileSync('bash', ['-c', want.replace(/> deploy\/multinode\/nginx\.conf\s*$/, '')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(readFileSync(path.join(ROOT, 'deploy/multinode/nginx.conf'), 'utf8'), made);
  });
});
