/* bus_local.c -- the bus between the processes of one machine: unix datagrams, inotify as backup */
#include "bus_backend.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How it works.
 *
 * Every listening process (chat-ws) binds a unix datagram socket named by its
 * pid in the directory "<db>-peers" (0700, ours). A publisher (chat-ws,
 * chat-fcgi) sends each event, without blocking, to every socket there but
 * its own; so a process alone sends nothing and never hears itself. A
 * datagram is one byte of kind and its body:
 *   'M' + a JSON array of messages [id, room_id, ns, room, user, text, ts,
 *       client_id|null] (then kind, target for an edit or a deletion), in
 *       log order: a notification (the receiver reads the log past its
 *       cursor; it never delivers what a datagram says);
 *   'W' (no body): messages were committed that the datagram could not
 *       carry: read the log from your cursor;
 *   'C' (no body): control events were committed;
 *   'E' + bytes: an ephemeral event.
 *
 * A datagram a receiver cannot take now (its queue is full: EAGAIN) is lost.
 * For an ephemeral event that is the contract (dropped for a slow peer). For
 * a committed message or control event, the sender then writes one byte to
 * "<db>-notify", which every listener watches with inotify: the lagging
 * receiver wakes at once and reads the store from its cursor. That costs a
 * disk write only when a receiver is already overloaded, never on the normal
 * path; and the fallback poll of bus.c covers even a failed notify write. The
 * same happens when the peers directory cannot be read (another user's).
 *
 * Datagrams are hostile: anyone who can write in the directory (this user)
 * can send anything; a receiver checks every byte it uses, drops what is too
 * long, and reads at most LOCAL_READ_BURST datagrams per wake-up. */

/* The largest datagram sent or taken: a batch of messages bigger than this is
 * split; one message bigger than this goes as a bare 'W'. */
#define LOCAL_DATAGRAM_MAX 65536
/* Datagrams read per wake-up, so a flood cannot hold the event loop. */
#define LOCAL_READ_BURST 64
/* Fields of a message on the wire. */
#define LOCAL_MESSAGE_FIELDS 8
/* The peers' names are read from the directory again when its mtime moves,
 * and at least this often (ms): a directory's mtime comes from a coarse
 * clock, so two changes within one tick can leave it equal. */
#define LOCAL_PEERS_RESCAN_MS 1000
/* A scan this close (ms) to the directory's last change may have raced a
 * second change in the same tick: the next send scans again. */
#define LOCAL_PEERS_SETTLE_MS 100
/* Peers cached at most; past it, every send reads the directory. */
#define LOCAL_PEERS_MAX 256

/* The other processes' socket names, as last read from the directory: a
 * publish costs one stat() instead of reading the directory, and nothing
 * more when a process is alone. */
typedef struct peer_cache {
    char names[LOCAL_PEERS_MAX][24];
    size_t n;
    bool valid, overflow;
    struct timespec mtime; /* the directory's when it was read */
    long long read_ms;     /* CLOCK_MONOTONIC ms of that read */
    bool unsettled;        /* read within LOCAL_PEERS_SETTLE_MS of a change */
} peer_cache;

typedef struct local_bus {
    bus base;
    int fd;                               /* our datagram socket; bound by listen */
    struct lws *sock_wsi;                 /* its lws connection once listening */
    bool bound;                           /* our socket file exists */
    char dir[sizeof(struct sockaddr_un)]; /* "<db>-peers" */
    char self[32];                        /* our socket's name in dir: the pid */
    char notify[4096];                    /* "<db>-notify" */
    int ino_fd;                           /* inotify watching notify; -1 */
    struct lws *ino_wsi;
    char *buf; /* LOCAL_DATAGRAM_MAX + 1 bytes: encoding and receiving */
    peer_cache *peers;
} local_bus;

static local_bus *local_of(bus *b) {
    return (local_bus *)b;
}

/* ---- sending ---------------------------------------------------------- */

/* Fills a with dir/name; -1 when it does not fit in sun_path. */
static int peer_addr(const local_bus *l, const char *name, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", l->dir, name);
    return n < 0 || (size_t)n >= sizeof a->sun_path ? -1 : 0;
}

/* A socket name is a pid: anything else in the directory is not a peer. */
static bool is_peer_name(const char *name) {
    if (!*name) return false;
    for (const char *c = name; *c; c++)
        if (*c < '0' || *c > '9') return false;
    return true;
}

/* The backup wake-up: one byte written to <db>-notify, which every listener
 * watches. */
static void write_notify(const local_bus *l) {
    int fd = open(l->notify, O_WRONLY | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0 || pwrite(fd, "+", 1, 0) != 1) {
        /* the listeners' fallback poll catches this one */
    }
    if (fd >= 0) close(fd);
}

static long long ms_of(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Brings the cache up to date with the directory. Returns 0, or -1 when it
 * cannot be read (the cache is then empty and invalid). */
static int peers_refresh(local_bus *l) {
    peer_cache *c = l->peers;
    struct stat sb;
    if (stat(l->dir, &sb)) {
        c->valid = false;
        c->n = 0;
        return errno == ENOENT ? 0 : -1; /* ENOENT: no listener ever ran */
    }
    long long now = ms_of(CLOCK_MONOTONIC);
    if (c->valid && !c->overflow && !c->unsettled && sb.st_mtim.tv_sec == c->mtime.tv_sec &&
        sb.st_mtim.tv_nsec == c->mtime.tv_nsec && now - c->read_ms < LOCAL_PEERS_RESCAN_MS)
        return 0;
    DIR *d = opendir(l->dir);
    c->valid = false;
    c->n = 0;
    if (!d) return errno == ENOENT ? 0 : -1;
    c->overflow = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_peer_name(e->d_name) || !strcmp(e->d_name, l->self) ||
            strlen(e->d_name) >= sizeof c->names[0])
            continue;
        if (c->n == LOCAL_PEERS_MAX) {
            c->overflow = true;
            break;
        }
        strcpy(c->names[c->n++], e->d_name);
    }
    closedir(d);
    long long changed_ms = (long long)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    c->unsettled = ms_of(CLOCK_REALTIME) - changed_ms < LOCAL_PEERS_SETTLE_MS;
    c->mtime = sb.st_mtim;
    c->read_ms = now;
    c->valid = true;
    return 0;
}

/* Sends data to every other bound socket in the directory. Returns 0 when
 * each took it (or there is none), -1 when some could not. The socket of a
 * dead process (nobody bound: ECONNREFUSED) is unlinked. */
static int send_all(local_bus *l, const char *data, size_t len) {
    if (l->fd < 0 || peers_refresh(l)) return -1;
    peer_cache *c = l->peers;
    int rc = 0;
    bool gone = false;
    for (size_t i = 0; i < c->n; i++) {
        struct sockaddr_un a;
        if (peer_addr(l, c->names[i], &a)) continue;
        if (sendto(l->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a,
                   sizeof a) == (ssize_t)len)
            continue;
        if (errno == ECONNREFUSED || errno == ENOENT) {
            unlink(a.sun_path); /* its process died */
            gone = true;
        } else {
            rc = -1; /* EAGAIN / ENOBUFS: a slow peer misses this one */
        }
    }
    if (gone) c->valid = false;
    return rc;
}

/* Sends a committed event; a lost one takes the backup path. */
static int send_committed(local_bus *l, const char *data, size_t len) {
    if (send_all(l, data, len) == 0) return 0;
    write_notify(l);
    return -1;
}

/* Appends m as [id, room_id, ns, room, user, text, ts, client_id] (and
 * kind, target for an edit or deletion) to l->buf
 * at *used (a leading ',' unless first). Returns -1 when it does not fit
 * (l->buf then unchanged up to *used). */
static int encode_message(local_bus *l, size_t *used, const store_message *m, bool first) {
    json_t *a = json_pack("[I,I,s,s,s,s,I,s?]", (json_int_t)m->id, (json_int_t)m->room_id,
                          m->ns ? m->ns : "", m->room ? m->room : "", m->user ? m->user : "",
                          m->text ? m->text : "", (json_int_t)m->ts, m->client_id);
    if (a && m->kind &&
        (json_array_append_new(a, json_integer(m->kind)) ||
         json_array_append_new(a, json_integer(m->target)))) {
        json_decref(a);
        a = NULL;
    }
    if (!a) return -1;
    size_t at = *used + (first ? 0 : 1);
    /* room for the closing ']' after it */
    size_t n = at < LOCAL_DATAGRAM_MAX
                   ? json_dumpb(a, l->buf + at, LOCAL_DATAGRAM_MAX - 1 - at, JSON_COMPACT)
                   : 0;
    json_decref(a);
    if (n == 0 || at + n > LOCAL_DATAGRAM_MAX - 1) return -1;
    if (!first) l->buf[*used] = ',';
    *used = at + n;
    return 0;
}

static int local_publish_messages(bus *b, const store_message *msgs, size_t n) {
    local_bus *l = local_of(b);
    int rc = 0;
    size_t i = 0;
    while (i < n) {
        size_t used = 2, start = i;
        memcpy(l->buf, "M[", 2);
        while (i < n && encode_message(l, &used, &msgs[i], i == start) == 0)
            i++;
        if (i == start) /* one message too big to carry: receivers read the log */
            return send_committed(l, "W", 1) | rc;
        l->buf[used++] = ']';
        rc |= send_committed(l, l->buf, used);
    }
    return rc;
}

static int local_publish_control(bus *b, int64_t control_id) {
    (void)control_id; /* receivers read the control log from their cursor */
    return send_committed(local_of(b), "C", 1);
}

static int local_publish_ephemeral(bus *b, const char *data, size_t len) {
    local_bus *l = local_of(b);
    l->buf[0] = 'E';
    memcpy(l->buf + 1, data, len); /* len <= BUS_EPHEMERAL_MAX: bus.c checked */
    return send_all(l, l->buf, len + 1);
}

/* ---- receiving -------------------------------------------------------- */

static const char *str_at(json_t *a, size_t i) {
    return json_string_value(json_array_get(a, i));
}

/* Fills m from a wire message; false when any field is malformed. */
static bool decode_message(json_t *a, store_message *m) {
    size_t fields = json_array_size(a); /* + kind and target for an edit or deletion */
    if (!json_is_array(a) || (fields != LOCAL_MESSAGE_FIELDS && fields != LOCAL_MESSAGE_FIELDS + 2))
        return false;
    json_t *cid = json_array_get(a, 7);
    *m = (store_message){.id = json_integer_value(json_array_get(a, 0)),
                         .room_id = json_integer_value(json_array_get(a, 1)),
                         .ns = str_at(a, 2),
                         .room = str_at(a, 3),
                         .user = str_at(a, 4),
                         .text = str_at(a, 5),
                         .ts = json_integer_value(json_array_get(a, 6)),
                         .client_id = json_string_value(cid)};
    if (fields > LOCAL_MESSAGE_FIELDS) {
        m->kind = (int)json_integer_value(json_array_get(a, LOCAL_MESSAGE_FIELDS));
        m->target = json_integer_value(json_array_get(a, LOCAL_MESSAGE_FIELDS + 1));
        if (m->kind < STORE_EVENT_EDIT || m->kind > STORE_EVENT_DELETE || m->target <= 0)
            return false;
    }
    return json_is_integer(json_array_get(a, 0)) && json_is_integer(json_array_get(a, 1)) &&
           json_is_integer(json_array_get(a, 6)) && m->id > 0 && m->room_id > 0 && m->ts >= 0 &&
           m->ns && m->room && m->user && m->text && (json_is_null(cid) || m->client_id);
}

/* Hands an 'M' body to the messages handler: each message in order, or one
 * NULL (read the log) when anything in it is malformed. */
static void receive_messages(local_bus *l, const char *body, size_t len) {
    json_t *list = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_array(list) && json_array_size(list) > 0;
    size_t i;
    json_t *a;
    store_message m;
    json_array_foreach(list, i, a) if (ok && !decode_message(a, &m)) ok = false;
    if (!ok) {
        l->base.h.messages(NULL, l->base.ud);
    } else {
        json_array_foreach(list, i, a) {
            decode_message(a, &m);
            l->base.h.messages(&m, l->base.ud);
        }
    }
    json_decref(list);
}

static void receive(local_bus *l, const char *d, size_t n) {
    const bus_handlers *h = &l->base.h;
    if (n == 0) return;
    switch (d[0]) {
    case 'M':
        if (h->messages) receive_messages(l, d + 1, n - 1);
        break;
    case 'W':
        if (h->messages) h->messages(NULL, l->base.ud);
        break;
    case 'C':
        if (h->control) h->control(l->base.ud);
        break;
    case 'E':
        if (h->ephemeral && n - 1 <= BUS_EPHEMERAL_MAX) h->ephemeral(d + 1, n - 1, l->base.ud);
        break;
    default: /* not ours: ignored */
        break;
    }
}

/* Reads what is queued, up to a burst; datagrams too long are dropped. */
static void drain_socket(local_bus *l) {
    for (int i = 0; i < LOCAL_READ_BURST; i++) {
        ssize_t n = recv(l->fd, l->buf, LOCAL_DATAGRAM_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) return;
        if ((size_t)n <= LOCAL_DATAGRAM_MAX) receive(l, l->buf, (size_t)n);
    }
}

/* Watches the notify file itself (created if missing), so that only its
 * writes wake us, not every write to the database next to it. */
static int watch_notify(local_bus *l) {
    int fd = open(l->notify, O_WRONLY | O_CREAT | O_CLOEXEC, 0660);
    if (fd >= 0) close(fd);
    return inotify_add_watch(l->ino_fd, l->notify, IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF) < 0
               ? -1
               : 0;
}

/* Drains the inotify queue: a write to the notify file means "read the store
 * from your cursor"; the file gone (removed by hand) is re-created and
 * watched again, and counts as a write. */
static void drain_inotify(local_bus *l) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool hit = false, lost = false;
    for (;;) {
        ssize_t n = read(l->ino_fd, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            hit = true;
            if (ev->mask & IN_IGNORED) lost = true;
            p += sizeof *ev + ev->len;
        }
    }
    if (lost && watch_notify(l))
        log_event(LOG_LEVEL_WARN, "bus: cannot watch the notify file again", "path", l->notify,
                  "error", strerror(errno), NULL);
    if (!hit) return;
    if (l->base.h.messages) l->base.h.messages(NULL, l->base.ud);
    if (l->base.h.control) l->base.h.control(l->base.ud);
}

static int local_lws_event(bus *b, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                           size_t len) {
    (void)in, (void)len;
    local_bus *l = local_of(b);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (wsi == l->sock_wsi) drain_socket(l);
        if (wsi == l->ino_wsi) drain_inotify(l);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        /* lws closed the descriptor with its wsi: forget both (publishing
         * then fails over to the notify file) */
        if (wsi == l->sock_wsi) {
            l->sock_wsi = NULL;
            l->fd = -1;
        }
        if (wsi == l->ino_wsi) {
            l->ino_wsi = NULL;
            l->ino_fd = -1;
        }
        return 0;
    default:
        return 0;
    }
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

static struct lws *adopt(local_bus *l, struct lws_vhost *vh, int fd) {
    return l->base.loop->adopt(vh, fd, l);
}

/* Binds our socket in the peers directory and adopts it; NULL, or why not. */
static const char *bind_socket(local_bus *l, struct lws_vhost *vh) {
    struct sockaddr_un a;
    snprintf(l->self, sizeof l->self, "%ld", (long)getpid());
    if (peer_addr(l, l->self, &a)) return "path too long for a unix socket";
    if (make_dir(l->dir)) return "cannot make the peers directory";
    unlink(a.sun_path); /* a dead process of the same pid */
    if (bind(l->fd, (struct sockaddr *)&a, sizeof a)) return "cannot bind the socket";
    l->bound = true;
    if (!(l->sock_wsi = adopt(l, vh, l->fd))) return "cannot adopt the socket";
    return NULL;
}

/* Binds our socket and watches the notify file. Either may fail alone: the
 * other still works, and the fallback poll covers the rest. */
static int local_listen(bus *b, struct lws_vhost *vh) {
    local_bus *l = local_of(b);
    int rc = 0;
    const char *why = bind_socket(l, vh);
    if (why) {
        log_event(LOG_LEVEL_WARN, "bus: no datagrams: typing stays here, messages wait for a poll",
                  "path", l->dir, "reason", why, "error", strerror(errno), NULL);
        rc = -1;
    }
    l->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (l->ino_fd < 0 || watch_notify(l) || !(l->ino_wsi = adopt(l, vh, l->ino_fd))) {
        log_event(LOG_LEVEL_WARN, "bus: cannot watch the notify file", "path", l->notify, "error",
                  strerror(errno), NULL);
        if (l->ino_fd >= 0) close(l->ino_fd);
        l->ino_fd = -1;
        rc = -1;
    }
    return rc;
}

/* ---- lifecycle -------------------------------------------------------- */

static bus *local_open(const char *db, const bus_options *opt, char *err, size_t errlen) {
    (void)opt; /* the db path names this bus */
    local_bus *l = calloc(1, sizeof *l);
    if (!l || !(l->buf = malloc(LOCAL_DATAGRAM_MAX + 1)) ||
        !(l->peers = calloc(1, sizeof *l->peers))) {
        snprintf(err, errlen, "bus: out of memory");
        goto fail;
    }
    l->ino_fd = -1;
    int n = snprintf(l->dir, sizeof l->dir, "%s-peers", db);
    int m = snprintf(l->notify, sizeof l->notify, "%s-notify", db);
    if (n < 0 || (size_t)n >= sizeof l->dir || m < 0 || (size_t)m >= sizeof l->notify) {
        snprintf(err, errlen, "bus: database path too long for a unix socket");
        goto fail;
    }
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        snprintf(err, errlen, "bus: socket: %s", strerror(errno));
        goto fail;
    }
    return &l->base;
fail:
    if (l) free(l->buf), free(l->peers);
    free(l);
    return NULL;
}

/* Closes a descriptor we own: through lws when it adopted it (the close
 * then runs on the next service), else at once. */
static void release(local_bus *l, struct lws *wsi, int fd) {
    if (wsi) {
        l->base.loop->release(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT);
    } else if (fd >= 0) {
        close(fd);
    }
}

static void local_close(bus *b) {
    local_bus *l = local_of(b);
    struct sockaddr_un a;
    if (l->bound && !peer_addr(l, l->self, &a)) unlink(a.sun_path);
    release(l, l->sock_wsi, l->fd);
    release(l, l->ino_wsi, l->ino_fd);
    free(l->buf);
    free(l->peers);
    free(l);
}

static bool local_connected(const bus *b) {
    (void)b;
    return true;
}

const bus_ops bus_local_ops = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .publish_messages = local_publish_messages,
    .publish_control = local_publish_control,
    .publish_ephemeral = local_publish_ephemeral,
    .listen = local_listen,
    .lws_event = local_lws_event,
    .connected = local_connected,
};
