/* test_bus_local.c -- the local bus: who hears what, what is dropped, the backup wake-up */
#include "bus_lws.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_IDS 64

/* What a listening bus handed to its handlers. */
typedef struct heard {
    int64_t ids[MAX_IDS]; /* messages, in the order received */
    char texts[MAX_IDS][16];
    int nids;
    int wakes;    /* messages(NULL): read the log */
    int controls; /* control() */
    int ephemera;
    char last[BUS_EPHEMERAL_MAX + 1]; /* the last ephemeral event, NUL-terminated */
    size_t last_len;
} heard;

static void on_messages(const store_message *m, void *ud) {
    heard *h = ud;
    if (!m) {
        h->wakes++;
        return;
    }
    if (h->nids < MAX_IDS) {
        snprintf(h->texts[h->nids], sizeof h->texts[0], "%s", m->text);
        h->ids[h->nids++] = m->id;
    }
}

static void on_control(void *ud) {
    ((heard *)ud)->controls++;
}

static void on_ephemeral(const char *data, size_t len, void *ud) {
    heard *h = ud;
    h->ephemera++;
    h->last_len = len;
    memcpy(h->last, data, len);
    h->last[len] = '\0';
}

static const bus_handlers handlers = {on_messages, on_control, on_ephemeral};

static const struct lws_protocols protocols[] = {
    {BUS_PROTOCOL, bus_lws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static struct lws_context *new_context(void) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    lws_set_log_level(0, NULL);
    return lws_create_context(&info);
}

/* A listening bus on a database path in a fresh directory. */
typedef struct fixture {
    char tmp[32];
    char db[48];
    char dir[64];    /* <db>-peers */
    char notify[64]; /* <db>-notify */
    struct lws_context *ctx;
    bus *b;
    heard h;
} fixture;

/* One turn of ctx's loop, at most about 10 ms: lws waits for its next timer
 * whatever timeout it is given, so a timer bounds the wait. */
static void nothing(lws_sorted_usec_list_t *sul) {
    (void)sul;
}

static void serve(struct lws_context *ctx) {
    static lws_sorted_usec_list_t tick;
    memset(&tick, 0, sizeof tick);
    lws_sul_schedule(ctx, 0, &tick, nothing, 10 * LWS_US_PER_MS);
    lws_service(ctx, 10);
    lws_sul_cancel(&tick);
}

/* Serves f's loop until *counter exceeds was, or about 2 s. */
static void serve_until(fixture *f, const int *counter, int was) {
    for (int i = 0; i < 200 && *counter <= was; i++)
        serve(f->ctx);
}

/* Serves a few loop turns: what is queued is read. */
static void serve_a_little(fixture *f) {
    for (int i = 0; i < 5; i++)
        serve(f->ctx);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/bus-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->db, sizeof f->db, "%s/chat.db", f->tmp);
    snprintf(f->dir, sizeof f->dir, "%s-peers", f->db);
    snprintf(f->notify, sizeof f->notify, "%s-notify", f->db);
    f->ctx = new_context();
    assert_non_null(f->ctx);
    char err[128];
    f->b = bus_open(f->db, NULL, err, sizeof err);
    assert_non_null(f->b);
    assert_int_equal(
        bus_listen(f->b, f->ctx, lws_get_vhost_by_name(f->ctx, "default"), &handlers, &f->h, 60000),
        0);
    serve_until(f, &f->h.wakes, 0); /* the first poll, at once */
    assert_int_equal(f->h.wakes, 1);
    assert_int_equal(f->h.controls, 1);
    f->h = (heard){0};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    bus_unlisten(f->b);
    lws_context_destroy(f->ctx);
    bus_close(f->b);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmp);
    if (system(cmd)) return -1;
    free(f);
    return 0;
}

/* A datagram socket bound as the peer named name in f's directory. */
static int bind_peer(const fixture *f, const char *name) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", f->dir, name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static bool exists(const fixture *f, const char *name) {
    char path[160];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static off_t notify_size(const fixture *f) {
    struct stat sb;
    assert_int_equal(stat(f->notify, &sb), 0);
    return sb.st_size;
}

/* Sends len bytes of data to f's own socket, as another process would. */
static void send_to_self(const fixture *f, const char *data, size_t len) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%ld", f->dir, (long)getpid());
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)len);
    close(fd);
}

static store_message msg(int64_t id, const char *text) {
    return (store_message){id, 7, "general", "/", "ann", text, NULL, 1700000000000};
}

/* ---- cases ------------------------------------------------------------ */

static void test_directory_is_private_and_named_by_pid(void **state) {
    fixture *f = *state;
    struct stat sb;
    assert_int_equal(lstat(f->dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)getpid());
    assert_true(exists(f, self));
    assert_true(bus_connected(f->b));
}

/* Alone: every publication succeeds, nobody is sent anything, the notify
 * file is untouched, and this process does not hear itself. */
static void test_alone_sends_nothing_and_hears_no_echo(void **state) {
    fixture *f = *state;
    store_message m[2] = {msg(1, "a"), msg(2, "b")};
    assert_int_equal(bus_publish_messages(f->b, m, 2), 0);
    assert_int_equal(bus_publish_control(f->b, 1), 0);
    assert_int_equal(bus_publish_ephemeral(f->b, "{}", 2), 0);
    serve_a_little(f);
    assert_int_equal(f->h.nids + f->h.wakes + f->h.controls + f->h.ephemera, 0);
    assert_int_equal(notify_size(f), 0);
}

/* The rows travel in the datagram, in order, so a receiver need not read
 * them back; a dead peer's socket is unlinked; a non-pid name is no peer. */
static void test_messages_reach_live_peers_with_their_rows(void **state) {
    fixture *f = *state;
    int live = bind_peer(f, "999999991");
    close(bind_peer(f, "999999992")); /* its file stays: a process that died */
    char notes[160];
    snprintf(notes, sizeof notes, "%s/notes", f->dir);
    FILE *other = fopen(notes, "w");
    assert_non_null(other);
    fclose(other);
    store_message m[2] = {msg(41, "hello"), msg(42, "there")};
    m[1].client_id = "c-1";
    assert_int_equal(bus_publish_messages(f->b, m, 2), 0);
    char buf[512];
    ssize_t n = recv(live, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "M[[41,7,\"/\",\"general\",\"ann\",\"hello\",1700000000000,null],"
                             "[42,7,\"/\",\"general\",\"ann\",\"there\",1700000000000,\"c-1\"]]");
    assert_false(exists(f, "999999992"));
    assert_true(exists(f, "notes"));
    assert_int_equal(bus_publish_control(f->b, 9), 0);
    assert_int_equal(recv(live, buf, sizeof buf, MSG_DONTWAIT), 1);
    assert_int_equal(buf[0], 'C');
    close(live);
}

/* A batch bigger than one datagram is split, in order; a message too big
 * for any datagram goes as a bare wake-up. */
static void test_big_batches_are_split_in_order(void **state) {
    fixture *f = *state;
    int live = bind_peer(f, "999999995");
    int big = 1 << 20;
    setsockopt(live, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    static char text[15000];
    memset(text, 'x', sizeof text - 1);
    store_message m[10];
    for (int i = 0; i < 10; i++)
        m[i] = msg(100 + i, text);
    assert_int_equal(bus_publish_messages(f->b, m, 10), 0);
    static char buf[70000];
    int datagrams = 0;
    int64_t next = 100;
    ssize_t n;
    while ((n = recv(live, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
        datagrams++;
        buf[n] = '\0';
        assert_int_equal(buf[0], 'M');
        for (char *p = buf; (p = strstr(p, "[1")); p++) /* each message's "[id," */
            if (p[-1] == '[' || p[-1] == ',') assert_int_equal(strtoll(p + 1, NULL, 10), next++);
    }
    assert_int_equal(next, 110);
    assert_true(datagrams > 1);

    static char huge[70000];
    memset(huge, 'y', sizeof huge - 1);
    store_message one = msg(200, huge);
    assert_int_equal(bus_publish_messages(f->b, &one, 1), 0);
    assert_int_equal(recv(live, buf, sizeof buf, MSG_DONTWAIT), 1);
    assert_int_equal(buf[0], 'W');
    close(live);
}

/* A receiver too slow to take a wake-up: the publisher writes the notify
 * file, which wakes every listener to read from its cursor. Ephemera are
 * just dropped. */
static void test_lost_wake_up_goes_through_the_notify_file(void **state) {
    fixture *f = *state;
    int slow = bind_peer(f, "999999994"); /* never reads */
    int tries = 0;
    for (; tries < 100000 && bus_publish_ephemeral(f->b, "{}", 2) == 0; tries++) {
    }
    assert_true(tries < 100000); /* the queue filled: dropped, not blocked */
    assert_int_equal(notify_size(f), 0);
    assert_true(exists(f, "999999994")); /* slow is not dead */
    store_message m = msg(5, "x");
    assert_int_equal(bus_publish_messages(f->b, &m, 1), -1);
    assert_int_equal(notify_size(f), 1);
    serve_until(f, &f->h.wakes, 0); /* this listener saw the notify file change */
    assert_true(f->h.wakes >= 1);
    assert_true(f->h.controls >= 1);
    close(slow);
}

/* What another process sends, hostile bytes included. */
static void test_receives_through_the_loop_and_drops_what_is_bad(void **state) {
    fixture *f = *state;
    static char big[BUS_EPHEMERAL_MAX + 2];
    big[0] = 'E';
    memset(big + 1, 'y', sizeof big - 1);
    send_to_self(f, big, sizeof big); /* an ephemeral event over the limit */
    static char huge[70000];
    memset(huge, 'M', sizeof huge);
    send_to_self(f, huge, sizeof huge); /* over any datagram we take */
    send_to_self(f, "Z???", 4);         /* no such kind */
    send_to_self(f, "", 0);
    send_to_self(f, "E{\"ok\":1}", 9);
    serve_until(f, &f->h.ephemera, 0);
    assert_int_equal(f->h.ephemera, 1);
    assert_string_equal(f->h.last, "{\"ok\":1}");
    assert_int_equal(f->h.nids + f->h.wakes + f->h.controls, 0);

    /* a well-formed batch: each message, in order */
    const char ok[] = "M[[3,7,\"/\",\"general\",\"ann\",\"a\",1,null],"
                      "[4,7,\"/\",\"general\",\"bob\",\"b\",2,\"k\"]]";
    send_to_self(f, ok, sizeof ok - 1);
    serve_until(f, &f->h.nids, 1);
    assert_int_equal(f->h.nids, 2);
    assert_int_equal(f->h.ids[0], 3);
    assert_int_equal(f->h.ids[1], 4);
    assert_string_equal(f->h.texts[1], "b");

    /* malformed rows: nothing of them is trusted, the log is read instead */
    static const char *bad[] = {
        "M",
        "M[]",
        "Mnot json",
        "M[[3,7,\"/\",\"general\",\"ann\",\"a\",1]]",                /* a field missing */
        "M[[\"3\",7,\"/\",\"general\",\"ann\",\"a\",1,null]]",       /* id not a number */
        "M[[0,7,\"/\",\"general\",\"ann\",\"a\",1,null]]",           /* id 0 */
        "M[[5,7,\"/\",\"general\",null,\"a\",1,null]]",              /* no user */
        "M[[5,7,\"/\",\"general\",\"ann\",\"a\",1,7]]",              /* client_id a number */
        "M[[5,7,\"/\",\"g\",\"a\",\"t\",1,null],[6,7,\"/\",\"g\"]]", /* one good, one bad */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        send_to_self(f, bad[i], strlen(bad[i]));
    send_to_self(f, "W", 1);
    int n = (int)(sizeof bad / sizeof *bad) + 1;
    for (int i = 0; i < 200 && f->h.wakes < n; i++)
        serve(f->ctx);
    assert_int_equal(f->h.wakes, n);
    assert_int_equal(f->h.nids, 2); /* none of the bad ones came through */
    send_to_self(f, "C", 1);
    serve_until(f, &f->h.controls, 0);
    assert_int_equal(f->h.controls, 1);
}

static void test_publish_refuses_bad_ephemera(void **state) {
    fixture *f = *state;
    int live = bind_peer(f, "999999993");
    static char big[BUS_EPHEMERAL_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(bus_publish_ephemeral(f->b, big, sizeof big), -1);
    assert_int_equal(bus_publish_ephemeral(f->b, "a\0b", 3), -1);
    assert_int_equal(bus_publish_ephemeral(f->b, "", 0), -1);
    assert_int_equal(bus_publish_ephemeral(f->b, big, BUS_EPHEMERAL_MAX), 0);
    static char buf[BUS_EPHEMERAL_MAX + 16];
    assert_int_equal(recv(live, buf, sizeof buf, MSG_DONTWAIT), BUS_EPHEMERAL_MAX + 1);
    assert_int_equal(buf[0], 'E');
    assert_true(recv(live, buf, sizeof buf, MSG_DONTWAIT) < 0); /* the refused ones never came */
    close(live);
}

/* Another process, with its own bus and loop, hears what this one
 * publishes, and this one hears nothing of its own. */
static void test_publish_wakes_another_process(void **state) {
    fixture *f = *state;
    int ready[2], report[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(report), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* the other process: no cmocka here */
        struct lws_context *ctx = new_context();
        heard h = {0};
        bus *b = ctx ? bus_open(f->db, NULL, NULL, 0) : NULL;
        if (!b || bus_listen(b, ctx, lws_get_vhost_by_name(ctx, "default"), &handlers, &h, 60000))
            _exit(2);
        if (write(ready[1], "r", 1) != 1) _exit(3);
        for (int i = 0; i < 500 && !(h.nids == 2 && h.controls >= 2 && h.ephemera == 1); i++)
            serve(ctx);
        char out[128];
        int n = snprintf(out, sizeof out, "%d:%lld,%lld:%s:%s:%d", h.nids, (long long)h.ids[0],
                         (long long)h.ids[1], h.texts[0], h.last, h.controls >= 2);
        if (write(report[1], out, (size_t)n) != n) _exit(4);
        bus_unlisten(b);
        lws_context_destroy(ctx);
        bus_close(b);
        _exit(0);
    }
    close(ready[1]);
    close(report[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    store_message m[2] = {msg(11, "one"), msg(12, "two")};
    assert_int_equal(bus_publish_messages(f->b, m, 2), 0);
    assert_int_equal(bus_publish_control(f->b, 3), 0);
    assert_int_equal(bus_publish_ephemeral(f->b, "{\"t\":1}", 7), 0);
    char out[128] = "";
    ssize_t n = read(report[0], out, sizeof out - 1);
    assert_true(n > 0);
    out[n] = '\0';
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(out, "2:11,12:one:{\"t\":1}:1");
    serve_a_little(f);
    assert_int_equal(f->h.nids + f->h.ephemera, 0); /* no echo of our own */
    close(ready[0]);
    close(report[0]);
}

static void test_open_refuses_what_it_cannot_serve(void **state) {
    (void)state;
    char err[128] = "";
    /* the PostgreSQL backend is built in (bus/bus_pg.c, test_bus_pg.c): a URL
     * opens without connecting; one that libpq cannot parse is refused */
    bus *pg = bus_open("postgres://localhost/chat", NULL, err, sizeof err);
    assert_non_null(pg);
    bus_close(pg);
    assert_null(bus_open("postgresql://h/db?no_such_option=1", NULL, err, sizeof err));
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_null(bus_open("postgresql://[::1/db", NULL, NULL, 0));
    assert_null(bus_open("", NULL, err, sizeof err));
    assert_null(bus_open(NULL, NULL, err, sizeof err));
    bus_options bad = {.channel = "Chat; DROP"};
    assert_null(bus_open("/tmp/x.db", &bad, err, sizeof err));
    assert_non_null(strstr(err, "channel"));
    static char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    assert_null(bus_open(longpath, NULL, err, sizeof err)); /* no unix socket that long */
    /* NULL buses are no-ops */
    assert_int_equal(bus_publish_control(NULL, 1), 0);
    assert_false(bus_connected(NULL));
    bus_unlisten(NULL);
    bus_close(NULL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_directory_is_private_and_named_by_pid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alone_sends_nothing_and_hears_no_echo, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_messages_reach_live_peers_with_their_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_big_batches_are_split_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_wake_up_goes_through_the_notify_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_receives_through_the_loop_and_drops_what_is_bad, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_refuses_bad_ephemera, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_wakes_another_process, setup, teardown),
        cmocka_unit_test(test_open_refuses_what_it_cannot_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
