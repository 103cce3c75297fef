// peer-socketio.mjs -- the Socket.IO 4.8 reference server for the benchmarks:
// the chat's events on Node, in memory, WebSocket transport only.
//
//   node tests/bench/peer-socketio.mjs PORT
//
// Same wire shapes as chat-ws (ws/chat/chat.c) for what the bench uses, with no
// database: `join` (ack {ok, room, members, missed}), `chat message`
// ({room, text} -> io.to(room).emit('chat message', {id, room, user, text, ts},
// offset) + ack {id, ts}), `create room` (ack), the presence broadcasts of the
// contract (`user connected` to the namespace, `user joined` to the room,
// `user left` / `user disconnected`), namespaces "/" and /<workspace>, and
// Socket.IO's own connection state recovery. PEER_PRESENCE=0 turns the
// presence broadcasts off. Prints "listening PORT" when ready; SIGTERM stops it.
//
// PEER_PG_URL=postgresql://... makes it one node of several: broadcasts cross
// the nodes through @socket.io/postgres-adapter (NOTIFY) on that database.
// That adapter has no connection state recovery, so it is off then.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] || process.env.PORT || 9300);
const presence = process.env.PEER_PRESENCE !== '0';

const http = createServer((req, res) => {
  res.writeHead(404).end();
});
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
  ...(process.env.PEER_PG_URL
    ? {}
    : { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true } }),
});
if (process.env.PEER_PG_URL) {
  const { default: pg } = await import('pg');
  const { createAdapter } = await import('@socket.io/postgres-adapter');
  const pool = new pg.Pool({ connectionString: process.env.PEER_PG_URL, max: 4 });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)',
  );
  io.adapter(createAdapter(pool));
}

let nextId = 1;

function chat(nsp) {
  nsp.use((socket, next) => {
    const name = socket.handshake.auth?.name;
    socket.data.user = typeof name === 'string' && name.length ? name.slice(0, 32) : `guest-${socket.id.slice(0, 6)}`;
    next();
  });
  nsp.on('connection', (socket) => {
    const user = socket.data.user;
    socket.emit('session', { sid: socket.id, user, namespace: socket.nsp.name, recovered: socket.recovered });
    if (presence) socket.broadcast.emit('user connected', { user, sid: socket.id });

    socket.on('join', (arg, ack) => {
      const room = typeof arg === 'string' ? arg : arg?.room;
      if (typeof room !== 'string' || !room) return ack?.({ error: 'expected a room name' });
      const fresh = !socket.rooms.has(room);
      socket.join(room);
      ack?.({ ok: true, room, members: [], missed: [], more: false });
      if (fresh && presence) socket.to(room).emit('user joined', { room, user });
    });
    socket.on('leave', (room, ack) => {
      socket.leave(room);
      ack?.({ ok: true, room });
    });
    socket.on('create room', (arg, ack) => ack?.({ ok: true, room: { name: arg?.name ?? arg } }));
    socket.on('chat message', (msg, ack) => {
      const room = msg?.room, text = msg?.text;
      if (typeof room !== 'string' || typeof text !== 'string') return ack?.({ error: 'expected {room, text}' });
      if (!socket.rooms.has(room)) return ack?.({ error: 'join the room first' });
      const m = { id: nextId++, room, user, text, ts: Date.now() };
      socket.nsp.to(room).emit('chat message', m);
      ack?.({ id: m.id, ts: m.ts });
    });
    socket.on('disconnecting', () => {
      if (!presence) return;
      for (const room of socket.rooms) if (room !== socket.id) socket.to(room).emit('user left', { room, user });
    });
    socket.on('disconnect', () => {
      if (presence) socket.nsp.emit('user disconnected', { user, sid: socket.id });
    });
  });
}

chat(io.of('/'));
chat(io.of(/^\/[a-z0-9-]{1,32}$/));

http.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
const stop = () => io.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
