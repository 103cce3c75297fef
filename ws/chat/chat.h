/* chat.h -- the chat's Socket.IO handlers: rooms, messages, presence, recovery.
 * [NAME] after a field: its default when 0, the row of the contract's table
 * (common/contract.h). */
#ifndef CHAT_H
#define CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "clock.h"
#include "hub.h"
#include "metrics.h"
#include "sio.h"
#include "store.h"
#include "token.h"

/* What the chat counts: series of the program's registry (borrowed, they
 * outlive the chat). A NULL series counts nothing. */
typedef struct chat_metrics {
    metrics_series *messages_received;  /* chat message events taken in */
    metrics_series *messages_stored;    /* committed by this process */
    metrics_series *messages_delivered; /* chat message frames queued to sockets */
    metrics_series *commit_seconds;     /* group commit latency */
    metrics_series *commit_batch;       /* messages per group commit */
    metrics_series *db_errors;          /* failed begin/commit, messages left unpublished */
    metrics_series *db_busy_retries;    /* group commit retried on a locked database */
} chat_metrics;

typedef struct chat_config {
    int64_t process_id;         /* this process's row in the processes table */
    int64_t recovery_window_ms; /* how long a session can be recovered [CONTRACT_RECOVERY_WINDOW] */
    int missed_max;             /* messages in a join ack's `missed` [CONTRACT_MISSED_MAX] */
    int max_replay;             /* most messages a recovery replays; past it the
                                   client gets recovered false [CONTRACT_MAX_REPLAY] */
    bool open_workspaces;       /* a CONNECT may create a workspace [false: admin REST only] */
    int max_workspaces;         /* workspaces in all [CONTRACT_MAX_WORKSPACES] */
    int workspace_rate;         /* workspaces one address may create an hour
                                   [CONTRACT_WORKSPACE_RATE] */
    store_write_budget budget;  /* messages per user and address, per minute and day */
    const token_secret *secret; /* verifies tokens for private workspaces */
    adapter *adapter;           /* presence events reach every ws process through it */
    hub *hub;                   /* follows the log: delivers every message, publishes ours */
    int presence_interval_ms;   /* presence broadcasts of a room or namespace are
                                   coalesced over it (presence.h); 0: each is sent at once */
    ws_clock *clock;            /* the group commit's, presence's and token expiry's
                                   timers run on it; borrowed, outlives the chat */
    const chat_metrics *metrics; /* copied by chat_new; NULL: nothing is counted */
} chat_config;

typedef struct chat chat;

/* Registers the chat handlers on namespace "/" and on every workspace
 * namespace (contract_valid_workspace) that exists (see
 * open_workspaces); a CONNECT to another gets "Invalid namespace". The store is
 * borrowed and must outlive the chat. Returns NULL when out of memory. */
chat *chat_new(sio_server *srv, store *st, const chat_config *cfg);
void chat_free(chat *c);

/* Delivers every message appended to the log past the hub's cursor,
 * whoever wrote it, to the sockets in its room, in log order. */
void chat_deliver_new(chat *c);

/* The chat user name of a socket of a chat namespace, or NULL. */
const char *chat_socket_user(const sio_socket *s);

/* Whether the socket connected with a valid admin token (an operator). */
bool chat_socket_admin(const sio_socket *s);

/* The offset of the last message delivered by this process. */
int64_t chat_cursor(const chat *c);

#endif
