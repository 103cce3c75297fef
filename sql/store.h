/* store.h -- rooms, the message log, presence, sessions and cursors in SQLite
 * or PostgreSQL (the path given to store_open chooses) */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"

/* Status codes: 0 is success, every failure is negative. */
#define STORE_OK 0
#define STORE_NOTFOUND -1    /* no such row */
#define STORE_EXISTS -2      /* a unique key is taken (room name in a namespace) */
#define STORE_BUSY -3        /* the database stayed locked past busy_timeout */
#define STORE_INVALID -4     /* the arguments break a documented limit */
#define STORE_FULL -5        /* disk full or I/O error: nothing was written */
#define STORE_ERROR -6       /* anything else; see store_errmsg() */
#define STORE_LIMIT -7       /* a configured cap is reached (rooms per namespace) */
#define STORE_OVER_BUDGET -8 /* a write budget (store_budget_spend) is used up */

/* The limits live in common/contract.h. These aliases keep the store's own
 * code (sql/) as it was; code outside sql/ uses the contract's names. */
#define STORE_CLIENT_ID_MAX CONTRACT_CLIENT_ID_MAX
#define STORE_LIST_MAX CONTRACT_MESSAGES_PAGE_MAX
#define STORE_ROOMS_PAGE_MAX CONTRACT_ROOMS_PAGE_MAX
#define STORE_ROOMS_MAX_DEFAULT contract_default(CONTRACT_ROOMS_PER_NAMESPACE)
#define STORE_ROOM_NAME_BUF CONTRACT_ROOM_NAME_BUF
#define STORE_USER_NAME_BUF CONTRACT_USER_NAME_BUF
#define STORE_NAMESPACE_BUF CONTRACT_NAMESPACE_BUF

typedef struct store store; /* one connection and its prepared statements */

typedef enum store_sync {
    STORE_SYNC_NORMAL = 1, /* WAL + NORMAL: survives a process crash */
    STORE_SYNC_FULL = 2,   /* WAL + FULL: survives power loss */
} store_sync;

/* Rates that every process of one deployment must count alike (the
 * programs read them from the environment: edge/settings.h). */
typedef struct store_limits {
    int64_t room_rate_user;    /* rooms a named user may create an hour (0: no limit) */
    int64_t room_rate_address; /* rooms a client address may create an hour (0: no limit) */
    int64_t claim_minute;      /* name claims per address a minute (0: no limit) */
    int64_t claim_day;         /* name claims per address a day (0: no limit) */
    int64_t claim_ttl_ms;      /* how long a never-used claim holds, > 0 */
} store_limits;

/* The defaults: the contract's room_rate_user and room_rate_address rows,
 * account.h's ACCOUNT_CLAIMS_MINUTE, _DAY and ACCOUNT_CLAIM_TTL_S. */
void store_limits_default(store_limits *l);
/* Replaces st's limits (those store_open took) for its later calls. */
void store_limits_set(store *st, const store_limits *l);

typedef struct store_options {
    int busy_timeout_ms;        /* how long a writer waits for the lock; 0 = 5000 */
    store_sync sync;            /* 0: NORMAL */
    int max_rooms;              /* rooms per namespace; 0: the contract's default */
    const store_limits *limits; /* copied at open; NULL: store_limits_default */
} store_options;

typedef struct store_room {
    int64_t id;
    char name[STORE_ROOM_NAME_BUF];
    char ns[STORE_NAMESPACE_BUF]; /* the namespace, "/" or "/<workspace>" */
    int64_t created_at;           /* ms since the epoch */
    int64_t online;               /* distinct users present, live processes only */
    int64_t last_message_id;      /* 0 when the room has no message */
    int64_t pruned_upto;          /* highest id retention deleted here, 0: none;
                                     a read reaching below it was truncated */
} store_room;

/* A message as read from the log. The strings point into the backend's row buffer:
 * they are valid only during the callback that receives them. */
typedef struct store_message {
    int64_t id; /* the offset in the log */
    int64_t room_id;
    const char *room; /* the room's name */
    const char *ns;   /* the room's namespace */
    const char *user;
    const char *text;
    const char *client_id; /* NULL when the sender gave none */
    int64_t ts;            /* ms since the epoch */
    int kind;              /* STORE_EVENT_*: a message, or an edit or deletion of one */
    int64_t target;        /* an edit or deletion: the message it changes; else 0 */
    int64_t edited_at;     /* a message: when it was last edited (ms), 0 never */
} store_message;

/* The kinds of rows in the log (sql/moderation_store.h writes the events):
 * history lists only messages, in their current state; delivery and
 * recovery follow every row, so every path agrees on edits and deletions. */
#define STORE_EVENT_MESSAGE 0
#define STORE_EVENT_EDIT 1   /* text: the new text of message target */
#define STORE_EVENT_DELETE 2 /* message target is gone, with its edits */

typedef struct store_process {
    int64_t id;
    int64_t pid;
    const char *listen;
    const char *node; /* chat-ws --node: the first character of its sids ("" unknown) */
    const char *host; /* the machine it runs on (its host name; "" unknown) */
    int64_t started_at, heartbeat_at;
    int64_t connections;
    bool alive; /* heartbeat within STORE_PROCESS_STALE_MS */
} store_process;

#define STORE_PROCESS_STALE_MS 15000

typedef struct store_session {
    char pid[64]; /* private id, the recovery key */
    char sid[64]; /* the socket id the client had */
    char ns[STORE_NAMESPACE_BUF];
    char user[STORE_USER_NAME_BUF];
    char *rooms; /* JSON array text; owned by the struct, free with store_session_free */
    char *data;  /* JSON object text; same ownership */
    int64_t updated_at;
    /* The ws process serving the socket now (its processes row id), 0 when
     * it is disconnected: a live session is in the store too, so that a
     * crash at any instant leaves it recoverable. */
    int64_t owner;
    /* save only: the process saving. A save with owner 0 (the socket
     * disconnected) leaves alone a row another process owns now (it
     * recovered the session meanwhile). */
    int64_t by;
} store_session;

/* Callbacks of the list functions. Return 0 to go on, non-zero to stop early. */
typedef int (*store_room_cb)(const store_room *room, void *ctx);
typedef int (*store_message_cb)(const store_message *msg, void *ctx);
typedef int (*store_process_cb)(const store_process *proc, void *ctx);

/* Opens (creating if needed) the database at path: WAL, busy_timeout, foreign
 * keys, the schema and its migrations, then prepares every statement. A path
 * starting with postgres:// or postgresql:// opens PostgreSQL (libpq) instead:
 * the schema and its migrations (schema_version), lock_timeout for
 * busy_timeout; a connection lost later makes calls return STORE_BUSY until a
 * later call reconnects. On success *out owns the connection; on failure *out
 * is NULL and err (if not NULL) says why. Returns a status. */
int store_open(store **out, const char *path, const store_options *opt, char *err, size_t errlen);

/* Whether path names a PostgreSQL database (postgres:// or postgresql://,
 * a libpq connection URI) rather than an SQLite file. */
bool store_path_is_pg(const char *path);

/* Finalizes every statement and closes the connection. Accepts NULL. */
void store_close(store *st);

/* The last error message of this connection. Never NULL. */
const char *store_errmsg(const store *st);

/* Current wall time in ms since the epoch, the unit of every timestamp here. */
int64_t store_now_ms(void);

/* The store checks its arguments with the contract's validation
 * (common/contract.h); these aliases are its names for it. */
#define store_valid_room_name contract_valid_room_name
#define store_valid_user_name contract_valid_user_name
#define store_valid_sender contract_valid_sender
#define store_valid_text contract_valid_text
#define store_valid_namespace contract_valid_namespace
#define store_valid_workspace contract_valid_workspace

/* Transactions. store_begin() starts BEGIN IMMEDIATE so a writer never needs
 * to upgrade a read lock; store_commit()/store_rollback() end it. The single
 * call writers below open their own transaction unless one is already open on
 * this connection, so a caller can group several writes in one commit. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st);
/* Batched writes, for a caller that commits once per event-loop turn:
 * store_batch_begin() opens a transaction (nothing when one is open) that the
 * single call writers join until store_batch_end() commits it. store_begin()
 * and store_close() commit an open batch first, so explicit transactions work
 * as before. A write of the batch is visible to other connections only after
 * that commit, and the batch holds the write lock until then: end it soon. */
int store_batch_begin(store *st);
int store_batch_end(store *st);

/* Rooms. store_room_create() makes room name (valid, trimmed by the caller) in
 * namespace ns; STORE_EXISTS when that name is taken there, STORE_LIMIT when
 * ns has its max_rooms already. out may be NULL. */
int store_room_create(store *st, const char *ns, const char *name, store_room *out);
int store_room_get(store *st, int64_t id, store_room *out);
int store_room_find(store *st, const char *ns, const char *name, store_room *out);
/* store_room_find() without the presence count (online is 0): for hot paths. */
int store_room_lookup(store *st, const char *ns, const char *name, store_room *out);
/* Only the id of room name in ns (no counts: cheap, for hot paths). */
int store_room_id(store *st, const char *ns, const char *name, int64_t *id);
/* Calls cb for the rooms of namespace ns with id > after, ordered by id, at
 * most limit of them (capped at STORE_ROOMS_PAGE_MAX + 1, so that a caller
 * can ask for one more than a page to learn whether another page follows).
 * Each room costs two index lookups (online, last message). */
int store_rooms_list(store *st, const char *ns, int64_t after, int limit, store_room_cb cb,
                     void *ctx);
int store_room_delete(store *st, int64_t id);
/* Makes sure room "general" exists in ns (a workspace on first use). */
int store_namespace_ensure(store *st, const char *ns);

/* Appends a message to room_id's log. user is a contract_valid_sender(). When
 * client_id is not NULL and the same user already stored a message with it in
 * this room, nothing is written, *duplicate is set and *id / *ts are those of
 * the stored message (the same client_id in another room is another message).
 * Returns STORE_NOTFOUND for an unknown room. */
int store_message_append(store *st, int64_t room_id, const char *user, const char *text,
                         const char *client_id, int64_t *id, int64_t *ts, bool *duplicate);

/* Lists room_id's messages in ascending id order, at most limit (capped at
 * STORE_LIST_MAX). With after >= 0: the oldest ones with id > after (after 0:
 * from the start), and below before when before > 0. With after < 0 (no
 * cursor): the newest ones (with id < before when before > 0). */
int store_messages_list(store *st, int64_t room_id, int64_t after, int64_t before, int limit,
                        store_message_cb cb, void *ctx);

/* The log tail of every room: messages with id > after, ascending, at most
 * limit. This is how ws processes deliver, whoever wrote the message. */
int store_log_tail(store *st, int64_t after, int limit, store_message_cb cb, void *ctx);

/* The highest offset in the log (0 when empty), in *id. */
int store_log_head(store *st, int64_t *id);

/* ws processes. register inserts this process (its pid, listen address,
 * node character and host name; node and host may be NULL for "") and
 * returns its row id; heartbeat refreshes it; unregister deletes it and its
 * presence rows. */
int store_process_register(store *st, int64_t pid, const char *listen, const char *node,
                           const char *host, int64_t *id);
int store_process_heartbeat(store *st, int64_t id, int64_t connections);
int store_process_unregister(store *st, int64_t id);
/* Deletes processes whose heartbeat is stale, with their presence. (Old
 * sessions and control events go with retention_step(), in batches.) */
int store_process_reap(store *st);
int store_processes_list(store *st, store_process_cb cb, void *ctx);

/* Presence: socket sid of user is in room_id, served by process_id. */
int store_presence_add(store *st, int64_t process_id, const char *sid, int64_t room_id,
                       const char *user);
int store_presence_remove(store *st, const char *sid, int64_t room_id);
int store_presence_remove_sid(store *st, const char *sid);
/* Calls cb(user, ctx) for each distinct user present in room_id. */
int store_presence_users(store *st, int64_t room_id, int (*cb)(const char *user, void *ctx),
                         void *ctx);

/* Sessions for recovery. save inserts or replaces by pid; load fills out (free
 * it with store_session_free) or returns STORE_NOTFOUND, also when older than
 * max_age_ms; expire deletes those older than max_age_ms. */
int store_session_save(store *st, const store_session *s);
int store_session_load(store *st, const char *pid, int64_t max_age_ms, store_session *out);
int store_session_delete(store *st, const char *pid);
int store_session_expire(store *st, int64_t max_age_ms);
/* Refreshes updated_at of the live sessions owner serves that were saved or
 * refreshed max_age_ms ago or longer, so that their recovery window counts
 * from about the moment the owner stopped (crashed), not from the CONNECT. */
int store_sessions_touch(store *st, int64_t owner, int64_t max_age_ms);
void store_session_free(store_session *s);

/* Claimed names. claim records the first claim of a valid user name:
 * STORE_OK, STORE_EXISTS when it is claimed already, STORE_INVALID. claimed
 * sets *claimed. Names are compared by their key (names_key): case and
 * look-alike characters do not make another name ("ABC" is "abc"). */
int store_user_claim(store *st, const char *name);
int store_user_claimed(store *st, const char *name, bool *claimed);

/* Read cursors. get gives -1 when the user has none (a cursor at 0, set on a
 * first visit to an empty room, is a cursor); set only moves forward. */
int store_cursor_get(store *st, const char *user, int64_t room_id, int64_t *last_id);
int store_cursor_set(store *st, const char *user, int64_t room_id, int64_t last_id);

/* Workspaces: whether ns needs a token, and setting it. */
int store_workspace_private(store *st, const char *ns, bool *is_private);
int store_workspace_set_private(store *st, const char *ns, bool is_private);
/* Whether workspace ns exists: created (a workspaces row) or holding rooms. */
int store_workspace_exists(store *st, const char *ns, bool *exists);
/* Creates workspace ns with its general room, unless max_workspaces exist
 * already (*created false then, and STORE_OK); *created is false too when
 * it existed. */
int store_workspace_create(store *st, const char *ns, int64_t max_workspaces, bool *created);

/* Write budgets, counted in the database so that they hold across every
 * process: messages one user and one client address may write per minute
 * and per day (0: no limit). */
typedef struct store_write_budget {
    int64_t user_minute, user_day, addr_minute, addr_day;
} store_write_budget;
/* The table's defaults (common/contract.h), for a compound literal. */
#define STORE_BUDGET_DEFAULT                                                                       \
    {                                                                                              \
        contract_default(CONTRACT_BUDGET_USER_MINUTE), contract_default(CONTRACT_BUDGET_USER_DAY), \
            contract_default(CONTRACT_BUDGET_ADDR_MINUTE),                                         \
            contract_default(CONTRACT_BUDGET_ADDR_DAY)                                             \
    }
/* The defaults (STORE_BUDGET_DEFAULT); a program reads $CHAT_WRITE_BUDGET
 * with store_write_budget_parse (edge/settings.h). */
void store_write_budget_init(store_write_budget *b);
/* Reads "user-minute/user-day/address-minute/address-day" counts, e.g.
 * "120/10000/600/50000". Returns 0, or -1 (b untouched) when malformed. */
int store_write_budget_parse(store_write_budget *b, const char *s);
/* Counts one message written by user (NULL: not counted per user) from
 * address addr (NULL or "": not counted per address) in the current minute
 * and day. Returns STORE_OK, or STORE_OVER_BUDGET with *which naming the
 * budget used up (nothing counted then), or a store error. Inside a caller's
 * transaction, it joins it. */
int store_budget_spend(store *st, const store_write_budget *b, const char *user, const char *addr,
                       const char **which);

/* Room creation, counted in the database so that it holds across every
 * process (issue 21.6): counts one room created by user (NULL or "": not
 * counted per user) from addr (NULL or "": not per address) in the current
 * hour, within st's limits (store_options.limits: room_rate_user and
 * room_rate_address). Returns STORE_OK, or
 * STORE_OVER_BUDGET (nothing counted) with *retry_s the seconds until the
 * hour ends, or a store error. Inside a caller's transaction, it joins it:
 * roll back when the room is not made, and the attempt is not counted. */
int store_room_rate_spend(store *st, const char *user, const char *addr, int64_t *retry_s);
/* Counts one workspace created from addr in the current hour, at most
 * per_hour (0: no limit), across every process; as store_room_rate_spend. */
int store_workspace_rate_spend(store *st, const char *addr, int64_t per_hour, int64_t *retry_s);

/* Engine.IO sessions per client address, so that --max-per-address holds
 * across every ws process (issue 21.12). set records that process_id holds n
 * sessions of addr (0 removes the row); elsewhere sums those of the other
 * live processes (a stale heartbeat's rows do not count). */
int store_address_sessions_set(store *st, int64_t process_id, const char *addr, int64_t n);
int store_address_sessions_elsewhere(store *st, int64_t process_id, const char *addr, int64_t *n);

/* Control events for every ws process (admin announcements, kicks).
 * append stores one (payload: JSON text) and gives its id; tail calls cb with
 * those after `after`, ascending; head gives the last id (0 when none). */
typedef int (*store_control_cb)(int64_t id, const char *kind, const char *payload, void *ctx);
int store_control_append(store *st, const char *kind, const char *payload, int64_t *id);
int store_control_tail(store *st, int64_t after, store_control_cb cb, void *ctx);
int store_control_head(store *st, int64_t *id);

/* Counts for stats and health: rooms, and messages ever stored (the log head,
 * which deletions do not lower; cheap where COUNT(*) would scan the log). */
int store_counts(store *st, int64_t *rooms, int64_t *messages);

#endif
