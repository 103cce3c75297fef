/* eio.h -- Engine.IO v4 sessions over libwebsockets: handshake, heartbeat, send queues */
#ifndef EIO_H
#define EIO_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "clock.h"
#include "metrics.h"
#include "outbuf.h"

/* Headroom an upper layer leaves before an Engine.IO MESSAGE payload it
 * encodes itself: lws's LWS_PRE and the '4' type digit (see eio_frame_wrap). */
#define EIO_HEADROOM (LWS_PRE + 1)

/* Descriptors a process keeps for itself (database, WAL, inotify, listening
 * sockets, logs): max_connections stays this far below RLIMIT_NOFILE. */
#define EIO_RESERVED_FDS 32

/* What this layer counts: series of the program's registry (borrowed, they
 * outlive the server). A NULL series counts nothing. */
typedef struct eio_metrics {
    metrics_series *sessions_opened[2]; /* sessions opened by first transport: polling, websocket */
    metrics_series *dropped_slow;       /* frames refused: slow reader disconnected */
} eio_metrics;

typedef struct eio_config {
    int ping_interval_ms;      /* server ping period [CONTRACT_PING_INTERVAL] */
    int ping_timeout_ms;       /* how long a pong may take [CONTRACT_PING_TIMEOUT] */
    long max_payload;          /* largest message accepted, bytes [CONTRACT_MAX_PAYLOAD] */
    size_t max_queue_bytes;    /* queued output per connection before it is dropped
                                  [CONTRACT_MAX_QUEUE_BYTES] */
    int max_connections;       /* per process [CONTRACT_MAX_CONNECTIONS] */
    int max_per_address;       /* sessions per client address [CONTRACT_MAX_PER_ADDRESS] */
    int body_timeout_ms;       /* a polling POST's whole body [CONTRACT_BODY_TIMEOUT] */
    int max_posts_per_address; /* polling POSTs receiving their bodies at once per
                                  client address [CONTRACT_MAX_POSTS_PER_ADDRESS] */
    /* Origins allowed to open a session, comma-separated; NULL: the site's
     * own (Origin's host equals Host); "*": any. A request without Origin
     * (not a browser) is allowed. */
    const char *allowed_origins;
    int handshake_timeout_ms; /* an upper layer's deadline to accept the session
                                 [CONTRACT_CONNECT_TIMEOUT] */
    bool no_polling;          /* refuse the HTTP long-polling transport */
    char node;                /* first character of every sid, naming this process for
                                 nginx's sid routing (0: random, one process) */
    const char *cors_origin;  /* Access-Control-Allow-Origin for polling, NULL: none */
    const char *echo_path;    /* conformance: sessions opened under this path echo every
                                 message at the Engine.IO level (NULL: off) */
    /* Sessions of a client address in the other processes of the deployment,
     * so that max_per_address holds across them (NULL: this process's only);
     * a negative answer (unknown) counts as none. */
    int (*address_elsewhere)(const char *addr, void *ud);
    /* This process now holds n sessions of addr (NULL: nobody is told). */
    void (*address_changed)(const char *addr, int n, void *ud);
    void *address_ud; /* passed to both */
    /* Where the sessions and drops are counted; copied by eio_server_new.
     * NULL: nothing is counted. */
    const eio_metrics *metrics;
} eio_config;

typedef struct eio_conn eio_conn;
typedef struct eio_server eio_server;

/* The layer above. Every callback runs in the lws service thread. */
typedef struct eio_handlers {
    /* A session is open (the open packet is queued). */
    void (*open)(eio_conn *c, void *ud);
    /* One whole MESSAGE packet (the payload after '4', or a binary frame).
     * Return non-zero to close the connection as malformed. */
    int (*message)(eio_conn *c, const char *data, size_t len, bool binary, void *ud);
    /* The session is gone; c is freed right after. reason is for the logs. */
    void (*close)(eio_conn *c, const char *reason, void *ud);
} eio_handlers;

/* Creates the server state. Call eio_server_start() once the lws context
 * exists (it needs the server as the context's user pointer first). */
eio_server *eio_server_new(const eio_config *cfg, const eio_handlers *h, void *ud);
/* Runs every deadline of the server (heartbeats, closes, POST bodies) on
 * clock (borrowed: it outlives the server). */
void eio_server_start(eio_server *srv, ws_clock *clock);
/* Cancels the server's timers: call before destroying the lws context. */
void eio_server_stop(eio_server *srv);
/* Ends the sessions left (polling ones outlive their connections) through
 * the upper layer's close, then frees the server. Call after the lws
 * context is destroyed, while the upper layer is still alive. Accepts NULL. */
void eio_server_free(eio_server *srv);
const eio_config *eio_server_config(const eio_server *srv);
size_t eio_server_connections(const eio_server *srv);
/* Counts the open sessions by their current transport. */
void eio_server_transports(const eio_server *srv, size_t *polling, size_t *websocket);
/* Starts a graceful shutdown: from now on a new session is refused with
 * HTTP 503 {"code":4,"message":"Server shutting down"} (a proxy may retry it
 * on another process); sessions open go on until closed. */
void eio_server_drain(eio_server *srv);
/* Closes every session (eio_close): a graceful shutdown's "reconnect
 * elsewhere"; clients see a transport close, not a server disconnect. */
void eio_close_all(eio_server *srv, int ws_status, const char *reason);
/* "polling" or "websocket": the transport a session uses now. */
const char *eio_transport_name(const eio_conn *c);

/* The lws protocol callback serving the Engine.IO endpoint: HTTP
 * long-polling (GET held until there is something to send, POST of packets)
 * and WebSocket, including the upgrade of a polling session (2probe/3probe,
 * 5). A session is independent of the connections that carry it. Register it as the vhost's first
 * protocol with per_session_data_size = eio_pss_size(); the context's user must be the eio_server.
 */
/* The per-session data size to register with the protocol. */
size_t eio_pss_size(void);
/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE of any protocol of the vhost: upgrade is
 * the Upgrade header. Returns 0 for a well-formed WebSocket handshake, else
 * -1 having answered 400 {"code":3,"message":"Bad request"} (the connection
 * closes): h2c, other protocols, a missing or malformed key, version,
 * Connection or Host, or a subprotocol. */
int eio_confirm_upgrade(struct lws *wsi, const char *upgrade);
int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

/* The upper layer's pointer on a connection. */
void eio_set_upper(eio_conn *c, void *upper);
void *eio_upper(const eio_conn *c);
const char *eio_sid(const eio_conn *c);
/* The client's address: X-Forwarded-For's first entry when present, else
 * the peer's. */
const char *eio_peer(const eio_conn *c);

/* Queues a frame (takes a new reference to o). When the queue would exceed
 * max_queue_bytes the connection is closed as a slow reader and -1 is
 * returned; the frame is not queued then. */
int eio_send(eio_conn *c, outbuf *o);

/* True when a volatile frame could go out now: nothing queued, socket not
 * choked. Volatile emits skip connections where this is false. */
bool eio_can_send_volatile(const eio_conn *c);

/* Turns an upper layer's buffer (EIO_HEADROOM bytes, then len payload bytes)
 * into a text MESSAGE frame by writing the '4' digit. Takes ownership of buf;
 * returns NULL when out of memory. */
outbuf *eio_frame_wrap(char *buf, size_t len);

/* Closes the connection with WebSocket status code and reason (logged and
 * sent in the close frame). The close callback follows from the service loop.
 * Safe to call more than once. */
void eio_close(eio_conn *c, int ws_status, const char *reason);

#endif
