// accounts.test.mjs -- accounts in a real browser (issue 24): sign up in one
// browser context and sign in from a second one (another device) with the
// same name and the same unread messages; link a device with a one-time
// code; sign that device out from the first and its socket closes; guests
// still connect. The page keeps no credential where scripts can read it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumPath, launchBrowser } from '../integration/lib/browser.mjs';
import { credential, sleep, until } from '../integration/lib/client.mjs';
import { ROOT, hasBinary, startStack } from '../integration/lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const skip = !chromiumPath()
  ? 'no Chromium (deploy/install-deps.sh installs it)'
  : !hasBinary(binDir, 'chat-ws') || !hasBinary(binDir, 'chat-fcgi')
    ? `chat-fcgi / chat-ws not built in ${binDir}`
    : false;
const T = { timeout: 120000 }; // several contexts under a loaded machine
const WAIT = 10000;
const PASSWORD = 'a long enough password';

let stack;
let browser;
let seq = 0;
const unique = (prefix) => `${prefix}-${process.pid % 10000}-${++seq}`;

async function rest(method, target, body) {
  const headers = { 'content-type': 'application/json' };
  if (method === 'POST' && /\/messages$/.test(target)) headers.authorization = `Bearer ${await credential(stack.url, body.user)}`;
  const res = await fetch(stack.url + target, { method, headers, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/* A device: a browser context with the page open (not signed in yet). */
async function device() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(stack.url + '/');
  await page.locator('#welcome').waitFor({ state: 'visible', timeout: WAIT });
  return { context, page, errors, close: () => context.close().catch(() => {}) };
}

async function connected(page) {
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached', timeout: WAIT });
}

/* Signs in (or up) in the welcome dialog, as a person types it. */
async function signIn(page, name, password) {
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.locator('#welcome').waitFor({ state: 'hidden', timeout: WAIT });
  await connected(page);
  assert.equal(await page.textContent('#me-name'), name);
}

async function openRoom(page, name) {
  await page.locator('#room-list a', { has: page.locator('.room-name', { hasText: name }) }).first().click();
  await until(async () => (await page.textContent('#room-title')) === `# ${name}`, WAIT, `room ${name}`);
}

/* The messages shown, '--' for the unread divider (day separators left out). */
const shown = (page) =>
  page.$$eval('#messages > li:not(.day)', (lis) =>
    lis.map((li) => (li.classList.contains('divider') ? '--' : `${li.querySelector('.message-text')?.textContent}${li.classList.contains('is-new') ? '*' : ''}`)),
  );

/* What scripts of the page can read of credentials: localStorage values
 * that look like tokens, and document.cookie. */
const readable = (page) =>
  page.evaluate(() => ({
    storage: Object.keys(localStorage).filter((k) => /credential|token/.test(k) || /^ey/.test(localStorage.getItem(k) || '')),
    cookie: document.cookie,
  }));

describe('accounts in the browser', { skip }, () => {
  before(async () => {
    stack = await startStack({ wsProcs: 2 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('sign up in one browser, sign in from another: the same name, the same unread', T, async () => {
    const name = unique('ada');
    const room = (await rest('POST', '/api/rooms', { name: unique('news') })).json;
    await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'eve', text: 'seen before' });
    const one = await device();
    const two = await device();
    try {
      await signIn(one.page, name, PASSWORD);
      assert.deepEqual(await readable(one.page), { storage: [], cookie: '' }, 'no credential a script can read');
      const [cookie] = (await one.context.cookies()).filter((c) => c.name === 'chat_session');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      await openRoom(one.page, room.name);
      await until(async () => (await shown(one.page)).includes('seen before'), WAIT, 'seen before');
      await sleep(800); // the read cursor is sent shortly after display
      await one.page.close();
      for (const text of ['while you were away', 'and another one'])
        assert.equal((await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'eve', text })).status, 201);

      await signIn(two.page, name, PASSWORD);
      await openRoom(two.page, room.name);
      await until(async () => (await shown(two.page)).includes('and another one*'), WAIT, 'the unread on the other device');
      assert.deepEqual(await shown(two.page), ['seen before', '--', 'while you were away*', 'and another one*']);
      assert.deepEqual(one.errors.concat(two.errors), []);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('link a device with a code; sign it out and its socket closes', T, async () => {
    const name = unique('bea');
    const one = await device();
    const two = await device();
    try {
      await signIn(one.page, name, PASSWORD);
      await one.page.click('#devices-open');
      await one.page.click('#link-device');
      const code = await until(() => one.page.getAttribute('#link-code', 'data-code'), WAIT, 'a code');
      assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/);

      await two.page.fill('#code', code);
      await two.page.press('#code', 'Enter');
      await connected(two.page);
      assert.equal(await two.page.textContent('#me-name'), name, 'the code signed the other device in as the same person');

      await one.page.click('#devices-close');
      await one.page.click('#devices-open');
      const other = one.page.locator('#device-list li:not(.current) .device-out');
      await other.waitFor({ timeout: WAIT });
      assert.equal(await one.page.locator('#device-list li').count(), 2);
      const t0 = Date.now();
      await other.click();
      await two.page.locator('body[data-connection="offline"]').waitFor({ state: 'attached', timeout: WAIT });
      console.log(`# revoked device's socket closed ${Date.now() - t0} ms after the click`);
      await until(async () => /signed out/.test((await two.page.textContent('#banner-text')) || ''), WAIT, 'the banner says why');
      await until(async () => (await one.page.locator('#device-list li').count()) === 1, WAIT, 'one device left');
      assert.equal(await one.page.getAttribute('body', 'data-connection'), 'online', 'the first device stays');
      assert.deepEqual(one.errors.concat(two.errors), []);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('a name without a password stays this browser\'s; guests still connect', T, async () => {
    const name = unique('cy');
    const one = await device();
    try {
      await one.page.fill('#name', name);
      await one.page.press('#name', 'Enter');
      await connected(one.page);
      assert.deepEqual(await readable(one.page), { storage: [], cookie: '' });
      await one.page.reload();
      await connected(one.page);
      assert.equal(await one.page.textContent('#me-name'), name, 'the cookie keeps the name across visits');
      const guest = await one.page.evaluate(
        () =>
          new Promise((resolve) => {
            const s = window.io('/', { forceNew: true, auth: {} });
            s.on('session', (info) => {
              s.disconnect();
              resolve(info.user);
            });
          }),
      );
      assert.match(guest, /^~guest-/);
      assert.deepEqual(one.errors, []);
    } finally {
      await one.close();
    }
  });
});
