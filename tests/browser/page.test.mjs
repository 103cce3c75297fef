// page.test.mjs -- what a person reads on the chat page (www/render.js and
// its use in chat.js), in a real browser (Debian's Chromium through
// playwright-core) against the whole stack: links and code in messages,
// day separators and times in the reader's time zone, jump to latest with
// a count, history that loads as one scrolls up, join/leave collapsed into
// one line, the member list on a phone, colour emoji.
//
// Each test leaves screenshots at 390 px and desktop width, light and dark,
// in tests/out/browser/page-<what>-<width>-<scheme>.png.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumPath, launchBrowser } from '../integration/lib/browser.mjs';
import { api, closeAll, closeLive, connect, join, until } from '../integration/lib/client.mjs';
import { ROOT, hasBinary, startStack } from '../integration/lib/stack.mjs';

const binDir = path.resolve(ROOT, process.env.BIN_DIR || 'build');
const OUT = path.join(ROOT, 'tests/out/browser');
const skip = !chromiumPath()
  ? 'no Chromium (deploy/install-deps.sh installs it)'
  : !hasBinary(binDir, 'chat-ws') || !hasBinary(binDir, 'chat-fcgi')
    ? `chat-fcgi / chat-ws not built in ${binDir}`
    : process.env.CHAT_TEST_DB_URL
      ? 'SQLite only (the day test sets timestamps in the database file)'
      : false;
const T = { timeout: 60000 };
const WAIT = 10000;
const DESKTOP = { width: 1100, height: 720 };
const PHONE = { width: 390, height: 760 };
const DAY_MS = 24 * 3600 * 1000;

let stack;
let browser;
let seq = 0;
const unique = (prefix) => `${prefix}-${process.pid % 10000}-${++seq}`;

async function createRoom(name) {
  const res = await api(stack.url, '/api/rooms', { method: 'POST', json: { name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function post(roomId, user, text) {
  const res = await api(stack.url, `/api/rooms/${roomId}/messages`, { method: 'POST', json: { user, text } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/* A reader: a browser context (opts: viewport, timezoneId, colorScheme) with
 * the page open on room, the name chosen in the welcome dialog. Fails the
 * test on any console error or uncaught exception (checked by clean()). */
async function reader(name, room, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport ?? DESKTOP, locale: 'en-US', timezoneId: opts.timezoneId, colorScheme: opts.colorScheme ?? 'light' });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${stack.url}/#room-${room.id}`);
  await page.locator('#welcome').waitFor({ state: 'visible', timeout: WAIT });
  await page.fill('#name', name);
  await page.press('#name', 'Enter');
  await page.locator('body[data-connection="online"]').waitFor({ state: 'attached', timeout: WAIT });
  await until(async () => (await page.textContent('#room-title')) === `# ${room.name}`, WAIT, 'room shown');
  await until(async () => (await page.getAttribute('#messages', 'aria-busy')) === 'false', WAIT, 'history shown');
  return {
    page,
    context,
    clean: () => assert.deepEqual(errors, [], `${name}: no console errors`),
    close: () => context.close().catch(() => {}),
  };
}

/* Four screenshots of page: 390 px and desktop width, light and dark; the
 * viewport and scheme are put back afterwards. prepare(page) runs after each
 * change (to open a panel or hover a message again). */
async function shots(page, what, prepare) {
  const was = page.viewportSize();
  for (const [label, size] of [['390', PHONE], ['desktop', DESKTOP]]) {
    for (const scheme of ['light', 'dark']) {
      await page.setViewportSize(size);
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' }); // no sliding panels mid-shot
      if (prepare) await prepare(page, label);
      await page.screenshot({ path: path.join(OUT, `page-${what}-${label}-${scheme}.png`) });
    }
  }
  await page.setViewportSize(was);
  await page.emulateMedia({ colorScheme: 'light' });
}

const messageTexts = (page) => page.$$eval('#messages .message .message-text', (els) => els.map((e) => e.textContent));

describe('what a person reads on the chat page', { skip }, () => {
  before(async () => {
    stack = await startStack({ wsProcs: 1 });
    browser = await launchBrowser();
    mkdirSync(OUT, { recursive: true });
  });
  after(async () => {
    await closeLive();
    await browser?.close();
    await stack?.stop();
  });

  test('a conversation as the README shows it (tests/out/browser/readme.png)', T, async () => {
    const room = await createRoom('release'); // a fresh stack per run: plain names
    const lines = [
      ['maya', 'Release 2.4 is tagged 🎉'],
      ['maya', 'Notes: https://example.org/releases/2.4'],
      ['theo', 'Nice! Did `make test` pass on PostgreSQL too?'],
      ['maya', 'Yes, both stores. To try it locally:\n```\nmake run\ncurl -s localhost:8080/api/rooms\n```'],
      ['theo', 'Deploying to staging now 🚀'],
    ];
    for (const [user, text] of lines) await post(room.id, user, text);
    const r = await reader('lena', room, { viewport: { width: 1100, height: 640 } });
    const other = await connect(stack.url, { name: 'theo' });
    try {
      await join(other, room.name);
      await until(async () => (await r.page.textContent('#member-list')).includes('theo'), WAIT, 'theo online');
      await r.page.mouse.move(0, 0);
      await r.page.screenshot({ path: path.join(OUT, 'readme.png') });
      r.clean();
    } finally {
      await closeAll(other);
      await r.close();
    }
  });

  test('http(s) URLs are links (noopener noreferrer), other schemes and markup stay text; `code` and code blocks', T, async () => {
    const room = await createRoom(unique('links'));
    const sent = [
      'The docs: https://example.org/guide?a=1&b=2. And (see https://en.wikipedia.org/wiki/C_(language))',
      'not links: javascript:alert(1) data:text/html,<script>alert(1)</script> ftp://example.org <a href="https://evil.example">x</a>',
      'hide: JAVASCRIPT://example.org/%0aalert(1) and http:// alone',
      'run `make run` then `curl https://localhost:8080/api/rooms`',
      '```\nint main(void) {\n    return 0; // <b>not bold</b>\n}\n```\nthat compiles',
    ];
    for (const text of sent) await post(room.id, 'linda', text);
    const r = await reader(unique('lee'), room);
    try {
      const { page } = r;
      await until(async () => (await messageTexts(page)).length === sent.length, WAIT, 'messages shown');
      // Text stays the same text: nothing added, nothing lost, nothing run.
      const shown = await messageTexts(page);
      assert.deepEqual(shown, sent.map((t) => t.replace(/```\n?/g, '').replace(/\n(?=that)/, '').replace(/`/g, '')));
      const links = await page.$$eval('#messages a', (as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target })));
      assert.deepEqual(links, [
        { href: 'https://example.org/guide?a=1&b=2', text: 'https://example.org/guide?a=1&b=2', rel: 'noopener noreferrer', target: '_blank' },
        { href: 'https://en.wikipedia.org/wiki/C_(language)', text: 'https://en.wikipedia.org/wiki/C_(language)', rel: 'noopener noreferrer', target: '_blank' },
        // The URL written inside the markup is text that is a URL: a link to itself.
        { href: 'https://evil.example/', text: 'https://evil.example', rel: 'noopener noreferrer', target: '_blank' },
      ]);
      // No element came from a message's markup.
      assert.equal(await page.locator('#messages script, #messages b, #messages .message-text a[href^="javascript"]').count(), 0);
      // Inline code (no link inside it) and a code block with its lines.
      assert.deepEqual(await page.$$eval('#messages code.inline-code', (c) => c.map((e) => e.textContent)), ['make run', 'curl https://localhost:8080/api/rooms']);
      assert.deepEqual(await page.$$eval('#messages pre.code-block code', (c) => c.map((e) => e.textContent)), ['int main(void) {\n    return 0; // <b>not bold</b>\n}']);
      // A link opens a new tab without the opener.
      const [popup] = await Promise.all([page.context().waitForEvent('page'), page.click('#messages a >> nth=0', { modifiers: [] })]);
      assert.equal(await popup.evaluate(() => window.opener), null);
      await popup.close();
      await shots(page, 'links');
      r.clean();
    } finally {
      await r.close();
    }
  });

  test('day separators in the reader\'s time zone; every message\'s time on hover and on focus', T, async () => {
    const room = await createRoom(unique('days'));
    // Three messages: one at 23:30 UTC four days ago (already the next day in
    // Tokyo), one yesterday, two today from one person (grouped). (Not older:
    // retention may delete old messages.)
    const ids = [];
    for (const text of ['from long ago', 'from yesterday', 'good morning', 'still me']) ids.push((await post(room.id, 'dana', text)).id);
    const now = Date.now();
    const d = new Date(now - 4 * DAY_MS);
    const early = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 23, 30);
    const set = [early, now - DAY_MS, now - 60000, now - 30000];
    const dateIn = (timeZone, ts) => new Date(ts).toLocaleDateString('en-US', { timeZone, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
    const sql = ids.map((id, i) => `UPDATE messages SET ts = ${set[i]} WHERE id = ${id};`).join('');
    execFileSync('sqlite3', [stack.dbPath, `PRAGMA busy_timeout = 5000; ${sql}`]);

    const labels = (page) => page.$$eval('#messages .day', (els) => els.map((e) => e.textContent));
    const utc = await reader(unique('ula'), room, { timezoneId: 'UTC' });
    const tokyo = await reader(unique('taro'), room, { timezoneId: 'Asia/Tokyo' });
    try {
      await until(async () => (await labels(utc.page)).length === 3, WAIT, 'three days in UTC').catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await utc.page.$$eval('#messages > li', (l) => l.map((x) => x.className + ':' + x.textContent + ':' + x.getAttribute('data-ts'))))}`);
      });
      assert.deepEqual(await labels(utc.page), [dateIn('UTC', early), 'Yesterday', 'Today']);
      await until(async () => (await labels(tokyo.page)).length === 3, WAIT, 'three days in Tokyo');
      assert.deepEqual(await labels(tokyo.page), [dateIn('Asia/Tokyo', early), 'Yesterday', 'Today']);
      assert.notEqual(dateIn('UTC', early), dateIn('Asia/Tokyo', early));
      // The separators sit right above the first message of their day.
      const order = await utc.page.$$eval('#messages > li:not(.notice)', (els) => els.map((e) => (e.classList.contains('day') ? 'day' : e.querySelector('.message-text')?.textContent ?? e.className)));
      assert.deepEqual(order, ['day', 'from long ago', 'day', 'from yesterday', 'day', 'good morning', 'still me']);

      // The grouped message shows no time until hovered or focused; its
      // full date and time is the tooltip of the time.
      const page = utc.page;
      const grouped = page.locator('#messages .message.cont');
      assert.equal(await grouped.count(), 1);
      assert.equal(await grouped.locator('.gutter-time').isVisible(), false);
      await grouped.hover();
      assert.ok(await grouped.locator('.gutter-time').isVisible(), 'time shown on hover');
      assert.match(await page.getAttribute('#messages .message >> nth=0 >> time', 'title'), new RegExp(`${dateIn('UTC', early)}.*11:30:00 PM`));
      await page.mouse.move(0, 0);
      assert.equal(await grouped.locator('.gutter-time').isVisible(), false);
      // Keyboard: the message list, then Up: the last message has the focus
      // and shows its time.
      await page.focus('#messages-wrap');
      await page.keyboard.press('ArrowUp');
      assert.equal(await page.evaluate(() => document.activeElement.querySelector('.message-text')?.textContent), 'still me');
      assert.ok(await grouped.locator('.gutter-time').isVisible(), 'time shown on focus');
      await shots(page, 'days', (p) => p.focus('#messages .message.cont'));
      utc.clean();
      tokyo.clean();
    } finally {
      await utc.close();
      await tokyo.close();
    }
  });

  test('scrolled up: older history loads by itself; new messages below show a jump-to-latest button with their count', T, async () => {
    const room = await createRoom(unique('scroll'));
    const total = 120; // the page reads 50 at a time
    for (let i = 1; i <= total; i++) await post(room.id, i % 3 ? 'sam' : 'kim', `message ${i}`);
    const r = await reader(unique('ria'), room);
    try {
      const { page } = r;
      await until(async () => (await messageTexts(page)).length === 50, WAIT, 'the first page');
      assert.equal(await page.isVisible('#jump-latest'), false, 'at the bottom: no button');
      // Scroll to the top, as a reader does, until there is nothing older.
      await until(
        async () => {
          await page.$eval('#messages-wrap', (w) => w.scrollBy(0, -w.scrollHeight));
          return (await messageTexts(page)).length === total;
        },
        WAIT,
        'all history loaded by scrolling up',
      );
      const all = await messageTexts(page);
      assert.deepEqual(all, Array.from({ length: total }, (_, i) => `message ${i + 1}`), 'in order, each once');
      assert.equal(await page.isVisible('#load-older'), false, 'nothing older');

      // Far up: the button shows (no count yet); three new messages: count 3.
      await page.locator('#jump-latest').waitFor({ state: 'visible', timeout: WAIT });
      assert.equal(await page.isVisible('#jump-count'), false);
      for (const t of ['new one', 'new two', 'new three']) await post(room.id, 'kim', t);
      await until(async () => (await page.textContent('#jump-count')) === '3', WAIT, 'count of 3 new messages');
      assert.match(await page.getAttribute('#jump-latest', 'aria-label'), /3 new/);
      await shots(page, 'jump', (p) => p.$eval('#messages-wrap', (w) => (w.scrollTop = 0)));
      await page.click('#jump-latest');
      await page.locator('#jump-latest').waitFor({ state: 'hidden', timeout: WAIT });
      assert.ok(await page.$eval('#messages-wrap', (w) => w.scrollHeight - w.scrollTop - w.clientHeight < 2), 'at the bottom');
      assert.equal((await messageTexts(page)).slice(-1)[0], 'new three');
      r.clean();
    } finally {
      await r.close();
    }
  });

  test('joins and leaves collapse into one line ("3 joined, 1 left"); a message starts a new line', T, async () => {
    const room = await createRoom(unique('presence'));
    const r = await reader(unique('pia'), room);
    const names = [unique('amy'), unique('ben'), unique('cy')];
    const sockets = [];
    try {
      const { page } = r;
      const lines = () => page.$$eval('#messages .notice', (els) => els.map((e) => e.textContent));
      sockets.push(await connect(stack.url, { name: names[0] }));
      await join(sockets[0], room.name);
      await until(async () => (await lines()).join('|') === `${names[0]} joined`, WAIT, 'one join, by name');
      for (const n of names.slice(1)) {
        const s = await connect(stack.url, { name: n });
        sockets.push(s);
        await join(s, room.name);
      }
      // the server coalesces presence over a short window: a join and a leave
      // inside one window cancel out, so the leave waits for the joins shown
      await until(async () => (await lines()).join('|').startsWith('3 joined'), WAIT, 'three joins on one line');
      await closeAll(sockets[1]);
      await until(async () => (await lines()).join('|') === `3 joined, 1 left: ${names[0]}, ${names[1]}, ${names[2]}`, WAIT, 'one line for all');
      // A message ends the line; the next join starts a new one.
      await post(room.id, names[0], 'hello all');
      await until(async () => (await messageTexts(page)).includes('hello all'), WAIT, 'message');
      await closeAll(sockets[2]);
      await until(async () => (await lines()).length === 2, WAIT, 'a second line');
      assert.equal((await lines())[1], `${names[2]} left`);
      await shots(page, 'presence');
      r.clean();
    } finally {
      await closeAll(sockets);
      await r.close();
    }
  });

  test('on a phone the member list opens from the header and closes with Escape', T, async () => {
    const room = await createRoom(unique('phone'));
    const r = await reader(unique('pat'), room, { viewport: PHONE });
    const other = await connect(stack.url, { name: unique('quinn') });
    try {
      const { page } = r;
      await join(other, room.name);
      assert.equal(await page.isVisible('#members'), false);
      await until(async () => (await page.textContent('#members-toggle')) === '2 online', WAIT, 'the button counts 2');
      await page.click('#members-toggle');
      await page.locator('#members').waitFor({ state: 'visible', timeout: WAIT });
      assert.equal(await page.getAttribute('#members-toggle', 'aria-expanded'), 'true');
      assert.equal(await page.locator('#member-list .member').count(), 2);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll');
      await page.screenshot({ path: path.join(OUT, 'page-members-390-open.png') });
      await page.keyboard.press('Escape');
      await page.locator('#members').waitFor({ state: 'hidden', timeout: WAIT });
      assert.equal(await page.evaluate(() => document.activeElement.id), 'members-toggle');
      await shots(page, 'members', async (p, width) => {
        if (width === '390' && !(await p.isVisible('#members'))) {
          await p.click('#members-toggle');
          await p.locator('#members').waitFor({ state: 'visible' });
        }
      });
      r.clean();
    } finally {
      await closeAll(other);
      await r.close();
    }
  });

  test('emoji are drawn in colour by the page\'s font stack; the emoji font is served locally', T, async () => {
    const room = await createRoom(unique('emoji'));
    await post(room.id, 'eve', 'Shipped 🎉🚀 — tests ✅ and a 👍🏽');
    const r = await reader(unique('eli'), room);
    try {
      const { page } = r;
      await until(async () => (await messageTexts(page)).length === 1, WAIT, 'message shown');
      // Draw an emoji with the message's own font: a colour font gives
      // coloured pixels; a missing one gives a grey box or nothing.
      const coloured = await page.$eval('#messages .message-text', (p) => {
        const c = document.createElement('canvas');
        c.width = c.height = 64;
        const g = c.getContext('2d');
        g.font = `40px ${getComputedStyle(p).fontFamily}`;
        g.fillText('🎉', 4, 48);
        const d = g.getImageData(0, 0, 64, 64).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (Math.abs(d[i] - d[i + 1]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40)) n++;
        return n;
      });
      assert.ok(coloured > 50, `the emoji is drawn in colour (${coloured} coloured pixels)`);
      const font = await fetch(`${stack.url}/static/fonts/NotoColorEmoji.ttf`, { method: 'HEAD' });
      assert.equal(font.status, 200, 'the emoji font is served');
      await shots(page, 'emoji');
      r.clean();
    } finally {
      await r.close();
    }
  });
});
