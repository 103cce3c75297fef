/* bus.c -- broadcasts that reach every ws process, through the database */
#include "bus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strmap.h"

typedef struct applier {
    char *kind;
    bus_fn fn;
    void *ud;
} applier;

typedef struct queued {
    char *kind;
    char *payload; /* JSON text */
    struct queued *next;
} queued;

struct bus {
    sio_server *srv;
    store *st;
    ws_clock *clock;
    strmap appliers; /* kind -> applier */
    int64_t cursor;  /* last control event applied */
    queued *head, *tail;
    long long since; /* ms: when the oldest queued event was published */
    ws_timer flush;  /* commits what this loop turn queued */
    int64_t (*offset_fn)(void *);
    void *offset_ud;
    peers *peers; /* where volatile emits cross processes; NULL: nowhere */
};

/* ---- applying --------------------------------------------------------- */

typedef struct emit_ctx {
    const char *except;
} emit_ctx;

static bool not_except(const sio_socket *s, void *ud) {
    const emit_ctx *e = ud;
    return !e->except || strcmp(sio_socket_id(s), e->except) != 0;
}

/* The built-in "emit": {ns, event, args, room?, except?, volatile?, offset?} */
static void apply_emit(json_t *p, void *ud) {
    bus *b = ud;
    const char *ns = sio_str(json_object_get(p, "ns"));
    const char *event = sio_str(json_object_get(p, "event"));
    const char *room = sio_str(json_object_get(p, "room"));
    json_t *args = json_object_get(p, "args");
    sio_nsp *nsp = ns ? sio_nsp_get(b->srv, ns) : NULL;
    if (!nsp || !event || !json_is_array(args)) return;
    if (room && sio_nsp_room_size(nsp, room) == 0) return;
    emit_ctx e = {sio_str(json_object_get(p, "except"))};
    const char *rooms[1] = {room};
    sio_to to = {.rooms = room ? rooms : NULL,
                 .nrooms = room ? 1 : 0,
                 .is_volatile = json_is_true(json_object_get(p, "volatile")),
                 .filter = not_except,
                 .filter_ud = &e};
    json_t *with = NULL;
    if (json_is_true(json_object_get(p, "offset")) && b->offset_fn) {
        char off[24];
        snprintf(off, sizeof off, "%" PRId64, b->offset_fn(b->offset_ud));
        with = json_copy(args);
        json_array_append_new(with, json_string(off));
    }
    sio_emit(nsp, &to, event, with ? with : args);
    json_decref(with);
}

static int apply(int64_t id, const char *kind, const char *payload, void *ud) {
    bus *b = ud;
    b->cursor = id;
    applier *a = strmap_get(&b->appliers, kind);
    json_t *p = a ? json_loads(payload, 0, NULL) : NULL;
    if (json_is_object(p)) a->fn(p, a->ud);
    json_decref(p);
    return 0;
}

void bus_deliver_new(bus *b) {
    for (int guard = 0; guard < 1000; guard++) {
        int64_t before = b->cursor;
        if (store_control_tail(b->st, b->cursor, apply, b)) {
            log_event(LOG_LEVEL_WARN, "bus: tail read failed", "error", store_errmsg(b->st), NULL);
            return;
        }
        if (b->cursor == before) return;
    }
}

/* ---- publishing ------------------------------------------------------- */

static void queued_free(queued *q) {
    free(q->kind);
    free(q->payload);
    free(q);
}

/* Commits the events queued in this loop turn in one transaction. */
static void flush(void *ud) {
    bus *b = ud;
    int rc = store_begin(b->st);
    if (rc == STORE_BUSY && ws_clock_now_ms(b->clock) - b->since < 2000 &&
        ws_timer_schedule(&b->flush, 50) == 0) {
        /* the database is locked by another process: retry soon, without
         * blocking the event loop, for up to 2 s */
        return;
    }
    queued *q = b->head;
    b->head = b->tail = NULL;
    int64_t id;
    for (queued *p = q; p && rc == STORE_OK; p = p->next)
        rc = store_control_append(b->st, p->kind, p->payload, &id);
    rc = rc == STORE_OK ? store_commit(b->st) : (store_rollback(b->st), rc);
    if (rc)
        log_event(LOG_LEVEL_WARN, "bus: events not published", "error", store_errmsg(b->st), NULL);
    while (q) {
        queued *next = q->next;
        queued_free(q);
        q = next;
    }
    bus_deliver_new(b);
}

int bus_publish(bus *b, const char *kind, json_t *payload) {
    queued *q = calloc(1, sizeof *q);
    if (q) {
        q->kind = strdup(kind);
        q->payload = json_dumps(payload, JSON_COMPACT);
    }
    json_decref(payload);
    if (!q || !q->kind || !q->payload) {
        if (q) queued_free(q);
        return -1;
    }
    if (b->tail) {
        b->tail->next = q;
    } else {
        b->head = q;
        b->since = ws_clock_now_ms(b->clock);
    }
    b->tail = q;
    if (!ws_timer_pending(&b->flush)) ws_timer_schedule(&b->flush, 0);
    return 0;
}

int bus_publish_now(bus *b, const char *kind, json_t *payload, int64_t *id) {
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    int rc = text ? store_control_append(b->st, kind, text, id) : STORE_ERROR;
    free(text);
    if (rc == STORE_OK) bus_deliver_new(b);
    return rc;
}

/* Applies a volatile emit here and sends it to the other processes. Steals
 * p. */
static int emit_ephemeral(bus *b, json_t *p) {
    apply_emit(p, b);
    char *text = b->peers ? json_dumps(p, JSON_COMPACT) : NULL;
    if (text) peers_send(b->peers, text, strlen(text)); /* too big: dropped */
    free(text);
    json_decref(p);
    return 0;
}

void bus_peers_received(const char *data, size_t len, void *ud) {
    bus *b = ud;
    json_t *p = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(p)) {
        /* ephemeral whatever it says: dropped for a busy receiver, no offset */
        json_object_set_new(p, "volatile", json_true());
        json_object_del(p, "offset");
        apply_emit(p, b);
    }
    json_decref(p);
}

int bus_emit(bus *b, const char *ns, const char *room, const char *except_sid, const char *event,
             json_t *args, bool is_volatile, bool with_offset) {
    json_t *p = json_pack("{s:s,s:s,s:O}", "ns", ns, "event", event, "args", args);
    if (!p) return -1;
    if (room) json_object_set_new(p, "room", json_string(room));
    if (except_sid) json_object_set_new(p, "except", json_string(except_sid));
    if (is_volatile) {
        json_object_set_new(p, "volatile", json_true());
        return emit_ephemeral(b, p);
    }
    if (with_offset) json_object_set_new(p, "offset", json_true());
    return bus_publish(b, "emit", p);
}

/* ---- lifecycle -------------------------------------------------------- */

void bus_on(bus *b, const char *kind, bus_fn fn, void *ud) {
    applier *a = calloc(1, sizeof *a);
    if (!a || !(a->kind = strdup(kind)) || strmap_put(&b->appliers, a->kind, a)) abort();
    a->fn = fn;
    a->ud = ud;
}

bus *bus_new(sio_server *srv, store *st, ws_clock *clock) {
    bus *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->srv = srv;
    b->st = st;
    b->clock = clock;
    ws_timer_init(&b->flush, clock, flush, b);
    if (store_control_head(st, &b->cursor)) b->cursor = 0;
    bus_on(b, "emit", apply_emit, b);
    return b;
}

void bus_peers(bus *b, peers *p) {
    if (b) b->peers = p; /* no bus in the conformance server */
}

void bus_offset_source(bus *b, int64_t (*fn)(void *ud), void *ud) {
    b->offset_fn = fn;
    b->offset_ud = ud;
}

static void free_applier(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    applier *a = value;
    free(a->kind);
    free(a);
}

void bus_free(bus *b) {
    if (!b) return;
    ws_timer_cancel(&b->flush);
    while (b->head) {
        queued *q = b->head;
        b->head = q->next;
        queued_free(q);
    }
    strmap_each(&b->appliers, free_applier, NULL);
    strmap_clear(&b->appliers);
    free(b);
}
