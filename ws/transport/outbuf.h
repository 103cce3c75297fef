/* outbuf.h -- reference-counted, pre-encoded frames shared by many receivers */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

/* One frame to write, encoded once and queued on every receiver with a
 * reference each. buf has LWS_PRE bytes of headroom before the payload, which
 * lws_write() uses for the frame header (rewritten for each receiver: writes
 * are synchronous in the one service thread, so sharing is safe). */
typedef struct outbuf {
    int refs;     /* queue entries and holders; freed at 0 */
    bool binary;  /* a WebSocket binary frame, else text */
    size_t len;   /* payload bytes, at buf + LWS_PRE */
    char *buf;    /* malloc'd, LWS_PRE + len (+ NUL) bytes */
} outbuf;

/* Takes ownership of buf (LWS_PRE headroom + len payload bytes). Returns a
 * frame with one reference, or NULL (buf freed) when out of memory. */
outbuf *outbuf_wrap(char *buf, size_t len, bool binary);

/* A new frame whose payload is a copy of data[0..len). NULL when out of memory. */
outbuf *outbuf_copy(const void *data, size_t len, bool binary);

/* The payload, where lws_write() wants it. */
static inline unsigned char *outbuf_payload(outbuf *o) {
    extern const size_t outbuf_headroom;
    return (unsigned char *)o->buf + outbuf_headroom;
}

outbuf *outbuf_ref(outbuf *o);
/* Drops one reference; frees at zero. Accepts NULL. */
void outbuf_unref(outbuf *o);

#endif
