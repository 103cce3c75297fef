/* recovery.c -- what a connection state recovery may replay, read from the store */
#include "recovery.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "moderation_store.h"
#include "sio_packet.h"

int recovery_from(const char *offset, int64_t floor, int64_t *from) {
    int64_t off = 0;
    if (!offset || !*offset) return -1;
    for (const char *p = offset; *p; p++) {
        if (*p < '0' || *p > '9' || off > (INT64_MAX - 9) / 10) return -1;
        off = off * 10 + (*p - '0');
    }
    *from = off > floor ? off : floor;
    return 0;
}

typedef struct gather_ctx {
    json_t *msgs; /* [id, element] pairs, sorted by id at the end */
    json_t *(*encode)(const store_message *m);
    int64_t upto;
    int64_t last; /* the last id seen in this room, to page on */
    int page;     /* messages taken from the current page */
    size_t max;
    bool over; /* more than max, or a store error */
} gather_ctx;

static int gather_one(const store_message *m, void *ud) {
    gather_ctx *g = ud;
    if (m->id > g->upto) return 1; /* live delivery brings it */
    g->last = m->id;
    g->page++;
    if (json_array_size(g->msgs) >= g->max) {
        g->over = true;
        return 1;
    }
    json_t *el = g->encode(m);
    if (el) json_array_append_new(g->msgs, json_pack("[Io]", (json_int_t)m->id, el));
    return 0;
}

static int by_id(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 0));
    json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 0));
    return x < y ? -1 : x > y;
}

/* Adds room_id's messages in (from, upto] to g, page by page. */
static void gather_room(store *st, gather_ctx *g, int64_t room_id, int64_t from) {
    g->last = from;
    for (;;) {
        int64_t before = g->last;
        g->page = 0;
        /* every row of the log: the edits and deletions of what it had too */
        if (modstore_room_log(st, room_id, g->last, CONTRACT_MESSAGES_PAGE_MAX, gather_one, g)) {
            g->over = true;
            return;
        }
        /* after 0 may list the newest page rather than the oldest: a full
         * one is more than can be told apart, refuse */
        if (before == 0 && g->page >= CONTRACT_MESSAGES_PAGE_MAX) g->over = true;
        if (g->over || g->page < CONTRACT_MESSAGES_PAGE_MAX || g->last >= g->upto) return;
    }
}

json_t *recovery_gather(store *st, const char *ns, const json_t *rooms, int64_t from, int64_t upto,
                        size_t max, json_t *(*encode)(const store_message *m)) {
    gather_ctx g = {.msgs = json_array(), .encode = encode, .upto = upto, .max = max};
    size_t nrooms = json_array_size(rooms), nseen = 0, i;
    int64_t *seen = calloc(nrooms ? nrooms : 1, sizeof *seen);
    json_t **items = NULL, *out = NULL;
    if (!g.msgs || !seen) goto done;
    for (i = 0; i < nrooms && !g.over; i++) {
        int64_t room_id;
        const char *room = sio_str(json_array_get(rooms, i));
        if (!room || store_room_id(st, ns, room, &room_id) != STORE_OK) continue;
        bool again = false;
        for (size_t k = 0; k < nseen; k++)
            again = again || seen[k] == room_id;
        if (again) continue;
        seen[nseen++] = room_id;
        gather_room(st, &g, room_id, from);
    }
    if (g.over) goto done;
    size_t n = json_array_size(g.msgs);
    if (!(out = json_array()) || (n && !(items = malloc(n * sizeof *items)))) {
        json_decref(out);
        out = NULL;
        goto done;
    }
    for (i = 0; i < n; i++)
        items[i] = json_array_get(g.msgs, i);
    if (n) qsort(items, n, sizeof *items, by_id);
    for (i = 0; i < n; i++)
        json_array_append(out, json_array_get(items[i], 1));
done:
    free(items);
    free(seen);
    json_decref(g.msgs);
    return out;
}
