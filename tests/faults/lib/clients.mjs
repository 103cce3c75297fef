// clients.mjs -- the fault checker's clients: official socket.io-client
// sockets (WebSocket or polling, default settings otherwise) that send
// numbered messages with acks and client_id and record what they receive,
// and a REST writer.
//
// A socket client does what a standard client of our README does:
// - it joins its room once connected;
// - on a reconnection with `socket.recovered` true it does nothing: the
//   server replays what it missed, then live messages follow;
// - on `recovered: false` it follows the README's client contract: it joins
//   again with {room, after: the last id it has}, takes `missed` from the
//   ack and, while `more`, pages GET /api/rooms/{id}/messages from the last
//   id it has; live messages that arrive meanwhile wait in a buffer and are
//   applied after that, so the client sees one stream in log order;
// - its sender sends message n (client_id "<name>-<n>") and waits for the
//   ack; with no ack within ACK_MS (the process died, a transport dropped)
//   or an {error} ack, it sends the same client_id again once connected.
// Every received message is applied once by id: a second copy counts as a
// duplicate, one with an id below the last applied one as out of order.
import { io } from 'socket.io-client';
import { api, credential } from '../../integration/lib/client.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACK_MS = 4000;
const PAGE = 500;

/* The stream of one client: every message applied once, in arrival order. */
class Stream {
  constructor() {
    this.seen = new Set();
    this.lastId = 0;
    this.duplicates = { live: 0, missed: 0, history: 0 };
    this.via = { live: 0, missed: 0, history: 0 };
    this.outOfOrder = [];
  }
  apply(m, via) {
    if (this.seen.has(m.id)) {
      this.duplicates[via]++;
      return false;
    }
    this.seen.add(m.id);
    this.via[via]++;
    if (m.id < this.lastId) {
      if (this.outOfOrder.length < 5) this.outOfOrder.push({ id: m.id, after: this.lastId, via });
      else this.outOfOrder.push(null);
    } else this.lastId = m.id;
    return true;
  }
}

export class SocketClient {
  /* opts: url, name, transport ('websocket' | 'polling'), room {id, name},
   * every (ms between sends) */
  constructor(opts) {
    Object.assign(this, opts);
    this.stream = new Stream();
    this.connects = 0;
    this.recovered = { true: 0, false: 0 };
    this.refusals = []; // recovered false on a reconnection: { at, from, head, lacked }
    this.offset = null; // the last offset received, as socket.io-client keeps it
    this.connectErrors = 0;
    this.acked = new Map(); // client_id -> id
    this.sent = new Set(); // every client_id sent at least once
    this.resends = 0;
    this.ackErrors = {};
    this.needJoin = true; // in no room: join before sending
    this.more = false; // the join's missed was not all: page the history
    this.catchingUp = false; // live messages wait in the buffer
    this.buffer = [];
    this.pending = []; // refusals whose catch-up is not done
    this.queue = Promise.resolve(); // catch-ups, one at a time
    this.stopping = false;
  }

  async start() {
    const token = await credential(this.url, this.name);
    if (!token) throw new Error(`no credential for ${this.name}`);
    this.socket = io(this.url, { transports: [this.transport], forceNew: true, auth: { name: this.name, token } });
    const s = this.socket;
    // The offset socket.io-client sends back on reconnection: the last
    // string argument of any event (what its onevent keeps).
    s.onAny((...args) => {
      if (typeof args.at(-1) === 'string' && args.length > 1) this.offset = args.at(-1);
    });
    s.on('session', (info, offset) => {
      if (info?.token) s.auth.token = info.token; // a fresh credential
      // The head of the log when a recovery was refused: the server counts
      // what the client missed up to it against --max-replay.
      const r = this.refusals.at(-1);
      if (r && r.head === null && info?.recovered === false) r.head = Number(offset);
    });
    s.on('connect', () => {
      const first = this.connects++ === 0;
      if (!first) this.recovered[s.recovered]++;
      if (!s.recovered) {
        this.needJoin = true; // a new session is in no room
        if (!first) {
          const r = { at: Date.now(), from: Number(this.offset), head: null, seenBefore: this.stream.seen.size, lacked: null };
          this.refusals.push(r);
          this.pending.push(r);
        }
      }
      if (this.needJoin || this.more) {
        this.catchingUp = true; // before any event of this connection is handled
        this.queue = this.queue.then(() => this.catchUp());
      }
    });
    s.on('connect_error', () => {
      this.connectErrors++;
      // A refusal by the server (not a transport error) ends socket.io-client's
      // own retries: a standard client tries again later.
      if (!s.active && !this.closed) setTimeout(() => !this.closed && !s.active && s.connect(), 1000);
    });
    s.on('chat message', (m) => {
      if (!m || m.room !== this.room.name) return;
      if (this.catchingUp) this.buffer.push(m);
      else this.stream.apply(m, 'live');
    });
    const deadline = Date.now() + 20000;
    while (this.needJoin || this.catchingUp) {
      if (Date.now() > deadline) throw new Error(`${this.name}: not joined after 20 s`);
      await sleep(20);
    }
  }

  /* Joins (the first time, after a new session) and, after a refused
   * recovery, takes the join's `missed` and pages the history while `more`;
   * then applies the live messages that waited. Stops when disconnected:
   * the next connection goes on. */
  async catchUp() {
    const s = this.socket;
    while ((this.needJoin || this.more) && s.connected && !this.closed) {
      try {
        if (this.needJoin) {
          const arg = this.connects > 1 ? { room: this.room.name, after: this.stream.lastId } : this.room.name;
          const res = await s.timeout(ACK_MS).emitWithAck('join', arg);
          if (!res?.ok) throw new Error(`join: ${JSON.stringify(res)}`);
          this.needJoin = false;
          for (const m of res.missed ?? []) this.stream.apply(m, 'missed');
          this.more = res.more === true;
        }
        while (this.more) {
          const after = this.stream.lastId;
          const r = await api(this.url, `/api/rooms/${this.room.id}/messages?after=${after}&limit=${PAGE}`, { timeout: ACK_MS });
          if (r.status !== 200) throw new Error(`history: ${r.status}`);
          for (const m of r.body.messages) this.stream.apply(m, 'history');
          this.more = r.body.more === true || r.body.messages.length === PAGE;
        }
      } catch {
        // Disconnected meanwhile, chat-fcgi or the store down: again soon.
        this.catchUpErrors = (this.catchUpErrors ?? 0) + 1;
        await sleep(300);
      }
    }
    if (this.needJoin || this.more) return;
    const live = this.buffer;
    this.buffer = [];
    this.catchingUp = false;
    for (const m of live) this.stream.apply(m, 'live');
    // What the fallback brought (the report counts what the server had
    // to replay: the room's messages in (from, head]).
    for (const r of this.pending) r.lacked = this.stream.seen.size - r.seenBefore;
    this.pending = [];
  }

  /* Sends message after message until stop(); resolves when the last one
   * is acked (or the deadline of stop() passed). */
  async send() {
    for (let n = 1; !this.stopping; n++) {
      const cid = `${this.name}-${n}`;
      const text = `${this.name} ${n}`;
      for (let attempt = 0; ; attempt++) {
        if (this.closed) return;
        while (!(this.socket.connected && !this.needJoin)) {
          if (this.closed) return;
          await sleep(50);
        }
        if (attempt) this.resends++;
        this.sent.add(cid);
        let r;
        try {
          r = await this.socket.timeout(ACK_MS).emitWithAck('chat message', { room: this.room.name, text, client_id: cid });
        } catch {
          continue; // no ack: send it again
        }
        if (typeof r?.id === 'number') {
          this.acked.set(cid, r.id);
          break;
        }
        const why = String(r?.error ?? JSON.stringify(r)).slice(0, 60);
        this.ackErrors[why] = (this.ackErrors[why] ?? 0) + 1;
        await sleep(200);
      }
      await sleep(this.every);
    }
  }

  close() {
    this.closed = true;
    this.socket?.io.reconnection(false);
    this.socket?.close();
  }
}

/* POST /api/rooms/{id}/messages with client_id, retried with the same one
 * until a 2xx (201 stored, 200 a duplicate of the same). */
export class RestWriter {
  constructor(opts) {
    Object.assign(this, opts);
    this.acked = new Map();
    this.sent = new Set();
    this.resends = 0;
    this.errors = {};
    this.stopping = false;
  }
  async start() {
    this.token = await credential(this.url, this.name);
    if (!this.token) throw new Error(`no credential for ${this.name}`);
  }
  async send() {
    for (let n = 1; !this.stopping; n++) {
      const cid = `${this.name}-${n}`;
      for (let attempt = 0; ; attempt++) {
        if (this.closed) return;
        if (attempt) this.resends++;
        this.sent.add(cid);
        let r;
        try {
          r = await api(this.url, `/api/rooms/${this.room.id}/messages`, {
            method: 'POST',
            token: this.token,
            json: { user: this.name, text: `${this.name} ${n}`, client_id: cid },
            timeout: ACK_MS,
          });
        } catch (e) {
          r = { status: String(e.cause?.code ?? e.name) };
        }
        if (r.status === 200 || r.status === 201) {
          this.acked.set(cid, r.body.id);
          break;
        }
        this.errors[r.status] = (this.errors[r.status] ?? 0) + 1;
        await sleep(r.status === 429 ? 1000 : 200);
      }
      await sleep(this.every);
    }
  }
  close() {
    this.closed = true;
  }
}
