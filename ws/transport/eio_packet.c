/* eio_packet.c -- Engine.IO v4 framing: packets, polling payloads, base64, ids */
#include "eio_packet.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define EIO_RECORD_SEP 0x1e

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 64 URL-safe characters, so one random byte & 63 picks one uniformly. */
static const char id_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

int eio_packet_decode(const char *buf, size_t len, bool binary_frame, eio_packet *out) {
    if (binary_frame) {
        out->type = EIO_MESSAGE;
        out->data = buf;
        out->len = len;
        out->binary = true;
        return 0;
    }
    if (len == 0 || buf[0] < '0' || buf[0] > '6') return -1;
    out->type = (eio_type)(buf[0] - '0');
    out->data = buf + 1;
    out->len = len - 1;
    out->binary = false;
    return 0;
}

int eio_open_json(char *buf, size_t cap, const char *sid, bool offer_websocket,
                  int ping_interval_ms, int ping_timeout_ms, long max_payload) {
    /* sid goes into a JSON string unescaped: it must be one of ours. */
    assert(strspn(sid, id_alphabet) == strlen(sid));
    int n = snprintf(buf, cap,
                     "{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,"
                     "\"pingTimeout\":%d,\"maxPayload\":%ld}",
                     sid, offer_websocket ? "\"websocket\"" : "", ping_interval_ms, ping_timeout_ms,
                     max_payload);
    if (n < 0 || (size_t)n >= cap) return -1;
    return n;
}

void eio_random_id(char sid[EIO_SID_LEN + 1]) {
    unsigned char rnd[EIO_SID_LEN];
    size_t got = 0;

    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* A guessable session id is worse than no server. */
            perror("eio_random_id: getrandom");
            abort();
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < EIO_SID_LEN; i++)
        sid[i] = id_alphabet[rnd[i] & 63];
    sid[EIO_SID_LEN] = '\0';
}

int eio_payload_decode(const char *buf, size_t len, eio_packet *out, size_t max, size_t *n,
                       char *scratch) {
    size_t count = 0;
    size_t used = 0; /* bytes of scratch already handed out */
    size_t pos = 0;

    *n = 0;
    for (;;) {
        const char *part = buf + pos;
        const char *sep = memchr(part, EIO_RECORD_SEP, len - pos);
        size_t plen = sep ? (size_t)(sep - part) : len - pos;

        if (count == max) return -1;
        if (plen > 0 && part[0] == 'b') {
            /* Decoded size <= 3/4 of plen, and the parts' lengths sum to at
             * most len, so scratch (len bytes) always has room. */
            if (scratch == NULL) return -1;
            assert(used + (plen - 1) / 4 * 3 <= len);
            long dlen = eio_base64_decode(part + 1, plen - 1, (unsigned char *)scratch + used);
            if (dlen < 0) return -1;
            out[count].type = EIO_MESSAGE;
            out[count].data = scratch + used;
            out[count].len = (size_t)dlen;
            out[count].binary = true;
            used += (size_t)dlen;
        } else if (eio_packet_decode(part, plen, false, &out[count]) < 0) {
            return -1;
        }
        count++;
        if (sep == NULL) break;
        pos += plen + 1;
    }
    *n = count;
    return 0;
}

size_t eio_base64_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0;
    size_t i = 0;

    for (; len - i >= 3; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long eio_base64_decode(const char *in, size_t len, unsigned char *out) {
    size_t o = 0;

    if (len % 4 != 0) return -1;
    for (size_t i = 0; i < len; i += 4) {
        const unsigned char *q = (const unsigned char *)in + i;
        bool last = i + 4 == len;
        int pad = 0;
        int v[4];

        if (last && q[3] == '=') pad = q[2] == '=' ? 2 : 1;
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = b64_value(q[k]);
            if (v[k] < 0) return -1;
        }
        unsigned long bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12;
        if (pad < 2) bits |= (unsigned long)v[2] << 6;
        if (pad < 1) bits |= (unsigned long)v[3];
        /* Canonical only: the bits padding drops must be zero. */
        if ((pad == 2 && (bits & 0xffff) != 0) || (pad == 1 && (bits & 0xff) != 0)) return -1;
        out[o++] = (unsigned char)(bits >> 16);
        if (pad < 2) out[o++] = (unsigned char)(bits >> 8);
        if (pad < 1) out[o++] = (unsigned char)bits;
    }
    return (long)o;
}
