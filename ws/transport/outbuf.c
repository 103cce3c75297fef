/* outbuf.c -- reference-counted, pre-encoded frames shared by many receivers */
#include "outbuf.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

const size_t outbuf_headroom = LWS_PRE;

outbuf *outbuf_wrap(char *buf, size_t len, bool binary) {
    outbuf *o = malloc(sizeof *o);
    if (!o) {
        free(buf);
        return NULL;
    }
    o->refs = 1;
    o->binary = binary;
    o->len = len;
    o->buf = buf;
    return o;
}

outbuf *outbuf_copy(const void *data, size_t len, bool binary) {
    char *buf = malloc(LWS_PRE + len + 1);
    if (!buf) return NULL;
    memcpy(buf + LWS_PRE, data, len);
    buf[LWS_PRE + len] = '\0';
    return outbuf_wrap(buf, len, binary);
}

outbuf *outbuf_ref(outbuf *o) {
    o->refs++;
    return o;
}

void outbuf_unref(outbuf *o) {
    if (o && --o->refs == 0) {
        free(o->buf);
        free(o);
    }
}
