/* eio.c -- Engine.IO v4 session core: sessions, send queues, heartbeat, the lws callback's dispatch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "eio_internal.h"
#include "log.h"
#include "netaddr.h"

size_t eio_pss_size(void) {
    return sizeof(eio_pss);
}

long long eio_now(const eio_server *srv) {
    return ws_clock_now_ms(srv->clock);
}

eio_server *eio_server_new(const eio_config *cfg, const eio_handlers *h, void *ud) {
    eio_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = *cfg;
    if (srv->cfg.ping_interval_ms <= 0)
        srv->cfg.ping_interval_ms = (int)contract_default(CONTRACT_PING_INTERVAL);
    if (srv->cfg.ping_timeout_ms <= 0)
        srv->cfg.ping_timeout_ms = (int)contract_default(CONTRACT_PING_TIMEOUT);
    if (srv->cfg.max_payload <= 0) srv->cfg.max_payload = contract_default(CONTRACT_MAX_PAYLOAD);
    if (srv->cfg.max_queue_bytes == 0)
        srv->cfg.max_queue_bytes = (size_t)contract_default(CONTRACT_MAX_QUEUE_BYTES);
    if (srv->cfg.max_connections <= 0)
        srv->cfg.max_connections = (int)contract_default(CONTRACT_MAX_CONNECTIONS);
    if (srv->cfg.max_per_address <= 0)
        srv->cfg.max_per_address = (int)contract_default(CONTRACT_MAX_PER_ADDRESS);
    if (srv->cfg.body_timeout_ms <= 0)
        srv->cfg.body_timeout_ms = (int)contract_default(CONTRACT_BODY_TIMEOUT);
    if (srv->cfg.max_posts_per_address <= 0)
        srv->cfg.max_posts_per_address = (int)contract_default(CONTRACT_MAX_POSTS_PER_ADDRESS);
    if (srv->cfg.handshake_timeout_ms <= 0)
        srv->cfg.handshake_timeout_ms = (int)contract_default(CONTRACT_CONNECT_TIMEOUT);
    srv->h = *h;
    srv->ud = ud;
    if (cfg->metrics) srv->metrics = *cfg->metrics;
    return srv;
}

const eio_config *eio_server_config(const eio_server *srv) {
    return &srv->cfg;
}

void eio_server_transports(const eio_server *srv, size_t *polling, size_t *websocket) {
    *polling = *websocket = 0;
    lws_start_foreach_dll(struct lws_dll2 *, d, srv->conns.head) {
        const eio_conn *c = lws_container_of(d, eio_conn, node);
        ++*(c->transport == T_POLLING ? polling : websocket);
    }
    lws_end_foreach_dll(d);
}

void eio_server_drain(eio_server *srv) {
    srv->draining = true;
}

void eio_close_all(eio_server *srv, int ws_status, const char *reason) {
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_close(lws_container_of(d, eio_conn, node), ws_status, reason);
    }
    lws_end_foreach_dll_safe(d, d1);
}

const char *eio_transport_name(const eio_conn *c) {
    return c->transport == T_POLLING ? "polling" : "websocket";
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

eio_pss *eio_pss_of(struct lws *wsi) {
    return lws_wsi_user(wsi);
}

/* ---- sending ---------------------------------------------------------- */

/* Entries of a connection's send ring when it is first needed; grown by
 * doubling, and given back when a bigger ring empties. An idle socket keeps
 * this many: a delivery usually queues one frame, written at once. */
#define EIO_RING_MIN 4

static int ring_push(eio_conn *c, outbuf *o) {
    if (c->count == c->ring_cap) {
        size_t cap = c->ring_cap ? c->ring_cap * 2 : EIO_RING_MIN;
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

outbuf *eio_ring_pop(eio_conn *c) {
    outbuf *o = c->ring[c->head];
    c->head = (c->head + 1) % c->ring_cap;
    c->count--;
    c->queued_bytes -= o->len;
    if (!c->count && c->ring_cap > EIO_RING_MIN) {
        /* a burst grew it: an idle connection keeps no more than the minimum */
        free(c->ring);
        c->ring = NULL;
        c->ring_cap = c->head = 0;
    }
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
        metrics_inc(c->srv->metrics.dropped_slow);
        eio_fail(c, 1008, "slow reader: send queue full");
        return -1;
    }
    if (ring_push(c, outbuf_ref(o))) {
        outbuf_unref(o);
        eio_fail(c, 1011, "out of memory");
        return -1;
    }
    wake_writer(c);
    return 0;
}

/* Queues a short text packet made here (open, ping, noop). */
int eio_send_text(eio_conn *c, const char *text, size_t len) {
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

void eio_fail(eio_conn *c, int ws_status, const char *reason) {
    if (!c->closing) c->close_error = true;
    eio_close(c, ws_status, reason);
}

void eio_set_close_reason(eio_conn *c, const char *reason) {
    char *copy = strndup(reason, EIO_CLOSE_REASON_MAX);
    if (!copy) return; /* the earlier one, or none */
    free(c->close_reason);
    c->close_reason = copy;
}

const char *eio_close_reason(const eio_conn *c) {
    return c->close_reason ? c->close_reason : "";
}

void eio_close(eio_conn *c, int ws_status, const char *reason) {
    if (c->closing) return;
    c->closing = true;
    c->closing_at = eio_now(c->srv);
    c->close_status = ws_status;
    eio_set_close_reason(c, reason);
    if (c->transport == T_WEBSOCKET) {
        /* A choked pipe would hold the close behind data the peer does not
         * read (a slow reader): drop it now. */
        if (lws_partial_buffered(c->wsi))
            eio_ws_kill(c);
        else
            lws_callback_on_writable(c->wsi);
        eio_session_rearm(c); /* the close frame's deadline */
        return;
    }
    /* A polling session has no connection of its own to close: its timer
     * ends it from the service loop, never under a caller still using it.
     * A GET already waiting carries the close packet first. */
    if (c->poll_get && !c->close_error) lws_callback_on_writable(c->poll_get);
    eio_session_rearm(c);
}

/* ---- each session's deadline ------------------------------------------ */

/* Whether a closing polling session waits for a GET to carry what is queued
 * and its close packet: a graceful close (the layer above asked), as
 * Engine.IO's server flushes and holds the session until the next poll. It
 * waits a ping timeout at most (its timer ends it then). */
static bool awaits_close_poll(const eio_conn *c) {
    return !c->close_error && !c->client_closed && !c->close_delivered;
}

/* When c's timer is due next (ms), or -1 for never. */
static long long session_due(const eio_conn *c) {
    if (c->closing) {
        if (c->transport == T_POLLING)
            return awaits_close_poll(c) ? c->closing_at + c->srv->cfg.ping_timeout_ms : 0;
        /* a close frame gets a deadline once; the client's own close, none */
        return c->closing_at > 0 ? c->closing_at + EIO_CLOSE_DEADLINE_MS : -1;
    }
    return c->awaiting_pong ? c->pong_deadline : c->next_ping_at;
}

void eio_session_rearm(eio_conn *c) {
    if (!c->srv->started) return;
    long long due = session_due(c);
    if (due < 0) {
        ws_timer_cancel(&c->timer);
        return;
    }
    long long delay = due - eio_now(c->srv);
    ws_timer_schedule(&c->timer, delay > 0 ? delay : 0);
}

/* A session's deadline: the heartbeat sends a ping that is due or closes a
 * session whose pong is late; a closing session that is done, or past its
 * close's deadline, ends. */
static void session_timer(void *ud) {
    eio_conn *c = ud;
    eio_server *srv = c->srv;
    long long now = eio_now(srv);
    if (c->closing) {
        if (c->transport == T_WEBSOCKET) {
            /* a close frame that did not go out in time: drop the connection */
            if (c->closing_at > 0 && now - c->closing_at >= EIO_CLOSE_DEADLINE_MS) {
                c->closing_at = 0; /* once */
                eio_ws_kill(c);
            }
        } else if (!awaits_close_poll(c) || now - c->closing_at >= srv->cfg.ping_timeout_ms) {
            /* done, or its close packet was never polled for */
            log_event(LOG_LEVEL_INFO, "eio: closed", "sid", c->sid, "reason", eio_close_reason(c),
                      NULL);
            eio_session_end(c, eio_close_reason(c));
            return;
        }
    } else if (c->awaiting_pong) {
        if (now >= c->pong_deadline) eio_fail(c, 1000, "ping timeout");
    } else if (now >= c->next_ping_at) {
        /* timed from when the ping was due, not from a late timer */
        c->awaiting_pong = true;
        c->pong_deadline = c->next_ping_at + srv->cfg.ping_timeout_ms;
        eio_send_text(c, "2", 1);
    }
    eio_session_rearm(c);
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
static void proxied_address(struct lws *wsi, char *out, size_t len) {
    char hdr[256];
    lws_get_peer_simple(wsi, out, len);
    if (!is_loopback(out)) return;
    /* lws 4.1 knows X-Real-IP as a token: a custom-header lookup misses it */
    int n = lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_X_REAL_IP);
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

/* The client's per-address key (netaddr_key): the address above, an
 * IPv4-mapped one as IPv4 (a client reaching chat-ws over IPv6 counts as
 * the same client nginx reports) and IPv6 by its prefix. Every per-address
 * limit of chat-ws counts by it (sessions here, connects and rates in
 * socketio/, write budgets and creations in chat/). */
void eio_client_address(struct lws *wsi, char *out, size_t len) {
    char raw[NETADDR_LEN];
    proxied_address(wsi, raw, sizeof raw);
    netaddr_key(raw, out, len);
}

static int address_sessions(eio_server *srv, const char *addr) {
    addr_count *a = strmap_get(&srv->per_address, addr);
    return a ? a->n : 0;
}

/* Counts a session of addr in (+1) or out (-1). Returns addr's entry while
 * it counts a session, else (or out of memory) NULL. */
static addr_count *address_count(eio_server *srv, const char *addr, int delta) {
    addr_count *a = strmap_get(&srv->per_address, addr);
    if (!a && delta > 0) {
        a = calloc(1, sizeof *a);
        if (!a) return NULL;
        snprintf(a->addr, sizeof a->addr, "%s", addr);
        if (strmap_put(&srv->per_address, a->addr, a)) {
            free(a);
            return NULL;
        }
    }
    if (!a) return NULL;
    a->n += delta;
    if (srv->cfg.address_changed)
        srv->cfg.address_changed(a->addr, a->n > 0 ? a->n : 0, srv->cfg.address_ud);
    if (a->n > 0) return a;
    free(strmap_del(&srv->per_address, a->addr));
    return NULL;
}

/* The scheme the client used: a local proxy's X-Forwarded-Proto (http or
 * https), else http (chat-ws has no TLS). */
static void site_scheme(struct lws *wsi, char *out, size_t len) {
    char peer[NETADDR_LEN], proto[16];
    snprintf(out, len, "http");
    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (!is_loopback(peer)) return;
    int n = lws_hdr_custom_copy(wsi, proto, sizeof proto, "x-forwarded-proto:", 18);
    if (n > 0 && (strcmp(proto, "https") == 0 || strcmp(proto, "http") == 0))
        snprintf(out, len, "%s", proto);
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
    /* the site's own: SCHEME://HOST where HOST is the Host header (nginx
     * passes $http_host, port included) and SCHEME the site's (nginx says
     * it in X-Forwarded-Proto; chat-ws itself speaks plain http), so an
     * https page of the host is foreign to its http site */
    char scheme[16], own[300];
    site_scheme(wsi, scheme, sizeof scheme);
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return false;
    snprintf(own, sizeof own, "%s://%s", scheme, host);
    return strcmp(origin, own) == 0;
}

/* Whether the request opening a session is under the conformance echo path
 * (a polling handshake and a WebSocket upgrade are both GETs). */
static bool under_echo_path(eio_server *srv, struct lws *wsi) {
    char uri[256];
    if (!srv->cfg.echo_path) return false;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) return false;
    return strncmp(uri, srv->cfg.echo_path, strlen(srv->cfg.echo_path)) == 0;
}

eio_conn *eio_session_new(eio_server *srv, struct lws *wsi, eio_transport t) {
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
    char peer[NETADDR_LEN];
    eio_client_address(wsi, peer, sizeof peer);
    addr_count *a = address_count(srv, peer, +1);
    if (!a) {
        free(c);
        return NULL;
    }
    c->peer = a->addr; /* shared by the address's sessions: none keeps a copy */
    if (strmap_put(&srv->sessions, c->sid, c)) {
        address_count(srv, c->peer, -1);
        free(c);
        return NULL;
    }
    lws_dll2_add_tail(&c->node, &srv->conns);
    metrics_inc(srv->metrics.sessions_opened[t == T_POLLING ? 0 : 1]);
    c->next_ping_at = eio_now(srv) + srv->cfg.ping_interval_ms;
    ws_timer_init(&c->timer, srv->clock, session_timer, c);
    eio_session_rearm(c);

    char open[256];
    open[0] = '0' + EIO_OPEN;
    int n =
        eio_open_json(open + 1, sizeof open - 1, c->sid, t == T_POLLING && !srv->cfg.no_polling,
                      srv->cfg.ping_interval_ms, srv->cfg.ping_timeout_ms, srv->cfg.max_payload);
    if (n > 0) eio_send_text(c, open, (size_t)n + 1);
    if (!c->echo) srv->h.open(c, srv->ud);
    return c;
}

/* Ends a session: the upper layer's close, then the memory. Whatever
 * connection still points at it is detached first. */
void eio_session_end(eio_conn *c, const char *reason) {
    eio_server *srv = c->srv;
    strmap_del(&srv->sessions, c->sid);
    lws_dll2_remove(&c->node);
    ws_timer_cancel(&c->timer);
    if (c->poll_get) {
        /* it answers with a close packet, or a noop when the client closed */
        eio_pss_of(c->poll_get)->gone_noop = c->client_closed;
        lws_callback_on_writable(c->poll_get);
        c->poll_get = NULL;
    }
    if (c->probe) {
        eio_pss_of(c->probe)->c = NULL;
        lws_set_timeout(c->probe, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        c->probe = NULL;
    }
    if (!c->echo) srv->h.close(c, reason, srv->ud);
    address_count(srv, c->peer, -1); /* after the close: c->peer is its entry's */
    while (c->count)
        outbuf_unref(eio_ring_pop(c));
    free(c->ring);
    free(c->rx);
    free(c->close_reason);
    free(c);
}

/* ---- receiving -------------------------------------------------------- */

/* Handles one whole Engine.IO packet of a session. */
void eio_on_packet(eio_conn *c, const char *buf, size_t len, bool binary) {
    eio_packet p;
    if (c->closing) return;
    if (eio_packet_decode(buf, len, binary, &p)) {
        eio_fail(c, 1002, "malformed Engine.IO packet");
        return;
    }
    switch (p.type) {
    case EIO_PONG:
        c->awaiting_pong = false;
        c->next_ping_at = eio_now(c->srv) + c->srv->cfg.ping_interval_ms;
        eio_session_rearm(c);
        return;
    case EIO_MESSAGE:
        if (c->echo) {
            outbuf *o = p.binary ? outbuf_copy(p.data, p.len, true) : outbuf_copy(buf, len, false);
            if (o) eio_send(c, o);
            outbuf_unref(o);
        } else if (c->srv->h.message(c, p.data, p.len, p.binary, c->srv->ud)) {
            eio_fail(c, 1002, "malformed Socket.IO packet");
        }
        return;
    case EIO_CLOSE:
        c->client_closed = true;
        eio_close(c, 1000, "client closed");
        return;
    case EIO_NOOP:
        return;
    default:
        eio_fail(c, 1002, "unexpected Engine.IO packet type");
        return;
    }
}

void eio_server_start(eio_server *srv, ws_clock *clock) {
    srv->clock = clock;
    srv->started = true;
}

void eio_server_stop(eio_server *srv) {
    if (!srv || !srv->started) return;
    lws_start_foreach_dll(struct lws_dll2 *, d, srv->conns.head) {
        ws_timer_cancel(&lws_container_of(d, eio_conn, node)->timer);
    }
    lws_end_foreach_dll(d);
    srv->started = false;
}

static void free_value(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    free(value);
}

void eio_server_free(eio_server *srv) {
    if (!srv) return;
    eio_server_stop(srv);
    /* polling sessions outlive their connections: end them here */
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&srv->conns)) {
        eio_conn *c = lws_container_of(d, eio_conn, node);
        c->poll_get = NULL;
        c->probe = NULL;
        eio_session_end(c, "server shutting down");
    }
    lws_end_foreach_dll_safe(d, d1);
    strmap_clear(&srv->sessions);
    strmap_clear(&srv->per_address); /* every count went to zero with its session */
    strmap_each(&srv->posts_per_address, free_value, NULL); /* POSTs cut off by shutdown */
    strmap_clear(&srv->posts_per_address);
    free(srv->ws_scratch);
    free(srv);
}

/* ---- request checks both transports make ------------------------------ */

bool eio_urlarg(struct lws *wsi, const char *name, char *buf, int len) {
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, len);
    if (!v) return false;
    memmove(buf, v, strlen(v) + 1);
    return true;
}

/* Whether a new session may open: the Origin, and the process's and the
 * client address's session limits. Returns -1 when it may, else the
 * Engine.IO error code to refuse with (4, forbidden). */
int eio_admission(eio_server *srv, struct lws *wsi) {
    char addr[64];
    if (srv->draining) return EIO_REFUSE_DRAINING;
    if (!origin_allowed(srv, wsi)) {
        log_event(LOG_LEVEL_INFO, "eio: refused a session", "reason", "foreign Origin", NULL);
        return 4;
    }
    if ((int)srv->conns.count >= srv->cfg.max_connections) {
        log_event(LOG_LEVEL_INFO, "eio: refused a session", "reason", "max_connections", NULL);
        return 4;
    }
    eio_client_address(wsi, addr, sizeof addr);
    int here = address_sessions(srv, addr), elsewhere = 0;
    if (here < srv->cfg.max_per_address && srv->cfg.address_elsewhere)
        elsewhere = srv->cfg.address_elsewhere(addr, srv->cfg.address_ud);
    if (here + (elsewhere > 0 ? elsewhere : 0) >= srv->cfg.max_per_address) {
        log_event(LOG_LEVEL_INFO, "eio: refused a session", "reason", "max_per_address", "peer",
                  addr, NULL);
        return 4;
    }
    return -1;
}

int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    eio_server *srv = ctx ? lws_context_user(ctx) : NULL;
    eio_pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return eio_http_request(srv, wsi, ps);
    case LWS_CALLBACK_HTTP_BODY:
        return eio_http_body(srv, ps, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return eio_http_body_done(srv, wsi, ps);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ps ? eio_http_writeable(srv, wsi, ps) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ps) eio_http_closed(srv, wsi, ps);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return eio_confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return srv ? eio_ws_handshake(srv, wsi) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return eio_ws_established(srv, wsi, ps);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return eio_ws_writeable(wsi, ps);
    case LWS_CALLBACK_RECEIVE:
        return eio_ws_receive(wsi, ps, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        eio_ws_peer_close(wsi, ps);
        return 0;
    case LWS_CALLBACK_CLOSED:
        eio_ws_closed(ps, wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
