/* sio.c -- Socket.IO v5 server: namespaces, middleware, sockets, rooms, emits, acks */
#include "sio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "eio_packet.h"
#include "log.h"
#include "sio_pending.h"
#include "strmap.h"

typedef struct middleware {
    sio_middleware_fn fn;
    void *ud;
    struct middleware *next;
} middleware;

typedef struct handler {
    char *event;
    sio_event_fn fn;
    void *ud;
} handler;

struct sio_nsp_def {
    char *name; /* a static namespace's name, NULL for a dynamic family */
    sio_match_fn match;
    void *match_ud;
    middleware *mw, *mw_tail;
    strmap handlers; /* event name -> handler */
    sio_socket_fn on_connection;
    void *on_connection_ud;
    sio_disconnect_fn on_disconnecting, on_disconnect;
    void *on_disconnecting_ud, *on_disconnect_ud;
    sio_recover_fn on_recover;
    void *on_recover_ud;
    sio_nsp_def *next;
};

typedef struct room {
    char *name;
    sio_socket **members;
    size_t n, cap;
} room;

struct sio_nsp {
    char *name;
    sio_nsp_def *def;
    sio_server *srv;
    sio_socket **sockets; /* connected sockets, unordered */
    size_t n, cap;
    strmap rooms;  /* name -> room */
    ws_timer idle; /* a dynamic namespace left empty: forgotten when it fires */
};

/* A token bucket: `rate` tokens a second, at most `burst`. */
typedef struct bucket {
    double tokens;
    long long at; /* ms of the last refill */
} bucket;

/* What one client address has spent: its namespace CONNECTs, and the event
 * bucket its last closed transport left, which its next transport starts
 * from (reconnecting does not refill it). */
typedef struct addr_state {
    char *addr;      /* the key */
    bucket connects; /* cfg.connect_rate / connect_burst */
    bucket events;   /* cfg.rate / burst, as left by a closed transport */
    bool has_events;
    int live;        /* transports of this address open now */
    ws_timer forget; /* with no transport: when its buckets are full again */
    sio_server *srv;
} addr_state;

/* One Engine.IO connection and the sockets it opened, one per namespace. */
typedef struct sio_client {
    void *tp; /* the transport's own pointer, for srv->tr */
    sio_server *srv;
    sio_socket *sockets; /* linked through next_in_client */
    long long opened_at; /* ms; for the connect timeout */
    bool ever_connected;
    bool timed_out;                 /* closed by its deadline: it has none left */
    struct sio_client *next, *prev; /* in srv->clients */
    sio_pending *pending;           /* a BINARY_* packet waiting for its attachments, or NULL
                                       (made on demand: most clients never send one) */
    addr_state *addr;               /* its client address's budget; NULL when out of memory */
    bucket events;                  /* events, namespace CONNECTs and DISCONNECTs it may send */
    ws_timer deadline;              /* the connect timeout, and the attachments' */
} sio_client;

/* A server emit waiting for the client's ack. */
typedef struct pending_ack {
    int64_t id;
    sio_socket *s; /* whose acks list holds it */
    ws_timer timeout;
    sio_ack_fn cb;
    void *ud;
    struct pending_ack *next;
} pending_ack;

struct sio_socket {
    int refs;
    bool connected, recovered;
    char id[EIO_SID_LEN + 1];
    char pid[EIO_SID_LEN + 1];
    sio_client *client; /* NULL once disconnected */
    sio_nsp *nsp;
    size_t nsp_index; /* position in nsp->sockets */
    sio_socket *next_in_client;
    room **rooms;
    size_t nrooms, rooms_cap;
    uint64_t mark; /* the last emit that reached it, to send a multi-room emit once */
    void *ctx;
    void (*ctx_free)(void *);
    pending_ack *acks;
    int64_t next_ack_id;
    int refused;             /* events refused in the current window */
    long long refused_since; /* ms: start of that window */
};

struct sio_ack {
    sio_socket *s; /* a reference */
    int64_t id;
};

struct sio_server {
    sio_config cfg;
    const sio_transport *tr; /* the transport's functions */
    sio_nsp_def *defs;
    strmap nsps; /* name -> live sio_nsp */
    sio_client *clients;
    size_t nsockets;
    size_t pending_total; /* sum of the clients' pending.cost */
    sio_pending_limits pending_limits;
    strmap addrs; /* client address -> addr_state */
    uint64_t mark;
    /* Every deadline is a timer of its own on cfg.clock (a client's, an
     * ack's, an idle address's or namespace's): a wake-up costs the timers
     * due, never a walk of the clients. Once stopped, none is scheduled. */
    bool stopped;
    sio_observer obs; /* operations' view: socket and room changes */
    void *obs_ud;
    sio_metrics metrics; /* cfg.metrics' series, all NULL without one */
};

static long long now_ms(const sio_server *srv) {
    return ws_clock_now_ms(srv->cfg.clock);
}

/* The transport under a client, through srv->tr. */
static int tp_send(sio_client *c, outbuf *o) {
    return c->srv->tr->send(c->tp, o);
}
static void tp_close(sio_client *c, int status, const char *reason) {
    c->srv->tr->close(c->tp, status, reason);
}
static bool tp_can_send_volatile(const sio_client *c) {
    return c->srv->tr->can_send_volatile(c->tp);
}
static const char *tp_peer(const sio_client *c) {
    return c->srv->tr->peer(c->tp);
}
static const char *tp_sid(const sio_client *c) {
    return c->srv->tr->sid(c->tp);
}
static const char *tp_name(const sio_client *c) {
    return c->srv->tr->name(c->tp);
}

void sio_server_set_transport(sio_server *srv, const sio_transport *tr) {
    srv->tr = tr;
}

/* ---- definitions ------------------------------------------------------ */

sio_server *sio_server_new(const sio_config *cfg) {
    sio_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = *cfg;
    if (srv->cfg.connect_timeout_ms <= 0)
        srv->cfg.connect_timeout_ms = (int)contract_default(CONTRACT_CONNECT_TIMEOUT);
    if (srv->cfg.max_rooms == 0) srv->cfg.max_rooms = (size_t)contract_default(CONTRACT_MAX_ROOMS);
    if (srv->cfg.rate > 0 && srv->cfg.burst <= 0) srv->cfg.burst = 2 * srv->cfg.rate;
    if (srv->cfg.max_pending_bytes == 0)
        srv->cfg.max_pending_bytes = (size_t)contract_default(CONTRACT_MAX_PENDING_BYTES);
    if (srv->cfg.max_pending_total == 0)
        srv->cfg.max_pending_total = (size_t)contract_default(CONTRACT_MAX_PENDING_TOTAL);
    srv->pending_limits = (sio_pending_limits){srv->cfg.max_pending_bytes,
                                               srv->cfg.max_pending_total, &srv->pending_total};
    if (srv->cfg.attachment_timeout_ms <= 0)
        srv->cfg.attachment_timeout_ms = (int)contract_default(CONTRACT_ATTACHMENT_TIMEOUT);
    if (srv->cfg.connect_rate > 0 && srv->cfg.connect_burst <= 0)
        srv->cfg.connect_burst = 6 * srv->cfg.connect_rate;
    if (cfg->metrics) srv->metrics = *cfg->metrics;
    srv->tr = &sio_eio_transport;
    return srv;
}

static sio_nsp_def *def_new(sio_server *srv) {
    sio_nsp_def *def = calloc(1, sizeof *def);
    if (!def) abort(); /* start-up only */
    def->next = srv->defs;
    srv->defs = def;
    return def;
}

sio_nsp_def *sio_of(sio_server *srv, const char *name) {
    sio_nsp_def *def = def_new(srv);
    def->name = strdup(name);
    return def;
}

sio_nsp_def *sio_of_match(sio_server *srv, sio_match_fn match, void *ud) {
    sio_nsp_def *def = def_new(srv);
    def->match = match;
    def->match_ud = ud;
    return def;
}

void sio_use(sio_nsp_def *def, sio_middleware_fn fn, void *ud) {
    middleware *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->fn = fn;
    m->ud = ud;
    if (def->mw_tail)
        def->mw_tail->next = m;
    else
        def->mw = m;
    def->mw_tail = m;
}

void sio_on(sio_nsp_def *def, const char *event, sio_event_fn fn, void *ud) {
    handler *h = calloc(1, sizeof *h);
    if (!h || !(h->event = strdup(event)) || strmap_put(&def->handlers, h->event, h)) abort();
    h->fn = fn;
    h->ud = ud;
}

void sio_on_connection(sio_nsp_def *def, sio_socket_fn fn, void *ud) {
    def->on_connection = fn;
    def->on_connection_ud = ud;
}

void sio_on_disconnecting(sio_nsp_def *def, sio_disconnect_fn fn, void *ud) {
    def->on_disconnecting = fn;
    def->on_disconnecting_ud = ud;
}

void sio_on_disconnect(sio_nsp_def *def, sio_disconnect_fn fn, void *ud) {
    def->on_disconnect = fn;
    def->on_disconnect_ud = ud;
}

void sio_on_recover(sio_nsp_def *def, sio_recover_fn fn, void *ud) {
    def->on_recover = fn;
    def->on_recover_ud = ud;
}

/* ---- live namespaces and rooms ---------------------------------------- */

static sio_nsp_def *def_for(sio_server *srv, const char *name) {
    for (sio_nsp_def *d = srv->defs; d; d = d->next)
        if (d->name && strcmp(d->name, name) == 0) return d;
    for (sio_nsp_def *d = srv->defs; d; d = d->next)
        if (!d->name && d->match(name, d->match_ud)) return d;
    return NULL;
}

sio_nsp *sio_nsp_get(sio_server *srv, const char *name) {
    return strmap_get(&srv->nsps, name);
}

static void free_nsp(const char *key, void *value, void *ud);

/* How long a dynamic namespace left with no socket lingers before it is
 * forgotten (made again on its next CONNECT): a client that comes straight
 * back finds it, and memory follows the namespaces in use. */
#define NSP_LINGER_MS 1000

/* A dynamic namespace's idle timer: still empty, it goes. From the clock,
 * never while a caller walks the namespaces. */
static void nsp_idle(void *ud) {
    sio_nsp *nsp = ud;
    if (nsp->n || nsp->rooms.count) return;
    strmap_del(&nsp->srv->nsps, nsp->name);
    free_nsp(NULL, nsp, NULL);
}

/* Arms the idle timer of a dynamic namespace that has no socket left. */
static void nsp_check_idle(sio_nsp *nsp) {
    if (!nsp->def->name && nsp->n == 0 && !nsp->srv->stopped)
        ws_timer_schedule(&nsp->idle, NSP_LINGER_MS);
}

/* The live namespace of that name, created when a definition accepts it.
 * NULL for an unknown namespace (or out of memory). */
static sio_nsp *nsp_lookup(sio_server *srv, const char *name) {
    sio_nsp *nsp = strmap_get(&srv->nsps, name);
    if (nsp) return nsp;
    sio_nsp_def *def = def_for(srv, name);
    if (!def) return NULL;
    nsp = calloc(1, sizeof *nsp);
    if (!nsp || !(nsp->name = strdup(name))) goto fail;
    nsp->def = def;
    nsp->srv = srv;
    ws_timer_init(&nsp->idle, srv->cfg.clock, nsp_idle, nsp);
    if (strmap_put(&srv->nsps, nsp->name, nsp)) goto fail;
    return nsp;
fail:
    if (nsp) free(nsp->name);
    free(nsp);
    return NULL;
}

const char *sio_nsp_name(const sio_nsp *nsp) {
    return nsp->name;
}

size_t sio_nsp_size(const sio_nsp *nsp) {
    return nsp->n;
}

const char *sio_socket_transport(const sio_socket *s) {
    return s->client ? tp_name(s->client) : "";
}

const char *sio_socket_client_id(const sio_socket *s) {
    return s->client ? tp_sid(s->client) : "";
}

size_t sio_nsp_rooms(const sio_nsp *nsp) {
    return nsp->rooms.count;
}

void sio_observe(sio_server *srv, const sio_observer *obs, void *ud) {
    srv->obs = *obs;
    srv->obs_ud = ud;
}

size_t sio_nsp_room_size(const sio_nsp *nsp, const char *name) {
    room *r = strmap_get(&nsp->rooms, name);
    return r ? r->n : 0;
}

typedef struct each_nsp_ctx {
    void (*fn)(sio_nsp *nsp, void *ud);
    void *ud;
} each_nsp_ctx;

static void each_nsp_cb(const char *key, void *value, void *ud) {
    (void)key;
    each_nsp_ctx *c = ud;
    c->fn(value, c->ud);
}

void sio_each_nsp(sio_server *srv, void (*fn)(sio_nsp *nsp, void *ud), void *ud) {
    each_nsp_ctx c = {fn, ud};
    strmap_each(&srv->nsps, each_nsp_cb, &c);
}

void sio_nsp_each_socket(sio_nsp *nsp, void (*fn)(sio_socket *s, void *ud), void *ud) {
    /* fn may disconnect the socket, which swaps the last one into its place:
     * walk from the end so every socket is seen once. */
    for (size_t i = nsp->n; i-- > 0;) {
        if (i < nsp->n) fn(nsp->sockets[i], ud);
    }
}

size_t sio_server_sockets(const sio_server *srv) {
    return srv->nsockets;
}

void sio_server_transports(const sio_server *srv, size_t *polling, size_t *websocket) {
    *polling = *websocket = 0;
    for (const sio_client *c = srv->clients; c; c = c->next)
        ++*(strcmp(tp_name(c), "polling") == 0 ? polling : websocket);
}

size_t sio_server_namespaces(const sio_server *srv) {
    return srv->nsps.count;
}

static void count_rooms(sio_nsp *nsp, void *ud) {
    *(size_t *)ud += nsp->rooms.count;
}

size_t sio_server_pending_bytes(const sio_server *srv) {
    return srv->pending_total;
}

size_t sio_server_rooms(const sio_server *srv) {
    size_t n = 0;
    sio_each_nsp((sio_server *)srv, count_rooms, &n);
    return n;
}

/* ---- sockets ---------------------------------------------------------- */

const char *sio_socket_id(const sio_socket *s) {
    return s->id;
}

const char *sio_socket_pid(const sio_socket *s) {
    return s->pid;
}

sio_nsp *sio_socket_nsp(const sio_socket *s) {
    return s->nsp;
}

const char *sio_socket_peer(const sio_socket *s) {
    return s->client ? tp_peer(s->client) : "";
}

bool sio_socket_connected(const sio_socket *s) {
    return s->connected;
}

bool sio_socket_recovered(const sio_socket *s) {
    return s->recovered;
}

void sio_socket_restore(sio_socket *s, const char *id, const char *pid) {
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->pid, sizeof s->pid, "%s", pid);
    s->recovered = true;
}

void sio_socket_set_ctx(sio_socket *s, void *ctx, void (*free_fn)(void *)) {
    if (s->ctx && s->ctx_free) s->ctx_free(s->ctx);
    s->ctx = ctx;
    s->ctx_free = free_fn;
}

void *sio_socket_ctx(const sio_socket *s) {
    return s->ctx;
}

sio_socket *sio_socket_ref(sio_socket *s) {
    s->refs++;
    return s;
}

void sio_socket_unref(sio_socket *s) {
    if (!s || --s->refs > 0) return;
    if (s->ctx && s->ctx_free) s->ctx_free(s->ctx);
    free(s->rooms);
    free(s);
}

bool sio_in_room(const sio_socket *s, const char *name) {
    for (size_t i = 0; i < s->nrooms; i++)
        if (strcmp(s->rooms[i]->name, name) == 0) return true;
    return false;
}

size_t sio_socket_room_count(const sio_socket *s) {
    return s->nrooms;
}

const char *sio_socket_room_at(const sio_socket *s, size_t i) {
    return i < s->nrooms ? s->rooms[i]->name : NULL;
}

/* Grows an array of pointers to hold one more: first entries at first, then
 * twice as many. Returns 0 or -1. */
static int reserve(void *arrayp, size_t n, size_t *cap, size_t first) {
    void ***array = arrayp;
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : first;
    void **a = realloc(*array, c * sizeof *a);
    if (!a) return -1;
    *array = a;
    *cap = c;
    return 0;
}

int sio_join(sio_socket *s, const char *name) {
    if (!s->connected) return -1;
    if (sio_in_room(s, name)) return 1;
    if (s->nrooms >= s->nsp->srv->cfg.max_rooms) return -1;
    /* most sockets are in one room: room for one, as an idle socket's bytes
     * count (issue 22) */
    if (reserve(&s->rooms, s->nrooms, &s->rooms_cap, 1)) return -1;
    room *r = strmap_get(&s->nsp->rooms, name);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->name = strdup(name)) || strmap_put(&s->nsp->rooms, r->name, r)) {
            if (r) free(r->name);
            free(r);
            return -1;
        }
    }
    if (reserve(&r->members, r->n, &r->cap, 4)) return -1;
    r->members[r->n++] = s;
    s->rooms[s->nrooms++] = r;
    if (s->nsp->srv->obs.joined) s->nsp->srv->obs.joined(s, name, s->nsp->srv->obs_ud);
    return 0;
}

static void room_remove(sio_nsp *nsp, room *r, sio_socket *s) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->members[i] == s) {
            r->members[i] = r->members[--r->n];
            break;
        }
    }
    if (r->n == 0) { /* an empty room is forgotten, as in Socket.IO */
        strmap_del(&nsp->rooms, r->name);
        free(r->members);
        free(r->name);
        free(r);
    }
}

int sio_leave(sio_socket *s, const char *name) {
    for (size_t i = 0; i < s->nrooms; i++) {
        if (strcmp(s->rooms[i]->name, name) == 0) {
            room *r = s->rooms[i];
            s->rooms[i] = s->rooms[--s->nrooms];
            sio_server *srv = s->nsp->srv;
            if (srv->obs.left) srv->obs.left(s, r->name, srv->obs_ud); /* before r may go */
            room_remove(s->nsp, r, s);
            return 0;
        }
    }
    return 1;
}

/* ---- sending ---------------------------------------------------------- */

/* Encodes a packet into a frame ready for eio_send. NULL when out of memory. */
static outbuf *frame_of(const sio_packet *p) {
    size_t len;
    char *buf = sio_packet_encode(p, EIO_HEADROOM, &len);
    return buf ? eio_frame_wrap(buf, len) : NULL;
}

static int send_packet(sio_client *c, const sio_packet *p) {
    outbuf *o = frame_of(p);
    if (!o) return -1;
    int rc = tp_send(c, o);
    outbuf_unref(o);
    return rc;
}

/* Builds [event, ...args] as a new array. */
static json_t *event_data(const char *event, json_t *args) {
    json_t *data = json_array();
    if (!data || json_array_append_new(data, json_string(event))) goto fail;
    if (args && json_array_extend(data, args)) goto fail;
    return data;
fail:
    json_decref(data);
    return NULL;
}

static void packet_init(sio_packet *p, sio_type type, const char *nsp, int64_t id, json_t *data) {
    memset(p, 0, sizeof *p);
    p->type = type;
    snprintf(p->nsp, sizeof p->nsp, "%s", nsp);
    p->id = id;
    p->data = data;
}

static outbuf *event_frame(const char *nsp, const char *event, json_t *args, int64_t id) {
    json_t *data = event_data(event, args);
    if (!data) return NULL;
    sio_packet p;
    packet_init(&p, SIO_EVENT, nsp, id, data);
    outbuf *o = frame_of(&p);
    json_decref(data);
    return o;
}

static bool selected(const sio_to *to, sio_socket *s, uint64_t mark) {
    if (s->mark == mark || s == to->except || !s->client) return false;
    for (size_t i = 0; i < to->nexcept; i++)
        if (sio_in_room(s, to->except_rooms[i])) return false;
    if (to->is_volatile && !tp_can_send_volatile(s->client)) {
        metrics_inc(s->nsp->srv->metrics.dropped_volatile);
        return false;
    }
    if (to->filter && !to->filter(s, to->filter_ud)) return false;
    return true;
}

int sio_emit(sio_nsp *nsp, const sio_to *to, const char *event, json_t *args) {
    static const sio_to everyone;
    if (!to) to = &everyone;
    outbuf *o = event_frame(nsp->name, event, args, -1);
    if (!o) return -1;
    /* A socket in two of the rooms gets the emit once: each receiver is
     * stamped with this emit's mark. */
    uint64_t mark = ++nsp->srv->mark;
    int n = 0;
    if (to->nrooms == 0) {
        for (size_t i = nsp->n; i-- > 0;) {
            if (i >= nsp->n) continue; /* a slow reader closed under us */
            sio_socket *s = nsp->sockets[i];
            if (!selected(to, s, mark)) continue;
            s->mark = mark;
            if (tp_send(s->client, o) == 0) n++;
        }
    } else {
        for (size_t k = 0; k < to->nrooms; k++) {
            room *r = strmap_get(&nsp->rooms, to->rooms[k]);
            for (size_t i = 0; r && i < r->n; i++) {
                sio_socket *s = r->members[i];
                if (!selected(to, s, mark)) continue;
                s->mark = mark;
                if (tp_send(s->client, o) == 0) n++;
            }
        }
    }
    outbuf_unref(o);
    return n;
}

/* Sends p, then its attachments as binary frames: a binary packet type and
 * the attachment count when there are any. */
static int send_with_attachments(sio_client *c, sio_packet *p, const sio_buf *bins, size_t n) {
    if (n) {
        p->type = p->type == SIO_EVENT ? SIO_BINARY_EVENT : SIO_BINARY_ACK;
        p->attachments = (int)n;
    }
    if (send_packet(c, p)) return -1;
    for (size_t i = 0; i < n; i++) {
        outbuf *o = outbuf_copy(bins[i].data, bins[i].len, true);
        int rc = o ? tp_send(c, o) : -1;
        outbuf_unref(o);
        if (rc) return -1;
    }
    return 0;
}

int sio_emit_socket_bin(sio_socket *s, const char *event, json_t *args, const sio_buf *bins,
                        size_t n) {
    if (!s->connected) return -1;
    json_t *data = event_data(event, args);
    if (!data) return -1;
    sio_packet p;
    packet_init(&p, SIO_EVENT, s->nsp->name, -1, data);
    int rc = send_with_attachments(s->client, &p, bins, n);
    json_decref(data);
    return rc;
}

int sio_emit_socket(sio_socket *s, const char *event, json_t *args) {
    if (!s->connected) return -1;
    outbuf *o = event_frame(s->nsp->name, event, args, -1);
    if (!o) return -1;
    int rc = tp_send(s->client, o);
    outbuf_unref(o);
    return rc;
}

/* An ack that did not come in time: its callback gets NULL. */
static void ack_timeout(void *ud) {
    pending_ack *a = ud;
    sio_socket *s = a->s;
    for (pending_ack **q = &s->acks; *q; q = &(*q)->next) {
        if (*q == a) {
            *q = a->next;
            break;
        }
    }
    a->cb(s, NULL, a->ud);
    free(a);
}

int sio_emit_with_ack(sio_socket *s, const char *event, json_t *args, int timeout_ms, sio_ack_fn cb,
                      void *ud) {
    if (!s->connected) return -1;
    sio_server *srv = s->nsp->srv;
    pending_ack *a = calloc(1, sizeof *a);
    if (!a) return -1;
    a->id = s->next_ack_id++;
    a->s = s;
    a->cb = cb;
    a->ud = ud;
    outbuf *o = event_frame(s->nsp->name, event, args, a->id);
    if (!o) {
        free(a);
        return -1;
    }
    a->next = s->acks;
    s->acks = a;
    ws_timer_init(&a->timeout, srv->cfg.clock, ack_timeout, a);
    if (!srv->stopped) ws_timer_schedule(&a->timeout, timeout_ms);
    int rc = tp_send(s->client, o);
    outbuf_unref(o);
    return rc;
}

void sio_ack_send_bin(sio_ack *ack, json_t *args, const sio_buf *bins, size_t n) {
    if (!ack) return;
    sio_socket *s = ack->s;
    if (s->connected) {
        json_t *data = args ? json_incref(args) : json_array();
        sio_packet p;
        packet_init(&p, SIO_ACK, s->nsp->name, ack->id, data);
        send_with_attachments(s->client, &p, bins, n);
        json_decref(data);
    }
    sio_ack_drop(ack);
}

void sio_ack_send(sio_ack *ack, json_t *args) {
    sio_ack_send_bin(ack, args, NULL, 0);
}

void sio_ack_drop(sio_ack *ack) {
    if (!ack) return;
    sio_socket_unref(ack->s);
    free(ack);
}

sio_socket *sio_ack_socket(const sio_ack *ack) {
    return ack->s;
}

/* ---- connect and disconnect ------------------------------------------- */

static sio_socket *client_socket(sio_client *c, const char *nsp) {
    for (sio_socket *s = c->sockets; s; s = s->next_in_client)
        if (strcmp(s->nsp->name, nsp) == 0) return s;
    return NULL;
}

static void connect_error(sio_client *c, const char *nsp, const char *message) {
    json_t *data = json_pack("{s:s}", "message", message);
    sio_packet p;
    packet_init(&p, SIO_CONNECT_ERROR, nsp, -1, data);
    send_packet(c, &p);
    json_decref(data);
}

/* Takes a socket out of its namespace, its rooms and its client, and runs the
 * disconnecting (rooms still known) and disconnect handlers. */
static void socket_close(sio_socket *s, const char *reason) {
    if (!s->connected) return;
    sio_nsp_def *def = s->nsp->def;
    sio_socket_ref(s);
    if (def->on_disconnecting) def->on_disconnecting(s, reason, def->on_disconnecting_ud);
    s->connected = false;
    while (s->nrooms)
        sio_leave(s, s->rooms[s->nrooms - 1]->name);
    sio_nsp *nsp = s->nsp;
    sio_socket *last = nsp->sockets[--nsp->n];
    nsp->sockets[s->nsp_index] = last;
    last->nsp_index = s->nsp_index;
    nsp->srv->nsockets--;
    for (sio_socket **p = &s->client->sockets; *p; p = &(*p)->next_in_client) {
        if (*p == s) {
            *p = s->next_in_client;
            break;
        }
    }
    s->client = NULL;
    while (s->acks) {
        pending_ack *a = s->acks;
        s->acks = a->next;
        ws_timer_cancel(&a->timeout);
        a->cb(s, NULL, a->ud);
        free(a);
    }
    if (def->on_disconnect) def->on_disconnect(s, reason, def->on_disconnect_ud);
    if (nsp->srv->obs.disconnected) nsp->srv->obs.disconnected(s, reason, nsp->srv->obs_ud);
    nsp_check_idle(nsp);
    sio_socket_unref(s); /* the reference taken above */
    sio_socket_unref(s); /* the namespace's */
}

void sio_disconnect(sio_socket *s, bool close_transport) {
    if (!s->connected) return;
    sio_client *c = s->client;
    sio_packet p;
    packet_init(&p, SIO_DISCONNECT, s->nsp->name, -1, NULL);
    send_packet(c, &p);
    socket_close(s, "server namespace disconnect");
    if (close_transport) tp_close(c, 1000, "server disconnect");
}

static const char *auth_string(json_t *auth, const char *key) {
    return sio_str(json_object_get(auth, key));
}

/* Takes one token from b when there is one. rate <= 0: no limit. */
static bool bucket_take(bucket *b, int rate, int burst, long long now) {
    if (rate <= 0) return true;
    b->tokens += (double)(now - b->at) * rate / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
    b->at = now;
    if (b->tokens < 1) return false;
    b->tokens -= 1;
    return true;
}

/* The rate limit of c's events and namespace changes. */
static bool client_take(sio_client *c) {
    return bucket_take(&c->events, c->srv->cfg.rate, c->srv->cfg.burst, now_ms(c->srv));
}

/* A namespace CONNECT costs a token of its address and, but for the
 * transport's first, one of the transport. Returns NULL when allowed, else
 * the connect_error message. */
static const char *connect_budget(sio_client *c) {
    const sio_config *cfg = &c->srv->cfg;
    if (c->ever_connected && !client_take(c)) return "rate limit exceeded, slow down";
    if (c->addr &&
        !bucket_take(&c->addr->connects, cfg->connect_rate, cfg->connect_burst, now_ms(c->srv)))
        return "too many connections from this address, slow down";
    return NULL;
}

/* c's deadlines, ms, or -1 for none: the connect timeout until it joins a
 * namespace, the attachments' while a binary packet waits for them. Each
 * closes c once strictly past its time. */
static long long connect_due(const sio_client *c) {
    return c->ever_connected ? -1 : c->opened_at + c->srv->cfg.connect_timeout_ms + 1;
}
static long long attachments_due(const sio_client *c) {
    return c->pending ? c->pending->since + c->srv->cfg.attachment_timeout_ms + 1 : -1;
}

/* Schedules c's deadline timer for the earlier of its deadlines (after a
 * change), or cancels it when there is none. */
static void client_rearm(sio_client *c) {
    long long due = connect_due(c), at = attachments_due(c);
    if (at >= 0 && (due < 0 || at < due)) due = at;
    if (due < 0 || c->timed_out || c->srv->stopped) {
        ws_timer_cancel(&c->deadline);
        return;
    }
    long long delay = due - now_ms(c->srv);
    ws_timer_schedule(&c->deadline, delay > 0 ? delay : 0);
}

/* c's deadline: a transport that joined no namespace in time, or whose
 * attachments did not all come in time, is closed, once. */
static void client_deadline(void *ud) {
    sio_client *c = ud;
    long long now = now_ms(c->srv), due;
    if ((due = connect_due(c)) >= 0 && now >= due) {
        c->timed_out = true;
        tp_close(c, 1008, "no namespace joined in time");
    } else if ((due = attachments_due(c)) >= 0 && now >= due) {
        log_event(LOG_LEVEL_INFO, "sio: attachments not sent in time, closing", "sid", tp_sid(c),
                  NULL);
        c->timed_out = true;
        tp_close(c, 1008, "attachments not sent in time");
    }
    client_rearm(c);
}

static void on_connect(sio_client *c, sio_packet *p) {
    sio_server *srv = c->srv;
    const char *over = connect_budget(c);
    if (over) {
        log_event(LOG_LEVEL_INFO, "sio: CONNECT refused", "sid", tp_sid(c), "nsp", p->nsp, "peer",
                  tp_peer(c), "reason", over, NULL);
        connect_error(c, p->nsp, over);
        return;
    }
    sio_nsp *nsp = nsp_lookup(srv, p->nsp);
    if (!nsp) {
        connect_error(c, p->nsp, "Invalid namespace");
        return;
    }
    if (client_socket(c, p->nsp)) {
        connect_error(c, p->nsp, "already connected to this namespace");
        return;
    }
    sio_socket *s = calloc(1, sizeof *s);
    if (!s) {
        connect_error(c, p->nsp, "out of memory");
        nsp_check_idle(nsp);
        return;
    }
    s->refs = 1;
    s->nsp = nsp;
    s->client = c;

    eio_random_id(s->id);
    if (nsp->def->on_recover) eio_random_id(s->pid);

    json_t *auth = json_is_object(p->data) ? json_incref(p->data) : json_object();
    char err[256] = "";
    for (middleware *m = nsp->def->mw; m; m = m->next) {
        if (m->fn(s, auth, err, sizeof err, m->ud)) {
            connect_error(c, p->nsp, err[0] ? err : "forbidden");
            goto refuse;
        }
    }
    const char *pid = auth_string(auth, "pid"), *offset = auth_string(auth, "offset");
    /* connected before recovery, so the recover callback can join rooms */
    if (reserve(&nsp->sockets, nsp->n, &nsp->cap, 4)) {
        connect_error(c, p->nsp, "out of memory");
        goto refuse;
    }
    s->connected = true;
    s->nsp_index = nsp->n;
    nsp->sockets[nsp->n++] = s;
    srv->nsockets++;
    s->next_in_client = c->sockets;
    c->sockets = s;
    if (!c->ever_connected) {
        c->ever_connected = true;
        client_rearm(c); /* the connect timeout is met */
    }
    if (pid && offset && nsp->def->on_recover &&
        !nsp->def->on_recover(s, pid, offset, nsp->def->on_recover_ud)) {
        s->recovered = false;
    }
    json_decref(auth);

    json_t *data = s->pid[0] ? json_pack("{s:s,s:s}", "sid", s->id, "pid", s->pid)
                             : json_pack("{s:s}", "sid", s->id);
    sio_packet reply;
    packet_init(&reply, SIO_CONNECT, p->nsp, -1, data);
    send_packet(c, &reply);
    json_decref(data);
    if (nsp->def->on_connection) nsp->def->on_connection(s, nsp->def->on_connection_ud);
    if (srv->obs.connected && s->connected) srv->obs.connected(s, srv->obs_ud);
    return;
refuse:
    json_decref(auth);
    s->client = NULL;
    sio_socket_unref(s);
    nsp_check_idle(nsp);
}

/* ---- receiving -------------------------------------------------------- */

/* A handle to answer ack id on s; NULL when out of memory. */
static sio_ack *ack_new(sio_socket *s, int64_t id) {
    sio_ack *a = malloc(sizeof *a);
    if (!a) return NULL;
    a->s = sio_socket_ref(s);
    a->id = id;
    return a;
}

static void dispatch_event(sio_socket *s, sio_packet *p, const sio_buf *bins, size_t nbins) {
    if (!client_take(s->client)) {
        metrics_inc(s->nsp->srv->metrics.rate_limited);
        if (p->id >= 0) {
            json_t *args = json_pack("[{s:s}]", "error", "rate limit exceeded, slow down");
            sio_ack_send(ack_new(s, p->id), args);
            json_decref(args);
        }
        /* Persisting: `burst` refusals within 10 s, whether in a row or
         * interleaved with served events (a client at twice the rate). */
        long long now = now_ms(s->nsp->srv);
        if (now - s->refused_since > 10000) {
            s->refused_since = now;
            s->refused = 0;
        }
        if (++s->refused >= s->nsp->srv->cfg.burst) {
            log_event(LOG_LEVEL_INFO, "sio: rate limit exceeded, disconnecting", "sid", s->id,
                      "refused", LOG_I(s->refused), NULL);
            tp_close(s->client, 1008, "rate limit exceeded");
        }
        return;
    }
    const char *name = json_string_value(json_array_get(p->data, 0));
    handler *h = strmap_get(&s->nsp->def->handlers, name);
    if (!h) {
        if (p->id >= 0) { /* answer rather than leave the client waiting */
            sio_ack *a = ack_new(s, p->id);
            json_t *args = json_pack("[{s:s}]", "error", "unknown event");
            sio_ack_send(a, args);
            json_decref(args);
        }
        return;
    }
    json_t *args = json_array();
    for (size_t i = 1; i < json_array_size(p->data); i++)
        json_array_append(args, json_array_get(p->data, i));
    sio_event ev = {name, args, bins, nbins, p->id >= 0 ? ack_new(s, p->id) : NULL};
    sio_socket_ref(s);
    h->fn(s, &ev, h->ud);
    sio_socket_unref(s);
    json_decref(args);
}

static void dispatch_ack(sio_socket *s, sio_packet *p) {
    for (pending_ack **q = &s->acks; *q; q = &(*q)->next) {
        if ((*q)->id == p->id) {
            pending_ack *a = *q;
            *q = a->next;
            ws_timer_cancel(&a->timeout);
            a->cb(s, p->data, a->ud);
            free(a);
            return;
        }
    }
}

/* Handles one decoded packet (attachments gathered). Returns non-zero for
 * a protocol violation that closes the connection. */
static int on_packet(sio_client *c, sio_packet *p, const sio_buf *bins, size_t nbins) {
    sio_socket *s;
    switch (p->type) {
    case SIO_CONNECT:
        on_connect(c, p);
        return 0;
    case SIO_DISCONNECT:
        if ((s = client_socket(c, p->nsp))) socket_close(s, "client namespace disconnect");
        if (!client_take(c)) { /* connect/disconnect loops: past the budget the transport goes */
            log_event(LOG_LEVEL_INFO, "sio: DISCONNECT over the rate limit, closing", "sid",
                      tp_sid(c), NULL);
            tp_close(c, 1008, "rate limit exceeded");
        }
        return 0;
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        /* Socket.IO ignores packets for a namespace the client has not joined. */
        if ((s = client_socket(c, p->nsp))) dispatch_event(s, p, bins, nbins);
        return 0;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if ((s = client_socket(c, p->nsp))) dispatch_ack(s, p);
        return 0;
    default:
        return -1; /* CONNECT_ERROR is for clients to receive */
    }
}

/* Frees what c holds for a binary packet, if anything. */
static void pending_clear(sio_client *c) {
    if (!c->pending) return;
    sio_pending_clear(c->pending, &c->srv->pending_limits);
    free(c->pending);
    c->pending = NULL;
}

/* Closes c after a held packet went over a limit. Returns -1. */
static int pending_refused(sio_client *c, int rc) {
    const char *why = rc == SIO_PENDING_TOO_LARGE ? "pending packet too large"
                      : rc == SIO_PENDING_FULL    ? "too many bytes pending on this server"
                      : rc == SIO_PENDING_NOMEM   ? "out of memory"
                                                  : "an attachment nobody announced";
    log_event(LOG_LEVEL_INFO, "sio: pending binary packet refused, closing", "sid", tp_sid(c),
              "reason", why, NULL);
    if (rc != SIO_PENDING_UNEXPECTED) tp_close(c, rc == SIO_PENDING_NOMEM ? 1011 : 1009, why);
    return -1;
}

static int on_binary(sio_client *c, const char *data, size_t len) {
    int rc = c->pending ? sio_pending_add(c->pending, data, len, &c->srv->pending_limits)
                        : SIO_PENDING_UNEXPECTED;
    if (rc == SIO_PENDING_HELD) return 0;
    if (rc == SIO_PENDING_READY) {
        rc = on_packet(c, &c->pending->packet, c->pending->bins, c->pending->nbins);
        pending_clear(c);
    } else {
        pending_clear(c);
        rc = pending_refused(c, rc);
    }
    client_rearm(c); /* no attachment is due any more */
    return rc;
}

int sio_client_message(sio_client *c, const char *data, size_t len, bool binary) {
    if (binary) return on_binary(c, data, len);
    if (c->pending) {
        log_event(LOG_LEVEL_INFO, "sio: text packet while attachments were due", "sid", tp_sid(c),
                  NULL);
        return -1;
    }
    sio_packet p;
    const char *why = "malformed";
    if (sio_packet_decode(data, len, &c->srv->cfg.limits, &p, &why)) {
        log_event(LOG_LEVEL_INFO, "sio: malformed packet, closing", "sid", tp_sid(c), "reason", why,
                  NULL);
        return -1;
    }
    if ((p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK) && p.attachments > 0) {
        if (sio_placeholders_check(p.data, p.attachments)) {
            log_event(LOG_LEVEL_INFO, "sio: attachment placeholders do not match the count", "sid",
                      tp_sid(c), NULL);
            sio_packet_clear(&p);
            return -1;
        }
        if (!(c->pending = calloc(1, sizeof *c->pending))) {
            sio_packet_clear(&p);
            return pending_refused(c, SIO_PENDING_NOMEM);
        }
        int rc = sio_pending_start(c->pending, &p, &c->srv->pending_limits);
        if (rc) {
            pending_clear(c);
            return pending_refused(c, rc);
        }
        c->pending->since = now_ms(c->srv);
        client_rearm(c); /* the attachments' deadline */
        return 0;
    }
    int rc = on_packet(c, &p, NULL, 0);
    sio_packet_clear(&p);
    return rc;
}

static void addr_forget(void *ud);

/* The budget of a client address, made on its first transport. NULL when
 * out of memory (the transport then goes unlimited by address). */
static addr_state *addr_enter(sio_server *srv, const char *addr) {
    addr_state *a = strmap_get(&srv->addrs, addr);
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a || !(a->addr = strdup(addr)) || strmap_put(&srv->addrs, a->addr, a)) {
            if (a) free(a->addr);
            free(a);
            return NULL;
        }
        a->connects = (bucket){srv->cfg.connect_burst, now_ms(srv)};
        a->srv = srv;
        ws_timer_init(&a->forget, srv->cfg.clock, addr_forget, a);
    }
    a->live++;
    ws_timer_cancel(&a->forget);
    return a;
}

/* How long until b is full again, ms (0: it is). */
static long long bucket_refill_ms(const bucket *b, int rate, int burst, long long now) {
    if (rate <= 0) return 0;
    double missing = burst - b->tokens - (double)(now - b->at) * rate / 1000.0;
    return missing > 0 ? (long long)(missing * 1000.0 / rate) + 1 : 0;
}

/* An address with no transport left is forgotten once its buckets are full
 * again (a new one would start the same): memory follows the addresses
 * active in the last few seconds. Until then its timer waits for that. */
static void addr_forget(void *ud) {
    addr_state *a = ud;
    sio_server *srv = a->srv;
    const sio_config *cfg = &srv->cfg;
    if (a->live) return;
    long long now = now_ms(srv);
    long long wait = bucket_refill_ms(&a->connects, cfg->connect_rate, cfg->connect_burst, now);
    if (a->has_events) {
        long long w = bucket_refill_ms(&a->events, cfg->rate, cfg->burst, now);
        if (w > wait) wait = w;
    }
    if (wait > 0) {
        if (!srv->stopped) ws_timer_schedule(&a->forget, wait);
        return;
    }
    strmap_del(&srv->addrs, a->addr);
    free(a->addr);
    free(a);
}

sio_client *sio_client_open(sio_server *srv, void *tp) {
    sio_client *c = calloc(1, sizeof *c);
    if (!c) {
        srv->tr->close(tp, 1011, "out of memory");
        return NULL;
    }
    c->tp = tp;
    c->srv = srv;
    c->opened_at = now_ms(srv);
    c->addr = addr_enter(srv, tp_peer(c));
    c->events = (bucket){srv->cfg.burst, c->opened_at};
    if (c->addr && c->addr->has_events) c->events = c->addr->events; /* reconnecting keeps it */
    c->next = srv->clients;
    if (c->next) c->next->prev = c;
    srv->clients = c;
    ws_timer_init(&c->deadline, srv->cfg.clock, client_deadline, c);
    client_rearm(c); /* the connect timeout */
    return c;
}

void sio_client_closed(sio_client *c, const char *reason) {
    if (!c) return;
    while (c->sockets)
        socket_close(c->sockets, reason);
    pending_clear(c);
    ws_timer_cancel(&c->deadline);
    if (c->addr) {
        c->addr->events = c->events;
        c->addr->has_events = true;
        /* the last one: forgotten when full again (from the clock, as
         * a schedule at once) */
        if (--c->addr->live == 0 && !c->srv->stopped) ws_timer_schedule(&c->addr->forget, 0);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
}

static void free_handler(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    handler *h = value;
    free(h->event);
    free(h);
}

static void free_nsp(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    sio_nsp *nsp = value;
    ws_timer_cancel(&nsp->idle);
    strmap_clear(&nsp->rooms); /* rooms are freed as their last member leaves */
    free(nsp->sockets);
    free(nsp->name);
    free(nsp);
}

static void free_addr(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    addr_state *a = value;
    ws_timer_cancel(&a->forget);
    free(a->addr);
    free(a);
}

static void cancel_addr(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    ws_timer_cancel(&((addr_state *)value)->forget);
}

static void cancel_nsp(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    ws_timer_cancel(&((sio_nsp *)value)->idle);
}

void sio_server_stop(sio_server *srv) {
    if (!srv) return;
    srv->stopped = true;
    for (sio_client *c = srv->clients; c; c = c->next) {
        ws_timer_cancel(&c->deadline);
        for (sio_socket *s = c->sockets; s; s = s->next_in_client)
            for (pending_ack *a = s->acks; a; a = a->next)
                ws_timer_cancel(&a->timeout);
    }
    strmap_each(&srv->addrs, cancel_addr, NULL);
    strmap_each(&srv->nsps, cancel_nsp, NULL);
}

void sio_server_free(sio_server *srv) {
    if (!srv) return;
    sio_server_stop(srv);
    strmap_each(&srv->nsps, free_nsp, NULL);
    strmap_clear(&srv->nsps);
    strmap_each(&srv->addrs, free_addr, NULL);
    strmap_clear(&srv->addrs);
    while (srv->defs) {
        sio_nsp_def *d = srv->defs;
        srv->defs = d->next;
        while (d->mw) {
            middleware *m = d->mw;
            d->mw = m->next;
            free(m);
        }
        strmap_each(&d->handlers, free_handler, NULL);
        strmap_clear(&d->handlers);
        free(d->name);
        free(d);
    }
    free(srv);
}
