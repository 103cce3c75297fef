/* pruner.c -- retention's steps on the clock */
#include "pruner.h"

#include "log.h"
#include "store.h"

static void prune(void *ud) {
    pruner *p = ud;
    retention_stats stats;
    int rc = retention_step(p->ret, store_now_ms(), &stats);
    if (rc && rc != STORE_BUSY)
        log_event(LOG_LEVEL_WARN, "ws: retention step failed", "status", LOG_I(rc), NULL);
    if (rc == STORE_OK && stats.messages)
        log_event(LOG_LEVEL_DEBUG, "ws: retention", "deleted", LOG_I(stats.messages), "room_id",
                  LOG_I(stats.room_id), NULL);
    int next = rc == STORE_OK && stats.more ? (p->ms < 100 ? p->ms : 100) : p->ms;
    ws_timer_schedule(&p->timer, next);
}

void pruner_start(pruner *p, ws_clock *clock, retention *ret, int ms) {
    *p = (pruner){.ret = ret, .ms = ms};
    ws_timer_init(&p->timer, clock, prune, p);
    ws_timer_schedule(&p->timer, ms);
}

void pruner_stop(pruner *p) {
    ws_timer_cancel(&p->timer);
}
