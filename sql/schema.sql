-- schema.sql -- the shared state of the chat: rooms, the message log, presence,
-- sessions and read cursors. Applied by store_open() when PRAGMA user_version is
-- below 1; every statement is idempotent so a half-applied run can be re-run.
-- Later migrations live in store_sqlite.c's migration table, keyed by user_version.

CREATE TABLE IF NOT EXISTS rooms (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace   TEXT    NOT NULL DEFAULT '/',
  name        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,             -- ms since the Unix epoch
  UNIQUE (namespace, name)
);

-- The message log. The integer key is the offset: AUTOINCREMENT guarantees an id
-- is never reused, so offsets only grow, even after deletions.
CREATE TABLE IF NOT EXISTS messages (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user       TEXT    NOT NULL,
  text       TEXT    NOT NULL,
  ts         INTEGER NOT NULL,              -- ms since the Unix epoch
  client_id  TEXT                           -- the sender's idempotency key
);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages(room_id, id);
-- One stored message per (user, client_id): retries are answered, not re-stored.
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_client
  ON messages(user, client_id) WHERE client_id IS NOT NULL;

-- Live ws processes, for /api/health and to expire presence of a dead process.
CREATE TABLE IF NOT EXISTS processes (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  pid          INTEGER NOT NULL,
  listen       TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  connections  INTEGER NOT NULL DEFAULT 0
);

-- Who is in which room right now, written by ws, read by the REST API.
CREATE TABLE IF NOT EXISTS presence (
  process_id INTEGER NOT NULL REFERENCES processes(id) ON DELETE CASCADE,
  sid        TEXT    NOT NULL,
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user       TEXT    NOT NULL,
  joined_at  INTEGER NOT NULL,
  PRIMARY KEY (sid, room_id)
);
CREATE INDEX IF NOT EXISTS presence_by_room ON presence(room_id);
CREATE INDEX IF NOT EXISTS presence_by_process ON presence(process_id);

-- Sessions kept for connection state recovery (Socket.IO's pid/offset).
CREATE TABLE IF NOT EXISTS sessions (
  pid        TEXT    PRIMARY KEY,           -- private session id given to the client
  sid        TEXT    NOT NULL,              -- the socket id the client had
  namespace  TEXT    NOT NULL,
  user       TEXT    NOT NULL,
  rooms      TEXT    NOT NULL DEFAULT '[]', -- JSON array of room ids
  data       TEXT    NOT NULL DEFAULT '{}', -- JSON object, handler data
  updated_at INTEGER NOT NULL               -- ms; past the recovery window it is gone
);

-- Each named user's read cursor per room: the last message id they have seen.
CREATE TABLE IF NOT EXISTS cursors (
  user     TEXT    NOT NULL,
  room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  last_id  INTEGER NOT NULL,
  PRIMARY KEY (user, room_id)
);

-- Workspaces (dynamic namespaces) that need a token to enter.
CREATE TABLE IF NOT EXISTS workspaces (
  namespace  TEXT    PRIMARY KEY,
  private    INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

-- Control events that every ws process applies, as it tails the message log:
-- /admin announcements and kicks reach sockets on every process this way.
-- Rows are short-lived: retention_step() prunes those older than an hour.
CREATE TABLE IF NOT EXISTS control (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  kind     TEXT    NOT NULL,               -- 'announce' or 'kick'
  payload  TEXT    NOT NULL,               -- JSON object
  ts       INTEGER NOT NULL
);

INSERT OR IGNORE INTO rooms (namespace, name, created_at)
  VALUES ('/', 'general', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
