/* tail.h -- wakes the log tailer when any process writes the database */
#ifndef TAIL_H
#define TAIL_H

#include <libwebsockets.h>

/* The database is the bus: after every commit that grows the log, the
 * writer (any process, through sql/store.c) writes a byte to <db>-notify. The
 * tail watches that file with inotify, inside the lws event loop, and calls
 * fn, so an idle server sleeps and a message committed by another process is
 * delivered within milliseconds. (The WAL file itself is written before the
 * commit is visible to readers, so it is no signal.) A slow fallback poll
 * covers writers that do not notify, such as the sqlite3 shell. */
typedef struct tail tail;

/* Starts watching db_path's notify file. The vhost must list the protocol
 * TAIL_PROTOCOL (tail_lws_callback). fn(ud) runs in the service thread.
 * Returns NULL (and logs why) when inotify is unavailable. With db_path NULL
 * (a database server, no file to watch) only the poll runs, every
 * fallback_ms. */
tail *tail_new(struct lws_context *ctx, struct lws_vhost *vh, const char *db_path, void (*fn)(void *ud), void *ud,
               int fallback_ms);
/* Stops watching and frees. Accepts NULL. */
void tail_free(tail *t);

#define TAIL_PROTOCOL "chat-tail"
int tail_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

#endif
