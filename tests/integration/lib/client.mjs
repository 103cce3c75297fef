// client.mjs -- small helpers for the integration tests: official
// socket.io-client sockets that record what they receive, waits with
// timeouts, acks with timeouts, a raw Engine.IO WebSocket, REST calls.
//
//   const a = await connect(stack.url, { name: 'ann' });
//   const res = await ack(a, 'join', 'general');
//   const [msg, offset] = await a.rec.next('chat message');
//   await closeAll(a);
import { io } from 'socket.io-client';
import WebSocket from 'ws';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Resolves like p, or rejects after ms with an error naming what. */
export function withTimeout(p, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/* Polls fn (sync or async) until it returns a truthy value, up to ms. */
export async function until(fn, ms, what, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms: ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

/**
 * Records every event a socket receives (via onAny, so from its creation on)
 * as { event, args } in order; args keep the trailing offset string.
 *   rec.of(event)             the args arrays of that event so far
 *   rec.next(event, pred, ms) resolves to the args of the first event of that
 *                             name not consumed by an earlier next() and
 *                             matching pred (default: any)
 *   rec.count(event)
 */
export class Recorder {
  constructor(socket) {
    this.events = [];
    this.waiters = [];
    this.consumed = new Set();
    socket.onAny((event, ...args) => {
      const e = { event, args, at: Date.now() };
      this.events.push(e);
      for (const w of [...this.waiters]) w(e);
    });
  }
  of(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.args);
  }
  count(event) {
    return this.events.filter((e) => e.event === event).length;
  }
  clear() {
    this.events = [];
    this.consumed.clear();
  }
  next(event, pred = () => true, ms = 5000) {
    const fits = (e) => e.event === event && !this.consumed.has(e) && pred(...e.args);
    const have = this.events.find(fits);
    if (have) {
      this.consumed.add(have);
      return Promise.resolve(have.args);
    }
    let waiter;
    const p = new Promise((resolve) => {
      let done = false;
      waiter = (e) => {
        if (done || !fits(e)) return;
        done = true;
        this.consumed.add(e);
        resolve(e.args);
      };
      this.waiters.push(waiter);
    });
    return withTimeout(p, ms, `event '${event}'`).finally(() => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }
  /* Resolves when count(event) >= n. */
  async atLeast(event, n, ms = 5000) {
    return until(() => this.count(event) >= n && this.of(event), ms, `${n} '${event}' events (have ${this.count(event)})`, 10);
  }
}

const live = new Set();

/**
 * A socket.io-client socket to url + ns with transports ['websocket'], a new
 * Manager each time (forceNew), reconnection off unless opts say otherwise;
 * socket.rec records its events. Resolves once connected (rejects on
 * connect_error or after opts.connectTimeout ms, 5000).
 *   opts.name   auth.name; the name's credential (credential()) goes in
 *               auth.token unless opts.auth has a token or opts.claim is false
 *   opts.ns     namespace ('/' by default)
 *   opts.auth   more auth
 *   opts.connect false: return the socket without waiting
 *   others are passed to io()
 */
export async function connect(url, opts = {}) {
  const { name, ns = '/', auth = {}, connect: wait = true, connectTimeout = 5000, claim = true, ...rest } = opts;
  const mine = { ...auth };
  if (name !== undefined) {
    mine.name = name;
    if (claim && mine.token === undefined && typeof name === 'string') {
      const token = await credential(url, name);
      if (token) mine.token = token;
    }
  }
  const socket = io(url + (ns === '/' ? '' : ns), {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    auth: mine,
    ...rest,
  });
  // A fresh credential comes with every session greeting of an owned name.
  socket.on('session', (info) => {
    if (info?.token && typeof name === 'string') credentials.set(credentialKey(url, name), Promise.resolve(info.token));
  });
  live.add(socket);
  socket.rec = new Recorder(socket);
  if (!wait) return socket;
  try {
    await waitConnect(socket, connectTimeout);
  } catch (e) {
    socket.close();
    live.delete(socket);
    throw e;
  }
  return socket;
}

/* Resolves when the socket is (re)connected; rejects on connect_error. */
export function waitConnect(socket, ms = 5000) {
  if (socket.connected) return Promise.resolve(socket);
  let onOk, onErr;
  const p = new Promise((resolve, reject) => {
    onOk = () => resolve(socket);
    onErr = (e) => reject(e);
    socket.once('connect', onOk);
    socket.once('connect_error', onErr);
  });
  return withTimeout(p, ms, 'connect').finally(() => {
    socket.off('connect', onOk);
    socket.off('connect_error', onErr);
  });
}

/* The next connect_error of a socket (its Error), or a rejection on connect. */
export function connectError(socket, ms = 5000) {
  let onOk, onErr;
  const p = new Promise((resolve, reject) => {
    onOk = () => reject(new Error('connected, expected connect_error'));
    onErr = (e) => resolve(e);
    socket.once('connect', onOk);
    socket.once('connect_error', onErr);
  });
  return withTimeout(p, ms, 'connect_error').finally(() => {
    socket.off('connect', onOk);
    socket.off('connect_error', onErr);
  });
}

/* Emits event with args and resolves to the ack's first argument. */
export function ack(socket, event, ...args) {
  let ms = 5000;
  if (args.length && typeof args[args.length - 1] === 'object' && args[args.length - 1]?.__ms) ms = args.pop().__ms;
  return socket.timeout(ms).emitWithAck(event, ...args);
}
export const within = (ms) => ({ __ms: ms });

/* Joins room (asserting the ack is ok) and resolves to the ack. */
export async function join(socket, room) {
  const res = await ack(socket, 'join', room);
  if (!res || res.ok !== true) throw new Error(`join ${room} failed: ${JSON.stringify(res)}`);
  return res;
}

/* Closes the sockets (and their managers), ignoring ones already closed. */
export async function closeAll(...sockets) {
  for (const s of sockets.flat()) {
    if (!s) continue;
    try {
      s.io.reconnection(false);
      s.close();
      s.io.engine?.close();
    } catch {
      /* already closed */
    }
    live.delete(s);
  }
}

/* Closes every socket connect() made and not closed yet (for after hooks). */
export async function closeLive() {
  await closeAll([...live]);
}

/* Names are owned (docs/security.md): the first claim of a name answers its
 * credential. credential(url, name) resolves to the token of name on the
 * stack at url, claiming it with POST /api/users the first time (null when
 * the name is invalid or someone else claimed it), the way a bot or the page
 * does. Kept per stack for the test process. */
const credentials = new Map();
const credentialKey = (url, name) => `${url}\n${name.trim()}`;
export function credential(url, name) {
  const key = credentialKey(url, name);
  if (!credentials.has(key)) {
    const p = api(url, '/api/users', { method: 'POST', json: { name } }).then(
      (r) => (r.status === 201 ? r.body.token : null),
      () => null,
    );
    credentials.set(key, p);
    p.then((t) => t || credentials.delete(key)); // a refusal is not kept: retry next time
  }
  return credentials.get(key);
}

/* REST through nginx: resolves to { status, headers, body } (body parsed as
 * JSON when it is JSON, else the text). opts.token: sent as a bearer token;
 * opts.headers: more request headers (e.g. cookie).
 * A POST of a message ({user, ...} to /api/rooms/{id}/messages) without
 * opts.token carries the user's credential (credential()), unless opts.as is
 * false. */
export async function api(url, path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: { ...(opts.headers || {}) }, signal: AbortSignal.timeout(opts.timeout ?? 5000) };
  let token = opts.token;
  if (token === undefined && opts.as !== false && init.method === 'POST' && /\/messages$/.test(path) && typeof opts.json?.user === 'string')
    token = await credential(url, opts.json.user);
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (opts.json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  let body = text;
  if ((res.headers.get('content-type') || '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      /* keep the text */
    }
  }
  return { status: res.status, statusText: res.statusText, headers: res.headers, body };
}

/* Every message of a room via REST (GET /api/rooms/{id}/messages, paged). */
export async function roomMessages(url, roomId) {
  const out = [];
  let after = 0;
  for (;;) {
    const res = await api(url, `/api/rooms/${roomId}/messages?after=${after}&limit=500`);
    if (res.status !== 200) throw new Error(`GET messages: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...res.body.messages);
    if (res.body.messages.length < 500) return out;
    after = res.body.messages[res.body.messages.length - 1].id;
  }
}

/* The room of that name in the namespace via REST, or undefined. */
export async function restRoom(url, name, ns = '/') {
  const res = await api(url, `/api/rooms?namespace=${encodeURIComponent(ns)}`);
  if (res.status !== 200) throw new Error(`GET /api/rooms: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.rooms.find((r) => r.name === name);
}

/**
 * A raw Engine.IO v4 WebSocket (the ws package) to
 * ws://host/socket.io/?EIO=4&transport=websocket. Resolves once open, to
 * { ws, frames, next(pred, ms), closed, send(text), close() }: frames are the
 * text frames received; closed resolves to { code, reason } when the
 * connection ends. opts.query replaces the query string; opts.pong: answer
 * pings (default false).
 */
export async function rawWs(url, opts = {}) {
  const query = opts.query ?? 'EIO=4&transport=websocket';
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?${query}`);
  const frames = [];
  const waiters = [];
  let consumedUpTo = 0;
  ws.on('message', (data, isBinary) => {
    const f = isBinary ? data : data.toString();
    frames.push(f);
    if (opts.pong && f === '2') ws.send('3');
    for (const w of [...waiters]) w();
  });
  let closedResolve;
  const closed = new Promise((r) => (closedResolve = r));
  ws.on('close', (code, reason) => closedResolve({ code, reason: reason.toString(), at: Date.now() }));
  ws.on('error', () => {}); // 'close' follows
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode })));
    ws.once('error', reject);
  });
  await withTimeout(opened, opts.timeout ?? 5000, 'raw ws open');
  const raw = {
    ws,
    frames,
    closed,
    isClosed: () => ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING,
    send: (t) => ws.send(t),
    close: () => {
      try {
        ws.terminate();
      } catch {
        /* gone */
      }
    },
    /* The next frame (after those already taken by next) matching pred. */
    next(pred = () => true, ms = 5000) {
      const take = () => {
        while (consumedUpTo < frames.length) {
          const f = frames[consumedUpTo++];
          if (pred(f)) return { f };
        }
        return null;
      };
      const got = take();
      if (got) return Promise.resolve(got.f);
      let w;
      let done = false;
      const p = new Promise((resolve) => {
        w = () => {
          if (done) return;
          const g = take();
          if (g) {
            done = true;
            resolve(g.f);
          }
        };
        waiters.push(w);
      });
      return withTimeout(p, ms, 'raw ws frame').finally(() => waiters.splice(waiters.indexOf(w) >>> 0, 1));
    },
  };
  return raw;
}

/* Resolves to the status code with which an upgrade to that query was
 * refused, or rejects if the upgrade succeeded. */
export function refusedUpgrade(url, query, ms = 5000) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?${query}`);
  const p = new Promise((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode);
      req.destroy();
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`upgrade to ?${query} was accepted`));
    });
    ws.once('error', (e) => resolve(e.message));
  });
  return withTimeout(p, ms, 'upgrade answer').finally(() => ws.terminate());
}
