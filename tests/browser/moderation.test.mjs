// moderation.test.mjs -- editing and deleting in the chat page (www/moderation.js)
// in a real browser against the whole stack: Arrow-up edits your last message,
// everyone sees the edit; you delete your own message, a moderator deletes
// someone else's, and it disappears from every page; members see no
// moderation actions on others' messages.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumPath, launchBrowser } from '../integration/lib/browser.mjs';
import { ROOT, adminToken, hasBinary, startStack } from '../integration/lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const skip = !chromiumPath()
  ? 'no Chromium (deploy/install-deps.sh installs it)'
  : !hasBinary(binDir, 'chat-ws') || !hasBinary(binDir, 'chat-fcgi')
    ? `chat-fcgi / chat-ws not built in ${binDir}`
    : false;
const T = { timeout: 60000 };
const WAIT = 10000;
const unique = (p) => `${p}${process.pid % 1000}${Math.floor(Math.random() * 1e4)}`;

let stack;
let browser;

/* A person with a page: the name chosen in the welcome dialog, connected, in
 * room. Confirmations (delete, ban) are accepted, as a person who clicked
 * meant it; errors of the page are collected. */
async function person(name, room) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('dialog', (d) => d.accept().catch(() => {}));
  await page.goto(stack.url + '/');
  await page.locator('#welcome').waitFor({ state: 'visible', timeout: WAIT });
  await page.keyboard.type(name);
  await page.keyboard.press('Enter');
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached', timeout: WAIT });
  const link = page.locator('#room-list a', { has: page.locator('.room-name', { hasText: room }) });
  await link.first().click();
  await page.waitForFunction((r) => document.querySelector('#room-title')?.textContent === `# ${r}`, room, { timeout: WAIT });
  return { page, errors, name, close: () => context.close() };
}

const message = (page, text) => page.locator('#messages .message', { has: page.locator('.message-text', { hasText: text }) });

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await message(page, text).and(page.locator('[data-id]')).waitFor({ timeout: WAIT });
}

describe('editing and deleting in the page', { skip }, () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('Arrow-up edits your last message; deletions reach every page; moderators delete any', T, async () => {
    const room = unique('edits');
    const created = await fetch(stack.url + '/api/rooms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: room }),
    });
    assert.equal(created.status, 201);
    const modName = unique('mod');
    const grant = await fetch(stack.url + '/api/moderation/roles', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await adminToken(stack)}` },
      body: JSON.stringify({ user: modName, role: 'moderator' }),
    });
    assert.equal(grant.status, 200);

    const ann = await person(unique('ann'), room);
    const bob = await person(unique('bob'), room);
    const mod = await person(modName, room);

    await send(ann.page, 'helo wrold');
    await message(bob.page, 'helo wrold').waitFor({ timeout: WAIT });
    // Arrow-up in the empty composer opens the editor on ann's last message
    await ann.page.focus('#text');
    await ann.page.keyboard.press('ArrowUp');
    const editor = ann.page.locator('.message-edit-text');
    await editor.waitFor({ timeout: WAIT });
    assert.equal(await editor.inputValue(), 'helo wrold');
    await editor.fill('hello world');
    await editor.press('Enter');
    for (const p of [ann, bob, mod]) {
      await message(p.page, 'hello world').waitFor({ timeout: WAIT });
      assert.equal(await message(p.page, 'hello world').evaluate((li) => li.classList.contains('edited')), true);
    }
    assert.equal(await message(bob.page, 'helo wrold').count(), 0);

    // bob sees no moderation actions on ann's message; the moderator does
    await message(bob.page, 'hello world').hover();
    assert.equal(await message(bob.page, 'hello world').locator('button.message-action').count(), 0);
    await message(mod.page, 'hello world').hover();
    assert.deepEqual(await message(mod.page, 'hello world').locator('button.message-action').allTextContents(), ['Delete', 'Mute', 'Ban']);

    // ann deletes her own message: gone from every page
    await send(ann.page, 'oops, wrong room');
    await message(bob.page, 'oops, wrong room').waitFor({ timeout: WAIT });
    await message(ann.page, 'oops, wrong room').hover();
    await message(ann.page, 'oops, wrong room').locator('button[data-action="delete"]').click();
    for (const p of [ann, bob, mod]) await message(p.page, 'oops, wrong room').waitFor({ state: 'detached', timeout: WAIT });

    // the moderator deletes bob's message: gone from every page, and after a reload
    await send(bob.page, 'buy cheap pills');
    await message(mod.page, 'buy cheap pills').waitFor({ timeout: WAIT });
    await message(mod.page, 'buy cheap pills').hover();
    await message(mod.page, 'buy cheap pills').locator('button[data-action="delete"]').click();
    for (const p of [ann, bob, mod]) await message(p.page, 'buy cheap pills').waitFor({ state: 'detached', timeout: WAIT });
    await bob.page.reload();
    await bob.page.locator('body[data-connection="online"]').waitFor({ state: 'attached', timeout: WAIT });
    await bob.page.locator('#room-list a', { has: bob.page.locator('.room-name', { hasText: room }) }).first().click();
    await message(bob.page, 'hello world').waitFor({ timeout: WAIT });
    assert.equal(await message(bob.page, 'buy cheap pills').count(), 0);
    assert.equal(await message(bob.page, 'hello world').evaluate((li) => li.classList.contains('edited')), true, 'history shows the edit');

    for (const p of [ann, bob, mod]) assert.deepEqual(p.errors, [], `${p.name}: no page errors`);
    await Promise.all([ann, bob, mod].map((p) => p.close()));
  });
});
