/* clock.c -- a monotonic clock and one-shot timers over a backend's wake-up */
#include "clock.h"

#include <stdlib.h>

struct ws_clock {
    ws_clock_backend be;
    ws_timer *head; /* pending timers, by (due_us, seq) */
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
    if (!c->head) {
        c->be.wake(-1, c->be.ud);
        return;
    }
    long long delay = c->head->due_us - ws_clock_now_us(c);
    c->be.wake(delay > 0 ? delay : 0, c->be.ud);
}

/* Takes t out of the list; true when it was the head. */
static bool unlink_timer(ws_clock *c, ws_timer *t) {
    bool was_head = c->head == t;
    for (ws_timer **p = &c->head; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->next = NULL;
    t->pending = false;
    return was_head;
}

void ws_clock_run(ws_clock *c) {
    long long now = ws_clock_now_us(c);
    unsigned long long before = c->seq; /* later schedules wait for the next run */
    while (c->head && c->head->due_us <= now && c->head->seq < before) {
        ws_timer *t = c->head;
        unlink_timer(c, t);
        t->fn(t->ud);
    }
    rewake(c);
}

bool ws_clock_next(const ws_clock *c, long long *due_us) {
    if (c->head && due_us) *due_us = c->head->due_us;
    return c->head != NULL;
}

void ws_clock_stop(ws_clock *c) {
    c->stopped = true;
    while (c->head)
        unlink_timer(c, c->head);
    if (c->be.wake) c->be.wake(-1, c->be.ud);
}

void ws_timer_init(ws_timer *t, ws_clock *c, ws_timer_fn fn, void *ud) {
    *t = (ws_timer){.clock = c, .fn = fn, .ud = ud};
}

int ws_timer_schedule(ws_timer *t, long long delay_ms) {
    ws_clock *c = t->clock;
    bool was_head = t->pending && unlink_timer(c, t);
    if (c->stopped) {
        if (was_head) rewake(c);
        return -1;
    }
    t->due_us = ws_clock_now_us(c) + (delay_ms > 0 ? delay_ms * 1000 : 0);
    t->seq = c->seq++;
    t->pending = true;
    ws_timer **p = &c->head;
    while (*p && ((*p)->due_us < t->due_us || ((*p)->due_us == t->due_us && (*p)->seq < t->seq)))
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    if (was_head || c->head == t) rewake(c);
    return 0;
}

void ws_timer_cancel(ws_timer *t) {
    if (!t->pending) return;
    if (unlink_timer(t->clock, t)) rewake(t->clock);
}

bool ws_timer_pending(const ws_timer *t) {
    return t->pending;
}
