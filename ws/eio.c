/* eio.c -- Engine.IO v4 sessions over libwebsockets: polling, WebSocket, upgrade, heartbeat */
#include "eio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio_packet.h"
#include "strmap.h"

typedef enum transport { T_POLLING, T_WEBSOCKET } transport;

/* One Engine.IO session. Over WebSocket it lives as long as its connection;
 * over polling it spans many HTTP requests, found by sid. */
struct eio_conn {
    eio_server *srv;
    transport transport;
    struct lws *wsi;      /* the WebSocket carrying it, NULL while polling */
    struct lws *poll_get; /* polling: the GET held open until there is data */
    struct lws *probe;    /* a WebSocket probing an upgrade of this polling session */
    struct lws_dll2 node; /* in srv->conns, walked by the heartbeat tick */
    char sid[EIO_SID_LEN + 1];
    char peer[64];
    void *upper;

    /* send queue: a ring of frames, each holding one reference */
    outbuf **ring;
    size_t ring_cap, head, count;
    size_t queued_bytes;

    /* receive: fragments of one WebSocket message gathered here */
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary;

    /* heartbeat */
    long long next_ping_at;  /* ms: when the next ping is due */
    long long pong_deadline; /* ms: when an unanswered ping times out */
    bool awaiting_pong;

    bool echo; /* conformance: echo messages instead of passing them up */

    /* closing: set by eio_close, carried out by the writer or the reaper */
    bool closing;
    bool client_closed;   /* the client asked (close packet): a held GET gets a noop */
    long long closing_at; /* ms: when eio_close was called */
    int close_status;
    char close_reason[96];
};

/* Sessions per client address, for max_per_address. */
typedef struct addr_count {
    char addr[64]; /* the key */
    int n;
} addr_count;

struct eio_server {
    eio_config cfg;
    strmap per_address; /* addr -> addr_count */
    eio_handlers h;
    void *ud;
    struct lws_context *ctx;
    struct lws_dll2_owner conns;
    strmap sessions; /* sid -> eio_conn */
    lws_sorted_usec_list_t tick, reap;
    bool reap_scheduled;
    long long tick_ms;
};

/* What lws keeps per connection for us. A WebSocket uses c; an HTTP
 * connection uses the rest for its request in progress (keep-alive
 * requests come one after another on the same connection). */
typedef struct pss {
    eio_conn *c;               /* WebSocket: the session it carries or probes */
    bool probe_reply;          /* WebSocket probe: "3probe" is due */
    bool refused;              /* WebSocket naming a session it cannot carry: close it */
    char sid[EIO_SID_LEN + 1]; /* HTTP: the session of this request */
    bool held;                 /* a GET waiting for data */
    bool gone_noop;            /* its session ended at the client's request: answer a noop */
    bool post_error;           /* POST: refuse at the end of the body */
    unsigned post_status;
    const char *post_json;
    char *body; /* POST body */
    size_t body_len, body_cap;
} pss;

size_t eio_pss_size(void) {
    return sizeof(pss);
}

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
    if (srv->cfg.max_per_address <= 0) srv->cfg.max_per_address = 10000;
    if (srv->cfg.handshake_timeout_ms <= 0) srv->cfg.handshake_timeout_ms = 45000;
    srv->h = *h;
    srv->ud = ud;
    /* The tick is a quarter of the shortest heartbeat period, so a timeout is
     * noticed within 25% of its length, and never more often than 20 ms. */
    int shortest = srv->cfg.ping_interval_ms < srv->cfg.ping_timeout_ms ? srv->cfg.ping_interval_ms
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

static pss *pss_of(struct lws *wsi) {
    return lws_wsi_user(wsi);
}

/* ---- sending ---------------------------------------------------------- */

static int ring_push(eio_conn *c, outbuf *o) {
    if (c->count == c->ring_cap) {
        size_t cap = c->ring_cap ? c->ring_cap * 2 : 8;
        outbuf **ring = malloc(cap * sizeof *ring);
        if (!ring) return -1;
        for (size_t i = 0; i < c->count; i++)
            ring[i] = c->ring[(c->head + i) % c->ring_cap];
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

/* Asks lws to call the writer of whatever carries the session now. */
static void wake_writer(eio_conn *c) {
    if (c->transport == T_WEBSOCKET)
        lws_callback_on_writable(c->wsi);
    else if (c->poll_get)
        lws_callback_on_writable(c->poll_get);
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
    wake_writer(c);
    return 0;
}

/* Queues a short text packet made here (open, ping, noop). */
static int send_text(eio_conn *c, const char *text, size_t len) {
    outbuf *o = outbuf_copy(text, len, false);
    if (!o) return -1;
    int rc = eio_send(c, o);
    outbuf_unref(o);
    return rc;
}

bool eio_can_send_volatile(const eio_conn *c) {
    if (c->closing || c->count) return false;
    /* lws_partial_buffered: lws still holds part of a write; a flag, where
     * lws_send_pipe_choked() would cost a poll() per receiver */
    return c->transport == T_WEBSOCKET ? !lws_partial_buffered(c->wsi) : c->poll_get != NULL;
}

outbuf *eio_frame_wrap(char *buf, size_t len) {
    buf[LWS_PRE] = '0' + EIO_MESSAGE;
    return outbuf_wrap(buf, len + 1, false);
}

static void reap(lws_sorted_usec_list_t *sul);

/* A WebSocket whose close frame cannot go out (its peer does not read) is
 * dropped at once; lws then reports it closed and the session ends. */
static void ws_kill(eio_conn *c) {
    lwsl_user("eio %s closed: %s (connection dropped)\n", c->sid, c->close_reason);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* How long a closing WebSocket may take to send its close frame. */
#define CLOSE_DEADLINE_MS 2000

void eio_close(eio_conn *c, int ws_status, const char *reason) {
    if (c->closing) return;
    c->closing = true;
    c->closing_at = eio_now_ms();
    c->close_status = ws_status;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    if (c->transport == T_WEBSOCKET) {
        /* A choked pipe would hold the close behind data the peer does not
         * read (a slow reader): drop it now. */
        if (lws_partial_buffered(c->wsi))
            ws_kill(c);
        else
            lws_callback_on_writable(c->wsi);
        return;
    }
    /* A polling session has no connection of its own to close: the reaper
     * ends it from the service loop, never under a caller still using it. */
    if (!c->srv->reap_scheduled && c->srv->ctx) {
        c->srv->reap_scheduled = true;
        lws_sul_schedule(c->srv->ctx, 0, &c->srv->reap, reap, 1);
    }
}

/* Writes a WebSocket frame header for a server frame (unmasked, FIN) of
 * len payload bytes at out; returns its length (2, 4 or 10). */
static size_t ws_header(unsigned char *out, size_t len, bool binary) {
    out[0] = 0x80 | (binary ? 0x2 : 0x1);
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Frames of one connection gathered into one send: the syscall, not the
 * bytes, is what a loopback delivery costs, so k queued frames go out for the
 * price of one. The service thread's only, so one scratch buffer serves all. */
#define WS_BATCH_MAX (256 * 1024)

static int ws_write_batch(eio_conn *c) {
    static unsigned char *scratch;
    static size_t scratch_cap;
    size_t total = 0, n = 0;
    while (n < c->count) {
        outbuf *o = c->ring[(c->head + n) % c->ring_cap];
        if (n && total + 10 + o->len > WS_BATCH_MAX) break;
        total += 10 + o->len;
        n++;
    }
    if (LWS_PRE + total > scratch_cap) {
        unsigned char *b = realloc(scratch, LWS_PRE + total);
        if (!b) return -1;
        scratch = b;
        scratch_cap = LWS_PRE + total;
    }
    unsigned char *w = scratch + LWS_PRE;
    for (size_t i = 0; i < n; i++) {
        outbuf *o = ring_pop(c);
        w += ws_header(w, o->len, o->binary);
        memcpy(w, outbuf_payload(o), o->len);
        w += o->len;
        outbuf_unref(o);
    }
    size_t len = (size_t)(w - (scratch + LWS_PRE));
    return lws_write(c->wsi, scratch + LWS_PRE, len, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* WebSocket writer: the queued frames, batched, then the close if one is
 * due. lws keeps what the socket did not take and calls again when it has
 * drained; nothing more is written until then. Returns -1 to have lws close
 * the connection. */
static int ws_writeable(eio_conn *c) {
    if (c->count) {
        if (c->count == 1) { /* the common case: no copy */
            outbuf *o = ring_pop(c);
            int n = lws_write(c->wsi, outbuf_payload(o), o->len,
                              o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            outbuf_unref(o);
            if (n < 0) return -1;
        } else if (ws_write_batch(c)) {
            return -1;
        }
    }
    if (c->closing) {
        lwsl_user("eio %s closed: %s\n", c->sid, c->close_reason);
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->count) lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- session lifecycle ------------------------------------------------ */

static bool is_loopback(const char *addr) {
    return strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0 || strncmp(addr, "127.", 4) == 0;
}

/* The client's address. Behind a proxy on this machine (nginx) it is the
 * address the proxy saw: X-Real-IP, else the last X-Forwarded-For entry (the
 * earlier ones are whatever the client sent). A remote peer is taken as it
 * is, so no client can pick its own address with a header. */
static void client_address(struct lws *wsi, char *out, size_t len) {
    char hdr[256];
    lws_get_peer_simple(wsi, out, len);
    if (!is_loopback(out)) return;
    int n = lws_hdr_custom_copy(wsi, hdr, sizeof hdr, "x-real-ip:", 10);
    if (n > 0 && (size_t)n < len) {
        snprintf(out, len, "%.*s", n, hdr);
        return;
    }
    if (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
        const char *last = strrchr(hdr, ',');
        last = last ? last + 1 : hdr;
        while (*last == ' ')
            last++;
        size_t k = strlen(last);
        if (k && k < len) snprintf(out, len, "%.*s", (int)k, last);
    }
}

static void read_peer(eio_conn *c, struct lws *wsi) {
    client_address(wsi, c->peer, sizeof c->peer);
}

static int address_sessions(eio_server *srv, const char *addr) {
    addr_count *a = strmap_get(&srv->per_address, addr);
    return a ? a->n : 0;
}

/* Counts a session of addr in (+1) or out (-1). */
static void address_count(eio_server *srv, const char *addr, int delta) {
    addr_count *a = strmap_get(&srv->per_address, addr);
    if (!a && delta > 0) {
        a = calloc(1, sizeof *a);
        if (!a) return;
        snprintf(a->addr, sizeof a->addr, "%s", addr);
        if (strmap_put(&srv->per_address, a->addr, a)) {
            free(a);
            return;
        }
    }
    if (!a) return;
    a->n += delta;
    if (a->n <= 0) free(strmap_del(&srv->per_address, a->addr));
}

/* Whether this request's Origin may open a session (see eio_config). */
static bool origin_allowed(eio_server *srv, struct lws *wsi) {
    char origin[256], host[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0) return true;
    const char *list = srv->cfg.allowed_origins;
    if (list && strcmp(list, "*") == 0) return true;
    if (list) {
        size_t n = strlen(origin);
        for (const char *p = list; *p;) {
            size_t k = strcspn(p, ",");
            if (k == n && strncmp(p, origin, n) == 0) return true;
            p += k + (p[k] == ',');
        }
        return false;
    }
    /* the site's own: scheme://HOST where HOST is the Host header (nginx
     * passes $http_host, port included) */
    const char *authority = strstr(origin, "://");
    if (!authority || lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return false;
    return strcmp(authority + 3, host) == 0;
}

/* Creates a session and queues its open packet. NULL when out of memory. */
/* Whether the request opening a session is under the conformance echo path
 * (a polling handshake and a WebSocket upgrade are both GETs). */
static bool under_echo_path(eio_server *srv, struct lws *wsi) {
    char uri[256];
    if (!srv->cfg.echo_path) return false;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) return false;
    return strncmp(uri, srv->cfg.echo_path, strlen(srv->cfg.echo_path)) == 0;
}

static eio_conn *session_new(eio_server *srv, struct lws *wsi, transport t) {
    eio_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = srv;
    c->transport = t;
    c->echo = under_echo_path(srv, wsi);
    if (t == T_WEBSOCKET) c->wsi = wsi;
    do {
        eio_random_id(c->sid);
        if (srv->cfg.node) c->sid[0] = srv->cfg.node;
    } while (strmap_get(&srv->sessions, c->sid));
    read_peer(c, wsi);
    if (strmap_put(&srv->sessions, c->sid, c)) {
        free(c);
        return NULL;
    }
    address_count(srv, c->peer, +1);
    lws_dll2_add_tail(&c->node, &srv->conns);
    c->next_ping_at = eio_now_ms() + srv->cfg.ping_interval_ms;

    char open[256];
    open[0] = '0' + EIO_OPEN;
    int n =
        eio_open_json(open + 1, sizeof open - 1, c->sid, t == T_POLLING && !srv->cfg.no_polling,
                      srv->cfg.ping_interval_ms, srv->cfg.ping_timeout_ms, srv->cfg.max_payload);
    if (n > 0) send_text(c, open, (size_t)n + 1);
    if (!c->echo) srv->h.open(c, srv->ud);
    return c;
}

/* Ends a session: the upper layer's close, then the memory. Whatever
 * connection still points at it is detached first. */
static void session_end(eio_conn *c, const char *reason) {
    eio_server *srv = c->srv;
    strmap_del(&srv->sessions, c->sid);
    address_count(srv, c->peer, -1);
    lws_dll2_remove(&c->node);
    if (c->poll_get) {
        /* it answers with a close packet, or a noop when the client closed */
        pss_of(c->poll_get)->gone_noop = c->client_closed;
        lws_callback_on_writable(c->poll_get);
        c->poll_get = NULL;
    }
    if (c->probe) {
        pss_of(c->probe)->c = NULL;
        lws_set_timeout(c->probe, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        c->probe = NULL;
    }
    if (!c->echo) srv->h.close(c, reason, srv->ud);
    while (c->count)
        outbuf_unref(ring_pop(c));
    free(c->ring);
    free(c->rx);
    free(c);
}

static void reap(lws_sorted_usec_list_t *sul) {
    eio_server *srv = lws_container_of(sul, eio_server, reap);
    srv->reap_scheduled = false;
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_conn *c = lws_container_of(d, eio_conn, node);
        if (c->closing && c->transport == T_POLLING) {
            lwsl_user("eio %s closed: %s\n", c->sid, c->close_reason);
            session_end(c, c->close_reason);
        }
    }
    lws_end_foreach_dll_safe(d, d1);
}

/* ---- receiving -------------------------------------------------------- */

/* Handles one whole Engine.IO packet of a session. */
static void on_packet(eio_conn *c, const char *buf, size_t len, bool binary) {
    eio_packet p;
    if (c->closing) return;
    if (eio_packet_decode(buf, len, binary, &p)) {
        eio_close(c, 1002, "malformed Engine.IO packet");
        return;
    }
    switch (p.type) {
    case EIO_PONG:
        c->awaiting_pong = false;
        c->next_ping_at = eio_now_ms() + c->srv->cfg.ping_interval_ms;
        return;
    case EIO_MESSAGE:
        if (c->echo) {
            outbuf *o = p.binary ? outbuf_copy(p.data, p.len, true) : outbuf_copy(buf, len, false);
            if (o) eio_send(c, o);
            outbuf_unref(o);
        } else if (c->srv->h.message(c, p.data, p.len, p.binary, c->srv->ud)) {
            eio_close(c, 1002, "malformed Socket.IO packet");
        }
        return;
    case EIO_CLOSE:
        c->client_closed = true;
        eio_close(c, 1000, "client closed");
        return;
    case EIO_NOOP:
        return;
    default:
        eio_close(c, 1002, "unexpected Engine.IO packet type");
        return;
    }
}

/* A packet on a WebSocket probing the upgrade of a polling session. */
static int on_probe_packet(struct lws *wsi, pss *ps, const char *buf, size_t len) {
    eio_conn *c = ps->c;
    if (len == 6 && memcmp(buf, "2probe", 6) == 0) {
        ps->probe_reply = true;
        lws_callback_on_writable(wsi);
        /* The pending GET, if any, returns (a noop when nothing is queued)
         * so the client can pause polling. The noop is that GET's alone: it
         * is never queued, or it would go out over the new WebSocket. */
        if (c->poll_get) lws_callback_on_writable(c->poll_get);
        return 0;
    }
    if (len == 1 && buf[0] == '0' + EIO_UPGRADE) {
        c->transport = T_WEBSOCKET;
        c->wsi = wsi;
        c->probe = NULL;
        if (c->poll_get) { /* answered with what is queued, or a noop */
            lws_callback_on_writable(c->poll_get);
            c->poll_get = NULL;
        }
        lwsl_info("eio %s upgraded to websocket\n", c->sid);
        lws_callback_on_writable(wsi);
        return 0;
    }
    lwsl_user("eio %s: unexpected packet during upgrade\n", c->sid);
    c->probe = NULL;
    ps->c = NULL;
    return -1;
}

static int ws_receive(struct lws *wsi, pss *ps, const char *in, size_t len) {
    eio_conn *c = ps->c;
    if (!c || c->closing) return 0;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    size_t max = (size_t)c->srv->cfg.max_payload;
    if (len > max - c->rx_len) { /* rx_len <= max always: checked before every append */
        if (c->probe == wsi) return -1;
        eio_close(c, 1009, "message over maxPayload");
        return 0;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 256;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
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
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
    size_t n = c->rx_len;
    c->rx_len = 0;
    if (c->probe == wsi) return on_probe_packet(wsi, ps, c->rx, n);
    on_packet(c, c->rx, n, c->rx_binary);
    /* Keep a small buffer for the next message, give back a big one. */
    if (!c->closing && c->rx_cap > 64 * 1024) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

/* The heartbeat: sends due pings, closes sessions whose pong is late. One
 * timer for all sessions, so the cost is one walk per tick, not one timer
 * insertion per session per ping. */
static void tick(lws_sorted_usec_list_t *sul) {
    eio_server *srv = lws_container_of(sul, eio_server, tick);
    long long now = eio_now_ms();
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_conn *c = lws_container_of(d, eio_conn, node);
        if (c->closing) {
            /* a close frame that did not go out in time: drop the connection */
            if (c->transport == T_WEBSOCKET && now - c->closing_at > CLOSE_DEADLINE_MS &&
                c->closing_at > 0) {
                c->closing_at = 0; /* once */
                ws_kill(c);
            }
        } else if (c->awaiting_pong) {
            if (now >= c->pong_deadline) eio_close(c, 1000, "ping timeout");
        } else if (now >= c->next_ping_at) {
            /* timed from when the ping was due, not from a late tick */
            c->awaiting_pong = true;
            c->pong_deadline = c->next_ping_at + srv->cfg.ping_timeout_ms;
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

void eio_server_stop(eio_server *srv) {
    if (!srv || !srv->ctx) return;
    lws_sul_cancel(&srv->tick);
    lws_sul_cancel(&srv->reap);
    srv->reap_scheduled = false;
    srv->ctx = NULL;
}

void eio_server_free(eio_server *srv) {
    if (!srv) return;
    eio_server_stop(srv);
    /* polling sessions outlive their connections: end them here */
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_conn *c = lws_container_of(d, eio_conn, node);
        c->poll_get = NULL;
        c->probe = NULL;
        session_end(c, "server shutting down");
    }
    lws_end_foreach_dll_safe(d, d1);
    strmap_clear(&srv->sessions);
    strmap_clear(&srv->per_address); /* every count went to zero with its session */
    free(srv);
}

/* ---- HTTP: long-polling ----------------------------------------------- */

/* Whether the connection stays open after this request's answer, by the
 * rule lws applies when the transaction completes: HTTP/1.1 keeps it alive,
 * HTTP/1.0 closes it, and a Connection header of exactly "close" or
 * "keep-alive" overrides either. */
static bool http_keeps_alive(struct lws *wsi) {
    char version[16], conn[32];
    bool keep = lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_HTTP) > 7 &&
                version[5] == '1' && version[7] == '1';
    if (lws_hdr_copy(wsi, conn, sizeof conn, WSI_TOKEN_CONNECTION) > 0) {
        if (!strcasecmp(conn, "close")) keep = false;
        if (!strcasecmp(conn, "keep-alive")) keep = true;
    }
    return keep;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end) {
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* The CORS headers of every polling answer when cors_origin is set. Vary:
 * Origin keeps a shared cache from serving one origin's answer to another. */
static int add_cors(eio_server *srv, struct lws *wsi, unsigned char **p, unsigned char *end) {
    if (!srv->cfg.cors_origin) return 0;
    return add_header(wsi, "access-control-allow-origin:", srv->cfg.cors_origin, p, end) ||
           add_header(wsi, "access-control-allow-credentials:", "true", p, end) ||
           add_header(wsi, "vary:", "Origin", p, end);
}

/* Answers a CORS preflight (OPTIONS with cors_origin set): 204 with the
 * methods and the one request header polling uses. (Engine.IO's cors
 * middleware reflects Access-Control-Request-Headers; lws 4.1 cannot read
 * that header: its name shares a prefix with one lws knows, and the lexer
 * drops it.) Returns -1 to close. */
static int http_preflight(eio_server *srv, struct lws *wsi) {
    unsigned char hdr[LWS_PRE + 1024];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_header_status(wsi, 204, &p, end) ||
        add_header(wsi, "content-length:", "0", &p, end) || add_cors(srv, wsi, &p, end) ||
        add_header(wsi, "access-control-allow-methods:", "GET, POST", &p, end) ||
        add_header(wsi, "access-control-allow-headers:", "Content-Type", &p, end) ||
        add_header(wsi, "access-control-max-age:", "600", &p, end) ||
        (!http_keeps_alive(wsi) && add_header(wsi, "connection:", "close", &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Writes a whole response: status, type, body (body has LWS_PRE bytes of
 * headroom before it), and ends the transaction. A response the connection
 * closes after (the client asked, HTTP/1.0, or close_after) says so in
 * Connection: close, so a keep-alive pool does not send the next request on
 * it (RFC 9112 section 9.6); HTTP/1.0 keep-alive is confirmed the same way.
 * Returns -1 to close. */
static int http_send_ex(eio_server *srv, struct lws *wsi, unsigned status, const char *ctype,
                        unsigned char *body, size_t len, bool close_after) {
    unsigned char hdr[LWS_PRE + 1024];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    bool keep = !close_after && http_keeps_alive(wsi);
    char version[16];
    bool http10 =
        lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_HTTP) <= 7 || version[7] != '1';
    const char *conn = !keep ? "close" : http10 ? "keep-alive" : NULL;
    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        (conn &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)conn,
                                      (int)strlen(conn), &p, end)) ||
        add_cors(srv, wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len && !lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) &&
        lws_write(wsi, body, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return -1;
    if (close_after) return -1;
    /* lws closes here when the request did not keep the connection alive,
     * once whatever it still buffers of the answer has gone out */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_send(eio_server *srv, struct lws *wsi, unsigned status, const char *ctype,
                     unsigned char *body, size_t len) {
    return http_send_ex(srv, wsi, status, ctype, body, len, false);
}

/* A short answer made of a static string. */
static int http_reply_ex(eio_server *srv, struct lws *wsi, unsigned status, const char *ctype,
                         const char *text, bool close_after) {
    unsigned char buf[LWS_PRE + 256];
    size_t n = strlen(text);
    if (n > sizeof buf - LWS_PRE) return -1;
    memcpy(buf + LWS_PRE, text, n);
    return http_send_ex(srv, wsi, status, ctype, buf + LWS_PRE, n, close_after);
}

static int http_reply(eio_server *srv, struct lws *wsi, unsigned status, const char *ctype,
                      const char *text) {
    return http_reply_ex(srv, wsi, status, ctype, text, false);
}

/* Engine.IO's error answers: HTTP 400 (403 for code 4) and {"code",
 * "message"}; close_after ends the connection with the answer. */
static int http_error_ex(eio_server *srv, struct lws *wsi, int code, bool close_after) {
    static const char *const messages[] = {
        "{\"code\":0,\"message\":\"Transport unknown\"}",
        "{\"code\":1,\"message\":\"Session ID unknown\"}",
        "{\"code\":2,\"message\":\"Bad handshake method\"}",
        "{\"code\":3,\"message\":\"Bad request\"}",
        "{\"code\":4,\"message\":\"Forbidden\"}",
        "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
    };
    return http_reply_ex(srv, wsi, code == 4 ? 403 : 400, "application/json", messages[code],
                         close_after);
}

static int http_error(eio_server *srv, struct lws *wsi, int code) {
    return http_error_ex(srv, wsi, code, false);
}

/* Answers a held GET with every queued packet, joined by the record
 * separator; binary ones as "b" + base64. A session gone or closing gets
 * the close packet. */
static int answer_poll(eio_server *srv, struct lws *wsi, pss *ps) {
    ps->held = false;
    eio_conn *c = strmap_get(&srv->sessions, ps->sid);
    if (!c || (c->closing && !c->client_closed))
        return http_reply(srv, wsi, 200, "text/plain; charset=UTF-8",
                          !c && ps->gone_noop ? "6" : "1");
    if (c->poll_get == wsi) c->poll_get = NULL;
    if (c->closing) return http_reply(srv, wsi, 200, "text/plain; charset=UTF-8", "6");
    if (!c->count) return http_reply(srv, wsi, 200, "text/plain; charset=UTF-8", "6");
    size_t need = 0;
    for (size_t i = 0; i < c->count; i++) {
        outbuf *o = c->ring[(c->head + i) % c->ring_cap];
        need += 1 + (o->binary ? 1 + 4 * ((o->len + 2) / 3) + 1 : o->len);
    }
    unsigned char *buf = malloc(LWS_PRE + need + 1);
    if (!buf) return -1;
    char *out = (char *)buf + LWS_PRE, *w = out;
    while (c->count) {
        outbuf *o = ring_pop(c);
        if (w != out) *w++ = '\x1e';
        if (o->binary) {
            *w++ = 'b';
            w += eio_base64_encode(outbuf_payload(o), o->len, w);
        } else {
            memcpy(w, outbuf_payload(o), o->len);
            w += o->len;
        }
        outbuf_unref(o);
    }
    int rc =
        http_send(srv, wsi, 200, "text/plain; charset=UTF-8", buf + LWS_PRE, (size_t)(w - out));
    free(buf);
    return rc;
}

static bool urlarg(struct lws *wsi, const char *name, char *buf, int len) {
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, len);
    if (!v) return false;
    memmove(buf, v, strlen(v) + 1);
    return true;
}

/* Whether a new session may open: the Origin, and the process's and the
 * client address's session limits. Returns -1 when it may, else the
 * Engine.IO error code to refuse with (4, forbidden). */
static int admission(eio_server *srv, struct lws *wsi) {
    char addr[64];
    if (!origin_allowed(srv, wsi)) {
        lwsl_user("eio: refused a session from a foreign Origin\n");
        return 4;
    }
    if ((int)srv->conns.count >= srv->cfg.max_connections) {
        lwsl_user("eio: refused a session: max_connections reached\n");
        return 4;
    }
    client_address(wsi, addr, sizeof addr);
    if (address_sessions(srv, addr) >= srv->cfg.max_per_address) {
        lwsl_user("eio: refused a session: %s has max_per_address sessions\n", addr);
        return 4;
    }
    return -1;
}

static int http_body_done(eio_server *srv, struct lws *wsi, pss *ps);

/* A POST is answered when its body is complete. Without a Content-Length
 * there is no body (RFC 9112 section 6.3) and lws reports no completion:
 * the empty body is complete now. */
static int post_await_body(eio_server *srv, struct lws *wsi, pss *ps) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH)) return 0;
    return http_body_done(srv, wsi, ps);
}

/* A new HTTP request: checks EIO, transport and sid, then opens a session
 * (GET without sid), holds or answers a GET, or readies for a POST body. */
static int http_request(eio_server *srv, struct lws *wsi, pss *ps) {
    char eio[32], tr[64], sid[96];
    bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    bool is_head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    ps->sid[0] = '\0';
    ps->held = ps->post_error = ps->gone_noop = false;
    ps->body_len = 0;
    /* A body is read only for a POST. Any other request that carries one is
     * refused and its connection closed: lws 4.1 mishandles a body it was
     * not asked to read (and a pipelined request behind it), up to spinning
     * its service loop. Other methods than GET, POST and HEAD go the same
     * way: they may carry a body. */
    bool has_body = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ||
                    (lws_hdr_copy(wsi, tr, sizeof tr, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                     strcmp(tr, "0") != 0);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0 && srv->cfg.cors_origin && !has_body)
        return http_preflight(srv, wsi);
    if ((!is_get && !is_post && !is_head) || (has_body && !is_post))
        return http_error_ex(srv, wsi, urlarg(wsi, "sid=", sid, sizeof sid) ? 3 : 2, true);
    if (is_post && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        /* lws 4.1 does not decode a chunked request body (nginx, in front,
         * sends a Content-Length): refused, the connection closed. */
        return http_reply_ex(srv, wsi, 411, "application/json",
                             "{\"code\":3,\"message\":\"Length Required\"}", true);
    if (!urlarg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0) {
        if (is_post) goto post_refused_version;
        return http_error(srv, wsi, 5);
    }
    if (!urlarg(wsi, "transport=", tr, sizeof tr) || strcmp(tr, "polling") != 0 ||
        srv->cfg.no_polling) {
        if (is_post) goto post_refused_transport;
        return http_error(srv, wsi, strcmp(tr, "websocket") == 0 ? 3 : 0);
    }
    bool has_sid = urlarg(wsi, "sid=", sid, sizeof sid);
    eio_conn *c = has_sid ? strmap_get(&srv->sessions, sid) : NULL;
    if (c && c->awaiting_pong && !c->closing && eio_now_ms() >= c->pong_deadline) {
        /* the tick has not run yet, but the session is over: say so now */
        eio_close(c, 1000, "ping timeout");
        c = NULL;
    }
    if (is_post) {
        if (!c || c->transport != T_POLLING || c->closing) {
            ps->post_error = true;
            ps->post_status = 400;
            ps->post_json = has_sid ? "{\"code\":1,\"message\":\"Session ID unknown\"}"
                                    : "{\"code\":2,\"message\":\"Bad handshake method\"}";
            return post_await_body(srv, wsi, ps);
        }
        snprintf(ps->sid, sizeof ps->sid, "%.*s", EIO_SID_LEN, sid);
        return post_await_body(srv, wsi, ps);
    }
    if (!is_get) return http_error(srv, wsi, has_sid ? 3 : 2); /* HEAD */
    if (!has_sid) {
        int refused = admission(srv, wsi);
        if (refused >= 0) return http_error(srv, wsi, refused);
        c = session_new(srv, wsi, T_POLLING);
        if (!c) return -1;
        snprintf(ps->sid, sizeof ps->sid, "%s", c->sid);
        return answer_poll(srv, wsi, ps);
    }
    /* A session closing on an error (a malformed POST, an aborted GET, a
     * ping timeout) is over for new requests, as Engine.IO's server forgets
     * it. One the client closed answers a GET that raced its close packet
     * with a noop, as a GET already pending gets. */
    if (c && c->closing && !c->client_closed) c = NULL;
    if (!c || c->transport != T_POLLING) return http_error(srv, wsi, c ? 3 : 1);
    snprintf(ps->sid, sizeof ps->sid, "%.*s", EIO_SID_LEN, sid);
    if (c->poll_get) {
        /* Two GETs at once break the protocol: the spec closes the session. */
        eio_close(c, 1002, "concurrent polling GET");
        return http_error(srv, wsi, 3);
    }
    ps->held = true;
    c->poll_get = wsi;
    /* While a WebSocket probes an upgrade, a GET is answered at once (a noop
     * when nothing is queued) so the client can pause polling. */
    if (c->count || c->probe) lws_callback_on_writable(wsi);
    return 0;

post_refused_version:
    ps->post_error = true, ps->post_status = 400;
    ps->post_json = "{\"code\":5,\"message\":\"Unsupported protocol version\"}";
    return post_await_body(srv, wsi, ps);
post_refused_transport:
    ps->post_error = true, ps->post_status = 400;
    ps->post_json = "{\"code\":0,\"message\":\"Transport unknown\"}";
    return post_await_body(srv, wsi, ps);
}

static int http_body(eio_server *srv, pss *ps, const char *in, size_t len) {
    if (ps->post_error) return 0;
    if (len > (size_t)srv->cfg.max_payload - ps->body_len) {
        ps->post_error = true;
        ps->post_status = 413;
        ps->post_json = "{\"code\":3,\"message\":\"Payload too large\"}";
        eio_conn *c = strmap_get(&srv->sessions, ps->sid);
        if (c) eio_close(c, 1009, "POST over maxPayload");
        return 0;
    }
    if (ps->body_len + len > ps->body_cap) {
        size_t cap = ps->body_cap ? ps->body_cap : 1024;
        while (cap < ps->body_len + len)
            cap *= 2;
        char *b = realloc(ps->body, cap);
        if (!b) return -1;
        ps->body = b;
        ps->body_cap = cap;
    }
    memcpy(ps->body + ps->body_len, in, len);
    ps->body_len += len;
    return 0;
}

/* The POST body is complete: its packets go to the session, "ok" back. */
static void body_free(pss *ps) {
    free(ps->body);
    ps->body = NULL;
    ps->body_cap = ps->body_len = 0;
}

static int http_body_done(eio_server *srv, struct lws *wsi, pss *ps) {
    if (ps->post_error) {
        body_free(ps);
        return http_reply_ex(srv, wsi, ps->post_status, "application/json", ps->post_json, true);
    }
    eio_conn *c = strmap_get(&srv->sessions, ps->sid);
    if (!c || c->closing) {
        body_free(ps);
        return http_error_ex(srv, wsi, 1, true);
    }
    enum { MAX_PACKETS = 256 };
    eio_packet packets[MAX_PACKETS];
    size_t n = 0;
    char *scratch = malloc(ps->body_len + 1);
    if (!scratch) {
        body_free(ps);
        return -1;
    }
    if (eio_payload_decode(ps->body ? ps->body : "", ps->body_len, packets, MAX_PACKETS, &n,
                           scratch)) {
        free(scratch);
        body_free(ps);
        eio_close(c, 1002, "malformed polling payload");
        return http_error_ex(srv, wsi, 3, true);
    }
    for (size_t i = 0; i < n && !c->closing; i++)
        on_packet(c, packets[i].data - (packets[i].binary ? 0 : 1),
                  packets[i].len + (packets[i].binary ? 0 : 1), packets[i].binary);
    free(scratch);
    body_free(ps); /* an idle keep-alive connection holds no buffer */
    /* A packet the session could not take closed it: the POST says so too
     * (the client's own close packet is still an "ok"). */
    if (c->closing && !c->client_closed) return http_error_ex(srv, wsi, 3, true);
    return http_reply_ex(srv, wsi, 200, "text/html", "ok", true);
}

/* ---- WebSocket -------------------------------------------------------- */

/* Checks a WebSocket upgrade: Engine.IO v4 on the websocket transport, and
 * with a sid only to upgrade a live polling session. Returns -1 to accept,
 * else the Engine.IO error code to refuse with. */
static int ws_handshake_check(eio_server *srv, struct lws *wsi) {
    char eio[32], tr[64], sid[96];
    if (!urlarg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0) return 5;
    if (!urlarg(wsi, "transport=", tr, sizeof tr) || strcmp(tr, "websocket") != 0) return 0;
    if (urlarg(wsi, "sid=", sid, sizeof sid))
        /* a known session that cannot take this WebSocket (upgraded, or
         * upgrading over another) is refused after the handshake, in
         * ws_established, as Engine.IO's server does */
        return strmap_get(&srv->sessions, sid) ? -1 : 1;
    return admission(srv, wsi);
}

/* Refuses an upgrade with an HTTP answer, as Engine.IO does, rather than a
 * hang-up (which a proxy would count as a failure of this upstream). */
static int ws_handshake(eio_server *srv, struct lws *wsi) {
    int code = ws_handshake_check(srv, wsi);
    if (code < 0) return 0;
    lwsl_user("eio: refused upgrade (Engine.IO error %d)\n", code);
    http_error_ex(srv, wsi, code, true);
    return -1;
}

static int ws_established(eio_server *srv, struct lws *wsi, pss *ps) {
    char sid[64];
    if (urlarg(wsi, "sid=", sid, sizeof sid)) {
        eio_conn *c = strmap_get(&srv->sessions, sid);
        if (!c || c->transport != T_POLLING || c->probe || c->closing) {
            /* The session goes on over what carries it; this connection
             * gets a close frame. */
            lwsl_user("eio %s: refused a second WebSocket (already upgraded or upgrading)\n",
                      c ? c->sid : "-");
            ps->refused = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
        c->probe = wsi;
        ps->c = c;
        return 0;
    }
    ps->c = session_new(srv, wsi, T_WEBSOCKET);
    return ps->c ? 0 : -1;
}

static int ws_writeable_cb(struct lws *wsi, pss *ps) {
    if (ps->refused) {
        static const char why[] = "session already upgraded";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (ps->probe_reply) {
        ps->probe_reply = false;
        unsigned char buf[LWS_PRE + 8];
        memcpy(buf + LWS_PRE, "3probe", 6);
        if (lws_write(wsi, buf + LWS_PRE, 6, LWS_WRITE_TEXT) < 0) return -1;
    }
    eio_conn *c = ps->c;
    if (c && c->wsi == wsi) return ws_writeable(c);
    return 0;
}

static void ws_closed(pss *ps, struct lws *wsi) {
    eio_conn *c = ps->c;
    ps->c = NULL;
    if (!c) return;
    if (c->probe == wsi) { /* a failed upgrade: polling goes on */
        c->probe = NULL;
        return;
    }
    if (c->wsi == wsi) session_end(c, c->closing ? c->close_reason : "transport close");
}

int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    eio_server *srv = ctx ? lws_context_user(ctx) : NULL;
    pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_request(srv, wsi, ps);
    case LWS_CALLBACK_HTTP_BODY:
        return http_body(srv, ps, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return http_body_done(srv, wsi, ps);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ps && ps->held ? answer_poll(srv, wsi, ps) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ps && ps->held) {
            /* A client that drops its pending GET has gone: Engine.IO closes
             * the session rather than wait for the ping timeout. */
            eio_conn *c = strmap_get(&srv->sessions, ps->sid);
            if (c && c->poll_get == wsi) {
                c->poll_get = NULL;
                eio_close(c, 1001, "polling request aborted");
            }
            ps->held = false;
        }
        if (ps) body_free(ps);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return srv ? ws_handshake(srv, wsi) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(srv, wsi, ps);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable_cb(wsi, ps);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(wsi, ps, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws answers the close frame itself; we only stop sending. */
        if (ps->c && ps->c->wsi == wsi && !ps->c->closing) {
            ps->c->closing = true;
            ps->c->close_status = 1000;
            snprintf(ps->c->close_reason, sizeof ps->c->close_reason, "client closed");
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        ws_closed(ps, wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
