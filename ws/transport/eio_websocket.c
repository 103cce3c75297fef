/* eio_websocket.c -- Engine.IO over WebSocket: handshake, frames in and out, the upgrade of a
 * polling session */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio_internal.h"
#include "log.h"

/* Frames of one connection gathered into one send: the syscall, not the
 * bytes, is what a loopback delivery costs, so k queued frames go out for the
 * price of one, through the server's scratch buffer. */
#define WS_BATCH_MAX (256 * 1024)

/* A WebSocket whose close frame cannot go out (its peer does not read) is
 * dropped at once; lws then reports it closed and the session ends. */
void eio_ws_kill(eio_conn *c) {
    log_event(LOG_LEVEL_INFO, "eio: closed", "sid", c->sid, "reason", eio_close_reason(c),
              "dropped", "true", NULL);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
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

static int ws_write_batch(eio_conn *c) {
    eio_server *srv = c->srv;
    size_t total = 0, n = 0;
    while (n < c->count) {
        outbuf *o = c->ring[(c->head + n) % c->ring_cap];
        if (n && total + 10 + o->len > WS_BATCH_MAX) break;
        total += 10 + o->len;
        n++;
    }
    if (LWS_PRE + total > srv->ws_scratch_cap) {
        unsigned char *b = realloc(srv->ws_scratch, LWS_PRE + total);
        if (!b) return -1;
        srv->ws_scratch = b;
        srv->ws_scratch_cap = LWS_PRE + total;
    }
    unsigned char *w = srv->ws_scratch + LWS_PRE;
    for (size_t i = 0; i < n; i++) {
        outbuf *o = eio_ring_pop(c);
        w += ws_header(w, o->len, o->binary);
        memcpy(w, outbuf_payload(o), o->len);
        w += o->len;
        outbuf_unref(o);
    }
    size_t len = (size_t)(w - (srv->ws_scratch + LWS_PRE));
    return lws_write(c->wsi, srv->ws_scratch + LWS_PRE, len, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* WebSocket writer: the queued frames, batched, then the close if one is
 * due. lws keeps what the socket did not take and calls again when it has
 * drained; nothing more is written until then. Returns -1 to have lws close
 * the connection. */
static int ws_write_queue(eio_conn *c) {
    if (c->count) {
        if (c->count == 1) { /* the common case: no copy */
            outbuf *o = eio_ring_pop(c);
            int n = lws_write(c->wsi, outbuf_payload(o), o->len,
                              o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            outbuf_unref(o);
            if (n < 0) return -1;
        } else if (ws_write_batch(c)) {
            return -1;
        }
    }
    if (c->closing) {
        /* lws may ask again while the close handshake runs: one close frame */
        if (c->close_sent) return -1;
        c->close_sent = true;
        const char *reason = eio_close_reason(c);
        log_event(LOG_LEVEL_INFO, "eio: closed", "sid", c->sid, "reason", reason, NULL);
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_status, (unsigned char *)reason,
                         strlen(reason));
        return -1;
    }
    if (c->count) lws_callback_on_writable(c->wsi);
    return 0;
}

/* A packet on a WebSocket probing the upgrade of a polling session. */
static int on_probe_packet(struct lws *wsi, eio_pss *ps, const char *buf, size_t len) {
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
        log_event(LOG_LEVEL_DEBUG, "eio: upgraded", "sid", c->sid, NULL);
        lws_callback_on_writable(wsi);
        return 0;
    }
    log_event(LOG_LEVEL_INFO, "eio: unexpected packet during upgrade", "sid", c->sid, NULL);
    c->probe = NULL;
    ps->c = NULL;
    return -1;
}

int eio_ws_receive(struct lws *wsi, eio_pss *ps, const char *in, size_t len) {
    eio_conn *c = ps->c;
    if (!c || c->closing) return 0;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    size_t max = (size_t)c->srv->cfg.max_payload;
    if (len > max - c->rx_len) { /* rx_len <= max always: checked before every append */
        if (c->probe == wsi) return -1;
        eio_fail(c, 1009, "message over maxPayload");
        return 0;
    }
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 256;
        while (cap < c->rx_len + len + 1)
            cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx) {
            eio_fail(c, 1011, "out of memory");
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
    eio_on_packet(c, c->rx, n, c->rx_binary);
    /* An idle connection holds no receive buffer: the next message
     * allocates one (closing: eio frees it with the connection). */
    if (!c->closing) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

/* Whether the Connection header lists the "upgrade" token. */
static bool connection_upgrade(struct lws *wsi) {
    char conn[256];
    int n = lws_hdr_copy(wsi, conn, sizeof conn, WSI_TOKEN_CONNECTION);
    for (char *tok = n > 0 ? strtok(conn, ", \t") : NULL; tok; tok = strtok(NULL, ", \t"))
        if (!strcasecmp(tok, "upgrade")) return true;
    return false;
}

/* What is wrong with an upgrade request before lws acts on it, or NULL: only
 * a well-formed WebSocket handshake (RFC 6455 section 4.2.1) may go on.
 * Anything else lws would hang up on without an answer, which nginx counts as
 * a failure of this upstream; and h2c, which lws would honour, turns the
 * connection into an HTTP/2 tunnel past the proxy's limits. */
static const char *upgrade_fault(struct lws *wsi, const char *upgrade) {
    char v[8];
    if (!upgrade || strcasecmp(upgrade, "websocket")) return "not a WebSocket upgrade";
    if (!connection_upgrade(wsi)) return "no Connection: upgrade";
    if (!lws_hdr_total_length(wsi, WSI_TOKEN_HOST)) return "no Host";
    /* a key is 16 random bytes in base64: 24 characters */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_KEY) != 24) return "bad Sec-WebSocket-Key";
    if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_VERSION) <= 0 || strcmp(v, "13"))
        return "bad Sec-WebSocket-Version";
    /* Engine.IO asks for no subprotocol; one named would pick another of
     * this server's lws protocols */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL)) return "a subprotocol";
    return NULL;
}

int eio_confirm_upgrade(struct lws *wsi, const char *upgrade) {
    const char *fault = upgrade_fault(wsi, upgrade);
    if (!fault) return 0;
    struct lws_context *ctx = lws_get_context(wsi);
    log_event(LOG_LEVEL_INFO, "eio: refused upgrade", "reason", fault, NULL);
    eio_http_error_ex(ctx ? lws_context_user(ctx) : NULL, wsi, 3, true);
    return -1;
}

/* Checks a WebSocket upgrade: Engine.IO v4 on the websocket transport, and
 * with a sid only to upgrade a live polling session. Returns -1 to accept,
 * else the Engine.IO error code to refuse with. */
static int ws_handshake_check(eio_server *srv, struct lws *wsi) {
    char eio[32], tr[64], sid[96];
    if (!eio_urlarg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0) return 5;
    if (!eio_urlarg(wsi, "transport=", tr, sizeof tr) || strcmp(tr, "websocket") != 0) return 0;
    if (eio_urlarg(wsi, "sid=", sid, sizeof sid))
        /* a known session that cannot take this WebSocket (upgraded, or
         * upgrading over another) is refused after the handshake, in
         * ws_established, as Engine.IO's server does */
        return strmap_get(&srv->sessions, sid) ? -1 : 1;
    return eio_admission(srv, wsi);
}

/* Refuses an upgrade with an HTTP answer, as Engine.IO does, rather than a
 * hang-up (which a proxy would count as a failure of this upstream). */
int eio_ws_handshake(eio_server *srv, struct lws *wsi) {
    int code = ws_handshake_check(srv, wsi);
    if (code < 0) return 0;
    log_event(LOG_LEVEL_INFO, "eio: refused upgrade", "code", LOG_I(code), NULL);
    eio_http_error_ex(srv, wsi, code, true);
    return -1;
}

int eio_ws_established(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    char sid[64];
    if (eio_urlarg(wsi, "sid=", sid, sizeof sid)) {
        eio_conn *c = strmap_get(&srv->sessions, sid);
        if (!c || c->transport != T_POLLING || c->probe || c->closing) {
            /* The session goes on over what carries it; this connection
             * gets a close frame. */
            log_event(LOG_LEVEL_INFO, "eio: refused a second WebSocket", "sid", c ? c->sid : "-",
                      NULL);
            ps->refused = true;
            lws_callback_on_writable(wsi);
            return 0;
        }
        c->probe = wsi;
        ps->c = c;
        return 0;
    }
    ps->c = eio_session_new(srv, wsi, T_WEBSOCKET);
    return ps->c ? 0 : -1;
}

int eio_ws_writeable(struct lws *wsi, eio_pss *ps) {
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
    if (c && c->wsi == wsi) return ws_write_queue(c);
    return 0;
}

void eio_ws_closed(eio_pss *ps, struct lws *wsi) {
    eio_conn *c = ps->c;
    ps->c = NULL;
    if (!c) return;
    if (c->probe == wsi) { /* a failed upgrade: polling goes on */
        c->probe = NULL;
        return;
    }
    if (c->wsi == wsi) eio_session_end(c, c->closing ? eio_close_reason(c) : "transport close");
}

/* The client's close frame: lws answers it itself; the session only stops
 * sending. */
void eio_ws_peer_close(struct lws *wsi, eio_pss *ps) {
    if (ps->c && ps->c->wsi == wsi && !ps->c->closing) {
        ps->c->closing = true;
        ps->c->close_status = 1000;
        eio_set_close_reason(ps->c, "client closed");
    }
}
