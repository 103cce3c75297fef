/* tail.c -- wakes the log tailer when any process writes the database */
#include "tail.h"
#include "log.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct tail {
    int fd; /* inotify */
    struct lws *wsi;
    char notify_name[256]; /* basename of <db>-notify, which writers touch after a commit */
    void (*fn)(void *);
    void *ud;
    struct lws_context *ctx;
    lws_sorted_usec_list_t poll;
    int fallback_ms;
};

static void fallback(lws_sorted_usec_list_t *sul) {
    tail *t = lws_container_of(sul, tail, poll);
    t->fn(t->ud);
    lws_sul_schedule(t->ctx, 0, &t->poll, fallback, (lws_usec_t)t->fallback_ms * LWS_US_PER_MS);
}

tail *tail_new(struct lws_context *ctx, struct lws_vhost *vh, const char *db_path,
               void (*fn)(void *), void *ud, int fallback_ms) {
    tail *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->fn = fn;
    t->ud = ud;
    t->ctx = ctx;
    t->fallback_ms = fallback_ms > 0 ? fallback_ms : 2000;
    t->fd = -1;
    if (!db_path) {
        lws_sul_schedule(t->ctx, 0, &t->poll, fallback, (lws_usec_t)t->fallback_ms * LWS_US_PER_MS);
        return t;
    }
    char dir[4096], base[4096];
    snprintf(dir, sizeof dir, "%s", db_path);
    snprintf(base, sizeof base, "%s", db_path);
    snprintf(t->notify_name, sizeof t->notify_name, "%s-notify", basename(base));
    t->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    /* The directory, not the file: it may be created after we start. */
    if (t->fd < 0 || inotify_add_watch(t->fd, dirname(dir), IN_MODIFY | IN_CREATE) < 0) {
        log_event(LOG_LEVEL_ERROR, "tail: inotify failed", "path", db_path, "error",
                  strerror(errno), NULL);
        goto fail;
    }
    lws_sock_file_fd_type fd = {.filefd = t->fd};
    t->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, TAIL_PROTOCOL, NULL);
    if (!t->wsi) {
        log_event(LOG_LEVEL_ERROR, "tail: could not adopt the inotify descriptor", NULL);
        goto fail;
    }
    /* The raw-file callback finds the tail in its wsi's opaque user data
     * (adopting runs no RX callback before this line: that comes from the loop). */
    lws_set_opaque_user_data(t->wsi, t);
    lws_sul_schedule(t->ctx, 0, &t->poll, fallback, (lws_usec_t)t->fallback_ms * LWS_US_PER_MS);
    return t;
fail:
    if (t->fd >= 0) close(t->fd);
    free(t);
    return NULL;
}

void tail_free(tail *t) {
    if (!t) return;
    lws_sul_cancel(&t->poll);
    /* The descriptor is closed by lws with its wsi, later: it must not find t. */
    if (t->wsi) lws_set_opaque_user_data(t->wsi, NULL);
    free(t);
}

/* Drains the inotify queue; true when the notify file was among the changes. */
static bool drain(tail *t) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool hit = false;
    for (;;) {
        ssize_t n = read(t->fd, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && strcmp(ev->name, t->notify_name) == 0) hit = true;
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}

int tail_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len) {
    (void)user, (void)in, (void)len;
    tail *t = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (t && drain(t)) t->fn(t->ud);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (t && t->wsi == wsi) t->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}
