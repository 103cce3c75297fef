/* sio.h -- Socket.IO v5 server: namespaces, middleware, sockets, rooms, emits, acks */
#ifndef SIO_H
#define SIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "eio.h"
#include "metrics.h"
#include "sio_packet.h"

/* This layer knows Socket.IO, not chat: the chat handlers sit on top of it.
 * Everything here runs in the lws service thread. */

typedef struct sio_server sio_server;
typedef struct sio_nsp_def sio_nsp_def; /* a namespace's handlers and middleware */
typedef struct sio_nsp sio_nsp;         /* a live namespace: its sockets and rooms */
typedef struct sio_socket sio_socket;   /* one client's connection to one namespace */
typedef struct sio_ack sio_ack;         /* a pending answer to a client's emit */

typedef struct sio_buf {
    const unsigned char *data;
    size_t len;
} sio_buf;

/* An event from a client, as handed to its handler. */
typedef struct sio_event {
    const char *name;
    json_t *args;               /* array of the arguments after the name; borrowed */
    const sio_buf *attachments; /* binary attachments, placeholders in args refer to them */
    size_t nattachments;
    sio_ack *ack; /* NULL when the client asked for no ack; else the
                     handler owns it: sio_ack_send() or sio_ack_drop() */
} sio_event;

typedef void (*sio_event_fn)(sio_socket *s, sio_event *ev, void *ud);
/* Middleware: runs on CONNECT, in the order added. Return 0 to accept (it may
 * attach data to the socket), non-zero to refuse with err as the
 * connect_error message. auth is the CONNECT payload (an object, maybe empty). */
typedef int (*sio_middleware_fn)(sio_socket *s, json_t *auth, char *err, size_t errlen, void *ud);
typedef void (*sio_socket_fn)(sio_socket *s, void *ud);
typedef void (*sio_disconnect_fn)(sio_socket *s, const char *reason, void *ud);
/* Connection state recovery: the client sent pid and offset. Restore the
 * socket (sio_socket_restore, joins, data) and return true, or return false
 * for a fresh session. Called after middleware, before CONNECT is answered. */
typedef bool (*sio_recover_fn)(sio_socket *s, const char *pid, const char *offset, void *ud);
/* Decides whether a dynamic namespace name exists. */
typedef bool (*sio_match_fn)(const char *name, void *ud);
/* The answer to a server emit with ack: args is the client's array, or NULL
 * on timeout or disconnect. */
typedef void (*sio_ack_fn)(sio_socket *s, json_t *args, void *ud);

/* What this layer counts: series of the program's registry (borrowed, they
 * outlive the server). A NULL series counts nothing. */
typedef struct sio_metrics {
    metrics_series *dropped_volatile; /* volatile emits skipped for a busy receiver */
    metrics_series *rate_limited;     /* events refused by the rate limit */
} sio_metrics;

typedef struct sio_config {
    ws_clock *clock;        /* of every deadline, rate and timer here (borrowed: it
                               outlives the server) */
    sio_limits limits;      /* decoder bounds */
    int connect_timeout_ms; /* a transport that joins no namespace in time is closed
                               [CONTRACT_CONNECT_TIMEOUT] */
    size_t max_rooms;       /* rooms per socket [CONTRACT_MAX_ROOMS] */
    int rate;               /* events per second per transport, a token bucket; 0: no limit */
    int burst;              /* the bucket's size [2 x rate]. An event over the limit is
                               refused (an error ack when it asked for one); a socket
                               refused `burst` times within 10 s is disconnected */
    /* A BINARY_* packet is held, parsed, until its attachments arrive. What
     * one connection holds (the parsed JSON's memory, sio_json_cost, plus
     * the attachments so far) is bounded, and so is the sum over the process;
     * over either the connection is closed (1009), and one whose attachments
     * are not all there within attachment_timeout_ms is closed too (1008). */
    size_t max_pending_bytes;  /* per connection [CONTRACT_MAX_PENDING_BYTES] */
    size_t max_pending_total;  /* per process [CONTRACT_MAX_PENDING_TOTAL] */
    int attachment_timeout_ms; /* [CONTRACT_ATTACHMENT_TIMEOUT] */
    /* The event bucket (rate, burst) belongs to the transport, and namespace
     * CONNECTs (but its first) and DISCONNECTs take from it too; a client address's next
     * transport starts from what its last one left. Each namespace CONNECT
     * also costs a token of its address's bucket: connect_rate a second, at
     * most connect_burst [6 x connect_rate]; 0: none. Over either, CONNECT
     * gets a connect_error; a DISCONNECT over the budget closes the
     * transport (1008). */
    int connect_rate;
    int connect_burst;
    /* Where drops and refusals are counted; copied by sio_server_new. NULL:
     * nothing is counted. */
    const sio_metrics *metrics;
} sio_config;

/* The transport under the server's clients: Engine.IO in the program
 * (sio_eio_transport, ws/socketio/sio_eio.c), a fake in the unit tests. Each function
 * takes the pointer a connection gave to sio_client_open(). */
typedef struct sio_transport {
    /* Queues a frame (a new reference to o). -1 when it was not queued (the
     * connection is closing: the transport calls sio_client_closed later). */
    int (*send)(void *tp, outbuf *o);
    /* Closes with a WebSocket status and reason; sio_client_closed follows
     * later, from the transport. Safe to call more than once. */
    void (*close)(void *tp, int ws_status, const char *reason);
    bool (*can_send_volatile)(const void *tp); /* a volatile frame could go out now */
    const char *(*peer)(const void *tp);       /* the client's address */
    const char *(*sid)(const void *tp);        /* the transport session's id */
    const char *(*name)(const void *tp);       /* "polling", "websocket" */
} sio_transport;

/* Engine.IO as the transport: the server's default. */
extern const sio_transport sio_eio_transport;

/* Creates the Socket.IO server, on Engine.IO unless sio_server_set_transport()
 * says otherwise. Returns NULL when out of memory. The eio_handlers to give
 * eio_server_new() come from sio_eio_handlers(), with this server as ud. */
sio_server *sio_server_new(const sio_config *cfg);
/* Replaces the transport (before any connection opens); tr is borrowed. */
void sio_server_set_transport(sio_server *srv, const sio_transport *tr);
/* Cancels the server's timers (each client's deadline, each ack's, those
 * forgetting idle addresses and namespaces) and schedules none after: the
 * loop is going away. Accepts NULL. */
void sio_server_stop(sio_server *srv);
void sio_server_free(sio_server *srv);
/* Engine.IO's handlers feeding this layer (ws/socketio/sio_eio.c); their ud is the sio_server. */
const eio_handlers *sio_eio_handlers(void);
/* Its deadlines (a transport that joins no namespace in time, attachments
 * that do not come in time, a server emit's ack) are timers of their own on
 * cfg.clock, armed as they begin: no walk of the clients, ever. */

/* A transport connection, as the transport sees this layer. */
typedef struct sio_client sio_client;
/* A connection opened: tp is the transport's pointer for it. NULL when out
 * of memory (the connection was then closed with 1011). */
sio_client *sio_client_open(sio_server *srv, void *tp);
/* One whole Engine.IO MESSAGE payload (text, or a binary attachment).
 * Non-zero: the connection must be closed as malformed. */
int sio_client_message(sio_client *c, const char *data, size_t len, bool binary);
/* The connection is gone: its sockets disconnect with reason. Accepts NULL. */
void sio_client_closed(sio_client *c, const char *reason);

/* Namespaces. of() registers a static namespace by name; of_match() a family
 * of dynamic namespaces, created on first CONNECT to a name match() accepts.
 * Both return the definition to add middleware and handlers to. */
sio_nsp_def *sio_of(sio_server *srv, const char *name);
sio_nsp_def *sio_of_match(sio_server *srv, sio_match_fn match, void *ud);
void sio_use(sio_nsp_def *def, sio_middleware_fn fn, void *ud);
void sio_on(sio_nsp_def *def, const char *event, sio_event_fn fn, void *ud);
void sio_on_connection(sio_nsp_def *def, sio_socket_fn fn, void *ud);
void sio_on_disconnecting(sio_nsp_def *def, sio_disconnect_fn fn, void *ud);
void sio_on_disconnect(sio_nsp_def *def, sio_disconnect_fn fn, void *ud);
void sio_on_recover(sio_nsp_def *def, sio_recover_fn fn, void *ud);

/* The live namespace of that name, or NULL when none is live. */
sio_nsp *sio_nsp_get(sio_server *srv, const char *name);
const char *sio_nsp_name(const sio_nsp *nsp);
size_t sio_nsp_size(const sio_nsp *nsp); /* connected sockets */
size_t sio_nsp_room_size(const sio_nsp *nsp, const char *room);
size_t sio_nsp_rooms(const sio_nsp *nsp); /* rooms with members */
/* Calls fn for each live namespace, each socket of a namespace. */
void sio_each_nsp(sio_server *srv, void (*fn)(sio_nsp *nsp, void *ud), void *ud);
void sio_nsp_each_socket(sio_nsp *nsp, void (*fn)(sio_socket *s, void *ud), void *ud);
size_t sio_server_sockets(const sio_server *srv);
size_t sio_server_namespaces(const sio_server *srv);
size_t sio_server_rooms(const sio_server *srv);
size_t sio_server_pending_bytes(const sio_server *srv); /* held for BINARY_* packets */
/* Counts the open transport connections (clients, whether or not they joined
 * a namespace) by the transport they use now: "polling", and the others
 * (WebSocket). Walks every client. */
void sio_server_transports(const sio_server *srv, size_t *polling, size_t *websocket);

/* Watches every namespace's sockets and rooms (the Admin UI's view). Any
 * callback may be NULL; they run after a socket connected (rooms of a
 * recovery joined), after it joined a room, before it leaves one (room still
 * valid), and after its disconnect handlers. One observer per server; obs is
 * copied. */
typedef struct sio_observer {
    void (*connected)(sio_socket *s, void *ud);
    void (*disconnected)(sio_socket *s, const char *reason, void *ud);
    void (*joined)(sio_socket *s, const char *room, void *ud);
    void (*left)(sio_socket *s, const char *room, void *ud);
} sio_observer;
void sio_observe(sio_server *srv, const sio_observer *obs, void *ud);

/* Sockets. */
const char *sio_socket_id(const sio_socket *s);
const char *sio_socket_pid(const sio_socket *s); /* recovery id; "" when off */
sio_nsp *sio_socket_nsp(const sio_socket *s);
const char *sio_socket_peer(const sio_socket *s);
/* The Engine.IO session under the socket: its sid and its transport
 * ("polling", "websocket"); "" once the socket is disconnected. */
const char *sio_socket_client_id(const sio_socket *s);
const char *sio_socket_transport(const sio_socket *s);
bool sio_socket_connected(const sio_socket *s);
bool sio_socket_recovered(const sio_socket *s);
/* Sets id and pid from a recovered session (in a recover callback only). */
void sio_socket_restore(sio_socket *s, const char *id, const char *pid);
/* The upper layer's per-socket state; free_fn runs when the socket is freed. */
void sio_socket_set_ctx(sio_socket *s, void *ctx, void (*free_fn)(void *));
void *sio_socket_ctx(const sio_socket *s);
sio_socket *sio_socket_ref(sio_socket *s);
void sio_socket_unref(sio_socket *s); /* accepts NULL */

/* Rooms. join returns 0, 1 when already in it, -1 over max_rooms or out of
 * memory. leave returns 0, or 1 when not in it. */
int sio_join(sio_socket *s, const char *room);
int sio_leave(sio_socket *s, const char *room);
bool sio_in_room(const sio_socket *s, const char *room);
size_t sio_socket_room_count(const sio_socket *s);
const char *sio_socket_room_at(const sio_socket *s, size_t i);

/* Where an emit goes within a namespace. All fields optional: zeroed, it is
 * every socket of the namespace. */
typedef struct sio_to {
    const char *const *rooms; /* union of these rooms; none: the namespace */
    size_t nrooms;
    const char *const *except_rooms; /* members of these are skipped */
    size_t nexcept;
    const sio_socket *except; /* skipped too: the sender, for a broadcast */
    bool is_volatile;         /* skip receivers that cannot take it right now */
    /* Optional last word per receiver: return false to skip it. */
    bool (*filter)(const sio_socket *s, void *ud);
    void *filter_ud;
} sio_to;

/* Emits event with args (an array, borrowed; NULL for none) to the sockets
 * of nsp that to selects. Encoded once, the same bytes go to everyone.
 * Returns the number of receivers, or -1 when out of memory. */
int sio_emit(sio_nsp *nsp, const sio_to *to, const char *event, json_t *args);
/* Emits to one socket. Returns 0, or -1 when it is gone or out of memory. */
int sio_emit_socket(sio_socket *s, const char *event, json_t *args);
/* Emits to one socket asking for an ack: cb runs once, with the client's
 * answer or NULL after timeout_ms or a disconnect. */
int sio_emit_with_ack(sio_socket *s, const char *event, json_t *args, int timeout_ms, sio_ack_fn cb,
                      void *ud);

/* The same with binary attachments: args holds {"_placeholder":true,"num":i}
 * objects for bins[i] (a BINARY_EVENT / BINARY_ACK when n > 0). */
int sio_emit_socket_bin(sio_socket *s, const char *event, json_t *args, const sio_buf *bins,
                        size_t n);
void sio_ack_send_bin(sio_ack *ack, json_t *args, const sio_buf *bins, size_t n);

/* Answers a client's ack with args (an array, borrowed; NULL for none) and
 * frees the ack. A no-op send when the socket is gone. */
void sio_ack_send(sio_ack *ack, json_t *args);
/* Frees an ack without answering. Accepts NULL. */
void sio_ack_drop(sio_ack *ack);
sio_socket *sio_ack_socket(const sio_ack *ack);

/* Disconnects the socket from its namespace (the client sees "io server
 * disconnect"); with close_transport the whole connection is closed too. */
void sio_disconnect(sio_socket *s, bool close_transport);

#endif
