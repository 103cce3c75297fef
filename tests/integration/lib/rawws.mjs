// rawws.mjs -- a hand-made WebSocket client over node:net, for feeding a
// server frames no well-behaved library would send (unmasked, RSV bits,
// unknown opcodes, fragmented or oversize control frames, invalid UTF-8,
// absurd lengths, endless fragments), and raw HTTP requests.
//
//   const c = await rawUpgrade(port, { path: '/socket.io/?EIO=4&transport=websocket' });
//   c.status                      // 101 (or the refusal's status, c.body its body)
//   await c.nextText(f => f.startsWith('0'))
//   c.sendText('40')              // a masked, final text frame
//   c.write(frame({ opcode: 1, rsv: 4, payload: 'x' }))
//   const { code, reason } = await c.closed   // the server's close frame
//
// Every promise here is bounded by a timeout.
import crypto from 'node:crypto';
import net from 'node:net';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

function timeoutPromise(p, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * One WebSocket frame as bytes.
 *   opcode   0-15
 *   payload  Buffer or string (UTF-8)
 *   fin      default true
 *   rsv      the three RSV bits as a number 0-7 (4 = RSV1)
 *   mask     default true (a client must mask); false sends it in clear
 *   length   override the announced payload length (a number or BigInt),
 *            e.g. 2n ** 63n for a 64-bit length with the high bit set
 *   lengthForm  force 'short' | '16' | '64' length encoding
 */
export function frame({ opcode = OP.TEXT, payload = Buffer.alloc(0), fin = true, rsv = 0, mask = true, length, lengthForm } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const announced = length === undefined ? BigInt(data.length) : BigInt(length);
  const form = lengthForm ?? (announced < 126n ? 'short' : announced < 65536n ? '16' : '64');
  const head = [((fin ? 1 : 0) << 7) | ((rsv & 7) << 4) | (opcode & 15)];
  const maskBit = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (form === 'short') {
    head.push(maskBit | Number(announced));
  } else if (form === '16') {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(announced));
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(announced);
  }
  let body = data;
  let key = Buffer.alloc(0);
  if (mask) {
    key = crypto.randomBytes(4);
    body = Buffer.from(data);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/* A close frame's payload: the code (16 bits) and a reason. */
export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/* Parses server frames out of buf (server frames are unmasked). Returns
 * { frames, rest }. */
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    let key = null;
    if (b1 & 0x80) {
      if (buf.length - p < 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < len) break;
    let payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: !!(b0 & 0x80), rsv: (b0 >> 4) & 7, opcode: b0 & 15, payload });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/**
 * Opens a TCP connection to 127.0.0.1:port and sends a WebSocket upgrade
 * request for opts.path (default the Engine.IO WebSocket endpoint), with
 * opts.headers added (an object; a null value leaves that header out).
 * Resolves once the HTTP answer's head is in, to a connection:
 *   status, headers (lower-case names), body (what followed a refusal, read
 *   until the server closes or opts.timeout), sock
 *   frames               every frame received, { fin, rsv, opcode, payload }
 *   texts                the payloads of text frames, as strings
 *   nextText(pred, ms)   the next text frame (not taken before) matching pred
 *   write(buf)           raw bytes
 *   sendText(s), sendBinary(b), sendClose(code, reason)
 *   closed               resolves { code, reason, closeFrame, how, at } at
 *                        the server's close frame (answered with a close
 *                        frame unless opts.replyClose === false), or when
 *                        the TCP connection ends without one: code is that
 *                        of the close frame (1005 when it had none, null
 *                        when there was no close frame at all)
 *   waitClosed(ms)       closed, or a rejection after ms (then destroyed)
 *   tcpClosed            resolves when the TCP connection is gone
 *   isClosed()           the TCP connection is gone; destroy()
 * More options: pong (default true: answer WebSocket pings), eioPong (answer
 * Engine.IO pings "2" with "3"; default false), replyClose, timeout (ms for
 * the HTTP answer, 5000), host (the Host header).
 */
export function rawUpgrade(port, opts = {}) {
  const path = opts.path ?? '/socket.io/?EIO=4&transport=websocket';
  const host = opts.host ?? `127.0.0.1:${port}`;
  const key = crypto.randomBytes(16).toString('base64');
  const hdrs = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...opts.headers,
  };
  const lines = [`GET ${path} HTTP/1.1`];
  for (const [k, v] of Object.entries(hdrs)) if (v !== null && v !== undefined) lines.push(`${k}: ${v}`);
  const request = lines.join('\r\n') + '\r\n\r\n';

  const sock = net.connect({ port, host: '127.0.0.1' });
  sock.setNoDelay(true);
  const conn = {
    sock,
    status: 0,
    headers: {},
    body: '',
    frames: [],
    texts: [],
    closeFrame: null,
    ended: false,
  };
  let buf = Buffer.alloc(0);
  let headDone = false;
  let taken = 0;
  const waiters = new Set();
  let closedResolve;
  conn.closed = new Promise((r) => (closedResolve = r));
  let headResolve, headReject;
  const head = new Promise((res, rej) => {
    headResolve = res;
    headReject = rej;
  });

  let settled = false;
  const settle = (how) => {
    if (settled) return;
    settled = true;
    const cf = conn.closeFrame;
    let code = null;
    let reason = '';
    if (cf) {
      code = cf.payload.length >= 2 ? cf.payload.readUInt16BE(0) : 1005;
      reason = cf.payload.subarray(2).toString();
    }
    closedResolve({ code, reason, closeFrame: !!cf, how, at: Date.now() });
  };
  const finish = () => {
    if (conn.ended) return;
    conn.ended = true;
    settle('tcp closed');
    for (const w of [...waiters]) w();
    if (!headDone) headReject(new Error(`connection closed before an HTTP answer (${buf.toString().slice(0, 200)})`));
  };

  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!headDone) {
      const at = buf.indexOf('\r\n\r\n');
      if (at < 0) return;
      const text = buf.subarray(0, at).toString('latin1');
      const [statusLine, ...hl] = text.split('\r\n');
      conn.status = parseInt(statusLine.split(' ')[1], 10);
      for (const l of hl) {
        const i = l.indexOf(':');
        if (i > 0) conn.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      buf = buf.subarray(at + 4);
      headDone = true;
      if (conn.status !== 101) {
        // a refusal: gather the body (Content-Length, else until the end)
        const want = parseInt(conn.headers['content-length'] ?? '-1', 10);
        const done = () => {
          conn.body = buf.toString();
          headResolve(conn);
        };
        if (want >= 0 && buf.length >= want) return done();
        const more = (d2) => {
          conn.body = buf.toString();
          if (want >= 0 && buf.length >= want) {
            sock.off('data', more);
            headResolve(conn);
          }
        };
        sock.on('end', done);
        sock.on('close', done);
        if (want >= 0) sock.on('data', more);
        return;
      }
      headResolve(conn);
    }
    if (conn.status !== 101) return;
    const { frames, rest } = parseFrames(buf);
    buf = Buffer.from(rest);
    for (const f of frames) {
      conn.frames.push(f);
      if (f.opcode === OP.TEXT) conn.texts.push(f.payload.toString());
      if (f.opcode === OP.CLOSE && !conn.closeFrame) {
        conn.closeFrame = f;
        // the close handshake: answer with the same code, as a client must
        if (opts.replyClose !== false && !sock.destroyed) sock.write(frame({ opcode: OP.CLOSE, payload: f.payload.subarray(0, 2) }));
        settle('close frame');
      }
      if (f.opcode === OP.PING && opts.pong !== false && !sock.destroyed) sock.write(frame({ opcode: OP.PONG, payload: f.payload }));
      if (f.opcode === OP.TEXT && opts.eioPong && f.payload.toString() === '2' && !sock.destroyed) sock.write(frame({ opcode: OP.TEXT, payload: '3' }));
    }
    for (const w of [...waiters]) w();
  });
  sock.on('error', () => {});
  sock.on('close', finish);
  conn.tcpClosed = new Promise((r) => sock.once('close', () => r(Date.now())));
  sock.on('end', () => {
    // answer the server's FIN so the connection is fully closed
    if (!sock.destroyed) sock.end();
  });
  sock.on('connect', () => sock.write(request));

  conn.write = (b) => {
    if (sock.destroyed || !sock.writable) return false;
    return sock.write(b);
  };
  conn.sendText = (s, more = {}) => conn.write(frame({ opcode: OP.TEXT, payload: s, ...more }));
  conn.sendBinary = (b, more = {}) => conn.write(frame({ opcode: OP.BINARY, payload: b, ...more }));
  conn.sendClose = (code, reason = '') => conn.write(frame({ opcode: OP.CLOSE, payload: code === undefined ? Buffer.alloc(0) : closePayload(code, reason) }));
  conn.isClosed = () => conn.ended;
  conn.destroy = () => {
    sock.destroy();
  };
  conn.nextText = (pred = () => true, ms = 5000) => {
    const take = () => {
      while (taken < conn.texts.length) {
        const t = conn.texts[taken++];
        if (pred(t)) return { t };
      }
      return null;
    };
    const got = take();
    if (got) return Promise.resolve(got.t);
    let w;
    const p = new Promise((resolve, reject) => {
      w = () => {
        const g = take();
        if (g) resolve(g.t);
        else if (conn.ended) reject(new Error(`connection closed while waiting for a text frame (close ${conn.closeFrame ? conn.closeFrame.payload.readUInt16BE(0) : 'none'})`));
      };
      waiters.add(w);
    });
    return timeoutPromise(p, ms, 'text frame').finally(() => waiters.delete(w));
  };
  /* Resolves to the close outcome, or rejects after ms (the connection is
   * then destroyed). */
  conn.waitClosed = (ms = 5000) =>
    timeoutPromise(conn.closed, ms, 'server closing the connection').catch((e) => {
      sock.destroy();
      throw e;
    });

  return timeoutPromise(head, opts.timeout ?? 5000, `HTTP answer to the upgrade on port ${port}`).catch((e) => {
    sock.destroy();
    throw e;
  });
}

/**
 * An Engine.IO session over a raw WebSocket to a ws port: upgrade, the open
 * packet, and (unless opts.connect === false) a Socket.IO CONNECT to opts.ns
 * (default '/') with opts.auth. Resolves to the connection with .open (the
 * parsed open packet) and .sid (the Socket.IO sid when connected).
 */
export async function rawSession(port, opts = {}) {
  const c = await rawUpgrade(port, opts);
  if (c.status !== 101) throw new Error(`upgrade refused: ${c.status} ${c.body}`);
  const open = await c.nextText((t) => t.startsWith('0'));
  c.open = JSON.parse(open.slice(1));
  if (opts.connect !== false) {
    const ns = opts.ns ?? '/';
    const nsPart = ns === '/' ? '' : `${ns},`;
    c.sendText(`40${nsPart}${opts.auth ? JSON.stringify(opts.auth) : ''}`);
    const ok = await c.nextText((t) => t.startsWith(`40${nsPart}`) || t.startsWith(`44${nsPart}`));
    if (ok.startsWith('44')) throw new Error(`connect_error: ${ok}`);
    c.sid = JSON.parse(ok.slice(2 + nsPart.length)).sid;
  }
  return c;
}

/**
 * Sends raw bytes (a whole HTTP request, or only a part of it) to
 * 127.0.0.1:port and gathers the answer until the server closes or the
 * answer is complete (Content-Length), or ms pass. Resolves to
 * { status, headers, body, raw, closed } (status 0 when nothing came).
 * opts.keepOpen: do not half-close after writing; opts.localAddress: the
 * client's source address (127.0.0.2 stands in for a second client).
 */
export function rawHttp(port, bytes, opts = {}) {
  const ms = opts.timeout ?? 5000;
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = buf.toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const headText = at >= 0 ? text.slice(0, at) : text;
      const [statusLine = '', ...hl] = headText.split('\r\n');
      const headers = {};
      for (const l of hl) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = parseInt(statusLine.split(' ')[1], 10) || 0;
      resolve({ status, headers, body: at >= 0 ? buf.subarray(Buffer.byteLength(text.slice(0, at + 4), 'latin1')).toString() : '', raw: text, closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    sock.on('connect', () => {
      sock.write(bytes);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      if (at >= 0) {
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, at));
        if (m && buf.length - (at + 4) >= parseInt(m[1], 10)) finish(false);
      }
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

/* The resident set size of a process in KiB (VmRSS of /proc/pid/status). */
export async function rssKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(text);
  return m ? parseInt(m[1], 10) : null;
}

/**
 * Writes parts to 127.0.0.1:port one by one, gapMs apart (a body split
 * across TCP segments, pipelined requests in one write), then gathers what
 * comes back for waitMs or until the server closes. Resolves to
 * { text, closed, responses } where responses are the HTTP answers found in
 * text, each { status, headers, body } (bodies by Content-Length).
 */
export function rawHttpParts(port, parts, opts = {}) {
  const gapMs = opts.gapMs ?? 100;
  const waitMs = opts.waitMs ?? 1000;
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ text: buf.toString('latin1'), closed, responses: splitResponses(buf) });
    };
    sock.on('data', (d) => (buf = Buffer.concat([buf, d])));
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (sock.destroyed) break;
        sock.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      setTimeout(finish, waitMs);
    });
  });
}

/* The HTTP responses in buf, one after another, bodies by Content-Length. */
function splitResponses(buf) {
  const out = [];
  let at = 0;
  while (at < buf.length) {
    const text = buf.toString('latin1', at);
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...hl] = text.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of hl) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = parseInt(headers['content-length'] ?? '0', 10);
    const bodyAt = at + end + 4;
    out.push({ status: parseInt(statusLine.split(' ')[1], 10) || 0, headers, body: buf.toString('utf8', bodyAt, bodyAt + len) });
    at = bodyAt + len;
  }
  return out;
}
