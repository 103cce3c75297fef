/* process_heartbeat.c -- this process's row for /api/health, on the clock */
#include "process_heartbeat.h"

#include "log.h"

static void beat(void *ud) {
    process_heartbeat *hb = ud;
    int rc =
        store_process_heartbeat(hb->st, hb->process_id, (int64_t)eio_server_connections(hb->eio));
    if (rc == STORE_NOTFOUND) {
        /* Another process reaped us after a stall of over STORE_PROCESS_STALE_MS:
         * our presence rows are gone until the sockets rejoin. Say so loudly. */
        log_event(LOG_LEVEL_WARN, "ws: our process row was reaped after a stall", NULL);
    } else if (rc) {
        log_event(LOG_LEVEL_WARN, "ws: heartbeat failed", "error", store_errmsg(hb->st), NULL);
    }
    store_process_reap(hb->st);
    ws_timer_schedule(&hb->timer, hb->ms);
}

void process_heartbeat_start(process_heartbeat *hb, ws_clock *clock, store *st,
                             const eio_server *eio, int64_t process_id, int ms) {
    *hb = (process_heartbeat){.st = st, .eio = eio, .process_id = process_id, .ms = ms};
    ws_timer_init(&hb->timer, clock, beat, hb);
    ws_timer_schedule(&hb->timer, ms);
}

void process_heartbeat_stop(process_heartbeat *hb) {
    ws_timer_cancel(&hb->timer);
}
