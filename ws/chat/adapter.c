/* adapter.c -- broadcasts that reach every ws process: emits as ephemera, control events through
 * the store */
#include "adapter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strmap.h"

typedef struct applier {
    char *kind;
    adapter_fn fn;
    void *ud;
} applier;

struct adapter {
    sio_server *srv;
    store *st;
    hub *hub;        /* the cursors, and the bus */
    bus *bus;        /* NULL: nothing reaches the other processes */
    strmap appliers; /* kind -> applier */
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
    if (json_is_true(json_object_get(p, "offset"))) {
        char off[24];
        snprintf(off, sizeof off, "%" PRId64, hub_cursor(a->hub));
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

/* Applies a control event of kind (payload borrowed). */
static void apply_control(adapter *a, const char *kind, json_t *payload) {
    applier *ap = strmap_get(&a->appliers, kind);
    if (ap && json_is_object(payload)) ap->fn(payload, ap->ud);
}

/* The hub's control handler: an event read from the control log. */
static void apply_logged(int64_t id, const char *kind, const char *payload, void *ud) {
    adapter *a = ud;
    (void)id;
    json_t *p = strmap_get(&a->appliers, kind) ? json_loads(payload, 0, NULL) : NULL;
    apply_control(a, kind, p);
    json_decref(p);
}

int adapter_publish_now(adapter *a, const char *kind, json_t *payload, int64_t *id) {
    char *text = json_dumps(payload, JSON_COMPACT);
    int rc = text ? store_control_append(a->st, kind, text, id) : STORE_ERROR;
    free(text);
    if (rc == STORE_OK) {
        /* Local first: from memory when nothing came in between, else the
         * hub read the log from its cursor (this event included). */
        if (hub_control_committed(a->hub, *id)) apply_control(a, kind, payload);
        hub_control_published(a->hub, *id);
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

adapter *adapter_new(sio_server *srv, store *st, bus *b, hub *h) {
    adapter *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->srv = srv;
    a->st = st;
    a->bus = b;
    a->hub = h;
    hub_on_control(h, apply_logged, a);
    hub_on_ephemeral(h, adapter_ephemeral, a);
    return a;
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
