/* adapter.c -- broadcasts that reach every ws process: emits as ephemera, control events through
 * the store */
#include "adapter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strmap.h"

/* Pages of the control log read in one call, at most (each page is 1000
 * events): a bound on the work of one wake-up; the next one goes on. */
#define ADAPTER_MAX_PAGES 1000

typedef struct applier {
    char *kind;
    adapter_fn fn;
    void *ud;
} applier;

struct adapter {
    sio_server *srv;
    store *st;
    bus *bus;        /* NULL: nothing reaches the other processes */
    strmap appliers; /* kind -> applier */
    int64_t cursor;  /* last control event applied */
    int64_t (*offset_fn)(void *);
    void *offset_ud;
};

/* ---- emits ------------------------------------------------------------ */

typedef struct emit_ctx {
    const char *except;
} emit_ctx;

static bool not_except(const sio_socket *s, void *ud) {
    const emit_ctx *e = ud;
    return !e->except || strcmp(sio_socket_id(s), e->except) != 0;
}

/* Applies an emit {ns, event, args, room?, except?, volatile?, offset?} to
 * this process's sockets. p may come from another process: every field is
 * checked. */
static void apply_emit(adapter *a, json_t *p) {
    const char *ns = sio_str(json_object_get(p, "ns"));
    const char *event = sio_str(json_object_get(p, "event"));
    const char *room = sio_str(json_object_get(p, "room"));
    json_t *args = json_object_get(p, "args");
    sio_nsp *nsp = ns ? sio_nsp_get(a->srv, ns) : NULL;
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
    if (json_is_true(json_object_get(p, "offset")) && a->offset_fn) {
        char off[24];
        snprintf(off, sizeof off, "%" PRId64, a->offset_fn(a->offset_ud));
        with = json_copy(args);
        json_array_append_new(with, json_string(off));
    }
    sio_emit(nsp, &to, event, with ? with : args);
    json_decref(with);
}

int adapter_emit(adapter *a, const char *ns, const char *room, const char *except_sid,
                 const char *event, json_t *args, bool is_volatile, bool with_offset) {
    json_t *p = json_pack("{s:s,s:s,s:O}", "ns", ns, "event", event, "args", args);
    if (!p) return -1;
    if (room) json_object_set_new(p, "room", json_string(room));
    if (except_sid) json_object_set_new(p, "except", json_string(except_sid));
    if (is_volatile) json_object_set_new(p, "volatile", json_true());
    if (with_offset) json_object_set_new(p, "offset", json_true());
    apply_emit(a, p); /* local first */
    char *text = a->bus ? json_dumps(p, JSON_COMPACT) : NULL;
    if (text) bus_publish_ephemeral(a->bus, text, strlen(text)); /* too big: stays here */
    free(text);
    json_decref(p);
    return 0;
}

void adapter_ephemeral(const char *data, size_t len, void *ud) {
    json_t *p = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(p)) apply_emit(ud, p);
    json_decref(p);
}

/* ---- control events --------------------------------------------------- */

/* Applies control event id of kind (payload borrowed) and moves the cursor. */
static void apply_control(adapter *a, int64_t id, const char *kind, json_t *payload) {
    a->cursor = id;
    applier *ap = strmap_get(&a->appliers, kind);
    if (ap && json_is_object(payload)) ap->fn(payload, ap->ud);
}

static int apply_logged(int64_t id, const char *kind, const char *payload, void *ud) {
    adapter *a = ud;
    json_t *p = strmap_get(&a->appliers, kind) ? json_loads(payload, 0, NULL) : NULL;
    apply_control(a, id, kind, p);
    json_decref(p);
    return 0;
}

/* One page of the control log past the cursor, applied (bus_catch_up's page). */
static int read_control_page(void *ud) {
    adapter *a = ud;
    if (store_control_tail(a->st, a->cursor, apply_logged, a) == STORE_OK) return 0;
    log_event(LOG_LEVEL_WARN, "adapter: control log read failed", "error", store_errmsg(a->st),
              NULL);
    return -1;
}

void adapter_deliver_new(void *ud) {
    adapter *a = ud;
    bus_catch_up(&a->cursor, INT64_MAX, ADAPTER_MAX_PAGES, read_control_page, a);
}

int adapter_publish_now(adapter *a, const char *kind, json_t *payload, int64_t *id) {
    char *text = json_dumps(payload, JSON_COMPACT);
    int rc = text ? store_control_append(a->st, kind, text, id) : STORE_ERROR;
    free(text);
    if (rc == STORE_OK) {
        /* Local first: from memory when nothing came in between, else the
         * log from our cursor (this event included), in its order. */
        if (*id == a->cursor + 1)
            apply_control(a, *id, kind, payload);
        else
            adapter_deliver_new(a);
        bus_publish_control(a->bus, *id);
    }
    json_decref(payload);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------- */

void adapter_on(adapter *a, const char *kind, adapter_fn fn, void *ud) {
    applier *ap = calloc(1, sizeof *ap);
    if (!ap || !(ap->kind = strdup(kind)) || strmap_put(&a->appliers, ap->kind, ap)) abort();
    ap->fn = fn;
    ap->ud = ud;
}

adapter *adapter_new(sio_server *srv, store *st, bus *b) {
    adapter *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->srv = srv;
    a->st = st;
    a->bus = b;
    if (store_control_head(st, &a->cursor)) a->cursor = 0;
    return a;
}

void adapter_offset_source(adapter *a, int64_t (*fn)(void *ud), void *ud) {
    a->offset_fn = fn;
    a->offset_ud = ud;
}

static void free_applier(const char *key, void *value, void *ud) {
    (void)key, (void)ud;
    applier *ap = value;
    free(ap->kind);
    free(ap);
}

void adapter_free(adapter *a) {
    if (!a) return;
    strmap_each(&a->appliers, free_applier, NULL);
    strmap_clear(&a->appliers);
    free(a);
}
