/* hub.h -- the one owner of following the log: the delivered cursors of the message log and of
 * the control log, catch-up, publishing after a commit, and the bus's handlers */
#ifndef HUB_H
#define HUB_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "metrics.h"
#include "store.h"

/* A ws process follows two logs of the store: messages (delivered to the
 * sockets of their room) and control events (applied by the adapter). The
 * hub holds how far it has gone in each and reads on from there; nothing
 * else moves those cursors. The store is the truth: the bus only says "there
 * is news" -- what a datagram claims is never delivered as such, only what
 * the log holds (a forged datagram can at most cause a read of the log). */
typedef struct hub hub;

/* Delivers m, the next message of the log, to this process's sockets. */
typedef void (*hub_deliver_fn)(const store_message *m, void *ud);
/* Applies control event id of kind; payload is its JSON text. */
typedef void (*hub_control_fn)(int64_t id, const char *kind, const char *payload, void *ud);
/* An ephemeral event of another process (hostile bytes, see bus.h). */
typedef void (*hub_ephemeral_fn)(const char *data, size_t len, void *ud);

/* What the hub counts: series of the program's registry (borrowed, they
 * outlive the hub). A NULL series counts nothing. */
typedef struct hub_metrics {
    metrics_series *bus_lag_seconds; /* commit (message ts) to delivery, another's */
    metrics_series *db_errors;       /* failed log reads */
} hub_metrics;

/* st and b are borrowed and must outlive the hub; b may be NULL (alone).
 * m is copied; NULL: nothing is counted. Both cursors start at the logs'
 * heads. NULL when out of memory. */
hub *hub_new(store *st, bus *b, const hub_metrics *m);
void hub_free(hub *h);

void hub_on_messages(hub *h, hub_deliver_fn fn, void *ud);
void hub_on_control(hub *h, hub_control_fn fn, void *ud);
void hub_on_ephemeral(hub *h, hub_ephemeral_fn fn, void *ud);

/* The offset of the last message delivered here. */
int64_t hub_cursor(const hub *h);

/* Delivers what the message log holds past the cursor, in log order, up to
 * id upto (INT64_MAX: the end). 0 when it read that far, -1 when a read
 * failed or the page bound stopped it. */
int hub_catch_up(hub *h, int64_t upto);

/* This process committed messages whose first new id is first (ids of one
 * commit are consecutive). Returns whether they may be delivered from memory
 * (hub_deliver_committed): what others committed before them was read from
 * the log first. false: the next catch-up brings them. */
bool hub_commit_begin(hub *h, int64_t first);
/* Delivers m (committed here, after hub_commit_begin said true) unless the
 * cursor is past it already, and moves the cursor. */
void hub_deliver_committed(hub *h, const store_message *m);
/* Publishes the commit's new messages on the bus, for the other processes. */
void hub_commit_end(hub *h, const store_message *mine, size_t n);

/* This process appended control event id: applied here (from memory by the
 * caller when this returns true, the next one after the cursor; else read
 * from the log, this one included), then published on the bus. */
bool hub_control_committed(hub *h, int64_t id);
void hub_control_published(hub *h, int64_t id);
/* Applies the control events past the control cursor, in log order. */
void hub_control_catch_up(hub *h);

/* Starts receiving the bus (bus_listen): news of messages and control
 * events make the hub read its logs; ephemera go to hub_on_ephemeral's. */
int hub_listen(hub *h, struct lws_context *ctx, struct lws_vhost *vh, int fallback_ms);

/* The receiver's rule for a message notification, given the cursor: at or
 * below it, nothing to do; past it, or a bare wake-up (NULL), read the log
 * from the cursor. Never "deliver what the datagram says". */
typedef enum hub_step { HUB_SKIP, HUB_READ_LOG } hub_step;
hub_step hub_message_step(int64_t cursor, const store_message *m);

/* The catch-up loop for either log: calls page(ud), which reads one page
 * past *cursor and moves *cursor over what it delivered, until a page moves
 * nothing or *cursor reaches upto, at most max_pages times. 0 when caught
 * up, -1 when a page failed or the pages ran out. */
int hub_pages(const int64_t *cursor, int64_t upto, int max_pages, int (*page)(void *ud), void *ud);

#endif
