/* eio_polling.c -- Engine.IO HTTP long-polling: the GET held until there is data, the POST of
 * packets, CORS, and HTTP/1.1 connection handling */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio_internal.h"
#include "log.h"
#include "netaddr.h"

/* The Connection header an answer must carry, or NULL for none. The
 * connection stays open by the rule lws applies when the transaction
 * completes: HTTP/1.1 keeps it alive, HTTP/1.0 closes it, and a Connection
 * header of exactly "close" or "keep-alive" overrides either. An answer the
 * connection closes after (the client asked, HTTP/1.0, or close_after) says
 * "close", so a keep-alive pool does not send the next request on it (RFC
 * 9112 section 9.6); HTTP/1.0 keep-alive is confirmed with "keep-alive". */
static const char *http_connection_header(struct lws *wsi, bool close_after) {
    char version[16], conn[32];
    bool http11 = lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_HTTP) > 7 &&
                  version[5] == '1' && version[7] == '1';
    bool keep = http11;
    if (lws_hdr_copy(wsi, conn, sizeof conn, WSI_TOKEN_CONNECTION) > 0) {
        if (!strcasecmp(conn, "close")) keep = false;
        if (!strcasecmp(conn, "keep-alive")) keep = true;
    }
    if (close_after || !keep) return "close";
    return http11 ? NULL : "keep-alive";
}

static int add_connection(struct lws *wsi, bool close_after, unsigned char **p,
                          unsigned char *end) {
    const char *conn = http_connection_header(wsi, close_after);
    return conn &&
           lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)conn,
                                        (int)strlen(conn), p, end);
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
        add_connection(wsi, false, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Writes a whole response: status, type, body (body has LWS_PRE bytes of
 * headroom before it), and ends the transaction; the connection closes
 * after it when close_after (see http_connection_header). Returns -1 to
 * close. */
static int http_send_ex(eio_server *srv, struct lws *wsi, unsigned status, const char *ctype,
                        unsigned char *body, size_t len, bool close_after) {
    unsigned char hdr[LWS_PRE + 1024];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        add_connection(wsi, close_after, &p, end) || add_cors(srv, wsi, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
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
int eio_http_error_ex(eio_server *srv, struct lws *wsi, int code, bool close_after) {
    static const char *const messages[] = {
        "{\"code\":0,\"message\":\"Transport unknown\"}",
        "{\"code\":1,\"message\":\"Session ID unknown\"}",
        "{\"code\":2,\"message\":\"Bad handshake method\"}",
        "{\"code\":3,\"message\":\"Bad request\"}",
        "{\"code\":4,\"message\":\"Forbidden\"}",
        "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
        "{\"code\":4,\"message\":\"Server shutting down\"}", /* EIO_REFUSE_DRAINING */
    };
    unsigned status = code == EIO_REFUSE_DRAINING ? 503 : code == 4 ? 403 : 400;
    return http_reply_ex(srv, wsi, status, "application/json", messages[code], close_after);
}

static int http_error(eio_server *srv, struct lws *wsi, int code) {
    return eio_http_error_ex(srv, wsi, code, false);
}

/* Answers a held GET with every queued packet, joined by the record
 * separator; binary ones as "b" + base64. A session closing on the server's
 * side adds its close packet after what was queued (Engine.IO flushes before
 * it closes) and may then end; one the client closed, or one already gone,
 * gets a noop (client) or the close packet. */
static int answer_poll(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    ps->held = false;
    eio_conn *c = strmap_get(&srv->sessions, ps->sid);
    if (!c)
        return http_reply(srv, wsi, 200, "text/plain; charset=UTF-8", ps->gone_noop ? "6" : "1");
    if (c->poll_get == wsi) c->poll_get = NULL;
    bool send_close = c->closing && !c->client_closed;
    if (c->client_closed || (!c->count && !send_close))
        return http_reply(srv, wsi, 200, "text/plain; charset=UTF-8", "6");
    size_t need = send_close ? 2 : 0;
    for (size_t i = 0; i < c->count; i++) {
        outbuf *o = c->ring[(c->head + i) % c->ring_cap];
        need += 1 + (o->binary ? 1 + 4 * ((o->len + 2) / 3) + 1 : o->len);
    }
    unsigned char *buf = malloc(LWS_PRE + need + 1);
    if (!buf) return -1;
    char *out = (char *)buf + LWS_PRE, *w = out;
    while (c->count) {
        outbuf *o = eio_ring_pop(c);
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
    if (send_close) { /* the close packet goes out: the session may end now */
        if (w != out) *w++ = '\x1e';
        *w++ = '0' + EIO_CLOSE;
        c->close_delivered = true;
        eio_session_rearm(c);
    }
    int rc =
        http_send(srv, wsi, 200, "text/plain; charset=UTF-8", buf + LWS_PRE, (size_t)(w - out));
    free(buf);
    return rc;
}

/* ---- slow POST bodies: a deadline each, a cap per client address ------- */

/* The POST's body was not all in by its deadline: the connection is dropped
 * (lws reads the body before anything can be answered). */
static void body_late(void *ud) {
    eio_post_wait *w = ud;
    struct lws *wsi = w->wsi; /* w goes with the connection (post_end) */
    log_event(LOG_LEVEL_INFO, "eio: dropped a slow POST", "peer", w->addr->addr, "received",
              LOG_I((long long)w->ps->body_len), NULL);
    /* Closed now, not by an lws timeout due at once: lws re-arms its own
     * content timeout with each piece of body that comes in, so a trickling
     * body's next byte would cancel that kill before lws's timers run. This
     * runs from the clock, outside any lws callback of this connection. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_SYNC);
}

/* Counts a POST whose body is to come against its address's cap and starts
 * its deadline. Returns false when the address is at its cap. */
static bool post_begin(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    char key[NETADDR_LEN];
    eio_client_address(wsi, key, sizeof key);
    addr_count *a = strmap_get(&srv->posts_per_address, key);
    if (a && a->n >= srv->cfg.max_posts_per_address) {
        log_event(LOG_LEVEL_INFO, "eio: refused a POST", "reason", "max_posts_per_address", "peer",
                  key, NULL);
        return false;
    }
    eio_post_wait *w = calloc(1, sizeof *w);
    if (!w) return false;
    if (!a) {
        if (!(a = calloc(1, sizeof *a))) return free(w), false;
        snprintf(a->addr, sizeof a->addr, "%s", key);
        if (strmap_put(&srv->posts_per_address, a->addr, a)) {
            free(a);
            free(w);
            return false;
        }
    }
    a->n++;
    *w = (eio_post_wait){.ps = ps, .wsi = wsi, .addr = a};
    ps->post_wait = w;
    ws_timer_init(&w->body_timer, srv->clock, body_late, w);
    ws_timer_schedule(&w->body_timer, srv->cfg.body_timeout_ms);
    return true;
}

/* The POST's body is in, or its connection closed: uncounted, no deadline. */
static void post_end(eio_server *srv, eio_pss *ps) {
    eio_post_wait *w = ps->post_wait;
    if (!w) return;
    ws_timer_cancel(&w->body_timer);
    if (--w->addr->n <= 0) free(strmap_del(&srv->posts_per_address, w->addr->addr));
    free(w);
    ps->post_wait = NULL;
}

/* A POST is answered when its body is complete. Without a Content-Length
 * there is no body (RFC 9112 section 6.3) and lws reports no completion:
 * the empty body is complete now. */
static int post_await_body(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    if (!lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH))
        return eio_http_body_done(srv, wsi, ps);
    if (!post_begin(srv, wsi, ps))
        return http_reply_ex(srv, wsi, 429, "application/json",
                             "{\"code\":3,\"message\":\"Too many requests\"}", true);
    return 0;
}

/* A new HTTP request: checks EIO, transport and sid, then opens a session
 * (GET without sid), holds or answers a GET, or readies for a POST body. */
int eio_http_request(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    char eio[32], tr[64], sid[96];
    bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    bool is_head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    ps->sid[0] = '\0';
    ps->held = ps->post_error = ps->post_gone = ps->gone_noop = false;
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
        return eio_http_error_ex(srv, wsi, eio_urlarg(wsi, "sid=", sid, sizeof sid) ? 3 : 2, true);
    if (is_post && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        /* lws 4.1 does not decode a chunked request body (nginx, in front,
         * sends a Content-Length): refused, the connection closed. */
        return http_reply_ex(srv, wsi, 411, "application/json",
                             "{\"code\":3,\"message\":\"Length Required\"}", true);
    if (!eio_urlarg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0) {
        if (is_post) goto post_refused_version;
        return http_error(srv, wsi, 5);
    }
    if (!eio_urlarg(wsi, "transport=", tr, sizeof tr) || strcmp(tr, "polling") != 0 ||
        srv->cfg.no_polling) {
        if (is_post) goto post_refused_transport;
        return http_error(srv, wsi, strcmp(tr, "websocket") == 0 ? 3 : 0);
    }
    bool has_sid = eio_urlarg(wsi, "sid=", sid, sizeof sid);
    eio_conn *c = has_sid ? strmap_get(&srv->sessions, sid) : NULL;
    if (c && c->awaiting_pong && !c->closing && eio_now(srv) >= c->pong_deadline) {
        /* its timer has not run yet, but the session is over: say so now */
        eio_fail(c, 1000, "ping timeout");
        c = NULL;
    }
    if (is_post) {
        if (has_sid && (!c || c->transport != T_POLLING || c->closing)) {
            /* answered when the body is in: see eio_http_body_done */
            snprintf(ps->sid, sizeof ps->sid, "%.*s", EIO_SID_LEN, sid);
            ps->post_gone = true;
            return post_await_body(srv, wsi, ps);
        }
        if (!c) {
            ps->post_error = true;
            ps->post_status = 400;
            ps->post_json = "{\"code\":2,\"message\":\"Bad handshake method\"}";
            return post_await_body(srv, wsi, ps);
        }
        snprintf(ps->sid, sizeof ps->sid, "%.*s", EIO_SID_LEN, sid);
        return post_await_body(srv, wsi, ps);
    }
    if (!is_get) return http_error(srv, wsi, has_sid ? 3 : 2); /* HEAD */
    if (!has_sid) {
        int refused = eio_admission(srv, wsi);
        if (refused >= 0) return http_error(srv, wsi, refused);
        c = eio_session_new(srv, wsi, T_POLLING);
        if (!c) return -1;
        snprintf(ps->sid, sizeof ps->sid, "%s", c->sid);
        return answer_poll(srv, wsi, ps);
    }
    /* A session closing on an error (a malformed POST, an aborted GET, a
     * ping timeout) is over for new requests, as Engine.IO's server forgets
     * it. One the client closed answers a GET that raced its close packet
     * with a noop, as a GET already pending gets. */
    if (c && c->closing && c->close_error) c = NULL;
    if (!c || c->transport != T_POLLING) return http_error(srv, wsi, c ? 3 : 1);
    snprintf(ps->sid, sizeof ps->sid, "%.*s", EIO_SID_LEN, sid);
    if (c->poll_get) {
        /* Two GETs at once break the protocol: the spec closes the session. */
        eio_fail(c, 1002, "concurrent polling GET");
        return http_error(srv, wsi, 3);
    }
    ps->held = true;
    c->poll_get = wsi;
    /* While a WebSocket probes an upgrade, a GET is answered at once (a noop
     * when nothing is queued) so the client can pause polling. */
    if (c->count || c->probe || c->closing) lws_callback_on_writable(wsi);
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

int eio_http_body(eio_server *srv, eio_pss *ps, const char *in, size_t len) {
    if (ps->post_error) return 0;
    if (len > (size_t)srv->cfg.max_payload - ps->body_len) {
        ps->post_error = true;
        ps->post_status = 413;
        ps->post_json = "{\"code\":3,\"message\":\"Payload too large\"}";
        eio_conn *c = strmap_get(&srv->sessions, ps->sid);
        if (c) eio_fail(c, 1009, "POST over maxPayload");
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
static void body_free(eio_pss *ps) {
    free(ps->body);
    ps->body = NULL;
    ps->body_cap = ps->body_len = 0;
}

int eio_http_body_done(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    post_end(srv, ps);
    if (ps->post_error) {
        body_free(ps);
        return http_reply_ex(srv, wsi, ps->post_status, "application/json", ps->post_json, true);
    }
    eio_conn *c = strmap_get(&srv->sessions, ps->sid);
    if (ps->post_gone || !c || c->closing) {
        /* The close packet of a session already over (an aborted GET raced
         * the client's own close) is no error: it is closed. Anything else
         * is for a session that is not there. */
        bool just_close = ps->body_len == 1 && ps->body[0] == '0' + EIO_CLOSE;
        body_free(ps);
        if (just_close) return http_reply_ex(srv, wsi, 200, "text/html", "ok", true);
        return eio_http_error_ex(srv, wsi, 1, true);
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
        eio_fail(c, 1002, "malformed polling payload");
        return eio_http_error_ex(srv, wsi, 3, true);
    }
    for (size_t i = 0; i < n && !c->closing; i++)
        eio_on_packet(c, packets[i].data - (packets[i].binary ? 0 : 1),
                      packets[i].len + (packets[i].binary ? 0 : 1), packets[i].binary);
    free(scratch);
    body_free(ps); /* an idle keep-alive connection holds no buffer */
    /* A packet the session could not take closed it: the POST says so too
     * (the client's own close packet is still an "ok"). */
    if (c->closing && c->close_error) return eio_http_error_ex(srv, wsi, 3, true);
    return http_reply_ex(srv, wsi, 200, "text/html", "ok", true);
}

/* The connection may write: a held GET is answered. */
int eio_http_writeable(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    return ps->held ? answer_poll(srv, wsi, ps) : 0;
}

/* The connection closed. A client that drops its pending GET has gone:
 * Engine.IO closes the session rather than wait for the ping timeout. */
void eio_http_closed(eio_server *srv, struct lws *wsi, eio_pss *ps) {
    if (ps->held) {
        eio_conn *c = strmap_get(&srv->sessions, ps->sid);
        if (c && c->poll_get == wsi) {
            c->poll_get = NULL;
            eio_fail(c, 1001, "polling request aborted");
        }
        ps->held = false;
    }
    post_end(srv, ps);
    body_free(ps);
}
