/* test_eio.c -- the Engine.IO session core on the fake clock: handshake,
 * heartbeat (ping, pong, timeout), upgrade, polling POST/GET order, close.
 *
 * The seam is lws itself: this file defines the few lws functions that
 * ws/transport/ calls, over a struct lws of its own (lws keeps the struct
 * opaque), and the link takes them before libwebsockets'. A test drives a
 * session by calling eio_lws_callback as lws would: no context, no socket,
 * and eio's code runs unchanged. */
#include <libwebsockets.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eio_internal.h"
#include "fake_clock.h"

/* ---- the fake lws --------------------------------------------------------- */

/* One connection as lws would hold it. */
struct lws {
    eio_pss pss;     /* lws_wsi_user: zeroed, as lws allocates it */
    bool post;       /* a POST, else a GET */
    char query[160]; /* the URI's arguments, "EIO=4&transport=polling" */
    size_t body_len; /* a POST's Content-Length */
    bool writable;   /* lws_callback_on_writable was asked */
    bool killed;     /* lws_set_timeout(LWS_TO_KILL_ASYNC) */
    bool killed_now; /* lws_set_timeout(LWS_TO_KILL_SYNC): lws closes it at once */
    unsigned status; /* HTTP: the status of the last answer */
    char out[4096];  /* HTTP: the answers' bodies; WebSocket: each frame and '\n' */
    size_t out_len;
    int close_status; /* WebSocket: lws_close_reason's */
};

static eio_server *the_server; /* the context's user */
static char the_context;       /* lws_get_context's, never dereferenced */

int lws_callback_on_writable(struct lws *wsi) {
    wsi->writable = true;
    return 1;
}

struct lws_context *lws_get_context(const struct lws *wsi) {
    (void)wsi;
    return (struct lws_context *)&the_context;
}

void *lws_context_user(struct lws_context *context) {
    (void)context;
    return the_server;
}

void *lws_wsi_user(struct lws *wsi) {
    return &wsi->pss;
}

const char *lws_get_peer_simple(struct lws *wsi, char *name, size_t namelen) {
    (void)wsi;
    snprintf(name, namelen, "192.0.2.1");
    return name;
}

/* As lws: buf gets "name=value", the value is returned. */
const char *lws_get_urlarg_by_name(struct lws *wsi, const char *name, char *buf, int len) {
    size_t n = strlen(name);
    for (const char *p = wsi->query; *p;) {
        size_t k = strcspn(p, "&");
        if (k >= n && strncmp(p, name, n) == 0 && (int)k < len) {
            snprintf(buf, (size_t)len, "%.*s", (int)k, p);
            return buf + n;
        }
        p += k + (p[k] == '&');
    }
    return NULL;
}

static const char *header(struct lws *wsi, enum lws_token_indexes h) {
    static char length[24];
    switch (h) {
    case WSI_TOKEN_GET_URI:
        return wsi->post ? NULL : "/engine.io/";
    case WSI_TOKEN_POST_URI:
        return wsi->post ? "/engine.io/" : NULL;
    case WSI_TOKEN_HTTP:
        return "HTTP/1.1";
    case WSI_TOKEN_HOST:
        return "chat.test";
    case WSI_TOKEN_HTTP_CONTENT_LENGTH:
        if (!wsi->post) return NULL;
        snprintf(length, sizeof length, "%zu", wsi->body_len);
        return length;
    default:
        return NULL;
    }
}

int lws_hdr_copy(struct lws *wsi, char *dest, int len, enum lws_token_indexes h) {
    const char *v = header(wsi, h);
    if (!v) return 0;
    if ((int)strlen(v) >= len) return -1;
    return snprintf(dest, (size_t)len, "%s", v);
}

int lws_hdr_total_length(struct lws *wsi, enum lws_token_indexes h) {
    const char *v = header(wsi, h);
    return v ? (int)strlen(v) : 0;
}

int lws_hdr_custom_copy(struct lws *wsi, char *dst, int len, const char *name, int nlen) {
    (void)wsi, (void)dst, (void)len, (void)name, (void)nlen;
    return -1;
}

int lws_partial_buffered(struct lws *wsi) {
    (void)wsi;
    return 0;
}

int lws_send_pipe_choked(struct lws *wsi) {
    (void)wsi;
    return 0;
}

void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs) {
    (void)reason;
    if (secs == LWS_TO_KILL_ASYNC) wsi->killed = true;
    if (secs == LWS_TO_KILL_SYNC) wsi->killed_now = true;
}

int lws_add_http_common_headers(struct lws *wsi, unsigned int code, const char *content_type,
                                lws_filepos_t content_len, unsigned char **p, unsigned char *end) {
    (void)content_type, (void)content_len, (void)p, (void)end;
    wsi->status = code;
    return 0;
}

int lws_add_http_header_status(struct lws *wsi, unsigned int code, unsigned char **p,
                               unsigned char *end) {
    (void)p, (void)end;
    wsi->status = code;
    return 0;
}

int lws_add_http_header_by_name(struct lws *wsi, const unsigned char *name,
                                const unsigned char *value, int length, unsigned char **p,
                                unsigned char *end) {
    (void)wsi, (void)name, (void)value, (void)length, (void)p, (void)end;
    return 0;
}

int lws_add_http_header_by_token(struct lws *wsi, enum lws_token_indexes token,
                                 const unsigned char *value, int length, unsigned char **p,
                                 unsigned char *end) {
    (void)wsi, (void)token, (void)value, (void)length, (void)p, (void)end;
    return 0;
}

int lws_finalize_write_http_header(struct lws *wsi, unsigned char *start, unsigned char **p,
                                   unsigned char *end) {
    (void)wsi, (void)start, (void)p, (void)end;
    return 0;
}

int lws_http_transaction_completed(struct lws *wsi) {
    (void)wsi;
    return 0; /* kept alive */
}

static void out_append(struct lws *wsi, const void *data, size_t len, bool frame) {
    assert_true(wsi->out_len + len + 1 < sizeof wsi->out);
    memcpy(wsi->out + wsi->out_len, data, len);
    wsi->out_len += len;
    if (frame) wsi->out[wsi->out_len++] = '\n';
    wsi->out[wsi->out_len] = '\0';
}

/* Server frames (FIN, unmasked) as eio_websocket.c batches them. */
static void out_raw_frames(struct lws *wsi, const unsigned char *p, size_t len) {
    while (len) {
        size_t n = p[1] & 0x7f, head = 2;
        assert_true(n <= 126); /* the tests' frames are short */
        if (n == 126) n = (size_t)p[2] << 8 | p[3], head = 4;
        out_append(wsi, p + head, n, true);
        p += head + n;
        len -= head + n;
    }
}

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol protocol) {
    if (protocol == LWS_WRITE_RAW)
        out_raw_frames(wsi, buf, len);
    else
        out_append(wsi, buf, len, protocol == LWS_WRITE_TEXT || protocol == LWS_WRITE_BINARY);
    return (int)len;
}

void lws_close_reason(struct lws *wsi, enum lws_close_status status, unsigned char *buf,
                      size_t len) {
    (void)buf, (void)len;
    wsi->close_status = (int)status;
}

int lws_frame_is_binary(struct lws *wsi) {
    (void)wsi;
    return 0;
}

int lws_is_first_fragment(struct lws *wsi) {
    (void)wsi;
    return 1;
}

int lws_is_final_fragment(struct lws *wsi) {
    (void)wsi;
    return 1;
}

size_t lws_remaining_packet_payload(struct lws *wsi) {
    (void)wsi;
    return 0;
}

int lws_callback_http_dummy(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len) {
    (void)wsi, (void)reason, (void)user, (void)in, (void)len;
    return 0;
}

/* ---- the layer above: what it hears ------------------------------------- */

static char heard[1024]; /* "open", "message <data>", "close <reason>", space-separated */
static eio_conn *upper_conn;

static void hear(const char *what, const char *data, size_t len) {
    size_t n = strlen(heard);
    snprintf(heard + n, sizeof heard - n, "%s%s%s%.*s", n ? "|" : "", what, len ? " " : "",
             (int)len, data);
}

static void on_open(eio_conn *c, void *ud) {
    (void)ud;
    upper_conn = c;
    hear("open", "", 0);
}

static int on_message(eio_conn *c, const char *data, size_t len, bool binary, void *ud) {
    (void)c, (void)binary, (void)ud;
    hear("message", data, len);
    return 0;
}

static void on_close(eio_conn *c, const char *reason, void *ud) {
    (void)ud;
    if (c == upper_conn) upper_conn = NULL;
    hear("close", reason, strlen(reason));
}

/* ---- driving it --------------------------------------------------------- */

#define PING_INTERVAL 300
#define PING_TIMEOUT 200

static ws_clock *clock_;

static void setup_server(void) {
    fake_clock_ms = 1000000;
    heard[0] = '\0';
    upper_conn = NULL;
    clock_ = fake_clock_new();
    eio_config cfg = {.ping_interval_ms = PING_INTERVAL, .ping_timeout_ms = PING_TIMEOUT};
    static const eio_handlers h = {on_open, on_message, on_close};
    the_server = eio_server_new(&cfg, &h, NULL);
    assert_non_null(the_server);
    eio_server_start(the_server, clock_);
}

static void teardown_server(void) {
    eio_server_stop(the_server);
    eio_server_free(the_server);
    the_server = NULL;
    ws_clock_free(clock_);
}

static struct lws *conn_new(bool post, const char *query) {
    struct lws *wsi = calloc(1, sizeof *wsi);
    assert_non_null(wsi);
    wsi->post = post;
    snprintf(wsi->query, sizeof wsi->query, "%s", query);
    return wsi;
}

/* What lws would call; returns the callback's answer (-1: close it). */
static int cb(struct lws *wsi, enum lws_callback_reasons reason, const char *in) {
    return eio_lws_callback(wsi, reason, &wsi->pss, (void *)in, in ? strlen(in) : 0);
}

/* The connection closes (lws's last callback for it), then goes. */
static void conn_free(struct lws *wsi, enum lws_callback_reasons closed) {
    cb(wsi, closed, NULL);
    free(wsi);
}

/* What was written on wsi since the last look. */
static const char *written(struct lws *wsi) {
    static char copy[sizeof wsi->out];
    memcpy(copy, wsi->out, wsi->out_len + 1);
    wsi->out_len = 0;
    wsi->out[0] = '\0';
    return copy;
}

/* lws serves a WebSocket's pending writable callback. */
static int serve_ws(struct lws *wsi) {
    assert_true(wsi->writable);
    wsi->writable = false;
    return cb(wsi, LWS_CALLBACK_SERVER_WRITEABLE, NULL);
}

/* Opens a polling session: its sid into sid (EIO_SID_LEN + 1 bytes). */
static void polling_handshake(char *sid) {
    struct lws *get = conn_new(false, "EIO=4&transport=polling");
    assert_int_equal(cb(get, LWS_CALLBACK_HTTP, NULL), 0);
    assert_int_equal(get->status, 200);
    const char *body = written(get);
    assert_memory_equal(body, "0{\"sid\":\"", 9);
    memcpy(sid, body + 9, EIO_SID_LEN);
    sid[EIO_SID_LEN] = '\0';
    assert_int_equal(strcspn(sid, "\""), EIO_SID_LEN);
    char tail[128];
    snprintf(tail, sizeof tail,
             "\",\"upgrades\":[\"websocket\"],\"pingInterval\":%d,\"pingTimeout\":%d,",
             PING_INTERVAL, PING_TIMEOUT);
    assert_memory_equal(body + 9 + EIO_SID_LEN, tail, strlen(tail));
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    assert_string_equal(heard, "open");
}

/* A GET of session sid, held by the server until there is something to send. */
static struct lws *poll_get(const char *sid) {
    char q[128];
    snprintf(q, sizeof q, "EIO=4&transport=polling&sid=%s", sid);
    struct lws *get = conn_new(false, q);
    assert_int_equal(cb(get, LWS_CALLBACK_HTTP, NULL), 0);
    return get;
}

/* Answers a held GET: what the server sent, as Engine.IO's payload. */
static const char *poll_answer(struct lws *get) {
    assert_true(get->writable);
    get->writable = false;
    assert_int_equal(cb(get, LWS_CALLBACK_HTTP_WRITEABLE, NULL), 0);
    return written(get);
}

/* POSTs payload to session sid; returns the answer's status. */
static unsigned poll_post(const char *sid, const char *payload) {
    char q[128];
    snprintf(q, sizeof q, "EIO=4&transport=polling&sid=%s", sid);
    struct lws *post = conn_new(true, q);
    post->body_len = strlen(payload);
    assert_int_equal(cb(post, LWS_CALLBACK_HTTP, NULL), 0);
    assert_int_equal(cb(post, LWS_CALLBACK_HTTP_BODY, payload), 0);
    cb(post, LWS_CALLBACK_HTTP_BODY_COMPLETION, NULL); /* -1: the answer closes it */
    unsigned status = post->status;
    conn_free(post, LWS_CALLBACK_CLOSED_HTTP);
    return status;
}

/* The layer above sends a text message. */
static void upper_send(const char *text) {
    outbuf *o = outbuf_copy(text, strlen(text), false);
    assert_int_equal(eio_send(upper_conn, o), 0);
    outbuf_unref(o);
}

/* Opens a WebSocket (a new session, or an upgrade when query has a sid). */
static struct lws *ws_open(const char *query) {
    struct lws *ws = conn_new(false, query);
    assert_int_equal(cb(ws, LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION, NULL), 0);
    assert_int_equal(cb(ws, LWS_CALLBACK_ESTABLISHED, NULL), 0);
    return ws;
}

/* ---- the cases ------------------------------------------------------------ */

/* A polling handshake opens a session; a WebSocket one too, its open packet
 * its first frame. */
static void test_handshake(void **state) {
    (void)state;
    setup_server();
    char sid[EIO_SID_LEN + 1];
    polling_handshake(sid);
    assert_string_equal(eio_sid(upper_conn), sid);
    assert_string_equal(eio_transport_name(upper_conn), "polling");
    assert_string_equal(eio_peer(upper_conn), "192.0.2.1");
    heard[0] = '\0';
    struct lws *ws = ws_open("EIO=4&transport=websocket");
    assert_string_equal(heard, "open");
    assert_int_equal(serve_ws(ws), 0);
    const char *frame = written(ws);
    assert_memory_equal(frame, "0{\"sid\":\"", 9);
    assert_non_null(strstr(frame, "\"upgrades\":[],")); /* nothing to upgrade to */
    assert_int_equal(eio_server_connections(the_server), 2);
    /* an unknown sid, and a POST that opens nothing */
    struct lws *get = poll_get("AAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(get->status, 400);
    assert_string_equal(written(get), "{\"code\":1,\"message\":\"Session ID unknown\"}");
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    conn_free(ws, LWS_CALLBACK_CLOSED);
    teardown_server();
}

/* The server pings every pingInterval; a pong restarts the interval; a ping
 * unanswered pingTimeout after it was due closes the session. */
static void test_ping_pong_timeout(void **state) {
    (void)state;
    setup_server();
    struct lws *ws = ws_open("EIO=4&transport=websocket");
    serve_ws(ws);
    assert_memory_equal(written(ws), "0{", 2);
    fake_clock_advance(clock_, PING_INTERVAL - 1);
    assert_false(ws->writable);
    fake_clock_advance(clock_, 1);
    serve_ws(ws);
    assert_string_equal(written(ws), "2\n");
    fake_clock_advance(clock_, 50);
    assert_int_equal(cb(ws, LWS_CALLBACK_RECEIVE, "3"), 0); /* pong: next ping in an interval */
    fake_clock_advance(clock_, PING_INTERVAL - 1);
    assert_false(ws->writable);
    fake_clock_advance(clock_, 1);
    serve_ws(ws);
    assert_string_equal(written(ws), "2\n");
    /* no pong: the deadline is pingTimeout after the ping was due */
    fake_clock_advance(clock_, PING_TIMEOUT - 1);
    assert_false(ws->writable);
    assert_string_equal(heard, "open");
    fake_clock_advance(clock_, 1);
    assert_int_equal(serve_ws(ws), -1); /* the close frame, then lws closes */
    assert_int_equal(ws->close_status, 1000);
    conn_free(ws, LWS_CALLBACK_CLOSED);
    assert_string_equal(heard, "open|close ping timeout");
    assert_int_equal(eio_server_connections(the_server), 0);
    teardown_server();
}

/* Over polling: the ping goes out on the next GET; a late pong ends the
 * session, and its next request is refused. */
static void test_polling_ping_timeout(void **state) {
    (void)state;
    setup_server();
    char sid[EIO_SID_LEN + 1];
    polling_handshake(sid);
    struct lws *get = poll_get(sid);
    assert_false(get->writable);
    fake_clock_advance(clock_, PING_INTERVAL);
    assert_string_equal(poll_answer(get), "2");
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    assert_int_equal(poll_post(sid, "3"), 200);
    fake_clock_advance(clock_, PING_INTERVAL);
    get = poll_get(sid);
    assert_string_equal(poll_answer(get), "2");
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    fake_clock_advance(clock_, PING_TIMEOUT);
    assert_string_equal(heard, "open|close ping timeout");
    get = poll_get(sid);
    assert_int_equal(get->status, 400);
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    teardown_server();
}

/* A POST's packets reach the layer above in order; what the layer above
 * sends goes out on the next GET in order, joined by the record separator. */
static void test_polling_order(void **state) {
    (void)state;
    setup_server();
    char sid[EIO_SID_LEN + 1];
    polling_handshake(sid);
    assert_int_equal(poll_post(sid, "4one\x1e"
                                    "4two\x1e"
                                    "4three"),
                     200);
    assert_string_equal(heard, "open|message one|message two|message three");
    struct lws *get = poll_get(sid);
    assert_false(get->writable); /* nothing to send: held */
    upper_send("4a");
    upper_send("4b");
    assert_string_equal(poll_answer(get), "4a\x1e"
                                          "4b");
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    upper_send("4c");
    get = poll_get(sid);
    assert_string_equal(poll_answer(get), "4c"); /* queued: answered at once */
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    /* two GETs at once break the protocol: the session closes */
    get = poll_get(sid);
    struct lws *second = poll_get(sid);
    assert_int_equal(second->status, 400);
    conn_free(second, LWS_CALLBACK_CLOSED_HTTP);
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    fake_clock_advance(clock_, 0);
    assert_string_equal(heard, "open|message one|message two|message three|close concurrent "
                               "polling GET");
    teardown_server();
}

/* A polling session upgrades: 2probe/3probe over the WebSocket, the held
 * GET returns a noop, 5 moves the session; what is sent then goes over the
 * WebSocket. */
static void test_upgrade(void **state) {
    (void)state;
    setup_server();
    char sid[EIO_SID_LEN + 1], q[128];
    polling_handshake(sid);
    struct lws *get = poll_get(sid);
    snprintf(q, sizeof q, "EIO=4&transport=websocket&sid=%s", sid);
    struct lws *ws = ws_open(q);
    assert_int_equal(cb(ws, LWS_CALLBACK_RECEIVE, "2probe"), 0);
    serve_ws(ws);
    assert_string_equal(written(ws), "3probe\n");
    assert_string_equal(poll_answer(get), "6"); /* the client may pause polling */
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    assert_string_equal(eio_transport_name(upper_conn), "polling");
    assert_int_equal(cb(ws, LWS_CALLBACK_RECEIVE, "5"), 0);
    assert_string_equal(eio_transport_name(upper_conn), "websocket");
    upper_send("4over ws");
    serve_ws(ws);
    assert_string_equal(written(ws), "4over ws\n");
    assert_int_equal(cb(ws, LWS_CALLBACK_RECEIVE, "4hello"), 0);
    /* a second WebSocket for the upgraded session is refused */
    struct lws *again = ws_open(q);
    assert_int_equal(serve_ws(again), -1);
    conn_free(again, LWS_CALLBACK_CLOSED);
    conn_free(ws, LWS_CALLBACK_CLOSED);
    assert_string_equal(heard, "open|message hello|close transport close");
    teardown_server();
}

/* The layer above closes: a polling session's next GET carries what was
 * queued and the close packet, then the session ends; over WebSocket the
 * close frame goes out after the queue. The client's close packet ends its
 * session too. */
static void test_close(void **state) {
    (void)state;
    setup_server();
    char sid[EIO_SID_LEN + 1];
    polling_handshake(sid);
    struct lws *get = poll_get(sid);
    upper_send("4bye");
    eio_close(upper_conn, 1000, "server closed");
    assert_string_equal(poll_answer(get), "4bye\x1e"
                                          "1");
    conn_free(get, LWS_CALLBACK_CLOSED_HTTP);
    fake_clock_advance(clock_, 0);
    assert_string_equal(heard, "open|close server closed");

    heard[0] = '\0';
    struct lws *ws = ws_open("EIO=4&transport=websocket");
    serve_ws(ws);
    written(ws);
    upper_send("4last");
    eio_close(upper_conn, 4000, "kicked");
    assert_int_equal(serve_ws(ws), -1);
    assert_string_equal(written(ws), "4last\n");
    assert_int_equal(ws->close_status, 4000);
    conn_free(ws, LWS_CALLBACK_CLOSED);
    assert_string_equal(heard, "open|close kicked");

    heard[0] = '\0';
    polling_handshake(sid);
    assert_int_equal(poll_post(sid, "1"), 200);
    fake_clock_advance(clock_, 0);
    assert_string_equal(heard, "open|close client closed");
    assert_int_equal(eio_server_connections(the_server), 0);
    teardown_server();
}

/* A WebSocket whose close frame cannot go out is dropped after
 * EIO_CLOSE_DEADLINE_MS; a POST whose body does not arrive in time is
 * dropped at body_timeout_ms. */
static void test_deadlines(void **state) {
    (void)state;
    setup_server();
    struct lws *ws = ws_open("EIO=4&transport=websocket");
    serve_ws(ws);
    written(ws);
    eio_close(upper_conn, 1001, "going away");
    ws->writable = false; /* the peer reads nothing: lws never calls back */
    fake_clock_advance(clock_, EIO_CLOSE_DEADLINE_MS - 1);
    assert_false(ws->killed);
    fake_clock_advance(clock_, 1);
    assert_true(ws->killed);
    conn_free(ws, LWS_CALLBACK_CLOSED);

    char sid[EIO_SID_LEN + 1], q[128];
    heard[0] = '\0';
    polling_handshake(sid);
    snprintf(q, sizeof q, "EIO=4&transport=polling&sid=%s", sid);
    struct lws *post = conn_new(true, q);
    post->body_len = 100;
    assert_int_equal(cb(post, LWS_CALLBACK_HTTP, NULL), 0);
    fake_clock_advance(clock_, eio_server_config(the_server)->body_timeout_ms - 1);
    assert_false(post->killed_now);
    fake_clock_advance(clock_, 1);
    /* at once, not by an lws timeout: lws re-arms that one with each byte */
    assert_true(post->killed_now);
    conn_free(post, LWS_CALLBACK_CLOSED_HTTP); /* what lws does inside that call */
    teardown_server();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_ping_pong_timeout),
        cmocka_unit_test(test_polling_ping_timeout),
        cmocka_unit_test(test_polling_order),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
