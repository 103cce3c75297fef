/* loadgen.c -- load generator for the chat benchmarks: Socket.IO v5 or raw WebSocket clients over
 * epoll */
/*
 * One process, one thread, non-blocking sockets on one epoll set. Its own
 * minimal WebSocket client (masked text frames, ping/pong/close) under either
 *   --mode sio  Engine.IO v4 / Socket.IO v5: open packet, "2" -> "3", CONNECT
 *               (auth {name?, pid?, offset?}), `join` with ack, `chat message`
 *               with ack, broadcasts parsed for the latency stamp and offset;
 *   --mode raw  plain WebSocket subscribers (nchan: one channel per room),
 *               messages published by HTTP POST on keep-alive connections.
 * A message's text is the sender's CLOCK_MONOTONIC time in ns; latency is
 * receive time minus that stamp (sender and receivers are this process).
 *
 * Phases, in order, each optional: setup (create the rooms), connect + join,
 * hold (idle), publish steps at given rates (or a pipelined write test), a
 * reconnect storm. Each phase prints a human line ("# ...") and a JSON line
 * (also appended to --json FILE). Server processes named with --server are
 * sampled from /proc for CPU time and RSS around each phase.
 *
 * Build: cc -O2 -g -Wall -Wextra -o loadgen loadgen.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- time, random ------------------------------------------------------ */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static double rnd01(void) {
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ---- latency histogram: log-linear, 64 sub-buckets per power of two ----- */

#define H_SUB_BITS 6
#define H_SUB (1 << H_SUB_BITS)
#define H_BUCKETS (H_SUB * 60)

typedef struct hist {
    uint64_t n, sum, max;
    uint64_t b[H_BUCKETS];
} hist;

static int h_index(uint64_t v) {
    if (v < H_SUB) return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (H_SUB_BITS - 1);
    int idx = shift * (H_SUB / 2) + (int)(v >> shift);
    return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_value(int idx) { /* the upper bound of the bucket */
    if (idx < H_SUB) return (uint64_t)idx;
    int shift = idx / (H_SUB / 2) - 1;
    uint64_t m = (uint64_t)(idx % (H_SUB / 2) + H_SUB / 2);
    return ((m + 1) << shift) - 1;
}

static void h_add(hist *h, int64_t v) {
    if (v < 0) v = 0;
    h->n++;
    h->sum += (uint64_t)v;
    if ((uint64_t)v > h->max) h->max = (uint64_t)v;
    h->b[h_index((uint64_t)v)]++;
}

static double h_pct_ms(const hist *h, double p) {
    if (!h->n) return -1;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->n), seen = 0;
    if (want < 1) want = 1;
    for (int i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t v = h_value(i);
            return (double)(v < h->max ? v : h->max) / 1e6;
        }
    }
    return (double)h->max / 1e6;
}

/* ---- server processes from /proc ---------------------------------------- */

typedef struct server {
    char label[32];
    int pid;        /* fixed pid, or 0 when read from file */
    char file[512]; /* pid file, re-read at each sample */
} server;

typedef struct srv_sample {
    double cpu_s; /* utime + stime */
    long rss_kb;
    int pid;
} srv_sample;

#define MAX_SERVERS 8
static server servers[MAX_SERVERS];
static int nservers;

static int server_pid(const server *s) {
    if (s->pid) return s->pid;
    FILE *f = fopen(s->file, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1) pid = 0;
        fclose(f);
    }
    return pid;
}

static srv_sample sample_server(const server *s) {
    srv_sample r = {-1, -1, server_pid(s)};
    if (r.pid <= 0) return r;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", r.pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        char *p = strrchr(buf, ')'); /* comm may hold spaces */
        unsigned long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            r.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    snprintf(path, sizeof path, "/proc/%d/status", r.pid);
    f = fopen(path, "r");
    if (f) {
        while (fgets(buf, sizeof buf, f))
            if (strncmp(buf, "VmRSS:", 6) == 0) r.rss_kb = strtol(buf + 6, NULL, 10);
        fclose(f);
    }
    return r;
}

typedef struct snapshot {
    int64_t t;
    srv_sample s[MAX_SERVERS];
    double self_cpu;
    double all_cpu;   /* user + nice + system of the whole machine, s */
    double steal_cpu; /* taken by the hypervisor, s */
} snapshot;

/* The machine's CPU time from /proc/stat, to tell how busy other processes were. */
static void machine_cpu(double *all, double *steal) {
    *all = *steal = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    unsigned long long u = 0, n = 0, sy = 0, id = 0, io = 0, irq = 0, si = 0, st = 0;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &sy, &id, &io, &irq, &si,
               &st) == 8) {
        double hz = (double)sysconf(_SC_CLK_TCK);
        *all = (double)(u + n + sy) / hz;
        *steal = (double)st / hz;
    }
    fclose(f);
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static snapshot snap(void) {
    snapshot sn;
    sn.t = now_ns();
    for (int i = 0; i < nservers; i++)
        sn.s[i] = sample_server(&servers[i]);
    sn.self_cpu = self_cpu();
    machine_cpu(&sn.all_cpu, &sn.steal_cpu);
    return sn;
}

/* ---- options ----------------------------------------------------------- */

enum { MODE_SIO, MODE_RAW };
enum { STORM_NONE, STORM_KILL, STORM_DROP };

static struct {
    const char *target, *scenario, *json_path, *name, *mark_path;
    int mode;
    int port;
    const char *path, *pub_path, *ns_prefix;
    int conns, namespaces, rooms_per_ns, concurrency, src_ips, http_pubs;
    double connect_timeout, hold, step, drain, half, keepup_p99_ms, storm_timeout;
    double refine_pct; /* bisect between the best and the first failing rate to this */
    int publishers;    /* -1: all */
    double rates[64];
    int nrates;
    int pipeline;
    int storm;
    const char *kill_pid_file;
    bool recover, no_create, stop_on_fail;
    int reconnect_first_ms, reconnect_max_ms;
    int text_pad;
} opt = {
    .target = "target",
    .scenario = "scenario",
    .mode = MODE_SIO,
    .port = 0,
    .ns_prefix = "/bench-",
    .conns = 100,
    .namespaces = 0,
    .rooms_per_ns = 1,
    .concurrency = 256,
    .src_ips = 16,
    .http_pubs = 4,
    .connect_timeout = 180,
    .step = 3,
    .drain = 3,
    .keepup_p99_ms = 100,
    .storm_timeout = 120,
    .publishers = 0,
    .stop_on_fail = true,
    .reconnect_first_ms = 1000,
    .reconnect_max_ms = 2000,
};

/* ---- connections --------------------------------------------------------- */

enum {
    ST_IDLE,       /* not started, or waiting to reconnect (due_at) */
    ST_CONNECTING, /* TCP connect in progress */
    ST_HS,         /* WebSocket upgrade sent, reading the 101 */
    ST_EIO_OPEN,   /* sio: waiting for the Engine.IO open packet */
    ST_SIO_CONN,   /* sio: CONNECT sent, waiting for 40 */
    ST_JOIN,       /* sio: join sent, waiting for its ack */
    ST_READY,      /* joined (raw: subscribed) */
    ST_DONE,       /* setup conn finished, or given up */
};
enum { ROLE_CLIENT, ROLE_SETUP, ROLE_HTTP };

typedef struct ackslot {
    uint32_t id;
    int64_t t;
} ackslot;

typedef struct conn {
    int fd;
    uint8_t state, role;
    bool want_out;
    bool ever_ready; /* reached READY once: a later close is a drop */
    int idx;         /* index among clients, or among setup / http conns */
    int ns, room;    /* namespace index, global room index */
    char *rbuf;      /* unparsed input kept between reads */
    size_t rlen, rcap;
    char *wbuf; /* output the socket did not take yet */
    size_t wlen, woff, wcap;
    char *msg; /* a fragmented WebSocket message being gathered */
    size_t mlen, mcap;
    uint8_t msg_op;
    uint32_t next_ack;
    uint32_t join_ack;
    uint32_t outstanding;
    ackslot *slots; /* send times of unanswered acks, by id & (nslots - 1) */
    uint32_t nslots;
    int64_t due_at; /* ST_IDLE: when to (re)connect; else a deadline */
    int attempts;
    int setup_left; /* ROLE_SETUP: rooms still to create */
    char pid[40], offset[64];
    bool recovered;
} conn;

static int ep;
static conn *clients, *setups, *https;
static int nsetups, nhttps;
static int *members; /* per global room: READY clients in it */
static int nrooms_total;
static char rx_scratch[1 << 16];

static struct {
    uint64_t sent, acked, ack_err, delivered, expected, other_events, errors, conn_fail, drops,
        proto_err;
    hist lat, ack_lat;
} st;

static int ready_count, inflight;
static bool storm_active;
static char last_error[200];

static void note_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static void room_name(int room, char *buf, size_t cap) {
    int r = room % opt.rooms_per_ns;
    if (opt.rooms_per_ns == 1 && opt.mode == MODE_SIO)
        snprintf(buf, cap, "general");
    else if (opt.mode == MODE_RAW)
        snprintf(buf, cap, "n%d-r%d", room / opt.rooms_per_ns, r);
    else
        snprintf(buf, cap, "r-%d", r);
}

/* The namespace prefix of a Socket.IO packet: "" for "/", else "/name,". */
static void ns_prefix(int ns, char *buf, size_t cap) {
    if (opt.namespaces <= 0)
        buf[0] = 0;
    else
        snprintf(buf, cap, "%s%d,", opt.ns_prefix, ns);
}

static void set_events(conn *c) {
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(conn *c, bool failed);

static void buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) die("out of memory");
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* Writes what the socket takes, keeps the rest. Returns -1 when closed. */
static int conn_write(conn *c, const char *data, size_t n) {
    if (c->fd < 0) return -1;
    if (c->wlen == c->woff) {
        c->wlen = c->woff = 0;
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c, true);
                return -1;
            }
            w = 0;
        }
        data += w;
        n -= (size_t)w;
        if (!n) return 0;
    }
    buf_append(&c->wbuf, &c->wlen, &c->wcap, data, n);
    if (!c->want_out) {
        c->want_out = true;
        set_events(c);
    }
    return 0;
}

static void flush_out(conn *c) {
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(c, true);
            return;
        }
        c->woff += (size_t)w;
    }
    c->wlen = c->woff = 0;
    if (c->wcap > 65536) {
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
    c->want_out = false;
    set_events(c);
}

/* Sends one masked WebSocket frame. */
static int ws_send(conn *c, int opcode, const char *data, size_t n) {
    char stackbuf[4096];
    size_t hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
    size_t total = hl + 4 + n;
    char *f = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (!f) die("out of memory");
    unsigned char *u = (unsigned char *)f;
    u[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        u[1] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        u[1] = 0x80 | 126;
        u[2] = (unsigned char)(n >> 8);
        u[3] = (unsigned char)n;
    } else {
        u[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            u[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    uint32_t key = (uint32_t)rnd();
    unsigned char *k = u + hl, *p = k + 4;
    memcpy(k, &key, 4);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)data[i] ^ k[i & 3];
    int rc = conn_write(c, f, total);
    if (f != stackbuf) free(f);
    return rc;
}

static int ws_text(conn *c, const char *s, size_t n) {
    return ws_send(c, 1, s, n);
}

static int ws_printf(conn *c, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) die("frame too long");
    return ws_text(c, buf, (size_t)n);
}

/* ---- connecting ---------------------------------------------------------- */

static const char *client_path(const conn *c, char *buf, size_t cap) {
    if (opt.mode == MODE_SIO) return opt.path;
    char room[64];
    room_name(c->room, room, sizeof room);
    snprintf(buf, cap, opt.path, room);
    return buf;
}

static int open_socket(conn *c, int src_index) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error("socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(src_index % opt.src_ips));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        note_error("bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        note_error("connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    return 0;
}

static void schedule_retry(conn *c) {
    c->state = ST_IDLE;
    int base = opt.reconnect_first_ms / 4;
    if (base < 50) base = 50;
    double d = (double)base * (double)(1 << (c->attempts < 6 ? c->attempts : 6));
    if (d > opt.reconnect_max_ms) d = opt.reconnect_max_ms;
    d *= 0.5 + rnd01();
    c->due_at = now_ns() + (int64_t)(d * 1e6);
}

static void start_conn(conn *c) {
    c->rlen = c->wlen = c->woff = c->mlen = 0;
    c->outstanding = 0;
    c->attempts++;
    if (open_socket(c, c->role == ROLE_CLIENT ? c->idx : c->idx + 7) < 0) {
        st.conn_fail++;
        if (c->role == ROLE_CLIENT && (storm_active || c->attempts < 5))
            schedule_retry(c);
        else
            c->state = ST_DONE;
        return;
    }
    c->state = ST_CONNECTING;
    c->due_at = now_ns() + 15000000000LL; /* handshake deadline */
    if (c->role == ROLE_CLIENT || c->role == ROLE_SETUP) inflight++;
}

static void send_upgrade(conn *c) {
    char path[256], req[1024];
    const char *p = c->role == ROLE_SETUP ? opt.path : client_path(c, path, sizeof path);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     p, opt.port);
    c->state = ST_HS;
    conn_write(c, req, (size_t)n);
}

static void became_ready(conn *c) {
    c->state = ST_READY;
    c->ever_ready = true;
    c->attempts = 0;
    ready_count++;
    inflight--;
    members[c->room]++;
}

static void conn_close(conn *c, bool failed) {
    if (c->fd < 0) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->want_out = false;
    c->rlen = c->wlen = c->woff = c->mlen = 0;
    if (c->role == ROLE_HTTP) { /* reconnect it soon; what it had in flight is lost */
        if (c->outstanding) {
            st.ack_err += c->outstanding;
            note_error("publisher connection closed with %u requests unanswered", c->outstanding);
        }
        if (failed) st.errors++;
        c->outstanding = 0;
        c->state = ST_IDLE;
        c->due_at = now_ns() + 10000000LL;
        return;
    }
    if (c->state == ST_READY) {
        ready_count--;
        members[c->room]--;
        if (c->role == ROLE_CLIENT) st.drops++;
    } else if (c->state != ST_IDLE && c->state != ST_DONE) {
        inflight--;
        if (failed) st.conn_fail++;
    }
    if (c->role == ROLE_SETUP) {
        c->state = ST_DONE;
        return;
    }
    if (storm_active && c->role == ROLE_CLIENT) {
        c->state = ST_IDLE;
        if (c->ever_ready && c->attempts == 0) /* first try after a drop: spread out */
            c->due_at = now_ns() + (int64_t)(rnd01() * opt.reconnect_first_ms * 1e6);
        else
            schedule_retry(c);
        return;
    }
    c->state = ST_DONE;
}

/* ---- publishing ---------------------------------------------------------- */

static void slot_put(conn *c, uint32_t id, int64_t t) {
    if (!c->slots) {
        uint32_t n = 16;
        while (n < (uint32_t)opt.pipeline * 2)
            n *= 2;
        c->slots = calloc(n, sizeof *c->slots);
        if (!c->slots) die("out of memory");
        c->nslots = n;
    }
    c->slots[id & (c->nslots - 1)] = (ackslot){id, t};
}

/* Publishes one stamped message from client c to its room. */
static int publish_sio(conn *c) {
    char ns[64], room[64], pad[1024] = "";
    ns_prefix(c->ns, ns, sizeof ns);
    room_name(c->room, room, sizeof room);
    if (opt.text_pad > 0) {
        int n = opt.text_pad < (int)sizeof pad - 1 ? opt.text_pad : (int)sizeof pad - 1;
        memset(pad, 'x', (size_t)n);
        pad[0] = ' ';
        pad[n] = 0;
    }
    uint32_t id = c->next_ack++;
    int64_t t = now_ns();
    slot_put(c, id, t);
    c->outstanding++;
    st.sent++;
    st.expected += (uint64_t)members[c->room];
    return ws_printf(c, "42%s%u[\"chat message\",{\"room\":\"%s\",\"text\":\"%lld%s\"}]", ns, id,
                     room, (long long)t, pad);
}

static int http_rr;
/* Publishes one stamped message to the room of client c by HTTP POST. */
static int publish_http(conn *c) {
    for (int tries = 0; tries < nhttps; tries++) {
        conn *h = &https[http_rr++ % nhttps];
        if (h->state != ST_READY || h->outstanding >= 256) continue;
        char room[64], body[64], path[256], req[768];
        room_name(c->room, room, sizeof room);
        int64_t t = now_ns();
        int bl = snprintf(body, sizeof body, "%lld", (long long)t);
        snprintf(path, sizeof path, opt.pub_path, room);
        int n = snprintf(req, sizeof req,
                         "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         path, bl, body);
        h->outstanding++;
        st.sent++;
        st.expected += (uint64_t)members[c->room];
        return conn_write(h, req, (size_t)n);
    }
    return -1; /* every publisher connection is full */
}

static int publish(conn *c) {
    return opt.mode == MODE_SIO ? publish_sio(c) : publish_http(c);
}

/* ---- receiving: Socket.IO ------------------------------------------------ */

static void on_latency_text(const char *p, const char *end) {
    int64_t v = 0;
    bool any = false;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0'), any = true;
    if (!any) return;
    st.delivered++;
    h_add(&st.lat, now_ns() - v);
}

/* Keeps the offset a broadcast carries as its last argument: ...,"<offset>"]
 * (digits from chat-ws, an opaque id from Socket.IO). */
static void keep_offset(conn *c, const char *p, size_t n) {
    if (n < 5 || p[n - 1] != ']' || p[n - 2] != '"') return;
    size_t end = n - 2, i = end;
    while (i > 0 && p[i - 1] != '"' && p[i - 1] != '\\' && end - i < sizeof c->offset)
        i--;
    if (i < 2 || p[i - 1] != '"' || p[i - 2] != ',' || end == i || end - i >= sizeof c->offset)
        return;
    memcpy(c->offset, p + i, end - i);
    c->offset[end - i] = 0;
}

static void send_connect(conn *c) {
    char ns[64], auth[256];
    ns_prefix(c->ns, ns, sizeof ns);
    int n = 0;
    auth[0] = 0;
    if (c->role == ROLE_CLIENT && opt.name)
        n += snprintf(auth + n, sizeof auth - (size_t)n, "\"name\":\"%s%d\"", opt.name, c->idx);
    if (c->role == ROLE_CLIENT && opt.recover && c->pid[0] && c->offset[0])
        n += snprintf(auth + n, sizeof auth - (size_t)n, "%s\"pid\":\"%s\",\"offset\":\"%s\"",
                      n ? "," : "", c->pid, c->offset);
    if (auth[0])
        ws_printf(c, "40%s{%s}", ns, auth);
    else
        ws_printf(c, "40%s", ns);
    c->state = ST_SIO_CONN;
}

static void send_join(conn *c) {
    char ns[64], room[64];
    ns_prefix(c->ns, ns, sizeof ns);
    room_name(c->room, room, sizeof room);
    c->join_ack = c->next_ack++;
    ws_printf(c, "42%s%u[\"join\",\"%s\"]", ns, c->join_ack, room);
    c->state = ST_JOIN;
}

static void setup_next(conn *c) {
    /* Creates rooms r-0.. of this setup connection's namespace, all pipelined. */
    char ns[64];
    ns_prefix(c->ns, ns, sizeof ns);
    for (int r = 0; r < opt.rooms_per_ns; r++) {
        uint32_t id = c->next_ack++;
        ws_printf(c, "42%s%u[\"create room\",{\"name\":\"r-%d\"}]", ns, id, r);
    }
    c->setup_left = opt.rooms_per_ns;
    c->state = ST_JOIN;
}

static void on_connected(conn *c, const char *p, size_t n) {
    /* 40{"sid":"..","pid":".."} */
    const char *k = memmem(p, n, "\"pid\":\"", 7);
    bool recovered = false;
    if (k) {
        k += 7;
        const char *e = memchr(k, '"', n - (size_t)(k - p));
        if (e && (size_t)(e - k) < sizeof c->pid) {
            recovered = c->pid[0] && (size_t)(e - k) == strlen(c->pid) &&
                        memcmp(c->pid, k, (size_t)(e - k)) == 0;
            memcpy(c->pid, k, (size_t)(e - k));
            c->pid[e - k] = 0;
        }
    }
    if (c->role == ROLE_SETUP) {
        setup_next(c);
        return;
    }
    if (recovered && opt.recover) { /* rooms restored by the server */
        c->recovered = true;
        became_ready(c);
        return;
    }
    c->recovered = false;
    send_join(c);
}

static void on_ack(conn *c, uint32_t id, const char *p, size_t n) {
    bool err = memmem(p, n, "\"error\"", 7) != NULL;
    if (c->role == ROLE_SETUP) {
        if (err && !memmem(p, n, "exists", 6)) {
            st.errors++;
            note_error("create room: %.*s", (int)(n < 120 ? n : 120), p);
        }
        if (--c->setup_left <= 0) {
            inflight--;
            c->state = ST_DONE;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
        }
        return;
    }
    if (c->state == ST_JOIN && id == c->join_ack) {
        if (err) {
            st.errors++;
            note_error("join: %.*s", (int)(n < 120 ? n : 120), p);
            conn_close(c, true);
            return;
        }
        became_ready(c);
        return;
    }
    if (c->outstanding) c->outstanding--;
    if (err) {
        st.ack_err++;
        note_error("chat message ack: %.*s", (int)(n < 120 ? n : 120), p);
        return;
    }
    st.acked++;
    if (c->slots) {
        ackslot *s = &c->slots[id & (c->nslots - 1)];
        if (s->id == id && s->t) h_add(&st.ack_lat, now_ns() - s->t), s->t = 0;
    }
}

/* One Engine.IO packet over the WebSocket. */
static void on_eio(conn *c, const char *p, size_t n) {
    if (!n) return;
    switch (p[0]) {
    case '0': /* open */
        if (c->state == ST_EIO_OPEN) send_connect(c);
        return;
    case '2': /* ping */
        ws_text(c, "3", 1);
        return;
    case '1': /* close */
        conn_close(c, true);
        return;
    case '6':
        return;
    case '4':
        break;
    default:
        st.proto_err++;
        return;
    }
    p++, n--;
    if (!n) return;
    char type = p[0];
    const char *q = p + 1, *end = p + n;
    if (q < end && *q == '/') { /* namespace */
        const char *comma = memchr(q, ',', (size_t)(end - q));
        if (!comma) return;
        q = comma + 1;
    }
    uint32_t id = 0;
    bool has_id = false;
    while (q < end && *q >= '0' && *q <= '9')
        id = id * 10 + (uint32_t)(*q++ - '0'), has_id = true;
    size_t rest = (size_t)(end - q);
    switch (type) {
    case '0':
        if (c->state == ST_SIO_CONN) on_connected(c, q, rest);
        return;
    case '2':
        if (rest > 16 && memcmp(q, "[\"chat message\"", 15) == 0) {
            const char *t = memmem(q, rest, "\"text\":\"", 8);
            if (t) on_latency_text(t + 8, end);
        } else {
            st.other_events++;
        }
        if (opt.recover) keep_offset(c, q, rest);
        return;
    case '3':
        if (has_id) on_ack(c, id, q, rest);
        return;
    case '4':
        st.errors++;
        note_error("connect_error: %.*s", (int)(rest < 120 ? rest : 120), q);
        conn_close(c, true);
        return;
    case '1':
        conn_close(c, true);
        return;
    default:
        return;
    }
}

/* One whole WebSocket message. */
static void on_message(conn *c, const char *p, size_t n) {
    if (opt.mode == MODE_RAW) {
        on_latency_text(p, p + n);
        return;
    }
    on_eio(c, p, n);
}

/* Parses WebSocket frames from buf; returns bytes consumed. */
static size_t parse_frames(conn *c, const char *buf, size_t len) {
    size_t off = 0;
    while (c->fd >= 0 && len - off >= 2) {
        const unsigned char *u = (const unsigned char *)buf + off;
        int fin = u[0] & 0x80, op = u[0] & 0x0f, masked = u[1] & 0x80;
        uint64_t pl = u[1] & 0x7f;
        size_t hl = 2;
        if (pl == 126) {
            if (len - off < 4) break;
            pl = ((uint64_t)u[2] << 8) | u[3];
            hl = 4;
        } else if (pl == 127) {
            if (len - off < 10) break;
            pl = 0;
            for (int i = 0; i < 8; i++)
                pl = (pl << 8) | u[2 + i];
            hl = 10;
        }
        if (masked) hl += 4;
        if (pl > (64u << 20)) {
            st.proto_err++;
            conn_close(c, true);
            return len;
        }
        if (len - off < hl + pl) break;
        const char *payload = buf + off + hl;
        char *unmasked = NULL;
        if (masked) { /* servers do not mask; cope anyway */
            unmasked = malloc(pl ? pl : 1);
            if (!unmasked) die("out of memory");
            for (uint64_t i = 0; i < pl; i++)
                unmasked[i] = payload[i] ^ (char)u[hl - 4 + (i & 3)];
            payload = unmasked;
        }
        off += hl + pl;
        if (op >= 8) {
            if (op == 9)
                ws_send(c, 10, payload, pl);
            else if (op == 8) {
                ws_send(c, 8, payload, pl < 2 ? pl : 2);
                free(unmasked);
                conn_close(c, false);
                return len;
            }
        } else if (fin && op != 0 && c->mlen == 0) {
            on_message(c, payload, pl);
        } else {
            if (op != 0) c->msg_op = (uint8_t)op;
            buf_append(&c->msg, &c->mlen, &c->mcap, payload, pl);
            if (fin) {
                on_message(c, c->msg, c->mlen);
                c->mlen = 0;
            }
        }
        free(unmasked);
    }
    return c->fd < 0 ? len : off;
}

/* HTTP responses on a publisher connection; returns bytes consumed. */
static size_t parse_http(conn *c, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len) {
        const char *h = buf + off;
        const char *e = memmem(h, len - off, "\r\n\r\n", 4);
        if (!e) break;
        size_t hlen = (size_t)(e - h) + 4;
        int status = 0;
        if (hlen > 12 && memcmp(h, "HTTP/1.", 7) == 0) status = atoi(h + 9);
        long clen = 0;
        bool chunked = false;
        for (const char *l = h; l < e;) {
            const char *nl = memmem(l, (size_t)(e - l), "\r\n", 2);
            if (!nl) nl = e;
            if ((size_t)(nl - l) > 15 && strncasecmp(l, "Content-Length:", 15) == 0)
                clen = atol(l + 15);
            if ((size_t)(nl - l) > 18 && strncasecmp(l, "Transfer-Encoding:", 18) == 0 &&
                memmem(l, (size_t)(nl - l), "chunked", 7))
                chunked = true;
            l = nl + 2;
        }
        size_t body;
        if (chunked) {
            const char *z = memmem(e + 4, len - off - hlen, "\r\n0\r\n\r\n", 7);
            if (!z && len - off - hlen >= 5 && memcmp(e + 4, "0\r\n\r\n", 5) == 0) z = e + 4 - 2;
            if (!z) break;
            body = (size_t)(z + 7 - (e + 4));
        } else {
            body = (size_t)clen;
        }
        if (len - off < hlen + body) break;
        off += hlen + body;
        if (c->outstanding) c->outstanding--;
        if (status >= 200 && status < 300)
            st.acked++;
        else {
            st.ack_err++;
            note_error("publish: HTTP %d", status);
        }
    }
    return off;
}

static size_t on_bytes(conn *c, const char *buf, size_t len) {
    if (c->state == ST_HS) {
        const char *e = memmem(buf, len, "\r\n\r\n", 4);
        if (!e) return 0;
        if (len < 12 || memcmp(buf + 9, "101", 3) != 0) {
            st.errors++;
            note_error("upgrade refused: %.*s",
                       (int)(strcspn(buf, "\r\n") < 100 ? strcspn(buf, "\r\n") : 100), buf);
            conn_close(c, true);
            return len;
        }
        size_t used = (size_t)(e - buf) + 4;
        if (opt.mode == MODE_RAW && c->role == ROLE_CLIENT)
            became_ready(c);
        else
            c->state = ST_EIO_OPEN;
        return used + (c->fd >= 0 ? parse_frames(c, buf + used, len - used) : 0);
    }
    if (c->role == ROLE_HTTP) return parse_http(c, buf, len);
    return parse_frames(c, buf, len);
}

static void on_readable(conn *c) {
    ssize_t r = recv(c->fd, rx_scratch, sizeof rx_scratch, 0);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (c->state != ST_READY && !storm_active)
            note_error("closed by the server (%s) in state %d", r < 0 ? strerror(errno) : "EOF",
                       c->state);
        conn_close(c, c->state != ST_READY || !storm_active);
        return;
    }
    if (c->rlen == 0) {
        size_t used = on_bytes(c, rx_scratch, (size_t)r);
        if (c->fd >= 0 && used < (size_t)r)
            buf_append(&c->rbuf, &c->rlen, &c->rcap, rx_scratch + used, (size_t)r - used);
    } else {
        buf_append(&c->rbuf, &c->rlen, &c->rcap, rx_scratch, (size_t)r);
        size_t used = on_bytes(c, c->rbuf, c->rlen);
        if (c->fd >= 0) {
            memmove(c->rbuf, c->rbuf + used, c->rlen - used);
            c->rlen -= used;
        }
    }
    if (c->rlen == 0 && c->rcap > 65536) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
}

static void on_event(conn *c, uint32_t events) {
    if (c->fd < 0) return;
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            note_error("connect: %s", strerror(err));
            conn_close(c, true);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        c->want_out = false;
        set_events(c);
        if (c->role == ROLE_HTTP) {
            c->state = ST_READY;
            return;
        }
        send_upgrade(c);
        return;
    }
    if (events & EPOLLOUT) flush_out(c);
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
}

/* ---- the loop ----------------------------------------------------------- */

typedef struct pacer {
    bool on;
    double rate; /* messages/s in total */
    int64_t t0;
    uint64_t sent;
    int rr;       /* next publisher */
    int npub;     /* publishers: clients 0..npub-1 */
    int pipeline; /* > 0: keep this many outstanding per publisher instead of a rate */
    uint64_t skipped;
} pacer;

static pacer pc;
static int next_start;  /* next client to start in the connect phase */
static bool connecting; /* the connect phase runs */
static int64_t last_sweep;

static bool pub_ok(conn *c, uint32_t cap) {
    return c->state == ST_READY && c->outstanding < cap;
}

static void pace(int64_t now) {
    if (!pc.on || pc.npub <= 0) return;
    if (pc.pipeline > 0) {
        for (int i = 0; i < pc.npub; i++) {
            conn *c = &clients[i];
            while (pub_ok(c, (uint32_t)pc.pipeline) && c->fd >= 0)
                publish(c);
        }
        return;
    }
    uint64_t due = (uint64_t)(pc.rate * (double)(now - pc.t0) / 1e9);
    if (due <= pc.sent) return;
    uint64_t n = due - pc.sent;
    if (n > 5000) n = 5000; /* a bounded burst per loop turn */
    uint32_t cap = opt.mode == MODE_SIO ? 512 : 256;
    for (uint64_t k = 0; k < n; k++) {
        conn *c = NULL;
        for (int tries = 0; tries < pc.npub; tries++) {
            conn *x = &clients[pc.rr++ % pc.npub];
            if (x->state == ST_READY && (opt.mode == MODE_RAW || x->outstanding < cap)) {
                c = x;
                break;
            }
        }
        pc.sent++;
        if (!c || publish(c) < 0) pc.skipped++;
    }
}

static void sweep(int64_t now) {
    /* handshake deadlines and due reconnects, every 50 ms */
    if (now - last_sweep < 50000000LL) return;
    last_sweep = now;
    for (int i = 0; i < opt.conns; i++) {
        conn *c = &clients[i];
        if (c->state == ST_IDLE && storm_active && c->due_at && now >= c->due_at) {
            if (inflight < opt.concurrency) start_conn(c);
        } else if (c->state > ST_IDLE && c->state < ST_READY && now > c->due_at) {
            note_error("handshake timed out (state %d)", c->state);
            conn_close(c, true);
        }
    }
    for (int i = 0; i < nhttps; i++) {
        conn *c = &https[i];
        if (c->state == ST_IDLE && c->due_at && now >= c->due_at) start_conn(c);
    }
    for (int i = 0; i < nsetups; i++) {
        conn *c = &setups[i];
        if (c->state > ST_IDLE && c->state < ST_DONE && now > c->due_at) {
            note_error("setup timed out");
            st.errors++;
            conn_close(c, true);
        }
    }
}

static void start_more(void) {
    while (connecting && next_start < opt.conns && inflight < opt.concurrency)
        start_conn(&clients[next_start++]);
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Runs the loop until deadline (ns) or until done() says so. */
static void run(int64_t deadline, bool (*done)(void)) {
    struct epoll_event evs[512];
    while (!interrupted) {
        int64_t now = now_ns();
        if (now >= deadline || (done && done())) return;
        start_more();
        pace(now);
        sweep(now);
        int timeout = pc.on ? 1 : 10;
        int n = epoll_wait(ep, evs, 512, timeout);
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
}

/* ---- reporting ------------------------------------------------------------ */

static FILE *json_out;

typedef struct jbuf {
    char s[8192];
    size_t n;
} jbuf;

static void jadd(jbuf *j, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(j->s + j->n, sizeof j->s - j->n, fmt, ap);
    va_end(ap);
    if (w > 0) j->n += (size_t)w < sizeof j->s - j->n ? (size_t)w : sizeof j->s - j->n - 1;
}

static void json_str(jbuf *j, const char *k, const char *v) {
    jadd(j, ",\"%s\":\"", k);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            jadd(j, "\\%c", *v);
        else if ((unsigned char)*v < 0x20)
            jadd(j, " ");
        else
            jadd(j, "%c", *v);
    }
    jadd(j, "\"");
}

static void json_num(jbuf *j, const char *k, double v) {
    if (v != v || v < -1e300)
        jadd(j, ",\"%s\":null", k);
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        jadd(j, ",\"%s\":%lld", k, (long long)v);
    else
        jadd(j, ",\"%s\":%.4g", k, v);
}

static void begin_json(jbuf *j, const char *phase) {
    j->n = 0;
    jadd(j, "{\"target\":\"%s\",\"scenario\":\"%s\",\"phase\":\"%s\"", opt.target, opt.scenario,
         phase);
}

/* Server and generator resources between two snapshots, into j and a human string. */
static void add_resources(jbuf *j, const snapshot *a, const snapshot *b, double deliveries,
                          char *human, size_t hcap) {
    double wall = (double)(b->t - a->t) / 1e9;
    double cpu_total = 0;
    long rss_total = 0, rss_delta = 0;
    size_t hn = 0;
    jadd(j, ",\"servers\":[");
    for (int i = 0; i < nservers; i++) {
        double cpu = (b->s[i].cpu_s >= 0 && a->s[i].cpu_s >= 0 && a->s[i].pid == b->s[i].pid)
                         ? b->s[i].cpu_s - a->s[i].cpu_s
                         : (b->s[i].cpu_s >= 0 ? b->s[i].cpu_s : 0);
        cpu_total += cpu;
        rss_total += b->s[i].rss_kb > 0 ? b->s[i].rss_kb : 0;
        long d = (b->s[i].rss_kb > 0 && a->s[i].rss_kb > 0) ? b->s[i].rss_kb - a->s[i].rss_kb : 0;
        rss_delta += d;
        jadd(j,
             "%s{\"label\":\"%s\",\"pid\":%d,\"cpu_s\":%.3f,\"cpu_core\":%.3f,\"rss_kb\":%ld,\"rss_"
             "delta_kb\":%ld}",
             i ? "," : "", servers[i].label, b->s[i].pid, cpu, wall > 0 ? cpu / wall : 0,
             b->s[i].rss_kb, d);
        hn += (size_t)snprintf(human + hn, hn < hcap ? hcap - hn : 0, " %s=%.0f%%cpu/%.1fMB",
                               servers[i].label, wall > 0 ? 100 * cpu / wall : 0,
                               b->s[i].rss_kb / 1024.0);
    }
    jadd(j, "]");
    double self = b->self_cpu - a->self_cpu;
    json_num(j, "server_cpu_s", cpu_total);
    json_num(j, "server_cpu_core", wall > 0 ? cpu_total / wall : 0);
    json_num(j, "server_rss_kb", (double)rss_total);
    json_num(j, "server_rss_delta_kb", (double)rss_delta);
    json_num(j, "cpu_s_per_million", deliveries > 0 ? cpu_total / deliveries * 1e6 : NAN);
    json_num(j, "gen_cpu_core", wall > 0 ? self / wall : 0);
    bool sat = wall > 0 && self / wall > 0.9;
    jadd(j, ",\"gen_saturated\":%s", sat ? "true" : "false");
    hn += (size_t)snprintf(human + hn, hn < hcap ? hcap - hn : 0, " gen=%.0f%%cpu%s",
                           wall > 0 ? 100 * self / wall : 0, sat ? " (GENERATOR SATURATED)" : "");
    /* What else ran meanwhile: the machine's user+system time less ours
     * (softirq, where loopback traffic is often handled, is left out). */
    double others = (b->all_cpu - a->all_cpu) - cpu_total - self,
           steal = b->steal_cpu - a->steal_cpu;
    if (others < 0) others = 0;
    json_num(j, "others_cpu_core", wall > 0 ? others / wall : 0);
    json_num(j, "steal_cpu_core", wall > 0 ? steal / wall : 0);
    if (wall > 0 && (others / wall > 0.25 || steal / wall > 0.1))
        hn += (size_t)snprintf(human + hn, hn < hcap ? hcap - hn : 0,
                               " others=%.0f%%cpu steal=%.0f%% (NOISY)", 100 * others / wall,
                               100 * steal / wall);
}

static void emit_json(jbuf *j) {
    jadd(j, "}\n");
    fputs(j->s, stdout);
    if (json_out) {
        fputs(j->s, json_out);
        fflush(json_out);
    }
    fflush(stdout);
}

static void add_lat(jbuf *j, const char *prefix, const hist *h) {
    char k[64];
    snprintf(k, sizeof k, "%s_p50_ms", prefix);
    json_num(j, k, h->n ? h_pct_ms(h, 50) : NAN);
    snprintf(k, sizeof k, "%s_p99_ms", prefix);
    json_num(j, k, h->n ? h_pct_ms(h, 99) : NAN);
    snprintf(k, sizeof k, "%s_p999_ms", prefix);
    json_num(j, k, h->n ? h_pct_ms(h, 99.9) : NAN);
    snprintf(k, sizeof k, "%s_max_ms", prefix);
    json_num(j, k, h->n ? (double)h->max / 1e6 : NAN);
}

/* ---- phases ----------------------------------------------------------------- */

/* Appends the phase's name to --mark FILE, so that a script can start a
 * profiler at the right moment. */
static void mark(const char *phase) {
    if (!opt.mark_path) return;
    FILE *f = fopen(opt.mark_path, "a");
    if (f) {
        fprintf(f, "%s\n", phase);
        fclose(f);
    }
}

static bool setups_done(void) {
    for (int i = 0; i < nsetups; i++)
        if (setups[i].state != ST_DONE) return false;
    return true;
}

static bool connect_done(void) {
    return next_start >= opt.conns && inflight == 0;
}

static void phase_setup(void) {
    if (opt.mode != MODE_SIO || opt.rooms_per_ns <= 1 || opt.no_create) return;
    int nns = opt.namespaces > 0 ? opt.namespaces : 1;
    nsetups = nns;
    setups = calloc((size_t)nsetups, sizeof *setups);
    for (int i = 0; i < nsetups; i++) {
        setups[i].fd = -1;
        setups[i].role = ROLE_SETUP;
        setups[i].idx = i;
        setups[i].ns = i;
        setups[i].next_ack = 1;
    }
    int64_t t0 = now_ns();
    for (int i = 0; i < nsetups;) {
        while (i < nsetups && inflight < 64)
            start_conn(&setups[i++]);
        run(now_ns() + 200000000LL, NULL);
        if (now_ns() - t0 > 60000000000LL) break;
    }
    run(t0 + 60000000000LL, setups_done);
    printf("# %s %s setup: %d rooms in %d namespaces created in %.2f s%s%s\n", opt.target,
           opt.scenario, nsetups * opt.rooms_per_ns, nsetups, (double)(now_ns() - t0) / 1e9,
           last_error[0] ? "; last error: " : "", last_error);
}

static snapshot base;

static bool https_ready(void) {
    for (int i = 0; i < nhttps; i++)
        if (https[i].state != ST_READY && https[i].state != ST_DONE) return false;
    return true;
}

static void phase_connect(void) {
    mark("connect");
    snapshot a = snap();
    connecting = true;
    run(a.t + (int64_t)(opt.connect_timeout * 1e9), connect_done);
    connecting = false;
    snapshot b = snap();
    double secs = (double)(b.t - a.t) / 1e9;
    jbuf j;
    char human[512];
    begin_json(&j, "connect");
    json_num(&j, "conns_wanted", opt.conns);
    json_num(&j, "conns_ready", ready_count);
    json_num(&j, "connect_s", secs);
    json_num(&j, "connect_rate", secs > 0 ? ready_count / secs : 0);
    json_num(&j, "conn_fail", (double)st.conn_fail);
    json_num(&j, "errors", (double)st.errors);
    json_num(&j, "other_events", (double)st.other_events);
    add_resources(&j, &a, &b, 0, human, sizeof human);
    if (last_error[0]) json_str(&j, "last_error", last_error);
    emit_json(&j);
    printf(
        "# %s %s connect: %d/%d ready in %.2f s (%.0f/s), %llu failed, %llu other events;%s%s%s\n",
        opt.target, opt.scenario, ready_count, opt.conns, secs, secs > 0 ? ready_count / secs : 0,
        (unsigned long long)st.conn_fail, (unsigned long long)st.other_events, human,
        last_error[0] ? "; last error: " : "", last_error);
}

static void phase_hold(void) {
    if (opt.hold <= 0) return;
    snapshot a = snap();
    run(a.t + (int64_t)(opt.hold * 1e9), NULL);
    snapshot b = snap();
    jbuf j;
    char human[512];
    begin_json(&j, "idle");
    json_num(&j, "conns_ready", ready_count);
    json_num(&j, "hold_s", opt.hold);
    long rss_delta = 0;
    for (int i = 0; i < nservers; i++)
        if (b.s[i].rss_kb > 0 && base.s[i].rss_kb > 0 && b.s[i].pid == base.s[i].pid)
            rss_delta += b.s[i].rss_kb - base.s[i].rss_kb;
    double per = ready_count ? (double)rss_delta * 1024.0 / ready_count : NAN;
    json_num(&j, "rss_delta_from_start_kb", (double)rss_delta);
    json_num(&j, "bytes_per_conn", per);
    add_resources(&j, &a, &b, 0, human, sizeof human);
    emit_json(&j);
    printf(
        "# %s %s idle: %d connections, server RSS +%.1f MB since start = %.0f bytes/conn, idle%s\n",
        opt.target, opt.scenario, ready_count, rss_delta / 1024.0, per, human);
}

static uint64_t want_expected;
static bool drained(void) {
    return st.delivered >= want_expected &&
           (opt.mode == MODE_RAW || st.acked + st.ack_err >= st.sent);
}

typedef struct step_result {
    double rate, deliveries_per_s, p99, lost_frac;
    bool ok;
} step_result;

/* One publishing step at rate msg/s (or pipelined when opt.pipeline). */
static step_result phase_step(const char *phase, double rate, double secs) {
    memset(&st.lat, 0, sizeof st.lat);
    memset(&st.ack_lat, 0, sizeof st.ack_lat);
    uint64_t sent0 = st.sent, exp0 = st.expected, del0 = st.delivered, ack0 = st.acked,
             err0 = st.ack_err, drops0 = st.drops;
    int npub = opt.publishers < 0 ? opt.conns : opt.publishers;
    if (npub > opt.conns) npub = opt.conns;
    pc = (pacer){.on = true, .rate = rate, .t0 = now_ns(), .npub = npub, .pipeline = opt.pipeline};
    snapshot a = snap();
    run(a.t + (int64_t)(secs * 1e9), NULL);
    pc.on = false;
    snapshot b = snap();
    uint64_t del_window = st.delivered - del0, ack_window = st.acked - ack0;
    want_expected = st.expected;
    int64_t td = now_ns();
    run(td + (int64_t)(opt.drain * 1e9), drained);
    double drain_s = (double)(now_ns() - td) / 1e9;
    double wall = (double)(b.t - a.t) / 1e9;
    uint64_t sent = st.sent - sent0, expected = st.expected - exp0, delivered = st.delivered - del0;
    double lost = expected ? 1.0 - (double)delivered / (double)expected : 0;
    if (lost < 0) lost = 0;
    double p99 = h_pct_ms(&st.lat, 99);
    step_result r = {rate, wall > 0 ? del_window / wall : 0, p99, lost, false};
    r.ok = expected > 0 && lost <= 0.001 && p99 >= 0 && p99 <= opt.keepup_p99_ms &&
           st.ack_err == err0 && pc.skipped == 0 && st.drops == drops0;
    if (opt.pipeline > 0) r.ok = st.ack_err == err0;
    jbuf j;
    char human[512];
    begin_json(&j, phase);
    json_num(&j, "rate", opt.pipeline > 0 ? NAN : rate);
    json_num(&j, "pipeline", opt.pipeline);
    json_num(&j, "publishers", npub);
    json_num(&j, "conns_ready", ready_count);
    json_num(&j, "secs", wall);
    json_num(&j, "sent", (double)sent);
    json_num(&j, "sent_per_s", wall > 0 ? sent / wall : 0);
    json_num(&j, "acked", (double)(st.acked - ack0));
    json_num(&j, "acked_per_s", wall > 0 ? ack_window / wall : 0);
    json_num(&j, "ack_errors", (double)(st.ack_err - err0));
    json_num(&j, "expected", (double)expected);
    json_num(&j, "delivered", (double)delivered);
    json_num(&j, "deliveries_per_s", r.deliveries_per_s);
    json_num(&j, "lost_frac", lost);
    json_num(&j, "drain_s", drain_s);
    json_num(&j, "skipped", (double)pc.skipped);
    json_num(&j, "drops", (double)(st.drops - drops0));
    add_lat(&j, "lat", &st.lat);
    add_lat(&j, "ack", &st.ack_lat);
    jadd(&j, ",\"keeps_up\":%s", r.ok ? "true" : "false");
    add_resources(&j, &a, &b, (double)del_window, human, sizeof human);
    if (last_error[0]) json_str(&j, "last_error", last_error);
    emit_json(&j);
    if (opt.pipeline > 0)
        printf("# %s %s %s: pipeline %d x %d publishers: %.0f acked/s (%llu errors), ack p50 %.2f "
               "p99 %.2f p99.9 "
               "%.2f ms, deliveries %.0f/s;%s\n",
               opt.target, opt.scenario, phase, opt.pipeline, npub,
               wall > 0 ? ack_window / wall : 0, (unsigned long long)(st.ack_err - err0),
               h_pct_ms(&st.ack_lat, 50), h_pct_ms(&st.ack_lat, 99), h_pct_ms(&st.ack_lat, 99.9),
               r.deliveries_per_s, human);
    else
        printf("# %s %s %s: %.0f msg/s offered (%.0f sent/s), %.0f deliveries/s, lost %.2f%%, "
               "latency p50 %.2f p99 "
               "%.2f p99.9 %.2f ms, ack p99 %.2f ms, drain %.2f s, %s;%s\n",
               opt.target, opt.scenario, phase, rate, wall > 0 ? sent / wall : 0,
               r.deliveries_per_s, lost * 100, h_pct_ms(&st.lat, 50), p99, h_pct_ms(&st.lat, 99.9),
               h_pct_ms(&st.ack_lat, 99), drain_s, r.ok ? "keeps up" : "FALLS BEHIND", human);
    fflush(stdout);
    return r;
}

static void phase_publish(void) {
    if (opt.pipeline > 0 || opt.nrates) mark("publish");
    if (opt.pipeline > 0) {
        phase_step("durable", 0, opt.step);
        return;
    }
    if (!opt.nrates) return;
    step_result best = {0};
    bool any = false;
    double failed = 0;              /* the first rate that fell behind, 0: none */
    int ready_before = ready_count; /* see --refine below */
    for (int i = 0; i < opt.nrates && !interrupted; i++) {
        step_result r = phase_step("step", opt.rates[i], opt.step);
        if (r.ok) {
            best = r;
            any = true;
        } else if (opt.stop_on_fail) {
            failed = opt.rates[i];
            break;
        }
    }
    /* --refine P: bisect (geometrically) between the best rate and the one
     * that fell behind until they are within P% of each other, so the max
     * is known to P% whatever the spacing of --rates. Not after a step that
     * cost connections (a server drops a slow reader): the next would not
     * measure the same thing. */
    double lo = any ? best.rate : 0;
    while (opt.refine_pct > 0 && any && failed > 0 && !interrupted && ready_count >= ready_before &&
           failed > lo * (1 + opt.refine_pct / 100)) {
        double mid = round(sqrt(lo * failed));
        if (mid <= lo || mid >= failed) break;
        step_result r = phase_step("step", mid, opt.step);
        if (r.ok) {
            best = r;
            lo = mid;
        } else {
            failed = mid;
        }
    }
    jbuf j;
    begin_json(&j, "max");
    json_num(&j, "max_rate", any ? best.rate : 0);
    json_num(&j, "max_deliveries_per_s", any ? best.deliveries_per_s : 0);
    json_num(&j, "p99_ms_at_max", any ? best.p99 : NAN);
    json_num(&j, "first_failed_rate", failed > 0 ? failed : NAN);
    emit_json(&j);
    printf("# %s %s max: %.0f msg/s, %.0f deliveries/s kept up with\n", opt.target, opt.scenario,
           best.rate, best.deliveries_per_s);
    if (opt.half > 0 && any) phase_step("half", best.rate / 2, opt.half);
}

static int ready_target;

static void phase_storm(void) {
    if (opt.storm == STORM_NONE) return;
    mark("storm");
    int n0 = ready_count;
    int64_t t0 = now_ns();
    uint64_t drops0 = st.drops;
    storm_active = true;
    int killed = 0;
    if (opt.storm == STORM_KILL) {
        server k = {.label = "kill"};
        snprintf(k.file, sizeof k.file, "%s", opt.kill_pid_file);
        killed = server_pid(&k);
        if (killed <= 0 || kill(killed, SIGKILL) < 0)
            die("cannot kill pid %d from %s", killed, opt.kill_pid_file);
    } else {
        /* every client drops its connection at once (RST), then reconnects */
        struct linger lg = {1, 0};
        for (int i = 0; i < opt.conns; i++) {
            conn *c = &clients[i];
            if (c->fd < 0) continue;
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            conn_close(c, false);
        }
    }
    /* wait for the drops to be seen */
    int64_t t_seen = 0;
    ready_target = n0 - n0 / 100;
    int64_t deadline = t0 + (int64_t)(opt.storm_timeout * 1e9);
    int64_t t99 = 0, t100 = 0;
    while (!interrupted && now_ns() < deadline) {
        run(now_ns() + 20000000LL, NULL);
        if (!t_seen && st.drops - drops0 >= (uint64_t)(n0 * 99 / 100)) t_seen = now_ns();
        if (t_seen || opt.storm == STORM_DROP) {
            if (!t99 && ready_count >= ready_target &&
                st.drops - drops0 >= (uint64_t)(n0 * 99 / 100))
                t99 = now_ns();
            if (ready_count >= n0) {
                t100 = now_ns();
                break;
            }
        }
    }
    int recovered = 0;
    for (int i = 0; i < opt.conns; i++)
        recovered += clients[i].state == ST_READY && clients[i].recovered;
    storm_active = false;
    jbuf j;
    begin_json(&j, "storm");
    json_str(&j, "how",
             opt.storm == STORM_KILL ? "kill -9 server" : "clients drop all connections");
    json_num(&j, "conns_before", n0);
    json_num(&j, "conns_after", ready_count);
    json_num(&j, "drops_seen", (double)(st.drops - drops0));
    json_num(&j, "drops_seen_s", t_seen ? (double)(t_seen - t0) / 1e9 : NAN);
    json_num(&j, "back_99_s", t99 ? (double)(t99 - t0) / 1e9 : NAN);
    json_num(&j, "back_100_s", t100 ? (double)(t100 - t0) / 1e9 : NAN);
    json_num(&j, "recovered", recovered);
    json_num(&j, "conn_fail", (double)st.conn_fail);
    json_num(&j, "reconnect_first_ms", opt.reconnect_first_ms);
    json_num(&j, "reconnect_max_ms", opt.reconnect_max_ms);
    if (last_error[0]) json_str(&j, "last_error", last_error);
    emit_json(&j);
    printf("# %s %s storm (%s): %d connections; 99%% back and joined after %.2f s, all after %.2f "
           "s, %d recovered "
           "their session, %llu connect failures on the way\n",
           opt.target, opt.scenario, opt.storm == STORM_KILL ? "kill -9" : "drop all", n0,
           t99 ? (double)(t99 - t0) / 1e9 : -1.0, t100 ? (double)(t100 - t0) / 1e9 : -1.0,
           recovered, (unsigned long long)st.conn_fail);
}

/* ---- main ------------------------------------------------------------------- */

static void usage(void) {
    fputs("usage: loadgen --port P [--mode sio|raw] [options]\n"
          "  --target LABEL --scenario NAME   labels of the output lines\n"
          "  --path PATH          sio: upgrade path (/socket.io/?EIO=4&transport=websocket);\n"
          "                       raw: subscribe path with %s for the channel (/sub/%s)\n"
          "  --pub-path PATH      raw: HTTP POST path with %s for the channel (/pub/%s)\n"
          "  --http-pubs N        raw: publisher connections (4)\n"
          "  --conns N            clients (100)\n"
          "  --namespaces K       sio: spread clients over namespaces PREFIX0..K-1 (0: all in /)\n"
          "  --ns-prefix P        (/bench-)\n"
          "  --rooms-per-ns R     rooms per namespace (1: \"general\"; else r-0.., created first)\n"
          "  --no-create          do not create the rooms\n"
          "  --name PREFIX        sio: auth {name: PREFIX<i>} (else guests)\n"
          "  --concurrency N      handshakes in flight (256)\n"
          "  --src-ips N          source addresses 127.0.0.1..N (16)\n"
          "  --connect-timeout S  bound of the connect phase (180)\n"
          "  --hold S             stay idle S seconds after connecting, then report memory\n"
          "  --publishers N       clients 0..N-1 publish (-1: all)\n"
          "  --rates R1,R2,..     messages/s in total, one step each, stop at the first that falls "
          "behind\n"
          "  --no-stop            run every step\n"
          "  --step S --drain S   step length (3), drain bound after a step (3)\n"
          "  --half S             then S seconds at half the best rate\n"
          "  --keepup-p99-ms X    a step keeps up when p99 <= X (100) and nothing is lost\n"
          "  --refine P           then bisect between the best rate and the first that fell\n"
          "                       behind until they are within P% (0: off)\n"
          "  --pipeline K         durable writes: K acks outstanding per publisher for --step S\n"
          "  --text-pad N         add N bytes to each message text\n"
          "  --storm kill|drop    then kill -9 the server (--kill-pid-file) or drop every "
          "connection,\n"
          "                       and time the reconnection (--storm-timeout S, 120)\n"
          "  --recover            reconnect with {pid, offset} (connection state recovery)\n"
          "  --reconnect-ms FIRST,MAX  first retry spread and backoff cap (1000,2000)\n"
          "  --server LABEL=PID | LABEL=@PIDFILE   a server process to sample (repeatable)\n"
          "  --json FILE          append the JSON lines to FILE too\n"
          "  --mark FILE          append each phase's name (connect, publish, storm) to FILE as it "
          "starts\n",
          stderr);
    exit(2);
}

static void add_server(const char *arg) {
    if (nservers >= MAX_SERVERS) die("too many --server");
    server *s = &servers[nservers++];
    const char *eq = strchr(arg, '=');
    const char *v = arg;
    if (eq) {
        snprintf(s->label, sizeof s->label, "%.*s", (int)(eq - arg), arg);
        v = eq + 1;
    } else {
        snprintf(s->label, sizeof s->label, "server%d", nservers);
    }
    if (v[0] == '@')
        snprintf(s->file, sizeof s->file, "%s", v + 1);
    else if ((s->pid = atoi(v)) <= 0)
        die("bad --server %s", arg);
}

int main(int argc, char **argv) {
    enum {
        OPT_TARGET = 256,
        OPT_SCEN,
        OPT_MODE,
        OPT_PORT,
        OPT_PATH,
        OPT_PUBPATH,
        OPT_HTTPPUBS,
        OPT_CONNS,
        OPT_NS,
        OPT_NSPREFIX,
        OPT_RPN,
        OPT_NOCREATE,
        OPT_NAME,
        OPT_CONC,
        OPT_SRC,
        OPT_CTO,
        OPT_HOLD,
        OPT_PUBS,
        OPT_RATES,
        OPT_NOSTOP,
        OPT_STEP,
        OPT_DRAIN,
        OPT_HALF,
        OPT_KEEPUP,
        OPT_REFINE,
        OPT_PIPE,
        OPT_PAD,
        OPT_STORM,
        OPT_KILLPID,
        OPT_STORMTO,
        OPT_RECOVER,
        OPT_RECONN,
        OPT_SERVER,
        OPT_JSON,
        OPT_SEED,
        OPT_MARK
    };
    static const struct option lo[] = {
        {"target", 1, 0, OPT_TARGET},
        {"scenario", 1, 0, OPT_SCEN},
        {"mode", 1, 0, OPT_MODE},
        {"port", 1, 0, OPT_PORT},
        {"path", 1, 0, OPT_PATH},
        {"pub-path", 1, 0, OPT_PUBPATH},
        {"http-pubs", 1, 0, OPT_HTTPPUBS},
        {"conns", 1, 0, OPT_CONNS},
        {"namespaces", 1, 0, OPT_NS},
        {"ns-prefix", 1, 0, OPT_NSPREFIX},
        {"rooms-per-ns", 1, 0, OPT_RPN},
        {"no-create", 0, 0, OPT_NOCREATE},
        {"name", 1, 0, OPT_NAME},
        {"concurrency", 1, 0, OPT_CONC},
        {"src-ips", 1, 0, OPT_SRC},
        {"connect-timeout", 1, 0, OPT_CTO},
        {"hold", 1, 0, OPT_HOLD},
        {"publishers", 1, 0, OPT_PUBS},
        {"rates", 1, 0, OPT_RATES},
        {"no-stop", 0, 0, OPT_NOSTOP},
        {"step", 1, 0, OPT_STEP},
        {"drain", 1, 0, OPT_DRAIN},
        {"half", 1, 0, OPT_HALF},
        {"keepup-p99-ms", 1, 0, OPT_KEEPUP},
        {"refine", 1, 0, OPT_REFINE},
        {"pipeline", 1, 0, OPT_PIPE},
        {"text-pad", 1, 0, OPT_PAD},
        {"storm", 1, 0, OPT_STORM},
        {"kill-pid-file", 1, 0, OPT_KILLPID},
        {"storm-timeout", 1, 0, OPT_STORMTO},
        {"recover", 0, 0, OPT_RECOVER},
        {"reconnect-ms", 1, 0, OPT_RECONN},
        {"server", 1, 0, OPT_SERVER},
        {"json", 1, 0, OPT_JSON},
        {"seed", 1, 0, OPT_SEED},
        {"mark", 1, 0, OPT_MARK},
        {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case OPT_TARGET:
            opt.target = optarg;
            break;
        case OPT_SCEN:
            opt.scenario = optarg;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "sio") == 0)
                opt.mode = MODE_SIO;
            else if (strcmp(optarg, "raw") == 0)
                opt.mode = MODE_RAW;
            else
                die("--mode is sio or raw");
            break;
        case OPT_PORT:
            opt.port = atoi(optarg);
            break;
        case OPT_PATH:
            opt.path = optarg;
            break;
        case OPT_PUBPATH:
            opt.pub_path = optarg;
            break;
        case OPT_HTTPPUBS:
            opt.http_pubs = atoi(optarg);
            break;
        case OPT_CONNS:
            opt.conns = atoi(optarg);
            break;
        case OPT_NS:
            opt.namespaces = atoi(optarg);
            break;
        case OPT_NSPREFIX:
            opt.ns_prefix = optarg;
            break;
        case OPT_RPN:
            opt.rooms_per_ns = atoi(optarg);
            break;
        case OPT_NOCREATE:
            opt.no_create = true;
            break;
        case OPT_NAME:
            opt.name = optarg;
            break;
        case OPT_CONC:
            opt.concurrency = atoi(optarg);
            break;
        case OPT_SRC:
            opt.src_ips = atoi(optarg);
            break;
        case OPT_CTO:
            opt.connect_timeout = atof(optarg);
            break;
        case OPT_HOLD:
            opt.hold = atof(optarg);
            break;
        case OPT_PUBS:
            opt.publishers = atoi(optarg);
            break;
        case OPT_RATES: {
            char *s = optarg, *e;
            while (*s && opt.nrates < 64) {
                opt.rates[opt.nrates++] = strtod(s, &e);
                if (e == s) die("bad --rates");
                s = *e == ',' ? e + 1 : e;
            }
            break;
        }
        case OPT_NOSTOP:
            opt.stop_on_fail = false;
            break;
        case OPT_STEP:
            opt.step = atof(optarg);
            break;
        case OPT_DRAIN:
            opt.drain = atof(optarg);
            break;
        case OPT_HALF:
            opt.half = atof(optarg);
            break;
        case OPT_KEEPUP:
            opt.keepup_p99_ms = atof(optarg);
            break;
        case OPT_REFINE:
            opt.refine_pct = atof(optarg);
            if (opt.refine_pct < 0) die("bad --refine");
            break;
        case OPT_PIPE:
            opt.pipeline = atoi(optarg);
            break;
        case OPT_PAD:
            opt.text_pad = atoi(optarg);
            break;
        case OPT_STORM:
            if (strcmp(optarg, "kill") == 0)
                opt.storm = STORM_KILL;
            else if (strcmp(optarg, "drop") == 0)
                opt.storm = STORM_DROP;
            else
                die("--storm is kill or drop");
            break;
        case OPT_KILLPID:
            opt.kill_pid_file = optarg;
            break;
        case OPT_STORMTO:
            opt.storm_timeout = atof(optarg);
            break;
        case OPT_RECOVER:
            opt.recover = true;
            break;
        case OPT_RECONN:
            if (sscanf(optarg, "%d,%d", &opt.reconnect_first_ms, &opt.reconnect_max_ms) != 2)
                die("bad --reconnect-ms");
            break;
        case OPT_SERVER:
            add_server(optarg);
            break;
        case OPT_JSON:
            opt.json_path = optarg;
            break;
        case OPT_MARK:
            opt.mark_path = optarg;
            break;
        case OPT_SEED:
            rng_state = strtoull(optarg, NULL, 10) | 1;
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.conns <= 0 || opt.rooms_per_ns <= 0 ||
        opt.src_ips <= 0 || opt.src_ips > 250 || opt.concurrency <= 0)
        usage();
    if (opt.storm == STORM_KILL && !opt.kill_pid_file) die("--storm kill needs --kill-pid-file");
    if (!opt.path)
        opt.path = opt.mode == MODE_SIO ? "/socket.io/?EIO=4&transport=websocket" : "/sub/%s";
    if (!opt.pub_path) opt.pub_path = "/pub/%s";
    if (opt.json_path && !(json_out = fopen(opt.json_path, "a")))
        die("%s: %s", opt.json_path, strerror(errno));
    rng_state ^= (uint64_t)now_ns() * 2654435761u;

    /* as many descriptors as the hard limit allows */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    long need = opt.conns + opt.http_pubs + 64;
    if ((long)rl.rlim_cur < need)
        die("%d connections need %ld descriptors, the hard limit RLIMIT_NOFILE is %ld", opt.conns,
            need, (long)rl.rlim_cur);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    int nns = opt.mode == MODE_SIO ? (opt.namespaces > 0 ? opt.namespaces : 1)
                                   : (opt.namespaces > 0 ? opt.namespaces : 1);
    nrooms_total = nns * opt.rooms_per_ns;
    members = calloc((size_t)nrooms_total, sizeof *members);
    clients = calloc((size_t)opt.conns, sizeof *clients);
    if (!members || !clients) die("out of memory");
    for (int i = 0; i < opt.conns; i++) {
        conn *c = &clients[i];
        c->fd = -1;
        c->idx = i;
        c->role = ROLE_CLIENT;
        c->ns = i % nns;
        c->room = c->ns * opt.rooms_per_ns + (i / nns) % opt.rooms_per_ns;
        c->next_ack = 1;
    }
    base = snap();
    phase_setup();
    last_error[0] = 0;
    phase_connect();
    if (opt.mode == MODE_RAW && (opt.nrates || opt.pipeline > 0)) {
        nhttps = opt.http_pubs > 0 ? opt.http_pubs : 1;
        https = calloc((size_t)nhttps, sizeof *https);
        for (int i = 0; i < nhttps; i++) {
            https[i].fd = -1;
            https[i].role = ROLE_HTTP;
            https[i].idx = i;
            start_conn(&https[i]);
        }
        run(now_ns() + 5000000000LL, https_ready);
    }
    phase_hold();
    phase_publish();
    phase_storm();
    int status = ready_count > 0 ? 0 : 1;
    if (json_out) fclose(json_out);
    return status;
}
