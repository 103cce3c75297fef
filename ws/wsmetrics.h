/* wsmetrics.h -- chat-ws's metrics, its /metrics endpoint, and lws's log lines */
#ifndef WSMETRICS_H
#define WSMETRICS_H

#include <libwebsockets.h>

#include "chat.h"
#include "eio.h"
#include "hub.h"
#include "metrics.h"
#include "sio.h"
#include "token.h"

/* One chat-ws server's instruments: a registry, the series every layer
 * counts into (each layer declares its own struct of them in its header and
 * gets a pointer in its config), and what a scrape reads besides. A program
 * may hold several (a test does): they share nothing. */
typedef struct wsmetrics wsmetrics;

/* Creates the registry and every series. Returns NULL when out of memory
 * (the program then runs without metrics: every accessor below accepts
 * NULL). */
wsmetrics *wsmetrics_new(void);
/* Frees the registry; the layers given its series must be gone or not count
 * any more. Accepts NULL. */
void wsmetrics_free(wsmetrics *wm);

/* Each layer's series, for its config (borrowed, valid until
 * wsmetrics_free). NULL when wm is NULL: that layer counts nothing. */
const eio_metrics *wsmetrics_eio(const wsmetrics *wm);
const sio_metrics *wsmetrics_sio(const wsmetrics *wm);
const hub_metrics *wsmetrics_hub(const wsmetrics *wm);
const chat_metrics *wsmetrics_chat(const wsmetrics *wm);

/* What the /metrics endpoint reads at scrape time: the servers' open
 * sessions, sockets and rooms (any may be NULL: not rendered), and the
 * secret that lets a non-local client in with an admin token (NULL: none).
 * All borrowed. Accepts a NULL wm. */
void wsmetrics_attach(wsmetrics *wm, eio_server *eio, sio_server *sio, const token_secret *secret);

/* Renders the whole exposition (registry and scrape-time gauges) into out;
 * nothing for a NULL wm. */
void wsmetrics_render(const wsmetrics *wm, metrics_text *out);

/* The lws protocol serving GET /metrics, mounted at WSMETRICS_PATH: 200
 * with the exposition for a local client (the peer is loopback, and so is
 * the address a local proxy reports in X-Real-IP / X-Forwarded-For) or one
 * with "Authorization: Bearer <admin token>"; else 403 JSON. */
#define WSMETRICS_PATH "/metrics"
#define WSMETRICS_PROTOCOL "chat-metrics"
/* Register it with the wsmetrics as the protocol's user (lws_protocols.user):
 * the callback scrapes that one. */
int wsmetrics_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);

/* Routes libwebsockets' own log lines through log_event at their level. */
void wsmetrics_log_lws(void);

#endif
