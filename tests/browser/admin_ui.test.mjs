// admin_ui.test.mjs -- the official Socket.IO Admin UI (@socket.io/admin-ui's
// built page, served by our nginx at /admin-ui) in Debian's Chromium against
// chat-ws: log in with an admin token, see the sockets of a chat and their
// rooms, on every ws process, see a socket disconnect; a wrong password is
// refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, closeAll, closeLive, connect, join } from '../integration/lib/client.mjs';
import { chromiumPath, launchBrowser } from '../integration/lib/browser.mjs';
import { ROOT, hasBinary, startStack } from '../integration/lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const OUT = path.join(ROOT, 'tests/out/browser');
const skip = !chromiumPath()
  ? 'no Chromium (deploy/install-deps.sh installs it)'
  : !hasBinary(binDir, 'chat-ws')
    ? `chat-ws not built in ${binDir}`
    : false;
const T = { timeout: 45000 };
const WAIT = 10000;
const NAMESPACE = '/socket.io-admin'; // ws/chat/admin_ui.h ADMIN_UI_NAMESPACE

let seq = 0;
const unique = (p) => `${p}-${process.pid % 10000}-${++seq}`;

describe('Socket.IO Admin UI', { skip }, () => {
  let stack;
  let browser;
  before(async () => {
    stack = await startStack({ wsProcs: 2 });
    browser = await launchBrowser();
  });
  after(async () => {
    await closeLive();
    await browser?.close();
    await stack?.stop();
  });

  const token = () =>
    execFileSync(path.join(stack.binDir, 'chat-ws'), ['--issue-token', '--admin', '--ttl', '600'], {
      env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
      encoding: 'utf8',
    }).trim();

  /* A page of the UI with its connection form submitted as a person with
   * default settings does: only the username and password typed (the server
   * URL and the admin namespace, NAMESPACE, are filled in by
   * www/admin-ui-defaults.js). Nothing may come from another host: fonts and
   * icons are served locally; a request elsewhere is recorded and aborted. */
  async function login(password) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    const elsewhere = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => {
      elsewhere.push(r.request().url());
      return r.abort();
    });
    await page.goto(`${stack.url}/admin-ui`);
    assert.equal(await page.getByLabel('Server URL').inputValue(), stack.url, 'the server URL is filled in');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Connect' }).click();
    return { page, context, errors, elsewhere };
  }

  test('log in with the default settings, see the sockets of both processes and their rooms, see a socket disconnect', T, async () => {
    const room = unique('ops');
    const created = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: room } });
    assert.equal(created.status, 201);
    // One socket on each ws process: the UI, connected to one of them, sees
    // both (the other's through the bus).
    assert.equal(stack.wsPorts.length, 2);
    const ann = await connect(`http://127.0.0.1:${stack.wsPorts[0]}`, { name: unique('ann') });
    const bob = await connect(`http://127.0.0.1:${stack.wsPorts[1]}`, { name: unique('bob') });
    await join(ann, room);
    await join(bob, room);
    const [annId, bobId] = [ann.id, bob.id];

    const { page, context, errors, elsewhere } = await login(token());
    await page.getByText('connected', { exact: true }).first().waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => localStorage.getItem('namespace')), NAMESPACE);
    // The icons are drawn by the local icon font.
    await page.evaluate(() => document.fonts.ready);
    const iconFont = () => [...document.fonts].filter((f) => f.family.replace(/"/g, '') === 'Material Design Icons').map((f) => f.status);
    assert.ok((await page.evaluate(iconFont)).includes('loaded'), 'the icon font is loaded');

    // Sockets: both chat sockets of namespace "/", with their address and transport.
    await page.getByRole('link', { name: 'Sockets' }).click();
    await page.getByText(annId).waitFor({ timeout: WAIT });
    await page.getByText(bobId).waitFor({ timeout: WAIT });

    // One socket's page lists its room.
    await page.getByText(annId).click();
    await page.getByText(room).first().waitFor({ timeout: WAIT });

    // Rooms: the chat's room is there.
    await page.getByRole('link', { name: 'Rooms' }).click();
    await page.getByText(room).first().waitFor({ timeout: WAIT });

    mkdirSync(OUT, { recursive: true });
    await page.getByRole('link', { name: 'Sockets' }).click();
    await page.getByText(bobId).waitFor({ timeout: WAIT });
    await page.screenshot({ path: path.join(OUT, 'admin-ui-sockets.png') });

    // bob goes: socket_disconnected takes him off the list, ann stays.
    await closeAll(bob);
    await page.getByText(bobId).waitFor({ state: 'detached', timeout: WAIT });
    assert.ok(await page.getByText(annId).isVisible(), 'ann is still listed');
    assert.deepEqual(errors, []);
    assert.deepEqual(elsewhere, [], 'nothing from a CDN');
    await closeAll(ann);
    await context.close();
  });

  test('a wrong password is refused: invalid credentials', T, async () => {
    const { page, context } = await login(`${token()}x`);
    await page.getByText('Invalid credentials').waitFor({ timeout: WAIT });
    await context.close();
  });
});
