/* eio.c -- Engine.IO v4 sessions over libwebsockets: handshake, heartbeat, send queues */
#include "eio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

struct eio_conn {
    struct lws *wsi;
    eio_server *srv;
    struct lws_dll2 node; /* in srv->conns, walked by the heartbeat tick */
    char sid[EIO_SID_LEN + 1];
    char peer[64];
    void *upper;

    /* send queue: a ring of frames, each holding one reference */
    outbuf **ring;
    size_t ring_cap, head, count;
    size_t queued_bytes;

    /* receive: fragments of one message gathered here */
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary;

    /* heartbeat */
    long long next_ping_at;  /* ms: when the next ping is due */
    long long pong_deadline; /* ms: when an unanswered ping times out */
    bool awaiting_pong;

    /* closing: set by eio_close, carried out in the next writeable callback */
    bool closing;
    int close_status;
    char close_reason[96];
};

struct eio_server {
    eio_config cfg;
    eio_handlers h;
    void *ud;
    struct lws_context *ctx;
    struct lws_dll2_owner conns;
    lws_sorted_usec_list_t tick;
    long long tick_ms;
};

/* The per-session data lws keeps for us: a pointer to our connection. */
typedef struct pss {
    eio_conn *c;
} pss;

long long eio_now_ms(void) {
    return (long long)(lws_now_usecs() / 1000);
}

eio_server *eio_server_new(const eio_config *cfg, const eio_handlers *h, void *ud) {
    eio_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = *cfg;
    if (srv->cfg.ping_interval_ms <= 0) srv->cfg.ping_interval_ms = 25000;
    if (srv->cfg.ping_timeout_ms <= 0) srv->cfg.ping_timeout_ms = 20000;
    if (srv->cfg.max_payload <= 0) srv->cfg.max_payload = 1000000;
    if (srv->cfg.max_queue_bytes == 0) srv->cfg.max_queue_bytes = 4u << 20;
    if (srv->cfg.max_connections <= 0) srv->cfg.max_connections = 100000;
    if (srv->cfg.handshake_timeout_ms <= 0) srv->cfg.handshake_timeout_ms = 45000;
    srv->h = *h;
    srv->ud = ud;
    /* The tick is a quarter of the shortest heartbeat period, so a timeout is
     * noticed within 25% of its length, and never more often than 20 ms. */
    int shortest = srv->cfg.ping_interval_ms < srv->cfg.ping_timeout_ms
                       ? srv->cfg.ping_interval_ms
                       : srv->cfg.ping_timeout_ms;
    srv->tick_ms = shortest / 4;
    if (srv->tick_ms < 20) srv->tick_ms = 20;
    if (srv->tick_ms > 1000) srv->tick_ms = 1000;
    return srv;
}

const eio_config *eio_server_config(const eio_server *srv) {
    return &srv->cfg;
}

size_t eio_server_connections(const eio_server *srv) {
    return (size_t)srv->conns.count;
}

void eio_set_upper(eio_conn *c, void *upper) {
    c->upper = upper;
}

void *eio_upper(const eio_conn *c) {
    return c->upper;
}

const char *eio_sid(const eio_conn *c) {
    return c->sid;
}

const char *eio_peer(const eio_conn *c) {
    return c->peer;
}

/* ---- sending ---------------------------------------------------------- */

static int ring_push(eio_conn *c, outbuf *o) {
    if (c->count == c->ring_cap) {
        size_t cap = c->ring_cap ? c->ring_cap * 2 : 8;
        outbuf **ring = malloc(cap * sizeof *ring);
        if (!ring) return -1;
        for (size_t i = 0; i < c->count; i++) ring[i] = c->ring[(c->head + i) % c->ring_cap];
        free(c->ring);
        c->ring = ring;
        c->ring_cap = cap;
        c->head = 0;
    }
    c->ring[(c->head + c->count) % c->ring_cap] = o;
    c->count++;
    c->queued_bytes += o->len;
    return 0;
}

static outbuf *ring_pop(eio_conn *c) {
    outbuf *o = c->ring[c->head];
    c->head = (c->head + 1) % c->ring_cap;
    c->count--;
    c->queued_bytes -= o->len;
    return o;
}

int eio_send(eio_conn *c, outbuf *o) {
    if (c->closing) return -1;
    if (c->queued_bytes + o->len > c->srv->cfg.max_queue_bytes) {
        eio_close(c, 1008, "slow reader: send queue full");
        return -1;
    }
    if (ring_push(c, outbuf_ref(o))) {
        outbuf_unref(o);
        eio_close(c, 1011, "out of memory");
        return -1;
    }
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* Queues a short text packet made here (open, ping). */
static int send_text(eio_conn *c, const char *text, size_t len) {
    outbuf *o = outbuf_copy(text, len, false);
    if (!o) return -1;
    int rc = eio_send(c, o);
    outbuf_unref(o);
    return rc;
}

bool eio_can_send_volatile(const eio_conn *c) {
    return !c->closing && c->count == 0 && !lws_send_pipe_choked(c->wsi);
}

outbuf *eio_frame_wrap(char *buf, size_t len) {
    buf[LWS_PRE] = '0' + EIO_MESSAGE;
    return outbuf_wrap(buf, len + 1, false);
}

void eio_close(eio_conn *c, int ws_status, const char *reason) {
    if (c->closing) return;
    c->closing = true;
    c->close_status = ws_status;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

/* Writes queued frames while the socket takes them. Returns -1 to have lws
 * close the connection. */
static int on_writeable(eio_conn *c) {
    if (c->closing) {
        lwsl_user("eio %s closed: %s\n", c->sid, c->close_reason);
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    while (c->count) {
        outbuf *o = c->ring[c->head];
        int n = lws_write(c->wsi, outbuf_payload(o), o->len,
                          o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        outbuf_unref(ring_pop(c));
        if (n < 0) return -1;
        if (lws_send_pipe_choked(c->wsi)) break;
    }
    if (c->count) lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- receiving -------------------------------------------------------- */

/* Handles one whole Engine.IO packet. Returns non-zero to close. */
static int on_packet(eio_conn *c, const char *buf, size_t len, bool binary) {
    eio_packet p;
    if (eio_packet_decode(buf, len, binary, &p)) {
        eio_close(c, 1002, "malformed Engine.IO packet");
        return 0;
    }
    switch (p.type) {
    case EIO_PONG:
        c->awaiting_pong = false;
        c->next_ping_at = eio_now_ms() + c->srv->cfg.ping_interval_ms;
        return 0;
    case EIO_MESSAGE:
        if (c->srv->h.message(c, p.data, p.len, p.binary, c->srv->ud))
            eio_close(c, 1002, "malformed Socket.IO packet");
        return 0;
    case EIO_CLOSE:
        eio_close(c, 1000, "client closed");
        return 0;
    case EIO_PING: /* a probe ("2probe") during an upgrade; answer it */
        if (p.len == 5 && memcmp(p.data, "probe", 5) == 0) return send_text(c, "3probe", 6);
        eio_close(c, 1002, "unexpected ping from client");
        return 0;
    case EIO_UPGRADE:
    case EIO_NOOP:
        return 0;
    default:
        eio_close(c, 1002, "unexpected Engine.IO packet type");
        return 0;
    }
}

static int on_receive(eio_conn *c, const char *in, size_t len) {
    if (c->closing) return 0;
    if (lws_is_first_fragment(c->wsi)) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(c->wsi);
    }
    size_t max = (size_t)c->srv->cfg.max_payload;
    if (len > max - c->rx_len) { /* max >= rx_len always: checked before every append */
        eio_close(c, 1009, "message over maxPayload");
        return 0;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 256;
        while (cap < c->rx_len + len + 1) cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx) {
            eio_close(c, 1011, "out of memory");
            return 0;
        }
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    c->rx[c->rx_len] = '\0';
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi)) return 0;
    int rc = on_packet(c, c->rx, c->rx_len, c->rx_binary);
    /* Keep a small buffer for the next message, give back a big one. */
    if (c->rx_cap > 64 * 1024) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    c->rx_len = 0;
    return rc;
}

/* ---- lifecycle -------------------------------------------------------- */

static void conn_free(eio_conn *c) {
    while (c->count) outbuf_unref(ring_pop(c));
    free(c->ring);
    free(c->rx);
    free(c);
}

static void read_peer(eio_conn *c, struct lws *wsi) {
    char xff[128];
    if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
        size_t n = strcspn(xff, ", ");
        snprintf(c->peer, sizeof c->peer, "%.*s", (int)n, xff);
        return;
    }
    lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
}

static int on_established(eio_server *srv, struct lws *wsi, pss *ps) {
    eio_conn *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->wsi = wsi;
    c->srv = srv;
    eio_random_id(c->sid);
    read_peer(c, wsi);
    ps->c = c;
    lws_dll2_add_tail(&c->node, &srv->conns);
    c->next_ping_at = eio_now_ms() + srv->cfg.ping_interval_ms;

    char open[256];
    open[0] = '0' + EIO_OPEN;
    int n = eio_open_json(open + 1, sizeof open - 1, c->sid, false, srv->cfg.ping_interval_ms,
                          srv->cfg.ping_timeout_ms, srv->cfg.max_payload);
    if (n < 0 || send_text(c, open, (size_t)n + 1)) return -1;
    srv->h.open(c, srv->ud);
    return 0;
}

static void on_closed(eio_server *srv, pss *ps) {
    eio_conn *c = ps->c;
    if (!c) return;
    ps->c = NULL;
    lws_dll2_remove(&c->node);
    srv->h.close(c, c->closing ? c->close_reason : "transport close", srv->ud);
    conn_free(c);
}

/* The heartbeat: sends due pings, closes sessions whose pong is late. One
 * timer for all connections, so the cost is one walk per tick, not one timer
 * insertion per connection per ping. */
static void tick(lws_sorted_usec_list_t *sul) {
    eio_server *srv = lws_container_of(sul, eio_server, tick);
    long long now = eio_now_ms();
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_conn *c = lws_container_of(d, eio_conn, node);
        if (c->closing) {
            /* nothing */
        } else if (c->awaiting_pong) {
            if (now >= c->pong_deadline) eio_close(c, 1000, "ping timeout");
        } else if (now >= c->next_ping_at) {
            c->awaiting_pong = true;
            c->pong_deadline = now + srv->cfg.ping_timeout_ms;
            send_text(c, "2", 1);
        }
    }
    lws_end_foreach_dll_safe(d, d1);
    lws_sul_schedule(srv->ctx, 0, &srv->tick, tick, srv->tick_ms * LWS_US_PER_MS);
}

void eio_server_start(eio_server *srv, struct lws_context *ctx) {
    srv->ctx = ctx;
    lws_sul_schedule(ctx, 0, &srv->tick, tick, srv->tick_ms * LWS_US_PER_MS);
}

void eio_server_free(eio_server *srv) {
    if (!srv) return;
    if (srv->ctx) lws_sul_cancel(&srv->tick);
    free(srv);
}

/* ---- the HTTP side ---------------------------------------------------- */

/* Answers a plain HTTP request with a JSON body and ends the transaction. */
static int http_reply(struct lws *wsi, unsigned status, const char *json) {
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    size_t n = strlen(json);
    if (lws_add_http_common_headers(wsi, status, "application/json", n, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    unsigned char body[LWS_PRE + 256];
    if (n > sizeof body - LWS_PRE) return -1;
    memcpy(body + LWS_PRE, json, n);
    if (lws_write(wsi, body + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) != (int)n) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Checks a query argument; true when name= is present with exactly value. */
static bool urlarg_is(struct lws *wsi, const char *name, const char *value) {
    char buf[64];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, sizeof buf);
    return v && strcmp(v, value) == 0;
}

/* Accepts the WebSocket upgrade only for Engine.IO v4 on the websocket
 * transport; anything else is refused before the upgrade. */
static bool handshake_ok(eio_server *srv, struct lws *wsi) {
    if (!urlarg_is(wsi, "EIO=", "4") || !urlarg_is(wsi, "transport=", "websocket")) {
        lwsl_user("eio: refused upgrade: EIO=4 and transport=websocket required\n");
        return false;
    }
    if ((int)srv->conns.count >= srv->cfg.max_connections) {
        lwsl_user("eio: refused upgrade: max_connections reached\n");
        return false;
    }
    return true;
}

int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    eio_server *srv = ctx ? lws_context_user(ctx) : NULL;
    pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!urlarg_is(wsi, "EIO=", "4"))
            return http_reply(wsi, 400, "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
        return http_reply(wsi, 400, "{\"code\":0,\"message\":\"Transport unknown\"}");
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return srv && handshake_ok(srv, wsi) ? 0 : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(srv, wsi, ps);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ps->c ? on_writeable(ps->c) : 0;
    case LWS_CALLBACK_RECEIVE:
        return ps->c ? on_receive(ps->c, in, len) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws answers the close frame itself; we only stop sending. */
        if (ps->c && !ps->c->closing) {
            ps->c->closing = true;
            ps->c->close_status = 1000;
            snprintf(ps->c->close_reason, sizeof ps->c->close_reason, "client closed");
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        on_closed(srv, ps);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
