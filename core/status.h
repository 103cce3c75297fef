/* status.h -- what a client is told of a store status: one table for the REST
 * answers (HTTP status + {"error"}) and the socket acks ({error}) */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

/* The answer to a store status (store.h's STORE_*). */
typedef struct status_reply {
    int http;            /* the HTTP status of a REST answer */
    const char *message; /* the error text, for REST and socket acks alike */
    int retry;           /* 1: a transient failure, the client may retry
                            (REST adds Retry-After) */
} status_reply;

/* The reply of store status rc, a failure (not STORE_OK): NOTFOUND 404,
 * EXISTS 409, INVALID 400, LIMIT 403, OVER_BUDGET 429, BUSY 503, FULL 507,
 * anything else 500. Never NULL; static. */
const status_reply *status_of_store(int rc);

/* The message of STORE_OVER_BUDGET with the budget used up (which, from
 * store_budget_spend): "write budget exceeded: <which>, try later", into buf
 * (STATUS_MESSAGE_MAX is enough). Returns buf. */
#define STATUS_MESSAGE_MAX 160
const char *status_over_budget(const char *which, char *buf, size_t len);

#endif
