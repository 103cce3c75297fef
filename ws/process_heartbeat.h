/* process_heartbeat.h -- this process's row in the processes table, kept
 * fresh on the clock for /api/health, and the rows of dead processes reaped */
#ifndef PROCESS_HEARTBEAT_H
#define PROCESS_HEARTBEAT_H

#include <stdint.h>

#include "clock.h"
#include "eio.h"
#include "store.h"

typedef struct process_heartbeat {
    ws_timer timer;
    store *st;             /* borrowed */
    const eio_server *eio; /* borrowed: its session count goes in the row */
    int64_t process_id;    /* this process's row */
    int ms;                /* the period */
} process_heartbeat;

/* Every ms on clock, writes eio's session count into this process's row
 * (store_process_heartbeat) and reaps dead processes' rows
 * (store_process_reap). Everything is borrowed and outlives hb's timer. */
void process_heartbeat_start(process_heartbeat *hb, ws_clock *clock, store *st,
                             const eio_server *eio, int64_t process_id, int ms);
/* Cancels the timer. Accepts a heartbeat never started (zeroed). */
void process_heartbeat_stop(process_heartbeat *hb);

#endif
