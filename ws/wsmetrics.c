/* wsmetrics.c -- chat-ws's metrics, its /metrics endpoint, and lws's log lines */
#include "wsmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

struct wsmetrics {
    metrics *reg;
    eio_metrics eio;
    sio_metrics sio;
    hub_metrics hub;
    chat_metrics chat;
    metrics_series *start_time; /* process start, Unix seconds */
    /* What a scrape reads besides the registry; set by wsmetrics_attach. */
    eio_server *scrape_eio;
    sio_server *scrape_sio;
    const token_secret *secret;
};

/* Seconds; from a fast commit of an idle disk to a lock wait of the 2 s
 * commit deadline. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,   0.25,   0.5,   1,    2.5};
static const double lag_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5,   5};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

#define N(a) (sizeof(a) / sizeof(a)[0])

/* Registers every series, in the order of the exposition (a family's series
 * one after another). The layers' structs share a series where they count
 * the same thing (database errors: the chat's commits, the hub's reads). */
static void register_all(wsmetrics *wm) {
    metrics *m = wm->reg;
    wm->chat.messages_received =
        metrics_register(m, METRICS_COUNTER, "chat_messages_received_total",
                         "Chat messages received from clients.", NULL, NULL, 0);
    wm->chat.messages_stored =
        metrics_register(m, METRICS_COUNTER, "chat_messages_stored_total",
                         "Chat messages committed by this process.", NULL, NULL, 0);
    wm->chat.messages_delivered = metrics_register(
        m, METRICS_COUNTER, "chat_messages_delivered_total",
        "Chat message frames queued to sockets (one per receiver).", NULL, NULL, 0);
    wm->sio.dropped_volatile = metrics_register(
        m, METRICS_COUNTER, "chat_deliveries_dropped_total",
        "Frames not delivered: volatile emits skipped for a busy receiver, frames refused to a "
        "slow reader (then disconnected).",
        "reason=\"volatile\"", NULL, 0);
    wm->eio.dropped_slow = metrics_register(m, METRICS_COUNTER, "chat_deliveries_dropped_total", "",
                                            "reason=\"slow_reader\"", NULL, 0);
    wm->sio.rate_limited =
        metrics_register(m, METRICS_COUNTER, "chat_rate_limited_total",
                         "Socket.IO events refused by the per-socket rate limit.", NULL, NULL, 0);
    wm->chat.commit_seconds =
        metrics_register(m, METRICS_HISTOGRAM, "chat_commit_duration_seconds",
                         "Time from BEGIN to COMMIT of a group commit of chat messages.", NULL,
                         latency_bounds, N(latency_bounds));
    wm->chat.commit_batch =
        metrics_register(m, METRICS_HISTOGRAM, "chat_commit_batch_size",
                         "Chat messages per group commit.", NULL, batch_bounds, N(batch_bounds));
    wm->hub.bus_lag_seconds = metrics_register(
        m, METRICS_HISTOGRAM, "chat_bus_lag_seconds",
        "Time from a message's commit (its ts) to its delivery by this process when another "
        "process wrote it (through the bus or the database log).",
        NULL, lag_bounds, N(lag_bounds));
    wm->chat.db_errors = wm->hub.db_errors = metrics_register(
        m, METRICS_COUNTER, "chat_db_errors_total",
        "Database operations that failed (begin, commit, log reads).", NULL, NULL, 0);
    wm->chat.db_busy_retries = metrics_register(
        m, METRICS_COUNTER, "chat_db_busy_retries_total",
        "Group commits retried because another process held the database lock.", NULL, NULL, 0);
    wm->eio.sessions_opened[0] = metrics_register(
        m, METRICS_COUNTER, "chat_ws_sessions_opened_total",
        "Engine.IO sessions opened, by their first transport.", "transport=\"polling\"", NULL, 0);
    wm->eio.sessions_opened[1] =
        metrics_register(m, METRICS_COUNTER, "chat_ws_sessions_opened_total", "",
                         "transport=\"websocket\"", NULL, 0);
    wm->start_time =
        metrics_register(m, METRICS_GAUGE, "process_start_time_seconds",
                         "Start time of the process since the Unix epoch, seconds.", NULL, NULL, 0);
}

wsmetrics *wsmetrics_new(void) {
    wsmetrics *wm = calloc(1, sizeof *wm);
    if (!wm) return NULL;
    if (!(wm->reg = metrics_new(false))) {
        free(wm);
        return NULL;
    }
    register_all(wm);
    metrics_set(wm->start_time, (double)(store_now_ms() / 1000));
    return wm;
}

void wsmetrics_free(wsmetrics *wm) {
    if (!wm) return;
    metrics_free(wm->reg);
    free(wm);
}

const eio_metrics *wsmetrics_eio(const wsmetrics *wm) {
    return wm ? &wm->eio : NULL;
}

const sio_metrics *wsmetrics_sio(const wsmetrics *wm) {
    return wm ? &wm->sio : NULL;
}

const hub_metrics *wsmetrics_hub(const wsmetrics *wm) {
    return wm ? &wm->hub : NULL;
}

const chat_metrics *wsmetrics_chat(const wsmetrics *wm) {
    return wm ? &wm->chat : NULL;
}

void wsmetrics_attach(wsmetrics *wm, eio_server *eio, sio_server *sio, const token_secret *secret) {
    if (!wm) return;
    wm->scrape_eio = eio;
    wm->scrape_sio = sio;
    wm->secret = secret;
}

/* ---- scrape-time gauges ------------------------------------------------ */

typedef struct nsp_walk {
    metrics_text *out;
    bool rooms; /* the rooms gauge, else the sockets one */
} nsp_walk;

static void nsp_sample(sio_nsp *nsp, void *ud) {
    nsp_walk *w = ud;
    char labels[128] = "";
    if (metrics_label(labels, sizeof labels, "namespace", sio_nsp_name(nsp))) return;
    metrics_text_sample(w->out, w->rooms ? "chat_ws_rooms" : "chat_ws_sockets", labels,
                        (double)(w->rooms ? sio_nsp_rooms(nsp) : sio_nsp_size(nsp)));
}

void wsmetrics_render(const wsmetrics *wm, metrics_text *out) {
    if (!wm) return;
    metrics_render(wm->reg, out);
    if (wm->scrape_eio) {
        size_t polling = 0, websocket = 0;
        eio_server_transports(wm->scrape_eio, &polling, &websocket);
        metrics_text_family(out, "chat_ws_connections", "Engine.IO sessions open, by transport.",
                            METRICS_GAUGE);
        metrics_text_sample(out, "chat_ws_connections", "transport=\"polling\"", (double)polling);
        metrics_text_sample(out, "chat_ws_connections", "transport=\"websocket\"",
                            (double)websocket);
    }
    if (wm->scrape_sio) {
        nsp_walk w = {out, false};
        metrics_text_family(out, "chat_ws_sockets", "Connected Socket.IO sockets per namespace.",
                            METRICS_GAUGE);
        sio_each_nsp(wm->scrape_sio, nsp_sample, &w);
        w.rooms = true;
        metrics_text_family(out, "chat_ws_rooms", "Rooms with members here, per namespace.",
                            METRICS_GAUGE);
        sio_each_nsp(wm->scrape_sio, nsp_sample, &w);
    }
}

/* ---- the endpoint ------------------------------------------------------ */

static bool loopback(const char *a) {
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 ||
           strncmp(a, "::ffff:127.", 11) == 0;
}

/* The last comma-separated entry of s, trimmed, into out. */
static void last_entry(const char *s, char *out, size_t len) {
    const char *p = strrchr(s, ',');
    p = p ? p + 1 : s;
    while (*p == ' ')
        p++;
    snprintf(out, len, "%.*s", (int)(len - 1), p);
    for (size_t n = strlen(out); n && out[n - 1] == ' ';)
        out[--n] = '\0';
}

/* A header into buf: its length, or -1 when absent or too long. */
static int header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len) {
    int n = lws_hdr_total_length(wsi, h);
    if (n <= 0 || n >= len) return -1;
    return lws_hdr_copy(wsi, buf, len, h) < 0 ? -1 : n;
}

static bool allowed(const wsmetrics *wm, struct lws *wsi) {
    char peer[64] = "", h[1024], last[128];
    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (loopback(peer)) {
        bool local = true;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_X_REAL_IP) > 0 &&
            (header(wsi, WSI_TOKEN_HTTP_X_REAL_IP, h, sizeof h) < 0 || !loopback(h)))
            local = false; /* present: it must be local too */
        if (header(wsi, WSI_TOKEN_X_FORWARDED_FOR, h, sizeof h) >= 0) {
            last_entry(h, last, sizeof last);
            if (!loopback(last)) local = false;
        }
        if (local) return true;
    }
    const char *token;
    token_claims claims;
    const char *why;
    if (!wm || !wm->secret || header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, h, sizeof h) < 0 ||
        !(token = token_bearer(h)) || token_verify(wm->secret, token, &claims, &why) ||
        !claims.admin)
        return false;
    return true;
}

static int reply(struct lws *wsi, unsigned status, const char *ctype, const char *body,
                 size_t len) {
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len) {
        unsigned char *buf = malloc(LWS_PRE + len);
        if (!buf) return -1;
        memcpy(buf + LWS_PRE, body, len);
        int w = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        if (w != (int)len) return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int serve(const wsmetrics *wm, struct lws *wsi) {
    static const char forbidden[] =
        "{\"error\":\"metrics are for local clients or an admin bearer token\"}";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        static const char method[] = "{\"error\":\"method not allowed\"}";
        return reply(wsi, 405, "application/json", method, sizeof method - 1);
    }
    if (!allowed(wm, wsi))
        return reply(wsi, 403, "application/json", forbidden, sizeof forbidden - 1);
    metrics_text out = {0};
    wsmetrics_render(wm, &out);
    int rc = out.oom ? reply(wsi, 503, "application/json", "{\"error\":\"out of memory\"}", 25)
                     : reply(wsi, 200, METRICS_CONTENT_TYPE, out.s ? out.s : "", out.len);
    metrics_text_free(&out);
    return rc;
}

int wsmetrics_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len) {
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return serve(proto ? proto->user : NULL, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* /metrics is no WebSocket, and never an h2c tunnel */
        return eio_confirm_upgrade(wsi, NULL);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- lws's log lines ----------------------------------------------------- */

/* One lws line: its own "[time] U: " prefix and trailing newline dropped. */
static void log_lws(int level, const char *line) {
    char msg[LOG_LINE_MAX / 2];
    const char *p = line;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close) {
            p = close + 1;
            while (*p == ' ')
                p++;
            if (p[0] && p[1] == ':' && p[2] == ' ') p += 3;
        }
    }
    snprintf(msg, sizeof msg, "%s", p);
    for (size_t n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == '\r');)
        msg[--n] = '\0';
    log_level lv = level & LLL_ERR    ? LOG_LEVEL_ERROR
                   : level & LLL_WARN ? LOG_LEVEL_WARN
                   : level & LLL_USER ? LOG_LEVEL_INFO
                                      : LOG_LEVEL_DEBUG;
    log_event(lv, msg, (const char *)NULL);
}

void wsmetrics_log_lws(void) {
    int mask = LLL_ERR | LLL_WARN | LLL_USER;
    if (log_enabled(LOG_LEVEL_DEBUG)) mask |= LLL_NOTICE | LLL_INFO;
    lws_set_log_level(mask, log_lws);
}
