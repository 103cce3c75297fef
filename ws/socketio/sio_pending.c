/* sio_pending.c -- a BINARY_* packet held until its attachments arrive, within bounds */
#include "sio_pending.h"

#include <stdlib.h>
#include <string.h>

void sio_pending_clear(sio_pending *pd, const sio_pending_limits *lim) {
    if (pd->active) sio_packet_clear(&pd->packet);
    for (size_t i = 0; i < pd->nbins; i++)
        free((void *)pd->bins[i].data);
    free(pd->bins);
    *lim->total -= pd->cost;
    memset(pd, 0, sizeof *pd);
}

/* Counts add more bytes; on an error everything held is freed. */
static int charge(sio_pending *pd, size_t add, const sio_pending_limits *lim) {
    int rc = SIO_PENDING_HELD;
    if (add > lim->max_bytes || pd->cost + add > lim->max_bytes)
        rc = SIO_PENDING_TOO_LARGE;
    else if (*lim->total + add > lim->max_total)
        rc = SIO_PENDING_FULL;
    if (rc) {
        sio_pending_clear(pd, lim);
        return rc;
    }
    pd->cost += add;
    *lim->total += add;
    return rc;
}

int sio_pending_start(sio_pending *pd, sio_packet *p, const sio_pending_limits *lim) {
    sio_pending_clear(pd, lim);
    pd->packet = *p;
    pd->active = true;
    memset(p, 0, sizeof *p);
    /* the parsed JSON's memory, not its wire size: "[[],[],...]" */
    return charge(pd, sio_json_cost(pd->packet.data, lim->max_bytes), lim);
}

int sio_pending_add(sio_pending *pd, const void *data, size_t len, const sio_pending_limits *lim) {
    if (!pd->active) return SIO_PENDING_UNEXPECTED;
    int rc = charge(pd, len, lim);
    if (rc) return rc;
    sio_buf *bins = realloc(pd->bins, (pd->nbins + 1) * sizeof *bins);
    unsigned char *copy = bins ? malloc(len ? len : 1) : NULL;
    if (bins) pd->bins = bins;
    if (!copy) {
        sio_pending_clear(pd, lim);
        return SIO_PENDING_NOMEM;
    }
    if (len) memcpy(copy, data, len);
    pd->bins[pd->nbins++] = (sio_buf){copy, len};
    return (int)pd->nbins < pd->packet.attachments ? SIO_PENDING_HELD : SIO_PENDING_READY;
}
