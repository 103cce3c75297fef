/* presence.h -- coalesces presence broadcasts: per room (or namespace), at
 * most one update per user per interval */
#ifndef PRESENCE_H
#define PRESENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "clock.h"

/* Users whose change waits in one key's interval; a change of one more user
 * emits the oldest waiting user's net change at once and takes its place. */
#define PRESENCE_MAX_PENDING 64
/* Keys (rooms and namespaces) coalescing at once; past it, a change of
 * another key is emitted at once, as with an interval of 0. */
#define PRESENCE_MAX_KEYS 100000

/* One presence change, in (presence_note) or out (the emit callback). All
 * strings are borrowed for the call. */
typedef struct presence_update {
    const char *ns;   /* the namespace */
    const char *room; /* the room; NULL: the namespace itself (connected/disconnected) */
    const char *user; /* whose presence changed: the key changes are netted under */
    const char *sid;  /* the socket that made the change (out: the user's latest) */
    bool on;          /* joined/connected (true) or left/disconnected (false) */
} presence_update;

typedef struct presence_config {
    int interval_ms;    /* 0: every change is emitted at once */
    size_t max_pending; /* users per key per interval [PRESENCE_MAX_PENDING] */
    size_t max_keys;    /* keys held at once [PRESENCE_MAX_KEYS] */
    /* Broadcasts one update (the same as an uncoalesced change would). */
    void (*emit)(const presence_update *u, void *ud);
    void *ud; /* passed to emit */
    /* Intervals are timed and ended on it (borrowed, outlives the presence).
     * May be NULL when interval_ms is 0. */
    ws_clock *clock;
} presence_config;

/* Per key (namespace + room, or namespace alone): when the key is idle, a
 * change is emitted at once and an interval starts. Changes during the
 * interval are netted per user (the first and the latest of the interval);
 * at its end a user whose latest change matches the first gets the latest
 * emitted (join, leave, join: joined), one whose changes cancel out (join
 * then leave, or leave then join) gets nothing -- unless another user joined
 * (took a member list) between them and not since: then the latest goes out,
 * so that newcomer's list is not left stale. (A newcomer on another process
 * is not known here.) If something was emitted a new interval starts, else
 * the key goes idle and its memory is freed.
 * Everything runs on the caller's thread (chat-ws: the lws service loop). */
typedef struct presence presence;

/* cfg is copied. Returns NULL when out of memory, or when an interval has
 * no clock. */
presence *presence_new(const presence_config *cfg);
/* Drops what is pending without emitting it, and cancels its timer. Accepts
 * NULL. */
void presence_free(presence *p);

/* A change: emitted now (idle key, interval 0, out of memory, too many
 * keys) or held until the key's interval ends. */
void presence_note(presence *p, const presence_update *u);

/* Keys held (each in an interval). */
size_t presence_key_count(const presence *p);

#endif
