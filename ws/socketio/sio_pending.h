/* sio_pending.h -- a BINARY_* packet held until its attachments arrive, within bounds */
#ifndef SIO_PENDING_H
#define SIO_PENDING_H

#include <stdbool.h>
#include <stddef.h>

#include "sio.h"
#include "sio_packet.h"

/* Outcomes of sio_pending_start and sio_pending_add. */
enum {
    SIO_PENDING_HELD = 0,        /* waiting for more attachments */
    SIO_PENDING_READY = 1,       /* every attachment is there: dispatch packet and bins */
    SIO_PENDING_TOO_LARGE = -1,  /* over max_bytes: nothing is held any more */
    SIO_PENDING_FULL = -2,       /* over max_total (the process's sum): nothing held */
    SIO_PENDING_UNEXPECTED = -3, /* an attachment nobody announced */
    SIO_PENDING_NOMEM = -4,      /* out of memory: nothing held */
};

/* Bounds on what is held: max_bytes for one connection, counting the parsed
 * JSON's memory (sio_json_cost) and the attachments' bytes; max_total for
 * the sum over the process, kept in *total by every connection's calls. */
typedef struct sio_pending_limits {
    size_t max_bytes;
    size_t max_total;
    size_t *total;
} sio_pending_limits;

typedef struct sio_pending {
    bool active;       /* a packet is held */
    sio_packet packet; /* the held packet (owned) */
    sio_buf *bins;     /* the attachments so far (owned copies) */
    size_t nbins;
    size_t cost;     /* what it counts against the limits, bytes */
    long long since; /* ms when it was started, for the caller's deadline */
} sio_pending;

/* Holds p, a BINARY_* packet announcing attachments: takes p's data (p is
 * cleared). Returns SIO_PENDING_HELD, or TOO_LARGE / FULL (p freed). */
int sio_pending_start(sio_pending *pd, sio_packet *p, const sio_pending_limits *lim);
/* Adds a copy of one attachment. Returns HELD, READY (pd->packet and
 * pd->bins complete; call sio_pending_clear after dispatching), or an error
 * (everything freed). */
int sio_pending_add(sio_pending *pd, const void *data, size_t len, const sio_pending_limits *lim);
/* Frees what is held and gives its cost back to *lim->total. Accepts an
 * inactive (zeroed) pd. */
void sio_pending_clear(sio_pending *pd, const sio_pending_limits *lim);

#endif
