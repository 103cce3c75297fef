/* presence.c -- coalesces presence broadcasts per room and namespace */
#include "presence.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* One user's changes during a key's interval. */
typedef struct pending {
    char *user;
    char *sid;                         /* of the latest change */
    bool first;                        /* on-ness of the interval's first change */
    bool last;                         /* and of its latest */
    unsigned long first_seq, last_seq; /* the key's change counter at those */
    unsigned long on_seq;              /* at the latest join/connect, 0: none */
} pending;

/* A key in an interval. */
typedef struct pkey {
    char *name;        /* the map's key: ns, or ns "\x01" room */
    char *ns, *room;   /* room NULL: the namespace key */
    long long due;     /* ms: when the interval ends */
    pending *users;    /* in order of their first change; max_pending at most */
    size_t n, cap;     /* used and allocated entries of users */
    unsigned long seq; /* changes noted in this key */
    struct pkey *next; /* the next key to be due */
} pkey;

struct presence {
    presence_config cfg;
    ws_timer timer;    /* the next interval's end */
    strmap keys;       /* name -> pkey */
    pkey *head, *tail; /* keys by due time: every interval has the same length */
};

static void pending_clear(pending *e) {
    free(e->user);
    free(e->sid);
}

static void key_free(pkey *k) {
    for (size_t i = 0; i < k->n; i++)
        pending_clear(&k->users[i]);
    free(k->users);
    free(k->name);
    free(k->ns);
    free(k->room);
    free(k);
}

/* Whether another user joined (or connected) between e's first and latest
 * change, and not since: a socket that took its member list then saw e's
 * state in between, which a cancelled-out net change would leave stale. */
static bool seen_between(const pkey *k, const pending *e) {
    for (size_t i = 0; i < k->n; i++) {
        const pending *o = &k->users[i];
        if (o != e && o->on_seq > e->first_seq && o->on_seq < e->last_seq) return true;
    }
    return false;
}

/* Emits e's net change: its latest, unless its changes cancelled out (and
 * nobody saw them half-way, seen_between). Returns true if it emitted. */
static bool emit_net(presence *p, const pkey *k, const pending *e) {
    if (e->first != e->last && !seen_between(k, e)) return false;
    presence_update u = {k->ns, k->room, e->user, e->sid, e->last};
    p->cfg.emit(&u, p->cfg.ud);
    return true;
}

/* The map's key of u: ns alone, or ns "\x01" room (a namespace name has no
 * \x01, so the two kinds never meet). NULL when out of memory. */
static char *key_name(const presence_update *u) {
    size_t ns = strlen(u->ns), room = u->room ? strlen(u->room) : 0;
    char *s = malloc(ns + room + 2);
    if (!s) return NULL;
    memcpy(s, u->ns, ns);
    if (u->room) {
        s[ns] = '\x01';
        memcpy(s + ns + 1, u->room, room + 1);
    } else {
        s[ns] = '\0';
    }
    return s;
}

static void append(presence *p, pkey *k) {
    k->next = NULL;
    if (p->tail)
        p->tail->next = k;
    else
        p->head = k;
    p->tail = k;
}

/* A new key for u, in the map and due an interval from now; NULL when out
 * of memory or past max_keys. */
static pkey *key_start(presence *p, const presence_update *u, char *name) {
    if (p->keys.count >= p->cfg.max_keys) return NULL;
    pkey *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->name = name;
    if (!(k->ns = strdup(u->ns)) || (u->room && !(k->room = strdup(u->room))) ||
        strmap_put(&p->keys, k->name, k)) {
        k->name = NULL; /* the caller's still */
        key_free(k);
        return NULL;
    }
    long long now = ws_clock_now_ms(p->cfg.clock);
    k->due = now + p->cfg.interval_ms;
    bool was_idle = !p->head;
    append(p, k);
    if (was_idle) ws_timer_schedule(&p->timer, p->cfg.interval_ms);
    return k;
}

/* Records u in k's interval. Returns 0, or -1 out of memory (nothing kept). */
static int hold(presence *p, pkey *k, const presence_update *u) {
    unsigned long seq = ++k->seq;
    for (size_t i = 0; i < k->n; i++) {
        pending *e = &k->users[i];
        if (strcmp(e->user, u->user) != 0) continue;
        char *sid = strdup(u->sid);
        if (!sid) return -1;
        free(e->sid);
        e->sid = sid;
        e->last = u->on;
        e->last_seq = seq;
        if (u->on) e->on_seq = seq;
        return 0;
    }
    if (k->n == p->cfg.max_pending) { /* the oldest goes out now */
        emit_net(p, k, &k->users[0]);
        pending_clear(&k->users[0]);
        memmove(&k->users[0], &k->users[1], (k->n - 1) * sizeof *k->users);
        k->n--;
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4;
        if (cap > p->cfg.max_pending) cap = p->cfg.max_pending;
        pending *users = realloc(k->users, cap * sizeof *users);
        if (!users) return -1;
        k->users = users;
        k->cap = cap;
    }
    pending e = {strdup(u->user), strdup(u->sid), u->on, u->on, seq, seq, u->on ? seq : 0};
    if (!e.user || !e.sid) {
        pending_clear(&e);
        return -1;
    }
    k->users[k->n++] = e;
    return 0;
}

void presence_note(presence *p, const presence_update *u) {
    if (p->cfg.interval_ms <= 0) goto now;
    char *name = key_name(u);
    if (!name) goto now;
    pkey *k = strmap_get(&p->keys, name);
    if (k) {
        free(name);
        if (hold(p, k, u)) goto now;
        return;
    }
    if (!key_start(p, u, name)) { /* cannot coalesce: as if there were no interval */
        free(name);
        goto now;
    }
    /* the leading edge: the key was idle */
now:
    p->cfg.emit(u, p->cfg.ud);
}

/* Ends the intervals due by now (emitting their net changes) and schedules
 * the timer for the next one. */
static void timer_due(void *ud) {
    presence *p = ud;
    long long now = ws_clock_now_ms(p->cfg.clock);
    while (p->head && p->head->due <= now) {
        pkey *k = p->head;
        p->head = k->next;
        if (!p->head) p->tail = NULL;
        bool emitted = false;
        for (size_t i = 0; i < k->n; i++) {
            if (emit_net(p, k, &k->users[i])) emitted = true;
            pending_clear(&k->users[i]);
        }
        k->n = 0;
        if (emitted) { /* a new interval */
            k->due = now + p->cfg.interval_ms;
            append(p, k);
        } else { /* idle */
            strmap_del(&p->keys, k->name);
            key_free(k);
        }
    }
    if (p->head) ws_timer_schedule(&p->timer, p->head->due - now);
}

size_t presence_key_count(const presence *p) {
    return p->keys.count;
}

presence *presence_new(const presence_config *cfg) {
    if (cfg->interval_ms > 0 && !cfg->clock) return NULL;
    presence *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = *cfg;
    if (cfg->clock) ws_timer_init(&p->timer, cfg->clock, timer_due, p);
    if (!p->cfg.max_pending) p->cfg.max_pending = PRESENCE_MAX_PENDING;
    if (!p->cfg.max_keys) p->cfg.max_keys = PRESENCE_MAX_KEYS;
    if (p->cfg.interval_ms < 0) p->cfg.interval_ms = 0;
    return p;
}

void presence_free(presence *p) {
    if (!p) return;
    ws_timer_cancel(&p->timer);
    while (p->head) {
        pkey *k = p->head;
        p->head = k->next;
        key_free(k);
    }
    strmap_clear(&p->keys);
    free(p);
}
