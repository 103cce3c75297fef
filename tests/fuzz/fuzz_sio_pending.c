/* fuzz_sio_pending.c -- libFuzzer: pending-binary reassembly of two connections
 * sharing a process-wide budget, fed frames as a client would send them.
 * Input: records of 1 byte (bit 0: binary, bit 1: which connection), 2 bytes
 * of length (big-endian), then the frame. Checks that what is held never
 * passes the bounds and that everything is given back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"
#include "sio_pending.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t total = 0;
    const sio_pending_limits lim = {4096, 6000, &total};
    const sio_limits plim = {0};
    sio_pending conn[2];
    memset(conn, 0, sizeof conn);
    size_t i = 0;
    while (size - i >= 3) {
        int kind = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (len > size - i) len = size - i;
        sio_pending *pd = &conn[(kind >> 1) & 1];
        const uint8_t *frame = data + i;
        i += len;
        if (kind & 1) {
            int rc = sio_pending_add(pd, frame, len, &lim);
            if (rc == SIO_PENDING_READY) {
                if (!pd->active || (int)pd->nbins != pd->packet.attachments) abort();
                sio_pending_clear(pd, &lim);
            } else if (rc != SIO_PENDING_HELD && pd->active) {
                abort(); /* an error frees what was held */
            }
        } else {
            /* a text frame: while attachments are due the connection closes */
            if (pd->active) {
                sio_pending_clear(pd, &lim);
                continue;
            }
            char *text = malloc(len ? len : 1);
            if (!text) break;
            memcpy(text, frame, len);
            sio_packet p;
            const char *why;
            if (sio_packet_decode(text, len, &plim, &p, &why) == 0) {
                if ((p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK) &&
                    p.attachments > 0 && sio_placeholders_check(p.data, p.attachments) == 0) {
                    int rc = sio_pending_start(pd, &p, &lim);
                    if (p.data) abort(); /* taken */
                    if (rc != SIO_PENDING_HELD && pd->active) abort();
                } else {
                    sio_packet_clear(&p);
                }
            }
            free(text);
        }
        if (conn[0].cost > lim.max_bytes || conn[1].cost > lim.max_bytes ||
            total != conn[0].cost + conn[1].cost || total > lim.max_total)
            abort();
    }
    sio_pending_clear(&conn[0], &lim);
    sio_pending_clear(&conn[1], &lim);
    if (total != 0) abort();
    return 0;
}
