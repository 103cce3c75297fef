/* clock.c -- a monotonic clock and one-shot timers over a backend's wake-up */
#include "clock.h"

#include <stdlib.h>

/* The pending timers are a binary min-heap by (due_us, seq), each timer
 * knowing its slot: scheduling, cancelling and firing cost O(log n), so
 * every session can keep its own deadline (10,000 sessions scheduling the
 * same delay cost no scan of the others). */
struct ws_clock {
    ws_clock_backend be;
    ws_timer **heap; /* heap[0] is the earliest */
    size_t count, cap;
    unsigned long long seq;
    bool stopped;
};

ws_clock *ws_clock_new(const ws_clock_backend *be) {
    ws_clock *c = calloc(1, sizeof *c);
    if (c) c->be = *be;
    return c;
}

void ws_clock_free(ws_clock *c) {
    if (!c) return;
    ws_clock_stop(c);
    free(c->heap);
    free(c);
}

long long ws_clock_now_us(ws_clock *c) {
    return c->be.now_us(c->be.ud);
}

long long ws_clock_now_ms(ws_clock *c) {
    return ws_clock_now_us(c) / 1000;
}

/* Tells the backend when the earliest timer is due. */
static void rewake(ws_clock *c) {
    if (!c->be.wake) return;
    if (!c->count) {
        c->be.wake(-1, c->be.ud);
        return;
    }
    long long delay = c->heap[0]->due_us - ws_clock_now_us(c);
    c->be.wake(delay > 0 ? delay : 0, c->be.ud);
}

static bool earlier(const ws_timer *a, const ws_timer *b) {
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

static void place(ws_clock *c, size_t i, ws_timer *t) {
    c->heap[i] = t;
    t->slot = i;
}

/* Moves the timer at slot i up or down to where the order wants it. */
static void sift(ws_clock *c, size_t i) {
    ws_timer *t = c->heap[i];
    while (i > 0 && earlier(t, c->heap[(i - 1) / 2])) {
        place(c, i, c->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t kid = 2 * i + 1;
        if (kid >= c->count) break;
        if (kid + 1 < c->count && earlier(c->heap[kid + 1], c->heap[kid])) kid++;
        if (!earlier(c->heap[kid], t)) break;
        place(c, i, c->heap[kid]);
        i = kid;
    }
    place(c, i, t);
}

/* Takes t out of the heap; true when it was the earliest. */
static bool unlink_timer(ws_clock *c, ws_timer *t) {
    size_t i = t->slot;
    ws_timer *last = c->heap[--c->count];
    if (last != t) {
        place(c, i, last);
        sift(c, i);
    }
    t->pending = false;
    return i == 0;
}

void ws_clock_run(ws_clock *c) {
    long long now = ws_clock_now_us(c);
    unsigned long long before = c->seq; /* later schedules wait for the next run */
    while (c->count && c->heap[0]->due_us <= now && c->heap[0]->seq < before) {
        ws_timer *t = c->heap[0];
        unlink_timer(c, t);
        t->fn(t->ud);
    }
    rewake(c);
}

bool ws_clock_next(const ws_clock *c, long long *due_us) {
    if (c->count && due_us) *due_us = c->heap[0]->due_us;
    return c->count > 0;
}

void ws_clock_stop(ws_clock *c) {
    c->stopped = true;
    while (c->count)
        c->heap[--c->count]->pending = false;
    if (c->be.wake) c->be.wake(-1, c->be.ud);
}

void ws_timer_init(ws_timer *t, ws_clock *c, ws_timer_fn fn, void *ud) {
    *t = (ws_timer){.clock = c, .fn = fn, .ud = ud};
}

int ws_timer_schedule(ws_timer *t, long long delay_ms) {
    ws_clock *c = t->clock;
    bool was_head = t->pending && unlink_timer(c, t);
    if (!c->stopped && c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        ws_timer **heap = realloc(c->heap, cap * sizeof *heap);
        if (heap) c->heap = heap, c->cap = cap;
    }
    if (c->stopped || c->count == c->cap) {
        if (was_head) rewake(c);
        return -1;
    }
    t->due_us = ws_clock_now_us(c) + (delay_ms > 0 ? delay_ms * 1000 : 0);
    t->seq = c->seq++;
    t->pending = true;
    place(c, c->count++, t);
    sift(c, t->slot);
    if (was_head || t->slot == 0) rewake(c);
    return 0;
}

void ws_timer_cancel(ws_timer *t) {
    if (!t->pending) return;
    if (unlink_timer(t->clock, t)) rewake(t->clock);
}

bool ws_timer_pending(const ws_timer *t) {
    return t->pending;
}
