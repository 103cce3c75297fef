/* fuzz_eio_packet.c -- libFuzzer: Engine.IO frames and polling payloads */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* an exact-size heap copy, so a read past the end is caught */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    eio_packet p;
    eio_packet_decode(buf, size, false, &p);
    eio_packet_decode(buf, size, true, &p);
    eio_packet parts[64];
    size_t n;
    char *scratch = malloc(size + 1);
    if (scratch && eio_payload_decode(buf, size, parts, 64, &n, scratch) == 0) {
        for (size_t i = 0; i < n; i++)
            if (parts[i].len && !parts[i].data) abort();
    }
    unsigned char out[96];
    if (size <= 64) {
        char enc[96];
        size_t len = eio_base64_encode(data, size, enc);
        long back = eio_base64_decode(enc, len, out);
        if (back != (long)size || memcmp(out, data, size) != 0) abort(); /* round trip */
    }
    free(scratch);
    free(buf);
    return 0;
}
