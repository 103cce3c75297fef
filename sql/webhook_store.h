/* webhook_store.h -- outgoing webhooks on either backend: each one's URL,
 * events, secret, cursor in the message log, failures and lease (which
 * sender process may deliver it now) */
#ifndef WEBHOOK_STORE_H
#define WEBHOOK_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* The events a webhook may ask for: bit (1 << kind) of the log's kinds. */
#define WEBHOOK_EV_MESSAGE (1 << STORE_EVENT_MESSAGE) /* "chat message" */
#define WEBHOOK_EV_EDIT (1 << STORE_EVENT_EDIT)       /* "message edited" */
#define WEBHOOK_EV_DELETE (1 << STORE_EVENT_DELETE)   /* "message deleted" */
#define WEBHOOK_EV_ALL (WEBHOOK_EV_MESSAGE | WEBHOOK_EV_EDIT | WEBHOOK_EV_DELETE)

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_HEX 64 /* 32 random bytes, in hex */
#define WEBHOOKS_PER_NAMESPACE_MAX 20

/* A webhook as read. The strings are valid during the callback only. */
typedef struct webhook {
    int64_t id;
    const char *ns, *url;
    int events;
    int64_t cursor;     /* the last log id delivered (or skipped at creation) */
    int64_t batch_upto; /* the batch being tried ends here; 0: none */
    int64_t attempts;   /* failed attempts in a row */
    int64_t failing_since, next_at, last_status, delivered, created_at;
    const char *last_error;
    bool parked;
} webhook;

typedef int (*webhook_cb)(const webhook *w, void *ctx);

/* The name of the event of a log kind ("chat message", ...), NULL for another. */
const char *webhook_event_name(int kind);
/* The bit of an event name, 0 for an unknown one. */
int webhook_event_bit(const char *name);

/* Registers url for events in ns, starting after the log's head (only what
 * is written from now on). STORE_LIMIT past WEBHOOKS_PER_NAMESPACE_MAX. */
int webhook_create(store *st, const char *ns, const char *url, int events, const char *secret,
                   int64_t *id);
/* Every webhook of ns (NULL: of every namespace), in id order. */
int webhook_list(store *st, const char *ns, webhook_cb cb, void *ctx);
/* STORE_NOTFOUND when id has no row. */
int webhook_get(store *st, int64_t id, webhook_cb cb, void *ctx);
int webhook_delete(store *st, int64_t id);
/* Delivers again a parked webhook: its failures forgotten, tried at once. */
int webhook_unpark(store *st, int64_t id);

/* ---- the sender's side ------------------------------------------------ */

/* The ids of up to max webhooks due at now (not parked, next_at reached, the
 * lease free or expired) that have an event to send. */
int webhook_due(store *st, int64_t now, int64_t *ids, int max, int *n);
/* Takes (or renews) the lease of webhook id for owner until `until`, unless
 * another owner holds an unexpired one: *got says. */
int webhook_lease(store *st, int64_t id, const char *owner, int64_t now, int64_t until, bool *got);
/* Gives the lease back (only owner's). */
int webhook_release(store *st, int64_t id, const char *owner);

/* One event of a batch; strings valid during the callback. */
typedef struct webhook_event {
    int64_t id, room_id, target, ts;
    int kind;
    const char *room, *user, *text;
} webhook_event;
typedef int (*webhook_event_cb)(const webhook_event *e, void *ctx);

/* The next batch of webhook id: the events it asks for after its cursor, up
 * to its batch_upto when a batch is being tried, at most limit; and its
 * secret (hex) into secret[WEBHOOK_SECRET_HEX + 1]. */
int webhook_batch(store *st, int64_t id, int limit, char *secret, webhook_event_cb cb, void *ctx);
/* Fixes the batch being tried (so that its retries send the same events). */
int webhook_batch_fix(store *st, int64_t id, const char *owner, int64_t upto);
/* The batch up to upto (n events) was accepted with status: the cursor moves
 * there, the failures are forgotten. *held is false when owner had lost the
 * lease (nothing written). */
int webhook_delivered(store *st, int64_t id, const char *owner, int64_t upto, int64_t n, int status,
                      bool *held);
/* An attempt failed (status 0: no answer) with error: the next try at
 * next_at, or parked once max_attempts failed in a row or the failures
 * began park_after_ms ago. */
int webhook_failed(store *st, int64_t id, const char *owner, int status, const char *error,
                   int64_t now, int64_t next_at, int64_t max_attempts, int64_t park_after_ms);

#endif
