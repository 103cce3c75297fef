// readme_examples.test.mjs -- the README's client examples (issue 24 item 6),
// taken from README.md as written (the code block after each
// `<!-- readme-example: ... -->` marker) and run against the stack through
// nginx: each connects under a name, joins, sends, and after its ws process is
// killed (a network drop) it reconnects under the same name, because it keeps
// the credential where the client resends it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, until } from './lib/client.mjs';
import { uniq } from './lib/bystanders.mjs';
import { ROOT, killWs, startStack } from './lib/stack.mjs';

const T = { timeout: 90000 };
const OUT = path.join(ROOT, 'tests/out/readme');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; // Debian's, with python3-socketio

/* The code block that follows the marker `<!-- readme-example: kind ...-->`. */
function example(kind) {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- readme-example: ${kind} `);
  assert.ok(at >= 0, `README.md has the ${kind} example`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a code block follows the ${kind} marker`);
  return m[1];
}

/* Runs a program; lines is what it printed so far. */
function run(cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, lines: [], err: '' };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    p.lines.push(...parts);
  });
  child.stderr.on('data', (d) => (p.err += d));
  return p;
}

const saw = (p, re) => p.lines.filter((l) => re.test(l)).length;

describe('README examples', () => {
  let stack;
  before(async () => {
    mkdirSync(OUT, { recursive: true });
    stack = await startStack({ wsProcs: 1 });
  });
  after(async () => {
    await stack?.stop();
  });

  for (const [kind, file, cmd] of [
    ['node', 'client.mjs', process.execPath],
    ['python', 'client.py', PYTHON],
  ]) {
    test(`the ${kind} example keeps its name across a network drop`, T, async () => {
      // in tests/out: node finds socket.io-client in tests/node_modules
      const script = path.join(OUT, file);
      writeFileSync(script, example(kind));
      const name = uniq(kind);
      const p = run(cmd, [script], { CHAT_URL: stack.url, CHAT_NAME: name });
      try {
        const what = () => `${kind} printed:\n${p.lines.join('\n')}\n${p.err}`;
        await until(() => saw(p, new RegExp(`^session ${name} `)) >= 1 && saw(p, /^sent \d+/) >= 1, 20000, `connected and sent; ${what()}`);
        await killWs(stack, 0); // the connection drops; the client reconnects by itself
        await until(() => saw(p, new RegExp(`^session ${name} `)) >= 2, 30000, `reconnected under its name; ${what()}`);
        assert.equal(saw(p, /connect_error.*(name|taken|token)/), 0, what()); // a transport error while it restarts is fine
        const rooms = await api(stack.url, '/api/rooms');
        const general = rooms.body.rooms.find((r) => r.name === 'general');
        const history = await api(stack.url, `/api/rooms/${general.id}/messages?limit=500`);
        assert.ok(history.body.messages.some((m) => m.user === name && /^hello/.test(m.text)), 'its message is stored');
      } finally {
        p.child.kill('SIGTERM');
      }
    });
  }
});
