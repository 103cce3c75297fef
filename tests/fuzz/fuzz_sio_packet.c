/* fuzz_sio_packet.c -- libFuzzer: Socket.IO packets, decode -> encode -> decode */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    sio_limits lim = {0};
    sio_packet p = {0}, q = {0};
    const char *why;
    if (sio_packet_decode(buf, size, &lim, &p, &why) == 0) {
        sio_placeholders_check(p.data, p.attachments);
        size_t len;
        char *enc = sio_packet_encode(&p, 8, &len);
        /* what we accept we can write, and read back the same */
        if (!enc || sio_packet_decode(enc + 8, len, &lim, &q, &why) != 0) abort();
        if (q.type != p.type || q.id != p.id || strcmp(q.nsp, p.nsp) != 0 ||
            q.attachments != p.attachments || !((!p.data && !q.data) || json_equal(p.data, q.data)))
            abort();
        free(enc);
        sio_packet_clear(&q);
        sio_packet_clear(&p);
    }
    free(buf);
    return 0;
}
