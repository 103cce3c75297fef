/* fake_transport.h -- what the state-machine tests run sio and the chat on:
 * a fake transport (frames and closes recorded per connection) on the time
 * of fake_clock.h; no lws context, no socket (cmocka assertions; include
 * after cmocka.h) */
#ifndef FAKE_TRANSPORT_H
#define FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_clock.h"
#include "outbuf.h"
#include "sio.h"

#define FAKE_MAX_CONNS 8
#define FAKE_MAX_FRAMES 64

/* One transport connection, the tp given to sio_client_open(). */
typedef struct fake_conn {
    char peer[32];
    char sid[8];
    sio_client *client;
    char *frames[FAKE_MAX_FRAMES]; /* text frames as sent, binary ones as "bin:<bytes>" */
    size_t nframes;
    int close_status; /* 0 until closed */
    bool open;
} fake_conn;

static fake_conn fake_conns[FAKE_MAX_CONNS];

static inline int fake_send(void *tp, outbuf *o) {
    fake_conn *f = tp;
    if (f->close_status) return -1;
    assert_true(f->nframes < FAKE_MAX_FRAMES);
    const char *p = (const char *)outbuf_payload(o);
    char *s = malloc(o->len + 5);
    assert_non_null(s);
    size_t at = 0;
    if (o->binary) at = (size_t)sprintf(s, "bin:");
    memcpy(s + at, p, o->len);
    s[at + o->len] = 0;
    f->frames[f->nframes++] = s;
    return 0;
}

static inline void fake_close(void *tp, int ws_status, const char *reason) {
    (void)reason;
    fake_conn *f = tp;
    if (!f->close_status) f->close_status = ws_status;
}

/* Busy (no volatile frame) while a frame waits unread. */
static inline bool fake_can_send_volatile(const void *tp) {
    return ((const fake_conn *)tp)->nframes == 0;
}
static inline const char *fake_peer(const void *tp) {
    return ((const fake_conn *)tp)->peer;
}
static inline const char *fake_sid(const void *tp) {
    return ((const fake_conn *)tp)->sid;
}
static inline const char *fake_name(const void *tp) {
    (void)tp;
    return "fake";
}
static const sio_transport fake_transport = {fake_send, fake_close, fake_can_send_volatile,
                                             fake_peer, fake_sid,   fake_name};

/* Opens fake_conns[i] from address peer on srv. */
static inline void fake_open(sio_server *srv, int i, const char *peer) {
    fake_conn *f = &fake_conns[i];
    snprintf(f->peer, sizeof f->peer, "%s", peer);
    snprintf(f->sid, sizeof f->sid, "sid%d", i);
    f->client = sio_client_open(srv, f);
    assert_non_null(f->client);
    f->open = true;
}

/* The transport of f ends (sio_client_closed) with reason. */
static inline void fake_gone(fake_conn *f, const char *reason) {
    f->open = false;
    sio_client_closed(f->client, reason);
}

/* The oldest frame f has not read, or NULL; the caller frees it. */
static inline char *fake_pop_frame(fake_conn *f) {
    if (f->nframes == 0) return NULL;
    char *s = f->frames[0];
    memmove(f->frames, f->frames + 1, --f->nframes * sizeof *f->frames);
    return s;
}

/* Ends every open connection and drops the frames left. */
static inline void fake_conns_reset(void) {
    for (int i = 0; i < FAKE_MAX_CONNS; i++) {
        if (fake_conns[i].open) fake_gone(&fake_conns[i], "test over");
        while (fake_conns[i].nframes)
            free(fake_pop_frame(&fake_conns[i]));
    }
    memset(fake_conns, 0, sizeof fake_conns);
}

/* '*' matches any run of characters but '"' (random ids, times). */
static inline bool fake_glob(const char *pat, const char *s) {
    if (!*pat) return !*s;
    if (*pat == '*') {
        for (;; s++) {
            if (fake_glob(pat + 1, s)) return true;
            if (!*s || *s == '"') return false;
        }
    }
    return *pat == *s && fake_glob(pat + 1, s + 1);
}

#endif
