// presence.test.mjs -- issue 14.2: presence broadcasts are coalesced per room
// and per namespace (chat-ws --presence-interval). A client looping join/leave,
// or CONNECT/DISCONNECT, makes a bystander receive a few presence updates,
// not one per change, and the bystander still ends with the right state; a
// single join or connect is still seen. The assertions are counts: a marker
// user's change, made after the loop and seen by the bystander, shows that
// everything the loop changed before it has been sent.
//
// PRESENCE_INTERVAL=0 runs it with coalescing off: the loop tests then fail
// (every change reaches the bystander), which shows that they test it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ack, closeLive, connect, credential, join } from './lib/client.mjs';
import { newRoom, uniq } from './lib/bystanders.mjs';
import { rawSession } from './lib/rawws.mjs';
import { startStack } from './lib/stack.mjs';

const T = { timeout: 60000 };
const INTERVAL = Number(process.env.PRESENCE_INTERVAL ?? 250);
const ROOM_EVENTS = ['user joined', 'user left'];
const NS_EVENTS = ['user connected', 'user disconnected'];

/* The presence events of user a recorder saw, in order: [event, payload]. */
const presenceOf = (rec, user, events) =>
  rec.events.filter((e) => events.includes(e.event) && e.args[0]?.user === user).map((e) => [e.event, e.args[0]]);

describe('presence coalescing (issue 14.2)', () => {
  let stack, port;
  before(async () => {
    stack = await startStack({ wsArgs: ['--presence-interval', INTERVAL] });
    port = stack.wsPorts[0];
  });
  after(async () => {
    await closeLive();
    await stack?.stop();
  });

  /* A marker user connects and joins room; resolves once the bystander saw
   * both: every change made before them has reached it too. */
  async function marker(by, room) {
    const name = uniq('marker');
    const m = await connect(stack.url, { name });
    await join(m, room);
    await by.rec.next('user connected', (e) => e.user === name, 10000);
    await by.rec.next('user joined', (e) => e.user === name, 10000);
    return m;
  }

  test('a single join and leave reach a bystander in the room, as before', T, async () => {
    const room = (await newRoom(stack.url)).name;
    const by = await connect(stack.url, { name: uniq('by') });
    await join(by, room);
    const ann = uniq('ann');
    const a = await connect(stack.url, { name: ann });
    await join(a, room);
    const [joined, offset] = await by.rec.next('user joined', (e) => e.user === ann);
    assert.deepEqual(joined, { room, user: ann });
    assert.match(offset, /^\d+$/);
    assert.equal((await ack(a, 'leave', room)).ok, true);
    const [left] = await by.rec.next('user left', (e) => e.user === ann);
    assert.deepEqual(left, { room, user: ann });
    await marker(by, room);
    assert.equal(a.rec.count('user joined') + a.rec.count('user left'), 0, 'the actor got its own presence');
    assert.deepEqual(presenceOf(by.rec, ann, ROOM_EVENTS).map(([e]) => e), ['user joined', 'user left']);
  });

  test('a client looping join/leave of a room: the bystander gets a few updates, and the final state', T, async () => {
    const LOOPS = 40; // 80 events: within the default event burst (100)
    const room = (await newRoom(stack.url)).name;
    const by = await connect(stack.url, { name: uniq('by') });
    await join(by, room);
    const looper = uniq('looper');
    const l = await connect(stack.url, { name: looper });
    const acks = [];
    for (let i = 0; i < LOOPS; i++) acks.push(ack(l, 'join', room), ack(l, 'leave', room));
    for (const res of await Promise.all(acks)) assert.equal(res?.ok, true, JSON.stringify(res));
    await marker(by, room);
    const seen = presenceOf(by.rec, looper, ROOM_EVENTS);
    assert.ok(seen.length <= LOOPS / 4, `${seen.length} presence events for ${2 * LOOPS} changes: ${JSON.stringify(seen)}`);
    if (seen.length) assert.equal(seen.at(-1)[0], 'user left', 'the bystander ends with the looper gone');
    for (const [, e] of seen) assert.deepEqual(e, { room, user: looper });
    // a join after the loop is seen
    assert.equal((await ack(l, 'join', room)).ok, true);
    await by.rec.next('user joined', (e) => e.user === looper, 10000);
  });

  test('a client looping CONNECT/join/DISCONNECT: a few user connected/disconnected and joined/left', T, async () => {
    const LOOPS = 25; // 76 events: within the default event burst (100) and connect burst (60)
    const room = (await newRoom(stack.url)).name;
    const by = await connect(stack.url, { name: uniq('by') });
    await join(by, room);
    const looper = uniq('looper');
    const token = await credential(stack.url, looper);
    const auth = JSON.stringify({ name: looper, token });
    const c = await rawSession(port, { connect: false, headers: { 'X-Forwarded-For': '10.14.2.77' } });
    for (let i = 0; i < LOOPS; i++) {
      c.sendText(`40${auth}`);
      c.sendText(`42["join",${JSON.stringify(room)}]`);
      c.sendText('41');
    }
    c.sendText(`40${auth}`); // ends connected, out of the room
    for (let i = 0; i <= LOOPS; i++) {
      const a = await c.nextText((t) => t.startsWith('40') || t.startsWith('44'), 10000);
      assert.ok(a.startsWith('40{'), `CONNECT ${i}: ${a}`);
    }
    await marker(by, room);
    const ns = presenceOf(by.rec, looper, NS_EVENTS);
    const rooms = presenceOf(by.rec, looper, ROOM_EVENTS);
    assert.ok(ns.length <= LOOPS / 4, `${ns.length} connected/disconnected for ${2 * LOOPS + 1} changes: ${JSON.stringify(ns)}`);
    assert.ok(rooms.length <= LOOPS / 4, `${rooms.length} joined/left for ${2 * LOOPS} changes: ${JSON.stringify(rooms)}`);
    if (ns.length) assert.equal(ns.at(-1)[0], 'user connected', 'the bystander ends with the looper connected');
    if (rooms.length) assert.equal(rooms.at(-1)[0], 'user left', 'and out of the room');
    for (const [, e] of ns) assert.deepEqual(Object.keys(e).sort(), ['sid', 'user']);
    c.destroy();
  });
});
