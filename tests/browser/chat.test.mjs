// chat.test.mjs -- the chat page in a real browser (Debian's Chromium through
// playwright-core) against the whole stack: nginx, chat-fcgi, chat-ws.
//
// Every page gets its own browser context (its own localStorage, so its own
// display name), chosen through the welcome dialog as a person would. Every
// test fails on a console error or an uncaught exception in any of its pages;
// the only exception is the network errors of /socket.io/ requests while the
// ws process is down in the reconnection test, which the browser itself logs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumPath, launchBrowser } from '../integration/lib/browser.mjs';
import { credential } from '../integration/lib/client.mjs';
import { ROOT, hasBinary, killWs, startStack, wsPids } from '../integration/lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const OUT = path.join(ROOT, 'tests/out/browser');
const skip = !chromiumPath()
  ? 'no Chromium (deploy/install-deps.sh installs it)'
  : !hasBinary(binDir, 'chat-ws') || !hasBinary(binDir, 'chat-fcgi')
    ? `chat-fcgi / chat-ws not built in ${binDir}`
    : false;
const T = { timeout: 30000 };
const WAIT = 10000; // ms for anything a page should show
const WIDE = { width: 1100, height: 720 };

let stack;
let browser;
let seq = 0;
const unique = (prefix) => `${prefix}-${process.pid % 10000}-${++seq}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms: ${what}`);
    await sleep(50);
  }
}

/* One REST call. A message POST as body.user carries that name's credential
 * (claimed on first use, as a bot does) unless a token is given. */
async function rest(method, target, body, token) {
  const headers = {};
  if (!token && method === 'POST' && /\/messages$/.test(target) && typeof body?.user === 'string')
    token = await credential(stack.url, body.user);
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(stack.url + target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

async function createRoom(name, namespace = '/') {
  const res = await rest('POST', '/api/rooms', { name, namespace });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

function issueToken(...args) {
  return execFileSync(path.join(stack.binDir, 'chat-ws'), ['--issue-token', ...args, '--ttl', '600'], {
    env: { ...process.env, CHAT_SECRET_FILE: stack.secretFile },
    encoding: 'utf8',
  }).trim();
}

/**
 * A new person: a browser context with a page on path, the display name chosen
 * in the welcome dialog, connected. Returns { page, context, errors, dialogs,
 * name, close() }. opts.viewport, opts.connected (default true: wait for the
 * socket), opts.allowNetworkErrors (a function the test turns on while the ws
 * process is down).
 */
async function person(name, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport ?? WIDE });
  const p = { context, errors: [], dialogs: [], name, allowNetwork: false, wsAttempts: 0 };
  if (opts.blockWebSockets) {
    // a proxy that refuses WebSockets: every upgrade attempt is closed at once
    p.allowNetwork = true;
    await context.routeWebSocket(/\/socket\.io\//, (ws) => {
      p.wsAttempts++;
      ws.close({ code: 1008, reason: 'blocked' });
    });
  }
  const page = await context.newPage();
  p.page = page;
  const { errors, dialogs } = p;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url ?? '';
    const network = /\/socket\.io\//.test(where) || /\/socket\.io\//.test(m.text());
    if (p.allowNetwork && network) return;
    errors.push(`console.error: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  p.close = () => context.close().catch(() => {});
  // The same person comes back later: a new page of the same browser (its
  // localStorage keeps the name and the name's credential).
  p.revisit = async () => {
    await p.page.close();
    p.page = await context.newPage();
    p.page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await p.page.goto(stack.url + (opts.path ?? '/'));
    if (opts.connected !== false) await connected(p.page);
  };
  await page.goto(stack.url + (opts.path ?? '/'));
  await page.locator('#welcome').waitFor({ state: 'visible', timeout: WAIT });
  // The name field has the focus: a person just types.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'name');
  await page.keyboard.type(name);
  await page.keyboard.press('Enter');
  await page.locator('#welcome').waitFor({ state: 'hidden', timeout: WAIT });
  if (opts.connected !== false) await connected(page);
  return p;
}

async function connected(page) {
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached', timeout: WAIT });
}

/* Opens the room called name from the room list and waits for it. */
async function openRoom(page, name) {
  const link = page.locator('#room-list a', { has: page.locator('.room-name', { hasText: name }) });
  await link.first().click();
  await until(async () => (await page.textContent('#room-title')) === `# ${name}`, WAIT, `room ${name} shown`);
  await page.locator('#messages-wrap').waitFor();
}

async function send(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/* The texts of the messages shown. */
function texts(page) {
  return page.$$eval('#messages .message .message-text', (ps) => ps.map((p) => p.textContent));
}

async function waitText(page, text, ms = WAIT) {
  await until(async () => (await texts(page)).includes(text), ms, `message "${text}" on the page`);
}

async function members(page) {
  return page.$$eval('#member-list .member-name', (els) => els.map((e) => e.textContent));
}

/* A poll the page sent just before closing its Engine.IO session (a new
 * token replaces the socket) can reach the server after the close packet, on
 * another connection: the session is gone and Engine.IO answers 400, as the
 * official suite requires. The browser logs that answer; it is no fault. */
const RACING_POLL = /status of 400 \(Bad Request\) \(http:\/\/[^)]*\/socket\.io\/\?EIO=4&transport=polling&t=[^&]*&sid=/;

function assertClean(...people) {
  for (const p of people) {
    const errors = p.errors.filter((e) => !RACING_POLL.test(e));
    assert.deepEqual(errors, [], `${p.name}: no console errors`);
    assert.deepEqual(p.dialogs, [], `${p.name}: no dialogs`);
  }
}

/* One PNG of the given screenshots side by side, made by the browser. */
async function sideBySide(pngs, file) {
  const page = await browser.newPage({ viewport: { width: WIDE.width * pngs.length + 24 * (pngs.length + 1), height: WIDE.height + 48 } });
  try {
    const imgs = pngs.map((b) => `<img src="data:image/png;base64,${b.toString('base64')}">`).join('');
    await page.setContent(
      `<body style="margin:0;padding:24px;display:flex;gap:24px;background:#d9dce3">${imgs.replace(
        /<img /g,
        '<img style="border-radius:10px;box-shadow:0 6px 24px rgb(0 0 0 / 25%)" ',
      )}</body>`,
    );
    await page.screenshot({ path: file });
  } finally {
    await page.close();
  }
}

describe('the chat page in a browser', { skip }, () => {
  before(async () => {
    stack = await startStack({ wsProcs: 1 });
    browser = await launchBrowser();
    mkdirSync(OUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    browser = null;
    await stack?.stop();
  });

  test('two people chat in the same room: each sees the other, presence and typing follow', T, async () => {
    const room = unique('lounge');
    await createRoom(room);
    const ann = await person(unique('ann'));
    const bob = await person(unique('bob'));
    try {
      await openRoom(ann.page, room);
      await openRoom(bob.page, room);
      // Presence: the join ack's members, then `user joined` live.
      await until(async () => (await members(ann.page)).includes(bob.name), WAIT, 'bob online in ann\'s room');
      await until(async () => (await members(bob.page)).includes(ann.name), WAIT, 'ann online in bob\'s room');
      await ann.page.locator('#messages .notice', { hasText: `${bob.name} joined` }).waitFor({ timeout: WAIT });

      await send(ann.page, 'Hi Bob! Ready for the demo?');
      await waitText(bob.page, 'Hi Bob! Ready for the demo?');
      // Ann's own message: pending until its ack, then confirmed with its id.
      await until(
        async () => (await ann.page.locator('#messages .message.own:not(.pending)[data-id]').count()) === 1,
        WAIT,
        'ann\'s message confirmed',
      );

      // Typing: bob types, ann sees it.
      await bob.page.focus('#text');
      await bob.page.keyboard.type('Almost');
      await until(async () => (await ann.page.textContent('#typing')).includes(`${bob.name} is typing`), WAIT, 'typing shown');
      await bob.page.fill('#text', '');
      await send(bob.page, 'Yes! Give me two minutes.');
      await send(bob.page, 'The slides are in #design.');
      await waitText(ann.page, 'Yes! Give me two minutes.');
      await waitText(ann.page, 'The slides are in #design.');
      await until(async () => (await ann.page.textContent('#typing')) === '', WAIT, 'typing cleared by the message');
      await send(ann.page, 'Great, see you at the café — 3 pm?');
      await waitText(bob.page, 'Great, see you at the café — 3 pm?');

      // The same order everywhere, each message once.
      const want = ['Hi Bob! Ready for the demo?', 'Yes! Give me two minutes.', 'The slides are in #design.', 'Great, see you at the café — 3 pm?'];
      await until(async () => (await texts(ann.page)).join('|') === want.join('|'), WAIT, 'ann\'s view');
      await until(async () => (await texts(bob.page)).join('|') === want.join('|'), WAIT, 'bob\'s view');
      await until(async () => (await ann.page.locator('.message.pending').count()) === 0, WAIT, 'nothing pending');

      // The header says who is online; the room list counts them.
      assert.match(await ann.page.textContent('#room-sub'), /2 online/);

      await ann.page.mouse.move(0, 0);
      await bob.page.mouse.move(0, 0);
      const shots = [await ann.page.screenshot(), await bob.page.screenshot()];
      await sideBySide(shots, path.join(OUT, 'two-pages.png'));

      // Bob leaves: ann sees it.
      await bob.close();
      await ann.page.locator('#messages .notice', { hasText: `${bob.name} left` }).waitFor({ timeout: WAIT });
      await until(async () => !(await members(ann.page)).includes(bob.name), WAIT, 'bob gone from the members');
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('WebSockets blocked by a proxy: the page chats over long-polling', T, async () => {
    const room = unique('no-ws');
    await createRoom(room);
    const ann = await person(unique('ann'), { blockWebSockets: true });
    const bob = await person(unique('bob'), { blockWebSockets: true });
    try {
      await openRoom(ann.page, room);
      await openRoom(bob.page, room);
      await until(async () => (await members(ann.page)).includes(bob.name), WAIT, 'bob online in ann\'s room');
      await send(ann.page, 'over long-polling');
      await waitText(bob.page, 'over long-polling');
      await send(bob.page, 'and back again');
      await waitText(ann.page, 'and back again');
      await until(async () => (await ann.page.locator('.message.pending').count()) === 0, WAIT, 'acked');
      assert.ok(ann.wsAttempts + bob.wsAttempts >= 1, 'the pages tried WebSocket and were refused');
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('a room created in one page appears in the other without reload', T, async () => {
    const ann = await person(unique('ann'));
    const bob = await person(unique('bob'));
    try {
      const room = unique('design');
      await ann.page.fill('#room-name', room);
      await ann.page.press('#room-name', 'Enter');
      // The creator is taken there...
      await until(async () => (await ann.page.textContent('#room-title')) === `# ${room}`, WAIT, 'ann in the new room');
      // ... and the other page lists it, live.
      await bob.page.locator('#room-list .room-name', { hasText: room }).waitFor({ timeout: WAIT });
      await openRoom(bob.page, room);
      await send(bob.page, 'first!');
      await waitText(ann.page, 'first!');
      // Creating it again just opens it.
      await bob.page.fill('#room-name', 'general');
      await bob.page.press('#room-name', 'Enter');
      await until(async () => (await bob.page.textContent('#room-title')) === '# general', WAIT, 'general opened');
      assert.equal(await bob.page.isVisible('#room-error'), false);
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('markup in messages and room names is shown as text, never run', T, async () => {
    const xss = '<img src=x onerror=alert(1)>';
    const room = `<b>${unique('x')}</b><script>alert(2)</script>`;
    await createRoom(room);
    const ann = await person(unique('ann'));
    const bob = await person(`<i>${unique('b')}</i>`);
    try {
      await openRoom(ann.page, room);
      await openRoom(bob.page, room);
      await send(ann.page, xss);
      await waitText(bob.page, xss);
      await waitText(ann.page, xss);
      for (const p of [ann, bob]) {
        assert.equal(await p.page.locator('#messages img').count(), 0, 'no img element');
        assert.equal(await p.page.locator('#messages b, #messages i, #room-list b, #room-list script').count(), 0);
        const last = await p.page.$$eval('#messages .message-text', (ps) => ps.at(-1).textContent);
        assert.equal(last, xss);
        assert.equal(await p.page.textContent('#room-title'), `# ${room}`);
      }
      // Bob's name is markup too: shown literally as the author and member.
      await send(bob.page, 'hello');
      await waitText(ann.page, 'hello');
      assert.ok((await members(ann.page)).includes(bob.name));
      await sleep(300); // an onerror would have fired by now
      assertClean(ann, bob);
      assert.equal(await ann.page.evaluate(() => document.querySelectorAll('img').length), 0);
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('unread counts on the other joined rooms; opening the room clears them', T, async () => {
    const quiet = unique('quiet');
    const busy = unique('busy');
    const busyRoom = await createRoom(busy);
    await createRoom(quiet);
    const ann = await person(unique('ann'));
    try {
      await openRoom(ann.page, busy);
      await openRoom(ann.page, quiet); // busy stays joined
      for (const text of ['one', 'two', 'three']) {
        const res = await rest('POST', `/api/rooms/${busyRoom.id}/messages`, { user: 'carol', text });
        assert.equal(res.status, 201);
      }
      const badge = ann.page.locator(`#room-list a[data-room-id="${busyRoom.id}"] .room-unread`);
      await until(async () => (await badge.isVisible()) && (await badge.textContent()) === '3', WAIT, 'unread badge 3');
      assert.match(await ann.page.title(), /^\(3\) /);
      await openRoom(ann.page, busy);
      assert.equal(await badge.isVisible(), false);
      assert.deepEqual(await texts(ann.page), ['one', 'two', 'three']);
      assertClean(ann);
    } finally {
      await ann.close();
    }
  });

  test('a name is owned: the browser that claimed it keeps its credential; another browser cannot take it', T, async () => {
    const name = unique('owner');
    const own = await person(name);
    try {
      // the credential is an HttpOnly cookie session: no script can read it
      const kept = await own.page.evaluate((n) => localStorage.getItem('chat.credential:' + n), name);
      assert.equal(kept, null, 'no credential in localStorage');
      const [cookie] = (await own.context.cookies()).filter((c) => c.name === 'chat_session');
      assert.equal(cookie?.httpOnly, true, 'the session cookie is HttpOnly');
      const context = await browser.newContext({ viewport: WIDE });
      try {
        const page = await context.newPage();
        await page.goto(stack.url + '/');
        await page.locator('#welcome').waitFor({ state: 'visible', timeout: WAIT });
        await page.keyboard.type(name);
        await page.keyboard.press('Enter');
        await page.locator('#name-error').waitFor({ state: 'visible', timeout: WAIT });
        assert.match(await page.textContent('#name-error'), /taken/);
      } finally {
        await context.close();
      }
      await own.page.reload();
      await connected(own.page);
      assertClean(own);
    } finally {
      await own.close();
    }
  });

  test('coming back: what was missed since the last visit is marked new, below a divider', T, async () => {
    const room = await createRoom(unique('news'));
    const name = unique('dora');
    await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'eve', text: 'seen before' });
    const dora = await person(name);
    try {
      await openRoom(dora.page, room.name);
      await waitText(dora.page, 'seen before');
      await sleep(800); // the read cursor is sent shortly after display
      await dora.page.close();
      for (const text of ['while you were away', 'and another one'])
        assert.equal((await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'eve', text })).status, 201);
      await dora.revisit();
      await openRoom(dora.page, room.name);
      await waitText(dora.page, 'and another one');
      const order = await dora.page.$$eval('#messages > li:not(.day)', (lis) =>
        lis.map((li) => (li.classList.contains('divider') ? '--' : `${li.querySelector('.message-text')?.textContent}${li.classList.contains('is-new') ? '*' : ''}`)),
      );
      assert.deepEqual(order, ['seen before', '--', 'while you were away*', 'and another one*']);
      assertClean(dora);
    } finally {
      await dora.close();
    }
  });

  test('keyboard only: skip link, Enter to send, rooms by Tab and Enter, visible focus', T, async () => {
    const other = unique('keys');
    await createRoom(other);
    const kim = await person(unique('kim'));
    try {
      const page = kim.page;
      // A returning visitor: the name is known, the page opens on general.
      await page.reload();
      await connected(page);
      await until(async () => (await page.textContent('#room-title')) === '# general', WAIT, 'general');
      await page.keyboard.press('Tab'); // the first stop: the skip link
      assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'text');
      await page.keyboard.type('typed with the keyboard');
      await page.keyboard.press('Enter');
      await waitText(page, 'typed with the keyboard');
      // Shift+Enter is a new line, not a send.
      await page.keyboard.type('line 1');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('line 2');
      assert.equal(await page.inputValue('#text'), 'line 1\nline 2');
      await page.keyboard.press('Enter');
      await waitText(page, 'line 1\nline 2');

      // Tab order from the top: skip link, rooms, new room, create, change
      // name, messages, composer; the focus is visible at every stop.
      await page.reload();
      await connected(page);
      await until(async () => (await page.textContent('#room-title')) === '# general', WAIT, 'general');
      const order = [];
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        const f = await page.evaluate(() => {
          const a = document.activeElement;
          const style = getComputedStyle(a);
          return { id: a.id || a.className || a.tagName, room: a.getAttribute('data-room-id'), outline: style.outlineStyle };
        });
        order.push(f);
        assert.notEqual(f.outline, 'none', `focus is visible on ${f.id}`);
        if (f.id === 'text') break;
      }
      const ids = order.map((f) => (f.room ? 'room' : f.id));
      assert.equal(ids[0], 'skip-link', ids.join(' '));
      for (const [a, b] of [['skip-link', 'room'], ['room', 'room-name'], ['room-name', 'change-name'], ['change-name', 'messages-wrap'], ['messages-wrap', 'text']])
        assert.ok(ids.lastIndexOf(a) < ids.indexOf(b), `${a} before ${b}: ${ids.join(' ')}`);

      // Back to the room list with Shift+Tab; Enter opens the other room.
      const target = await page.$eval(`#room-list a[aria-label^="${other},"]`, (a) => a.getAttribute('data-room-id'));
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Shift+Tab');
        if ((await page.evaluate(() => document.activeElement.getAttribute('data-room-id'))) === target) break;
      }
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-room-id')), target);
      await page.keyboard.press('Enter');
      await until(async () => (await page.textContent('#room-title')) === `# ${other}`, WAIT, 'room opened with Enter');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'text', 'the composer has the focus');
      await page.keyboard.type('hello other room');
      await page.keyboard.press('Enter');
      await waitText(page, 'hello other room');
      assertClean(kim);
    } finally {
      await kim.close();
    }
  });

  test('narrow screen: the room list collapses behind a menu button', T, async () => {
    const room = unique('mobile');
    await createRoom(room);
    const max = await person(unique('max'), { viewport: { width: 390, height: 760 } });
    try {
      const page = max.page;
      assert.equal(await page.isVisible('#sidebar'), false, 'the sidebar is hidden');
      assert.equal(await page.isVisible('#members'), false);
      assert.ok(await page.isVisible('#menu-open'));
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll');
      await page.click('#menu-open');
      await page.locator('#sidebar').waitFor({ state: 'visible' });
      assert.equal(await page.getAttribute('#menu-open', 'aria-expanded'), 'true');
      // Escape closes it and gives the focus back to the menu button.
      await page.keyboard.press('Escape');
      await page.locator('#sidebar').waitFor({ state: 'hidden' });
      assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-open');
      await page.keyboard.press('Enter');
      await page.locator('#sidebar').waitFor({ state: 'visible' });
      await openRoom(page, room);
      await page.locator('#sidebar').waitFor({ state: 'hidden' });
      await send(page, 'sent from a phone');
      await waitText(page, 'sent from a phone');
      await page.screenshot({ path: path.join(OUT, 'narrow.png') });
      assertClean(max);
    } finally {
      await max.close();
    }
  });

  test('workspaces: /w/<name> is its own chat; an invalid name is a 404 page', T, async () => {
    const ws = unique('team').toLowerCase();
    const ann = await person(unique('ann'), { path: `/w/${ws}` });
    const bob = await person(unique('bob'), { path: `/w/${ws}` });
    try {
      for (const p of [ann, bob]) {
        await until(async () => (await p.page.textContent('#room-title')) === '# general', WAIT, 'general of the workspace');
        assert.equal(await p.page.textContent('.brand .workspace'), ws);
      }
      await send(ann.page, 'hello workspace');
      await waitText(bob.page, 'hello workspace');
      // Not in the general room of "/".
      const rooms = (await rest('GET', '/api/rooms?namespace=/')).json.rooms;
      const general = rooms.find((r) => r.name === 'general');
      const msgs = (await rest('GET', `/api/rooms/${general.id}/messages?limit=500`)).json.messages;
      assert.ok(!msgs.some((m) => m.text === 'hello workspace'));
      const wsRooms = (await rest('GET', `/api/rooms?namespace=/${ws}`)).json.rooms;
      assert.deepEqual(wsRooms.map((r) => r.name), ['general']);

      assertClean(ann, bob);

      // An invalid name: the 404 page (in a page of its own: the browser logs
      // the 404 of a navigation as a console error).
      const lost = await browser.newPage();
      try {
        const res = await lost.goto(`${stack.url}/w/Not_Valid`);
        assert.equal(res.status(), 404);
        assert.match(res.headers()['content-type'], /^text\/html/);
        assert.match(await lost.textContent('h1'), /No such workspace/);
        assert.equal(await lost.getAttribute('a[href="/"]', 'href'), '/');
      } finally {
        await lost.close();
      }
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('a private workspace asks for a token and lets in the one that names it', T, async () => {
    const ws = unique('vault').toLowerCase();
    const admin = issueToken('--admin');
    assert.equal((await rest('PUT', `/api/workspaces/${ws}`, { private: true }, admin)).status, 200);
    const zoe = await person(unique('zoe'), { path: `/w/${ws}`, connected: false });
    try {
      const page = zoe.page;
      await page.locator('#gate').waitFor({ state: 'visible', timeout: WAIT });
      assert.equal(await page.evaluate(() => document.activeElement.id), 'token');
      assert.equal(await page.locator('#room-list a').count(), 0, 'no room is listed before the token');
      // A token of another workspace is refused.
      await page.keyboard.type(issueToken('--workspace', '/elsewhere'));
      await page.keyboard.press('Enter');
      await page.locator('#token-error').waitFor({ state: 'visible', timeout: WAIT });
      await page.locator('#gate').waitFor({ state: 'visible' });
      await page.keyboard.type(issueToken('--workspace', `/${ws}`));
      await page.keyboard.press('Enter');
      await connected(page);
      await until(async () => (await page.textContent('#room-title')) === '# general', WAIT, 'general of the private workspace');
      await send(page, 'inside the vault');
      await waitText(page, 'inside the vault');
      // The token is kept for the next visit.
      await page.reload();
      await connected(page);
      await waitText(page, 'inside the vault');
      assertClean(zoe);
    } finally {
      await zoe.close();
    }
  });

  test('an admin deletes a room: it leaves every list, and the page showing it says so', T, async () => {
    const room = await createRoom(unique('doomed'));
    const ann = await person(unique('ann'));
    const bob = await person(unique('bob'));
    try {
      await openRoom(ann.page, room.name);
      await bob.page.locator(`#room-list a[data-room-id="${room.id}"]`).waitFor({ timeout: WAIT });
      const res = await rest('DELETE', `/api/rooms/${room.id}`, undefined, issueToken('--admin'));
      assert.equal(res.status, 204);
      await ann.page.locator('#messages .notice', { hasText: 'This room was deleted' }).waitFor({ timeout: WAIT });
      assert.ok(await ann.page.isDisabled('#text'), 'no composing in a deleted room');
      for (const p of [ann, bob])
        await p.page.locator(`#room-list a[data-room-id="${room.id}"]`).waitFor({ state: 'detached', timeout: WAIT });
      // The rest goes on.
      await openRoom(ann.page, 'general');
      await send(ann.page, 'moving on');
      await waitText(ann.page, 'moving on');
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });

  test('losing the connection: a banner, then the messages sent meanwhile, each once', T, async () => {
    const room = await createRoom(unique('outage'));
    const ann = await person(unique('ann'));
    const bob = await person(unique('bob'));
    try {
      await openRoom(ann.page, room.name);
      await openRoom(bob.page, room.name);
      await send(ann.page, 'before the outage');
      await waitText(bob.page, 'before the outage');
      assert.equal(await ann.page.isVisible('#banner'), false);

      ann.allowNetwork = bob.allowNetwork = true;
      const { oldPid } = await killWs(stack, 0, 'SIGKILL', { wait: false });
      for (const p of [ann, bob]) {
        await p.page.locator('#banner').waitFor({ state: 'visible', timeout: WAIT });
        assert.match(await p.page.textContent('#banner'), /Reconnecting/);
      }
      // Sent while ann is away: over REST, and by bob, whose page is offline too
      // (his message waits, pending, and is retried once the server is back).
      const posted = await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'carol', text: 'posted over REST during the outage' });
      assert.equal(posted.status, 201);
      await send(bob.page, 'typed by bob during the outage');
      assert.equal(await bob.page.locator('#messages .message.pending').count(), 1, 'shown as pending');

      await until(() => wsPids(stack)[0] && wsPids(stack)[0] !== oldPid, 15000, 'ws restarted');
      for (const p of [ann, bob]) await p.page.locator('#banner').waitFor({ state: 'hidden', timeout: 20000 });
      ann.allowNetwork = bob.allowNetwork = false;

      const want = ['before the outage', 'posted over REST during the outage', 'typed by bob during the outage'];
      for (const p of [ann, bob]) {
        await until(async () => (await texts(p.page)).join('|') === want.join('|'), WAIT, `${p.name} sees each message once, in order`);
      }
      await until(async () => (await bob.page.locator('.message.pending, .message.failed').count()) === 0, WAIT, 'bob\'s message confirmed');
      // Stored once, although it may have been sent twice.
      const stored = (await rest('GET', `/api/rooms/${room.id}/messages`)).json.messages.map((m) => m.text);
      assert.deepEqual(stored, want);
      // And the chat goes on.
      await send(ann.page, 'after the outage');
      await waitText(bob.page, 'after the outage');
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });
});

// With a recovery window of 1 ms no session can be recovered: every
// reconnection is a new session, and the page must rebuild its state itself
// (join its rooms again, take the acks' `missed`, catch up over REST) and get
// its queued message through although it reaches the server before the joins.
describe('the chat page when a session cannot be recovered', { skip }, () => {
  let main;
  before(async () => {
    main = stack;
    stack = await startStack({ wsProcs: 1, wsArgs: ['--recovery-window', '1'] });
    browser ??= await launchBrowser();
  });
  after(async () => {
    const mine = stack;
    stack = main;
    await browser?.close();
    browser = null;
    await mine?.stop();
  });

  test('rooms joined again, the gap filled, a queued message sent once', T, async () => {
    const room = await createRoom(unique('fresh'));
    const ann = await person(unique('ann'));
    const bob = await person(unique('bob'));
    try {
      await openRoom(ann.page, room.name);
      await openRoom(bob.page, room.name);
      await send(bob.page, 'before');
      await waitText(ann.page, 'before');
      await sleep(600); // ann's read cursor reaches "before"

      ann.allowNetwork = bob.allowNetwork = true;
      const { oldPid } = await killWs(stack, 0, 'SIGKILL', { wait: false });
      for (const p of [ann, bob]) await p.page.locator('#banner').waitFor({ state: 'visible', timeout: WAIT });
      assert.equal((await rest('POST', `/api/rooms/${room.id}/messages`, { user: 'carol', text: 'during' })).status, 201);
      await send(bob.page, 'queued by bob');
      await until(() => wsPids(stack)[0] && wsPids(stack)[0] !== oldPid, 15000, 'ws restarted');
      for (const p of [ann, bob]) await p.page.locator('#banner').waitFor({ state: 'hidden', timeout: 20000 });
      ann.allowNetwork = bob.allowNetwork = false;

      const want = ['before', 'during', 'queued by bob'];
      for (const p of [ann, bob])
        await until(async () => (await texts(p.page)).join('|') === want.join('|'), WAIT, `${p.name}: ${want.join(', ')}`);
      await until(async () => (await bob.page.locator('.message.pending, .message.failed').count()) === 0, WAIT, 'bob\'s message confirmed');
      const stored = (await rest('GET', `/api/rooms/${room.id}/messages`)).json.messages.map((m) => m.text);
      assert.deepEqual(stored, want);
      // Joined again: presence is back and the room still works both ways.
      await until(async () => (await members(ann.page)).includes(bob.name), WAIT, 'bob is a member again');
      await send(ann.page, 'still here');
      await waitText(bob.page, 'still here');
      assertClean(ann, bob);
    } finally {
      await ann.close();
      await bob.close();
    }
  });
});
