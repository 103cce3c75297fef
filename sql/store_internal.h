/* store_internal.h -- what sql/'s own modules share behind store.h: the
 * backend operations table (SQLite in store_sqlite.c, PostgreSQL in
 * store_pg.c) and the write scope. Nothing outside sql/ (and the store's
 * unit tests) includes it. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include "store.h"
#include "store_query.h"

typedef struct store_ops store_ops;

/* The part of every backend's connection that store.c reads. A backend's own
 * struct starts with it, so a store * is also a pointer to that struct. */
struct store {
    const store_ops *ops;
    int max_rooms;       /* rooms per namespace, > 0 */
    store_limits limits; /* the rates of store_options, or their defaults */
    bool batch;          /* the open transaction is store_batch_begin()'s */
    char err[256];       /* our own message when the failure is not the engine's */
};

/* One backend. store.c checks the arguments against the contract (limits,
 * validation) before it calls an operation, so an operation only runs its
 * statements; every operation returns a STORE_ status. The single-call
 * writers open their own transaction unless one is open (store_write_*). */
struct store_ops {
    const char *name; /* "sqlite" or "postgresql" */
    void (*close)(store *st);
    const char *(*errmsg)(const store *st);
    bool (*in_transaction)(store *st);
    int (*begin)(store *st);
    int (*commit)(store *st);
    int (*rollback)(store *st);

    /* Inserts room name in ns unless ns holds st->max_rooms already
     * (STORE_LIMIT) or the name is taken there (STORE_EXISTS); *id is the new
     * room's. Counting and inserting are one atomic step. */
    int (*room_create)(store *st, const char *ns, const char *name, int64_t *id);
    int (*room_get)(store *st, int64_t id, store_room *out);
    int (*room_find)(store *st, const char *ns, const char *name, store_room *out);
    /* room_find without the presence count (online 0); NULL: room_find */
    int (*room_lookup)(store *st, const char *ns, const char *name, store_room *out);
    int (*room_id)(store *st, const char *ns, const char *name, int64_t *id);
    int (*rooms_list)(store *st, const char *ns, int64_t after, int limit, store_room_cb cb,
                      void *ctx);
    int (*room_delete)(store *st, int64_t id);

    int (*message_append)(store *st, int64_t room_id, const char *user, const char *text,
                          const char *client_id, int64_t *id, int64_t *ts, bool *duplicate);
    int (*messages_list)(store *st, int64_t room_id, int64_t after, int64_t before, int limit,
                         store_message_cb cb, void *ctx);
    int (*log_tail)(store *st, int64_t after, int limit, store_message_cb cb, void *ctx);
    int (*log_head)(store *st, int64_t *id);

    int (*process_register)(store *st, int64_t pid, const char *listen, const char *node,
                            const char *host, int64_t *id);
    int (*process_heartbeat)(store *st, int64_t id, int64_t connections);
    int (*process_unregister)(store *st, int64_t id);
    /* Deletes the processes whose heartbeat is at or before stale_before and
     * the budget windows ended by now. */
    int (*process_reap)(store *st, int64_t stale_before, int64_t now);
    int (*processes_list)(store *st, store_process_cb cb, void *ctx);

    int (*presence_add)(store *st, int64_t process_id, const char *sid, int64_t room_id,
                        const char *user);
    int (*presence_remove)(store *st, const char *sid, int64_t room_id);
    int (*presence_remove_sid)(store *st, const char *sid);
    int (*presence_users)(store *st, int64_t room_id, int (*cb)(const char *user, void *ctx),
                          void *ctx);

    int (*session_save)(store *st, const store_session *s);
    int (*session_load)(store *st, const char *pid, int64_t updated_after, store_session *out);
    int (*session_delete)(store *st, const char *pid);
    int (*session_expire)(store *st, int64_t updated_before);
    int (*sessions_touch)(store *st, int64_t owner, int64_t updated_before);

    int (*user_claim)(store *st, const char *name);
    int (*user_claimed)(store *st, const char *name, bool *claimed);
    int (*cursor_get)(store *st, const char *user, int64_t room_id, int64_t *last_id);
    int (*cursor_set)(store *st, const char *user, int64_t room_id, int64_t last_id);

    int (*workspace_private)(store *st, const char *ns, bool *is_private);
    int (*workspace_set_private)(store *st, const char *ns, bool is_private);
    int (*workspace_exists)(store *st, const char *ns, bool *exists);
    /* Inserts workspace ns unless it exists or max workspaces exist: *created
     * says whether it did. Counting and inserting are one atomic step. */
    int (*workspace_insert)(store *st, const char *ns, int64_t max, bool *created);

    /* A write budget's window (key, span, start): its count (0 when it has
     * no row), taken so that no other connection counts in that window
     * before this transaction ends; and one more in it. Both run inside the
     * caller's transaction. */
    int (*budget_get)(store *st, const char *key, int64_t span, int64_t start, int64_t *count);
    int (*budget_add)(store *st, const char *key, int64_t span, int64_t start);
    int (*address_sessions_set)(store *st, int64_t process_id, const char *addr, int64_t n);
    int (*address_sessions_elsewhere)(store *st, int64_t process_id, const char *addr,
                                      int64_t alive_since, int64_t *n);

    int (*control_append)(store *st, const char *kind, const char *payload, int64_t *id);
    int (*control_tail)(store *st, int64_t after, store_control_cb cb, void *ctx);
    int (*control_head)(store *st, int64_t *id);
    int (*counts)(store *st, int64_t *rooms, int64_t *messages);
    /* Serialises the open transaction with every other writer of the log,
     * as message_append does, before a module appends to the log itself
     * (moderation_store.c). NULL: the transaction's BEGIN did already. */
    int (*lock_writers)(store *st);

    /* One statement of sql/'s own modules (store_query.h's ms_run, which
     * has its contract): sql on SQLite, pg_sql on PostgreSQL; a never NULL. */
    int (*query)(store *st, const char *name, const char *sql, const char *pg_sql, const ms_args *a,
                 ms_row_cb cb, void *ctx, int64_t *changed);

    /* The statements of retention.c's pruner, which holds the algorithm. */
    /* The first room with an id past after (*room_id 0: none) and its
     * namespace. */
    int (*room_next)(store *st, int64_t after, int64_t *room_id, char *ns, size_t nslen);
    /* The lowest and the highest message id of room_id (0 when it has none). */
    int (*room_span)(store *st, int64_t room_id, int64_t *lo, int64_t *hi);
    /* The id of room_id's message that has offset newer ones; *id is left
     * alone when the room holds no more than offset. */
    int (*room_nth_newest)(store *st, int64_t room_id, int64_t offset, int64_t *id);
    /* room_id's limit oldest messages, oldest first: cb gets each one's id
     * and ts until it returns non-zero. */
    int (*room_oldest)(store *st, int64_t room_id, int limit,
                       int (*cb)(int64_t id, int64_t ts, void *ctx), void *ctx);
    /* Deletes room_id's messages up to id upto and raises the room's
     * pruned_upto to it (inside the caller's transaction). */
    int (*room_prune)(store *st, int64_t room_id, int64_t upto);
    /* Deletes at most limit sessions updated at or before older_than, or
     * control events stored at or before it (the oldest first); *n says how
     * many. */
    int (*sessions_prune)(store *st, int64_t older_than, int limit, int *n);
    int (*control_prune)(store *st, int64_t older_than, int limit, int *n);
    /* Gives at most pages free pages back to the file system; *freed says
     * how many. NULL: the engine does it itself (PostgreSQL's autovacuum). */
    int (*vacuum)(store *st, int pages, int *freed);
};

/* The backends' openers: on success *out is the new connection, its schema
 * migrated; on failure *out is NULL and err says why. opt is never NULL. */
int store_sqlite_open(store **out, const char *path, const store_options *opt, char *err,
                      size_t errlen);
int store_pg_open(store **out, const char *conninfo, const store_options *opt, char *err,
                  size_t errlen);

/* Runs one write: opens a transaction unless the caller has one open
 * (store_write_begin), and commits or rolls back what it opened
 * (store_write_end, which returns rc or the commit's failure). */
typedef struct store_write_scope {
    bool own; /* this scope opened the transaction */
} store_write_scope;
int store_write_begin(store *st, store_write_scope *w);
int store_write_end(store *st, store_write_scope *w, int rc);

#endif
