/* peers.c -- ephemeral datagrams between the ws processes of one database */
#include "peers.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Datagrams read per wake-up, so a flood cannot hold the event loop. */
#define PEERS_READ_BURST 64

struct peers {
    int fd;                               /* our bound datagram socket */
    struct lws *wsi;                      /* its adopted lws connection */
    char dir[sizeof(struct sockaddr_un)]; /* "<db>-peers" */
    char self[32];                        /* our socket's name in dir: the pid */
    bool bound;                           /* our socket file exists */
    peers_fn fn;
    void *ud;
};

/* Fills a with dir/name; -1 when it does not fit in sun_path. */
static int peer_addr(const peers *p, const char *name, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", p->dir, name);
    return n < 0 || (size_t)n >= sizeof a->sun_path ? -1 : 0;
}

/* Creates the directory, or accepts an existing one that is ours and
 * private: anyone who can write there can send us events. */
static int make_dir(const char *dir) {
    if (mkdir(dir, 0700) && errno != EEXIST) return -1;
    struct stat sb;
    if (lstat(dir, &sb)) return -1;
    if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

peers *peers_new(struct lws_vhost *vh, const char *db_path, peers_fn fn, void *ud) {
    peers *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->fd = -1;
    p->fn = fn;
    p->ud = ud;
    const char *why = "path too long for a unix socket";
    struct sockaddr_un a;
    int n = snprintf(p->dir, sizeof p->dir, "%s-peers", db_path);
    snprintf(p->self, sizeof p->self, "%ld", (long)getpid());
    if (n < 0 || (size_t)n >= sizeof p->dir || peer_addr(p, p->self, &a)) goto fail;
    why = "cannot make the directory";
    if (make_dir(p->dir)) goto fail;
    why = "cannot bind the socket";
    p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) goto fail;
    unlink(a.sun_path); /* a dead process of the same pid */
    if (bind(p->fd, (struct sockaddr *)&a, sizeof a)) goto fail;
    p->bound = true;
    why = "could not adopt the socket";
    lws_sock_file_fd_type fd = {.filefd = p->fd};
    p->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, PEERS_PROTOCOL, NULL);
    if (!p->wsi) goto fail;
    lws_set_opaque_user_data(p->wsi, p);
    return p;
fail:
    log_event(LOG_LEVEL_WARN, "peers: no ephemeral channel, typing stays on this process", "path",
              p->dir, "reason", why, "error", strerror(errno), NULL);
    if (p->bound) unlink(a.sun_path);
    if (p->fd >= 0) close(p->fd);
    free(p);
    return NULL;
}

void peers_free(peers *p) {
    if (!p) return;
    struct sockaddr_un a;
    if (p->bound && !peer_addr(p, p->self, &a)) unlink(a.sun_path);
    if (p->wsi) lws_set_opaque_user_data(p->wsi, NULL);
    free(p);
}

/* A socket name is a pid: anything else in the directory is not a peer. */
static bool is_peer_name(const char *name) {
    if (!*name) return false;
    for (const char *c = name; *c; c++)
        if (*c < '0' || *c > '9') return false;
    return true;
}

int peers_send(peers *p, const char *data, size_t len) {
    if (!p || len > PEERS_MAX_PAYLOAD) return 0;
    DIR *d = opendir(p->dir);
    if (!d) return 0;
    int sent = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct sockaddr_un a;
        if (!is_peer_name(e->d_name) || !strcmp(e->d_name, p->self) || peer_addr(p, e->d_name, &a))
            continue;
        if (sendto(p->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a,
                   sizeof a) == (ssize_t)len) {
            sent++;
        } else if (errno == ECONNREFUSED || errno == ENOENT) {
            unlink(a.sun_path); /* nobody is bound: its process died */
        }
        /* EAGAIN / ENOBUFS: the peer is slow and misses this one */
    }
    closedir(d);
    return sent;
}

/* Reads what is queued, up to a burst; datagrams too long are dropped. */
static void drain(peers *p) {
    char buf[PEERS_MAX_PAYLOAD + 1];
    for (int i = 0; i < PEERS_READ_BURST; i++) {
        ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) return;
        if ((size_t)n <= PEERS_MAX_PAYLOAD) p->fn(buf, (size_t)n, p->ud);
    }
}

int peers_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
    (void)user, (void)in, (void)len;
    peers *p = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (p) drain(p);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (p) p->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}
