/* eio_internal.h -- what the Engine.IO session core (eio.c), long-polling
 * (eio_polling.c) and WebSocket (eio_websocket.c) share. Not for the layers
 * above: they see eio.h only. Everything here runs in the lws service thread. */
#ifndef EIO_INTERNAL_H
#define EIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "eio.h"
#include "eio_packet.h"
#include "strmap.h"

/* How long a closing WebSocket may take to send its close frame, in ms. */
#define EIO_CLOSE_DEADLINE_MS 2000

typedef enum eio_transport { T_POLLING, T_WEBSOCKET } eio_transport;

/* One Engine.IO session. Over WebSocket it lives as long as its connection;
 * over polling it spans many HTTP requests, found by sid. */
struct eio_conn {
    eio_server *srv;
    struct lws *wsi;      /* the WebSocket carrying it, NULL while polling */
    struct lws *poll_get; /* polling: the GET held open until there is data */
    struct lws *probe;    /* a WebSocket probing an upgrade of this polling session */
    struct lws_dll2 node; /* in srv->conns */
    /* Its next deadline, on the server's clock: the next ping, the pong's,
     * the close's, or at once to end a polling session that is done. Each
     * session has its own, so a heartbeat costs the sessions due, not a walk
     * of all of them. */
    ws_timer timer;
    char sid[EIO_SID_LEN + 1];
    /* its client's address key: the text of its srv->per_address entry,
     * which lives while a session of that address does */
    const char *peer;
    void *upper;

    /* send queue: a ring of frames, each holding one reference */
    outbuf **ring;
    size_t ring_cap, head, count;
    size_t queued_bytes;

    /* receive: fragments of one WebSocket message gathered here */
    char *rx;
    size_t rx_len, rx_cap;

    /* heartbeat */
    long long next_ping_at;  /* ms: when the next ping is due */
    long long pong_deadline; /* ms: when an unanswered ping times out */

    /* closing: set by eio_close, carried out by the writer or the timer */
    long long closing_at; /* ms: when eio_close was called; 0: no close deadline */
    char *close_reason;   /* owned, set by eio_set_close_reason; NULL before */
    int close_status;

    /* the small fields last, together: a session's bytes count (issue 22) */
    eio_transport transport;
    bool rx_binary;       /* the message being gathered is binary */
    bool awaiting_pong;   /* a ping is out, its pong not back */
    bool echo;            /* conformance: echo messages instead of passing them up */
    bool closing;         /* eio_close was called: the closing fields above are set */
    bool client_closed;   /* the client asked (close packet): a held GET gets a noop */
    bool close_error;     /* closed on an error (eio_fail): new requests get 400 */
    bool close_delivered; /* polling: a GET carried the close packet, the session may end */
    bool close_sent;      /* WebSocket: the close frame was written */
};

/* The longest close reason kept (a WebSocket close frame carries it), bytes. */
#define EIO_CLOSE_REASON_MAX 95

/* Sessions per client address, for max_per_address. */
typedef struct addr_count {
    char addr[64]; /* the key */
    int n;
} addr_count;

struct eio_server {
    eio_config cfg;
    strmap per_address;       /* addr -> addr_count */
    strmap posts_per_address; /* addr -> addr_count: POST bodies being received */
    eio_handlers h;
    void *ud;
    struct lws_dll2_owner conns;
    strmap sessions; /* sid -> eio_conn */
    /* Every deadline here is a ws_timer on this clock, none an lws timer:
     * under lws 4.1's libev glue an lws timer due at once waits while I/O
     * keeps coming (clock_lws.c), and a polling session that is done must
     * end before its next request. */
    ws_clock *clock;
    bool started;              /* between eio_server_start and eio_server_stop: timers run */
    unsigned char *ws_scratch; /* WebSocket batches are gathered here (eio_websocket.c) */
    size_t ws_scratch_cap;     /* its size in bytes */
    bool draining;             /* shutting down: new sessions are refused (503) */
    eio_metrics metrics;       /* cfg.metrics' series, all NULL without one */
};

/* A POST whose body is being received: counted against its address's cap,
 * with a deadline (eio_polling.c). Made for it and freed when the body is in,
 * so that the connections lws keeps (a WebSocket's above all) carry none. */
typedef struct eio_post_wait {
    struct eio_pss *ps;  /* the connection's */
    struct lws *wsi;     /* the connection, for the deadline */
    addr_count *addr;    /* counted in posts_per_address until its body is in */
    ws_timer body_timer; /* the deadline of its whole body */
} eio_post_wait;

/* What lws keeps per connection for us. A WebSocket uses c; an HTTP
 * connection uses the rest for its request in progress (keep-alive
 * requests come one after another on the same connection). */
typedef struct eio_pss {
    eio_conn *c;               /* WebSocket: the session it carries or probes */
    bool probe_reply;          /* WebSocket probe: "3probe" is due */
    bool refused;              /* WebSocket naming a session it cannot carry: close it */
    char sid[EIO_SID_LEN + 1]; /* HTTP: the session of this request */
    bool held;                 /* a GET waiting for data */
    bool gone_noop;            /* its session ended at the client's request: answer a noop */
    bool post_error;           /* POST: refuse at the end of the body */
    bool post_gone;            /* POST: its session is gone or closing */
    unsigned post_status;
    const char *post_json;
    char *body; /* POST body */
    size_t body_len, body_cap;
    eio_post_wait *post_wait; /* POST: while its body is to come; owned */
} eio_pss;

/* ---- the session core (eio.c) ------------------------------------------- */

/* The server's clock, in ms. */
long long eio_now(const eio_server *srv);

/* Records why c closes: a copy of reason, cut to EIO_CLOSE_REASON_MAX bytes
 * (kept only while closing: an open session holds none). */
void eio_set_close_reason(eio_conn *c, const char *reason);
/* c's close reason: "" when none was recorded (out of memory). */
const char *eio_close_reason(const eio_conn *c);

/* The per-connection data lws keeps for wsi. */
eio_pss *eio_pss_of(struct lws *wsi);
/* Takes the oldest queued frame off c's send queue (one reference, the
 * caller's). The queue must not be empty. */
outbuf *eio_ring_pop(eio_conn *c);
/* Queues a short text packet made here (open, ping). As eio_send. */
int eio_send_text(eio_conn *c, const char *text, size_t len);
/* Creates a session carried by wsi over transport t and queues its open
 * packet; the layer above hears of it. NULL when out of memory. */
eio_conn *eio_session_new(eio_server *srv, struct lws *wsi, eio_transport t);
/* Ends a session: the layer above's close, then the memory. Connections
 * still pointing at it are detached first. */
void eio_session_end(eio_conn *c, const char *reason);
/* Handles one whole Engine.IO packet (buf as received: type digit first,
 * or a binary message). A packet the session cannot take closes it. */
void eio_on_packet(eio_conn *c, const char *buf, size_t len, bool binary);
/* Copies the query argument name ("EIO=") of wsi's URI into buf (len
 * bytes). False when absent. */
bool eio_urlarg(struct lws *wsi, const char *name, char *buf, int len);
/* Closes c on a transport error (a malformed packet or payload, a ping
 * timeout, an aborted or concurrent GET, a slow reader): as eio_close, but a
 * polling request that comes later is refused (400), as Engine.IO's server
 * forgets such a session at once. A close the layer above asks for is
 * graceful: the next GET gets the close packet. */
void eio_fail(eio_conn *c, int ws_status, const char *reason);
/* Sets c's timer for its next deadline after its state changed: a polling
 * session closing and done (its close packet delivered) ends at the clock's
 * next run. */
void eio_session_rearm(eio_conn *c);
/* The client's per-address key (netaddr_key of the address nginx reports
 * for a local proxy, else of the peer) into out (NETADDR_LEN bytes). */
void eio_client_address(struct lws *wsi, char *out, size_t len);
/* Whether a new session may open: -1 when it may, else the Engine.IO error
 * code to refuse with (4, forbidden: Origin, process or address limits). */
int eio_admission(eio_server *srv, struct lws *wsi);
/* eio_admission's refusal while draining, past Engine.IO's codes 0-5:
 * eio_http_error_ex answers it 503 {"code":4,"message":"Server shutting down"}. */
#define EIO_REFUSE_DRAINING 6

/* ---- HTTP long-polling (eio_polling.c): one per lws HTTP callback ---------- */

int eio_http_request(eio_server *srv, struct lws *wsi, eio_pss *ps);
int eio_http_body(eio_server *srv, eio_pss *ps, const char *in, size_t len);
int eio_http_body_done(eio_server *srv, struct lws *wsi, eio_pss *ps);
int eio_http_writeable(eio_server *srv, struct lws *wsi, eio_pss *ps);
void eio_http_closed(eio_server *srv, struct lws *wsi, eio_pss *ps);
/* Engine.IO's error answer for code (HTTP 400, 403 for code 4, and
 * {"code","message"}); close_after ends the connection with it. Returns -1
 * when the connection is to be closed. */
int eio_http_error_ex(eio_server *srv, struct lws *wsi, int code, bool close_after);

/* ---- WebSocket (eio_websocket.c): one per lws WebSocket callback ----------- */

int eio_ws_handshake(eio_server *srv, struct lws *wsi);
int eio_ws_established(eio_server *srv, struct lws *wsi, eio_pss *ps);
int eio_ws_writeable(struct lws *wsi, eio_pss *ps);
int eio_ws_receive(struct lws *wsi, eio_pss *ps, const char *in, size_t len);
void eio_ws_peer_close(struct lws *wsi, eio_pss *ps);
void eio_ws_closed(eio_pss *ps, struct lws *wsi);
/* Drops c's WebSocket at once (its close frame cannot go out); lws then
 * reports it closed and the session ends. */
void eio_ws_kill(eio_conn *c);

#endif
