/* wsmetrics.h -- chat-ws's metrics, its /metrics endpoint, and lws's log lines */
#ifndef WSMETRICS_H
#define WSMETRICS_H

#include <libwebsockets.h>

#include "eio.h"
#include "metrics.h"
#include "sio.h"
#include "token.h"

/* The process's instruments. Like the logger, they are process-wide: every
 * layer counts into them with one line (metrics_inc(wsm.x)), and a series
 * left NULL (wsmetrics_init not called, as in unit tests) counts nothing. */
typedef struct wsmetrics {
    metrics *reg;
    metrics_series *messages_received;  /* chat message events taken in */
    metrics_series *messages_stored;    /* committed by this process */
    metrics_series *messages_delivered; /* chat message frames queued to sockets */
    metrics_series *dropped_volatile;   /* volatile emits skipped for a busy receiver */
    metrics_series *dropped_slow;       /* frames refused: slow reader disconnected */
    metrics_series *rate_limited;       /* events refused by the rate limit */
    metrics_series *commit_seconds;     /* group commit latency */
    metrics_series *commit_batch;       /* messages per group commit */
    metrics_series *bus_lag_seconds;    /* commit (message ts) to delivery, another's */
    metrics_series *db_errors;          /* failed begin/commit/reads */
    metrics_series *db_busy_retries;    /* group commit retried on a locked database */
    metrics_series *sessions_opened[2]; /* Engine.IO sessions opened: polling, websocket */
    metrics_series *start_time;         /* process start, Unix seconds */
} wsmetrics;

extern wsmetrics wsm;

/* Creates the registry and the series. Returns 0, -1 when out of memory
 * (the program then runs without metrics). */
int wsmetrics_init(void);
void wsmetrics_free(void);

/* What the /metrics endpoint reads at scrape time (borrowed; the secret
 * lets a non-local client in with an admin token). */
void wsmetrics_attach(eio_server *eio, sio_server *sio, const token_secret *secret);

/* Renders the whole exposition (registry and scrape-time gauges) into out. */
void wsmetrics_render(metrics_text *out);

/* The lws protocol serving GET /metrics, mounted at WSMETRICS_PATH: 200
 * with the exposition for a local client (the peer is loopback, and so is
 * the address a local proxy reports in X-Real-IP / X-Forwarded-For) or one
 * with "Authorization: Bearer <admin token>"; else 403 JSON. */
#define WSMETRICS_PATH "/metrics"
#define WSMETRICS_PROTOCOL "chat-metrics"
int wsmetrics_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);

/* Routes libwebsockets' own log lines through log_event at their level. */
void wsmetrics_log_lws(void);

/* Wall-clock milliseconds since the Unix epoch (message ts are in these). */
long long wsmetrics_wall_ms(void);

#endif
