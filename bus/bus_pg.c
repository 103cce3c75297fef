/* bus_pg.c -- the bus between nodes over PostgreSQL's LISTEN/NOTIFY */
#include "bus_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* One libpq connection per process carries the whole bus: it LISTENs on the
 * channels <channel>_log, <channel>_control and <channel>_ephemeral
 * (bus_options' channel) and NOTIFYs on them with one prepared statement,
 * SELECT pg_notify over two arrays, so what a loop turn published goes in
 * one round trip and one transaction, in order. One connection rather than
 * a second one for publishing: half the server connections per node, one
 * reconnect path, and our own notifications are told apart by our backend
 * pid either way.
 *
 * Its socket is adopted into the lws event loop (a duplicate descriptor, as
 * lws closes what it adopts and libpq closes its own): connecting
 * (PQconnectStartParams / PQconnectPoll), LISTEN, PREPARE, publishing
 * (PQsendQueryPrepared, PQflush when writable) and receiving
 * (PQconsumeInput, PQnotifies when readable) never block the loop and
 * nothing polls. (libpq resolves a host name inside PQconnectStartParams:
 * name the server by address, or by a name the resolver answers at once.)
 * A process without a loop (chat-fcgi) only publishes, on a blocking
 * connection made on first use: its worker waits one round trip per request
 * that committed something, which it waited for the commit anyway.
 *
 * Payloads: committed messages go as compact JSON (as many whole messages
 * per notification as fit in NOTIFY's 8000 bytes); a message bigger than
 * that goes as {"read":[first,last]} and receivers read the log from their
 * cursors. Control notifications carry the event's id, for people reading
 * the traffic. Ephemeral payloads go as they are, or not at all: while
 * disconnected, or when the outgoing queue is over its bound (where
 * messages also collapse into one "read the log").
 *
 * The connection is re-made with exponential, capped, jittered backoff when
 * it drops; meanwhile bus_connected() is false and publications are refused
 * (-1: the receivers' fallback poll covers them). Once it is back with its
 * LISTENs, the handlers get messages(NULL) and control() -- read what you
 * missed, in log order -- and the other nodes a "read the log" for whatever
 * this one committed meanwhile. A node's own notifications come back to it
 * and are ignored (by backend pid).
 *
 * Notifications are anyone's who can reach the database: a log payload that
 * is not a whole, well-typed array of messages means "read the log", and an
 * ephemeral payload goes to the handler as the hostile bytes it is (at most
 * BUS_EPHEMERAL_MAX of them). */

/* What NOTIFY takes: a payload shorter than 8000 bytes. */
#define PG_PAYLOAD_MAX 7999
/* Reconnection delay: doubles from MIN to MAX; each wait is drawn in
 * [delay/2, delay] so that nodes do not come back in step. */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000
/* A connection attempt (connect, LISTEN, PREPARE) not done by then is
 * abandoned. */
#define PG_CONNECT_TIMEOUT_MS 5000
/* Bytes waiting to be sent before ephemeral payloads are dropped and
 * messages go by reference only. */
#define PG_QUEUE_MAX (4u << 20)
/* Bytes of payload one NOTIFY round trip carries at most. */
#define PG_BATCH_MAX (256u << 10)
/* The longest channel name: bus_options' channel and a suffix. */
#define PG_CHANNEL_BUF (BUS_CHANNEL_MAX + sizeof "_ephemeral")

/* One statement publishes a batch: the i-th payload on the i-th channel, in
 * array order (a function scan runs in order, and the notifications of one
 * transaction are delivered in the order they were queued). */
#define NOTIFY_STMT "chat_bus_notify"
#define NOTIFY_SQL                                                                                 \
    "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, i)"

typedef enum pg_state {
    PG_IDLE,       /* not listening: publishes synchronously (chat-fcgi) */
    PG_DOWN,       /* waiting to reconnect */
    PG_CONNECTING, /* PQconnectPoll until CONNECTION_OK */
    PG_LISTENING,  /* LISTEN sent */
    PG_PREPARING,  /* the NOTIFY statement is being prepared */
    PG_UP,
} pg_state;

typedef struct note {
    struct note *next;
    const char *channel; /* one of the bus's channel names */
    bool is_ref;         /* a "read the log" notification */
    size_t len;
    char payload[]; /* NUL-terminated */
} note;

typedef struct pg_bus {
    bus base;  /* h, ud, ctx: bus_listen's */
    char *url; /* may hold a password: never logged */
    struct lws_vhost *vh;
    char ch_log[PG_CHANNEL_BUF], ch_control[PG_CHANNEL_BUF], ch_ephemeral[PG_CHANNEL_BUF];
    char listen_sql[4 * PG_CHANNEL_BUF + 32]; /* LISTEN on the three */
    PGconn *conn;
    struct lws *wsi; /* watches a duplicate of the connection's socket */
    int sock;        /* libpq's socket that wsi watches a duplicate of */
    pg_state state;
    bool busy;                    /* a command is in flight */
    int be_pid;                   /* our backend: its notifications are our own */
    int attempt;                  /* failed attempts since the connection was last up */
    lws_sorted_usec_list_t timer; /* reconnect delay, or connect deadline */
    lws_sorted_usec_list_t rearm; /* asks for POLLOUT from outside a callback */
    note *head, *tail;
    size_t queued;           /* payload bytes in the queue */
    bool dispatching;        /* inside a handler: publications wait for the end */
    uint32_t rng;            /* the backoff's jitter, seeded per process */
    struct lws_context *ctx; /* bus_listen's (bus.c forgets it at bus_unlisten) */
    bool left_loop;          /* unlistened: no timer, no wsi, publishing without a loop */
} pg_bus;

static pg_bus *pg_of(bus *b) {
    return (pg_bus *)b;
}

static const char *state_name(pg_state s) {
    static const char *names[] = {"idle", "down", "connecting", "listening", "preparing", "up"};
    return names[s];
}

/* libpq's last error, one line, without the trailing newline. */
static const char *pg_error(PGconn *conn, char *buf, size_t len) {
    snprintf(buf, len, "%s", conn ? PQerrorMessage(conn) : "out of memory");
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = *(p + 1) ? ' ' : '\0';
    return buf;
}

/* NOTICEs from the server go to our log, not to stderr. */
static void on_notice(void *arg, const char *message) {
    (void)arg;
    log_event(LOG_LEVEL_DEBUG, "bus: server notice", "notice", message, NULL);
}

/* ---- the queue ---------------------------------------------------------- */

static void queue_clear(pg_bus *b) {
    while (b->head) {
        note *n = b->head;
        b->head = n->next;
        free(n);
    }
    b->tail = NULL;
    b->queued = 0;
}

static int enqueue(pg_bus *b, const char *channel, const char *payload, size_t len) {
    note *n = malloc(sizeof *n + len + 1);
    if (!n) return -1;
    n->next = NULL;
    n->channel = channel;
    n->is_ref = false;
    n->len = len;
    memcpy(n->payload, payload, len);
    n->payload[len] = '\0';
    if (b->tail)
        b->tail->next = n;
    else
        b->head = n;
    b->tail = n;
    b->queued += len;
    return 0;
}

/* Appends s (n bytes) to the array literal in *buf (which starts with '{')
 * as one element: quoted, with " and \ escaped. Leaves room for the closing
 * brace and a NUL. Returns -1 out of memory. */
static int array_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    size_t need = *len + 2 * n + 5;
    if (need > *cap) {
        size_t c = *cap;
        while (c < need)
            c *= 2;
        char *p = realloc(*buf, c);
        if (!p) return -1;
        *buf = p;
        *cap = c;
    }
    char *o = *buf + *len;
    if (*len > 1) *o++ = ',';
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') *o++ = '\\';
        *o++ = s[i];
    }
    *o++ = '"';
    *len = (size_t)(o - *buf);
    return 0;
}

/* The two array literals of the batch at the head of the queue: channels
 * and payloads, up to PG_BATCH_MAX payload bytes (at least one note).
 * The notes stay queued (batch_drop takes them once sent). Returns the
 * number of notes, 0 when the queue is empty, -1 out of memory. */
static int batch_build(const pg_bus *b, char **chans, char **pays) {
    size_t cl = 1, cc = 256, pl = 1, pc = 256, bytes = 0;
    int count = 0;
    *chans = malloc(cc);
    *pays = malloc(pc);
    if (!*chans || !*pays) goto oom;
    (*chans)[0] = (*pays)[0] = '{';
    for (const note *n = b->head; n && (count == 0 || bytes + n->len <= PG_BATCH_MAX);
         n = n->next, count++) {
        if (array_append(chans, &cl, &cc, n->channel, strlen(n->channel)) ||
            array_append(pays, &pl, &pc, n->payload, n->len))
            goto oom;
        bytes += n->len;
    }
    memcpy(*chans + cl, "}", 2);
    memcpy(*pays + pl, "}", 2);
    return count;
oom:
    free(*chans);
    free(*pays);
    *chans = *pays = NULL;
    return -1;
}

/* Takes the first count notes off the queue. */
static void batch_drop(pg_bus *b, int count) {
    while (b->head && count-- > 0) {
        note *d = b->head;
        b->head = d->next;
        b->queued -= d->len;
        free(d);
    }
    if (!b->head) b->tail = NULL;
}

/* ---- the connection in the event loop ----------------------------------- */

static void start_connect(pg_bus *b);
static void fail(pg_bus *b, const char *why);
static bool listening(const pg_bus *b);
static void leave_loop(pg_bus *b);

static void on_timer(lws_sorted_usec_list_t *sul) {
    pg_bus *b = lws_container_of(sul, pg_bus, timer);
    if (!listening(b)) {
        leave_loop(b);
        return;
    }
    if (b->state == PG_DOWN) {
        start_connect(b);
        return;
    }
    /* the connection attempt, or its LISTEN, took too long */
    log_event(LOG_LEVEL_WARN, "bus: connecting to PostgreSQL timed out", "state",
              state_name(b->state), NULL);
    fail(b, "timed out");
}

/* Stops watching the socket: the wsi is closed by lws (at once when this
 * runs inside its callback, which then returns -1; otherwise at the next
 * loop turn), with the duplicate descriptor it owns. */
static void unwatch(pg_bus *b) {
    if (!b->wsi) return;
    b->base.loop->release(b->wsi, PENDING_TIMEOUT_CLOSE_ACK);
    b->wsi = NULL;
    b->sock = -1;
}

/* Watches the connection's socket in the loop (again, when libpq changed
 * it while connecting). lws owns what it adopts and closes it with the wsi,
 * while libpq closes its own: so lws gets a duplicate. Returns -1 on
 * failure. */
static int watch(pg_bus *b) {
    int fd = PQsocket(b->conn);
    if (fd < 0) return -1;
    if (b->wsi && fd == b->sock) return 0;
    unwatch(b);
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return -1;
    b->wsi = b->base.loop->adopt(b->vh, dup, b);
    if (!b->wsi) {
        close(dup);
        return -1;
    }
    b->sock = fd;
    return 0;
}

/* Drops the connection (whatever its state) and schedules the next attempt
 * after the backoff. What was queued is dropped too: once back, this node
 * tells the others to read the log, which covers it. */
/* Whether a listener still wants news (bus_unlisten clears the handlers and
 * the context; pg_unlisten has left the loop by then: this is a guard). */
static bool listening(const pg_bus *b) {
    return b->base.ctx && (b->base.h.messages || b->base.h.control || b->base.h.ephemeral);
}

/* Leaves the event loop for good (bus_unlisten, before the lws context
 * goes): no timer left in the context, the wsi closing, no connection;
 * publications from now on go out synchronously, as in a process without a
 * loop. */
static void leave_loop(pg_bus *b) {
    b->base.loop->cancel(&b->timer);
    b->base.loop->cancel(&b->rearm);
    unwatch(b);
    if (b->conn) PQfinish(b->conn);
    b->conn = NULL;
    b->busy = false;
    queue_clear(b);
    b->state = PG_IDLE;
    b->left_loop = true;
}

static void fail(pg_bus *b, const char *why) {
    if (!listening(b)) {
        leave_loop(b);
        return;
    }
    bool was_up = b->state == PG_UP;
    unwatch(b);
    if (b->conn) PQfinish(b->conn);
    b->conn = NULL;
    b->busy = false;
    queue_clear(b);
    b->state = PG_DOWN;
    /* exponential, capped, jittered: a wait drawn in [delay/2, delay] */
    long delay = PG_BACKOFF_MIN_MS;
    for (int i = 0; i < b->attempt && delay < PG_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > PG_BACKOFF_MAX_MS) delay = PG_BACKOFF_MAX_MS;
    b->rng ^= b->rng << 13, b->rng ^= b->rng >> 17, b->rng ^= b->rng << 5; /* xorshift32 */
    long wait = delay / 2 + (long)(b->rng % (uint32_t)(delay / 2 + 1));
    b->attempt++;
    log_event(was_up ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
              was_up ? "bus: lost PostgreSQL, reconnecting" : "bus: cannot reach PostgreSQL",
              "error", why, "retry_ms", LOG_I(wait), "attempt", LOG_I(b->attempt), NULL);
    b->base.loop->schedule(b->ctx, &b->timer, on_timer, (lws_usec_t)wait * LWS_US_PER_MS);
}

static void fail_pg(pg_bus *b) {
    char err[256];
    fail(b, pg_error(b->conn, err, sizeof err));
}

static void on_rearm(lws_sorted_usec_list_t *sul) {
    pg_bus *b = lws_container_of(sul, pg_bus, rearm);
    if (b->wsi) b->base.loop->writable(b->wsi);
}

/* Asks for a writable callback. Not directly: lws 4.1's raw-file role
 * clears POLLOUT after the writable callback returns, which would lose a
 * request made inside it; a timer due at once makes it from the loop. */
static void want_write(pg_bus *b) {
    b->base.loop->schedule(b->ctx, &b->rearm, on_rearm, 1);
}

/* Sends what libpq has buffered; asks for a writable callback if some is
 * left. Returns -1 when the connection failed (and was dropped). */
static int flush(pg_bus *b) {
    int r = PQflush(b->conn);
    if (r < 0) {
        fail_pg(b);
        return -1;
    }
    if (r > 0) want_write(b);
    return 0;
}

static void start_connect(pg_bus *b) {
    /* Our defaults first: the URL's own settings override them. TCP
     * keepalives find a host that vanished without a word in ~20 s. */
    static const char *const keys[] = {"application_name",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "dbname",
                                       NULL};
    const char *values[] = {"chat-bus", "1", "10", "3", "3", b->url, NULL};
    b->conn = PQconnectStartParams(keys, values, 1);
    if (!b->conn || PQstatus(b->conn) == CONNECTION_BAD || PQsetnonblocking(b->conn, 1)) {
        fail_pg(b);
        return;
    }
    PQsetNoticeProcessor(b->conn, on_notice, b);
    b->state = PG_CONNECTING;
    if (watch(b)) {
        fail(b, "cannot watch the connection's socket");
        return;
    }
    /* PQconnectStart's contract: proceed as if PQconnectPoll said WRITING */
    want_write(b);
    b->base.loop->schedule(b->ctx, &b->timer, on_timer,
                           (lws_usec_t)PG_CONNECT_TIMEOUT_MS * LWS_US_PER_MS);
}

/* The connection is up: LISTEN on our channels. */
static void connected(pg_bus *b) {
    b->be_pid = PQbackendPID(b->conn);
    if (!PQsendQuery(b->conn, b->listen_sql)) {
        fail_pg(b);
        return;
    }
    b->state = PG_LISTENING;
    b->busy = true;
    flush(b);
}

static void connect_step(pg_bus *b) {
    switch (PQconnectPoll(b->conn)) {
    case PGRES_POLLING_FAILED:
        fail_pg(b);
        return;
    case PGRES_POLLING_OK:
        connected(b);
        return;
    case PGRES_POLLING_WRITING:
        if (watch(b)) break;
        want_write(b);
        return;
    default: /* READING: the wsi always waits for input */
        if (watch(b)) break;
        return;
    }
    fail(b, "cannot watch the connection's socket");
}

/* The command in flight finished. */
static void command_done(pg_bus *b) {
    switch (b->state) {
    case PG_LISTENING:
        if (!PQsendPrepare(b->conn, NOTIFY_STMT, NOTIFY_SQL, 2, NULL)) {
            fail_pg(b);
            return;
        }
        b->state = PG_PREPARING;
        b->busy = true;
        flush(b);
        return;
    case PG_PREPARING: {
        b->base.loop->cancel(&b->timer);
        b->state = PG_UP;
        log_event(b->attempt ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "bus: listening on PostgreSQL",
                  "host", PQhost(b->conn), "port", PQport(b->conn), "backend_pid", LOG_I(b->be_pid),
                  "after_attempts", LOG_I(b->attempt), NULL);
        b->attempt = 0;
        /* the others read what this node committed while it was away */
        static const char ref[] = "{\"read\":null}";
        enqueue(b, b->ch_log, ref, sizeof ref - 1);
        enqueue(b, b->ch_control, "0", 1);
        /* and this one reads what it missed */
        b->dispatching = true;
        if (b->base.h.messages) b->base.h.messages(NULL, b->base.ud);
        if (b->base.h.control && b->state == PG_UP) b->base.h.control(b->base.ud);
        b->dispatching = false;
        return;
    }
    default:
        return;
    }
}

/* Collects the results of the command in flight, if it has finished. */
static void results(pg_bus *b) {
    while (b->conn && b->busy && !PQisBusy(b->conn)) {
        PGresult *r = PQgetResult(b->conn);
        if (!r) {
            b->busy = false;
            command_done(b);
            continue;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            char err[256];
            snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = '\0';
            PQclear(r);
            if (b->state != PG_UP || PQstatus(b->conn) != CONNECTION_OK) {
                fail(b, err);
                return;
            }
            /* a batch the server refused (a payload it cannot take): the
             * others read the log at their fallback */
            log_event(LOG_LEVEL_WARN, "bus: notifications refused", "error", err, NULL);
            continue;
        }
        PQclear(r);
    }
}

/* Decodes a message of a notification; false if anything is missing. The
 * strings point into o. */
static bool message_from_json(json_t *o, store_message *m) {
    json_t *id = json_object_get(o, "id"), *room_id = json_object_get(o, "room_id"),
           *ts = json_object_get(o, "ts"), *cid = json_object_get(o, "client_id");
    m->room = json_string_value(json_object_get(o, "room"));
    m->ns = json_string_value(json_object_get(o, "ns"));
    m->user = json_string_value(json_object_get(o, "user"));
    m->text = json_string_value(json_object_get(o, "text"));
    m->client_id = json_string_value(cid);
    if (!json_is_integer(id) || !json_is_integer(room_id) || !json_is_integer(ts) || !m->room ||
        !m->ns || !m->user || !m->text || (cid && !m->client_id))
        return false;
    m->id = json_integer_value(id);
    m->room_id = json_integer_value(room_id);
    m->ts = json_integer_value(ts);
    /* an edit or deletion (kind) of message target; absent: a message */
    json_t *kind = json_object_get(o, "kind"), *target = json_object_get(o, "target");
    m->kind = (int)json_integer_value(kind);
    m->target = json_integer_value(target);
    m->edited_at = 0;
    if ((kind && !json_is_integer(kind)) || m->kind < 0 || m->kind > STORE_EVENT_DELETE ||
        (m->kind && m->target <= 0))
        return false;
    return m->id > 0;
}

/* A notification on the log channel: an array of messages, or anything
 * else, which means "read the log" (a reference, or a payload we cannot
 * trust to be whole). */
static void on_log(pg_bus *b, const char *payload) {
    if (!b->base.h.messages) return;
    json_t *a = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    size_t i, n = json_is_array(a) ? json_array_size(a) : 0;
    store_message *ms = n ? calloc(n, sizeof *ms) : NULL;
    for (i = 0; ms && i < n; i++)
        if (!message_from_json(json_array_get(a, i), &ms[i])) break;
    if (!ms || i < n) {
        b->base.h.messages(NULL, b->base.ud);
    } else {
        for (i = 0; i < n && b->state == PG_UP; i++)
            b->base.h.messages(&ms[i], b->base.ud);
    }
    free(ms);
    json_decref(a);
}

/* Hands every notification received to the handlers, our own excepted. */
static void notifications(pg_bus *b) {
    PGnotify *n;
    b->dispatching = true;
    while (b->state == PG_UP && (n = PQnotifies(b->conn))) {
        if (n->be_pid != b->be_pid) {
            size_t len = strlen(n->extra);
            if (strcmp(n->relname, b->ch_log) == 0)
                on_log(b, n->extra);
            else if (strcmp(n->relname, b->ch_control) == 0 && b->base.h.control)
                b->base.h.control(b->base.ud); /* the id it carries is for people */
            else if (strcmp(n->relname, b->ch_ephemeral) == 0 && b->base.h.ephemeral &&
                     len <= BUS_EPHEMERAL_MAX)
                b->base.h.ephemeral(n->extra, len, b->base.ud);
        }
        PQfreemem(n);
    }
    b->dispatching = false;
}

/* Sends the next batch when the connection is up and idle. */
static void kick(pg_bus *b) {
    if (b->state != PG_UP || b->busy || !b->head || b->dispatching) return;
    char *chans, *pays;
    int n = batch_build(b, &chans, &pays);
    if (n <= 0) return; /* out of memory: left queued for the next turn */
    const char *params[2] = {chans, pays};
    int ok = PQsendQueryPrepared(b->conn, NOTIFY_STMT, 2, params, NULL, NULL, 0);
    free(chans);
    free(pays);
    if (!ok) {
        fail_pg(b);
        return;
    }
    batch_drop(b, n);
    b->busy = true;
    flush(b);
}

/* The socket is readable or writable. */
static void serve(pg_bus *b, bool writable) {
    if (b->state == PG_CONNECTING) {
        connect_step(b);
        if (b->state != PG_LISTENING) return;
    }
    if (writable && flush(b)) return;
    if (!PQconsumeInput(b->conn) || PQstatus(b->conn) != CONNECTION_OK) {
        fail_pg(b);
        return;
    }
    results(b);
    if (b->conn) notifications(b);
    if (b->conn) results(b); /* a handler may have published: sent below */
    kick(b);
}

/* bus_ops.lws_event: b is the wsi's opaque user data (a wsi we dropped has
 * none, and bus.c does not call us for it). */
static int pg_lws_event(bus *base, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                        size_t len) {
    (void)in, (void)len;
    pg_bus *b = pg_of(base);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (!b || b->wsi != wsi) return -1; /* dropped meanwhile: close it now */
        serve(b, reason == LWS_CALLBACK_RAW_WRITEABLE_FILE);
        return b->wsi == wsi ? 0 : -1;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        /* lws closed it (a hang-up, or the context going away): the
         * connection goes with it */
        if (b && b->wsi == wsi) {
            b->wsi = NULL;
            b->sock = -1;
            fail(b, "the connection's socket hung up");
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- publishing without a loop (chat-fcgi) ------------------------------- */

/* Sends the queue over a blocking connection made on first use, in the
 * process that publishes (a prefork worker, after the fork), and re-made
 * once when it broke. Returns -1 (and logs) when some was not sent: the
 * nodes read the log at their fallback poll. */
static int sync_flush(pg_bus *b) {
    for (int tries = 0; b->head && tries < 2; tries++) {
        if (!b->conn || PQstatus(b->conn) != CONNECTION_OK) {
            if (b->conn) PQfinish(b->conn);
            static const char *const keys[] = {"application_name", "connect_timeout", "dbname",
                                               NULL};
            const char *values[] = {"chat-bus", "5", b->url, NULL};
            b->conn = PQconnectdbParams(keys, values, 1);
            PGresult *r = NULL;
            if (PQstatus(b->conn) == CONNECTION_OK) {
                PQsetNoticeProcessor(b->conn, on_notice, b);
                r = PQprepare(b->conn, NOTIFY_STMT, NOTIFY_SQL, 2, NULL);
            }
            bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) continue;
        }
        while (b->head) {
            char *chans, *pays;
            int n = batch_build(b, &chans, &pays);
            if (n <= 0) break;
            const char *params[2] = {chans, pays};
            PGresult *r = PQexecPrepared(b->conn, NOTIFY_STMT, 2, params, NULL, NULL, 0);
            bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            PQclear(r);
            free(chans);
            free(pays);
            if (!ok) break; /* sent again on a new connection if this one broke */
            batch_drop(b, n);
        }
    }
    if (b->head) {
        char err[256];
        log_event(LOG_LEVEL_WARN, "bus: notifications not sent", "error",
                  pg_error(b->conn, err, sizeof err), NULL);
        queue_clear(b);
        return -1;
    }
    return 0;
}

/* Whether publications are taken now; when the loop's connection is down
 * they are not (the reference sent on reconnecting covers them). */
static bool taking(const pg_bus *b) {
    return b->state == PG_IDLE || b->state == PG_UP;
}

/* After a publication: sent now (no loop), at the end of the dispatch, or
 * in this call when the connection is idle. Returns -1 when it may be lost. */
static int published(pg_bus *b) {
    if (b->state == PG_IDLE) return sync_flush(b);
    kick(b);
    return taking(b) ? 0 : -1; /* the connection may have failed in kick() */
}

/* ---- the public surface --------------------------------------------------- */

static int encode_message(const store_message *m, json_t **out) {
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I}", "id", (json_int_t)m->id, "room_id",
                          (json_int_t)m->room_id, "room", m->room, "ns", m->ns, "user", m->user,
                          "text", m->text, "ts", (json_int_t)m->ts);
    if (o && m->client_id && json_object_set_new(o, "client_id", json_string(m->client_id))) {
        json_decref(o);
        o = NULL;
    }
    if (o && m->kind &&
        (json_object_set_new(o, "kind", json_integer(m->kind)) ||
         json_object_set_new(o, "target", json_integer(m->target)))) {
        json_decref(o);
        o = NULL;
    }
    *out = o;
    return o ? 0 : -1;
}

/* Queues a reference to ids first..last: receivers read the log. */
static int enqueue_ref(pg_bus *b, int64_t first, int64_t last) {
    char ref[96];
    int n = snprintf(ref, sizeof ref, "{\"read\":[%" PRId64 ",%" PRId64 "]}", first, last);
    int rc = enqueue(b, b->ch_log, ref, (size_t)n);
    if (rc == 0) b->tail->is_ref = true;
    return rc;
}

/* bus_ops.publish_messages: as many whole messages per notification as
 * fit, in order; one too big for a notification goes as a reference. */
static int pg_publish_messages(bus *base, const store_message *rows, size_t n) {
    pg_bus *b = pg_of(base);
    if (!taking(b)) return -1;
    int rc = 0;
    if (b->queued > PG_QUEUE_MAX) {
        /* the queue is long: one "read the log" at its end says it all */
        if (!b->tail || !b->tail->is_ref) rc = enqueue_ref(b, rows[0].id, rows[n - 1].id);
        goto out;
    }
    /* greedy: as many whole messages per array as fit in one payload */
    char *pending = NULL; /* "[...": the array being filled, unterminated */
    size_t plen = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *o;
        char *text = NULL;
        if (encode_message(&rows[i], &o) || !(text = json_dumps(o, JSON_COMPACT))) {
            json_decref(o);
            rc = -1;
            break;
        }
        json_decref(o);
        size_t tl = strlen(text);
        if (pending && plen + 1 + tl + 1 > PG_PAYLOAD_MAX) {
            pending[plen++] = ']';
            rc = enqueue(b, b->ch_log, pending, plen);
            free(pending);
            pending = NULL;
        }
        if (rc == 0 && tl + 2 > PG_PAYLOAD_MAX) {
            rc = enqueue_ref(b, rows[i].id, rows[i].id); /* too big: by reference */
        } else if (rc == 0) {
            if (!pending) {
                pending = malloc(PG_PAYLOAD_MAX + 1);
                if (!pending) rc = -1;
                plen = 0;
            }
            if (pending) {
                pending[plen] = plen ? ',' : '[';
                plen++;
                memcpy(pending + plen, text, tl);
                plen += tl;
            }
        }
        free(text);
    }
    if (pending && rc == 0) {
        pending[plen++] = ']';
        rc = enqueue(b, b->ch_log, pending, plen);
    }
    free(pending);
    if (rc) /* out of memory: at least say "read the log" */
        rc = enqueue_ref(b, rows[0].id, rows[n - 1].id);
out:
    return published(b) || rc ? -1 : 0;
}

static int pg_publish_control(bus *base, int64_t id) {
    pg_bus *b = pg_of(base);
    if (!taking(b)) return -1;
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, id); /* for people reading the traffic */
    int rc = enqueue(b, b->ch_control, text, (size_t)n);
    return published(b) || rc ? -1 : 0;
}

/* bus_ops.publish_ephemeral: bus.c checked the size and the bytes. */
static int pg_publish_ephemeral(bus *base, const char *data, size_t len) {
    pg_bus *b = pg_of(base);
    if (!taking(b) || b->queued + len > PG_QUEUE_MAX) return -1;
    if (enqueue(b, b->ch_ephemeral, data, len)) return -1;
    return published(b);
}

static bool pg_connected(const bus *base) {
    return pg_of((bus *)base)->state == PG_UP;
}

static bus *pg_open(const char *db, const bus_options *opt, char *err, size_t errlen) {
    /* a URL libpq cannot parse is refused now, not at every reconnect */
    char *why = NULL;
    PQconninfoOption *parsed = PQconninfoParse(db, &why);
    if (!parsed) {
        snprintf(err, errlen, "bus: not a PostgreSQL URL libpq takes: %s",
                 why ? why : "out of memory");
        err[strcspn(err, "\n")] = '\0';
        PQfreemem(why);
        return NULL;
    }
    PQconninfoFree(parsed);
    pg_bus *b = calloc(1, sizeof *b);
    if (!b || !(b->url = strdup(db))) {
        free(b);
        snprintf(err, errlen, "bus: out of memory");
        return NULL;
    }
    /* bus.c checked the channel: [a-z0-9_], at most BUS_CHANNEL_MAX bytes */
    snprintf(b->ch_log, sizeof b->ch_log, "%s_log", opt->channel);
    snprintf(b->ch_control, sizeof b->ch_control, "%s_control", opt->channel);
    snprintf(b->ch_ephemeral, sizeof b->ch_ephemeral, "%s_ephemeral", opt->channel);
    snprintf(b->listen_sql, sizeof b->listen_sql, "LISTEN %s; LISTEN %s; LISTEN %s", b->ch_log,
             b->ch_control, b->ch_ephemeral);
    b->sock = -1;
    b->state = PG_IDLE;
    b->rng = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)b;
    if (!b->rng) b->rng = 1;
    return &b->base;
}

/* bus_ops.listen: b->base's ctx, h and ud are set. The connection is made
 * in the loop; it failing now is not an error (it is retried). */
static int pg_listen(bus *base, struct lws_vhost *vh) {
    pg_bus *b = pg_of(base);
    if (b->state != PG_IDLE) return -1;
    if (b->conn) PQfinish(b->conn); /* a synchronous one, from earlier publications */
    b->conn = NULL;
    queue_clear(b);
    b->vh = vh;
    b->ctx = b->base.ctx;
    b->state = PG_DOWN;
    start_connect(b);
    return 0;
}

/* bus_ops.unlisten: called while the lws context still stands. */
static void pg_unlisten(bus *base) {
    pg_bus *b = pg_of(base);
    if (b->state != PG_IDLE) leave_loop(b);
}

/* bus_ops.close: before the lws context is destroyed, or after it when
 * the loop was left already (bus_unlisten, then the context's closing of
 * our wsi). */
static void pg_close(bus *base) {
    pg_bus *b = pg_of(base);
    if (b->state != PG_IDLE) leave_loop(b); /* bus_close unlistens first: a guard */
    unwatch(b);
    if (b->conn) PQfinish(b->conn);
    queue_clear(b);
    free(b->url);
    free(b);
}

const bus_ops bus_pg_ops = {
    .name = "pg",
    .open = pg_open,
    .close = pg_close,
    .publish_messages = pg_publish_messages,
    .publish_control = pg_publish_control,
    .publish_ephemeral = pg_publish_ephemeral,
    .listen = pg_listen,
    .unlisten = pg_unlisten,
    .lws_event = pg_lws_event,
    .connected = pg_connected,
};
