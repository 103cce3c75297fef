/* test_peers.c -- the ephemeral channel: who is sent to, what is dropped */
#include "peers.h"

#include <setjmp.h>
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
#include <unistd.h>

#include <cmocka.h>

/* A context with one vhost that lists the peers protocol, a peers channel
 * on a database path in a fresh directory, and what it received. */
typedef struct fixture {
    char tmp[32];
    char db[48];
    char dir[64];
    struct lws_context *ctx;
    peers *p;
    int got;       /* datagrams received */
    char last[64]; /* the last one, NUL-terminated */
} fixture;

static void on_datagram(const char *data, size_t len, void *ud) {
    fixture *f = ud;
    f->got++;
    snprintf(f->last, sizeof f->last, "%.*s", (int)len, data);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/peers-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->db, sizeof f->db, "%s/chat.db", f->tmp);
    snprintf(f->dir, sizeof f->dir, "%s-peers", f->db);
    static const struct lws_protocols protocols[] = {
        {PEERS_PROTOCOL, peers_lws_callback, 0, 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    lws_set_log_level(0, NULL);
    f->ctx = lws_create_context(&info);
    assert_non_null(f->ctx);
    f->p = peers_new(lws_get_vhost_by_name(f->ctx, "default"), f->db, on_datagram, f);
    assert_non_null(f->p);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    peers_free(f->p);
    lws_context_destroy(f->ctx);
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

static void test_directory_is_private_and_named_by_pid(void **state) {
    fixture *f = *state;
    struct stat sb;
    assert_int_equal(lstat(f->dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)getpid());
    assert_true(exists(f, self));
}

static void test_alone_sends_nothing(void **state) {
    fixture *f = *state;
    assert_int_equal(peers_send(f->p, "{}", 2), 0);
}

static void test_sends_to_live_peers_only(void **state) {
    fixture *f = *state;
    int live = bind_peer(f, "999999991");
    int dead = bind_peer(f, "999999992");
    close(dead); /* its file stays: a process that died */
    char notes[160];
    snprintf(notes, sizeof notes, "%s/notes", f->dir);
    FILE *other = fopen(notes, "w");
    assert_non_null(other); /* not a pid: not a peer */
    fclose(other);
    assert_int_equal(peers_send(f->p, "{\"a\":1}", 7), 1);
    char buf[64];
    assert_int_equal(recv(live, buf, sizeof buf, 0), 7);
    assert_memory_equal(buf, "{\"a\":1}", 7);
    assert_false(exists(f, "999999992")); /* unlinked by the sender */
    assert_true(exists(f, "notes"));
    close(live);
}

static void test_oversized_payload_is_sent_to_none(void **state) {
    fixture *f = *state;
    int live = bind_peer(f, "999999993");
    static char big[PEERS_MAX_PAYLOAD + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(peers_send(f->p, big, sizeof big), 0);
    assert_int_equal(peers_send(f->p, big, PEERS_MAX_PAYLOAD), 1);
    static char buf[PEERS_MAX_PAYLOAD + 16];
    assert_int_equal(recv(live, buf, sizeof buf, MSG_DONTWAIT), PEERS_MAX_PAYLOAD);
    assert_true(recv(live, buf, sizeof buf, MSG_DONTWAIT) < 0); /* the big one never came */
    close(live);
}

static void test_slow_peer_misses_datagrams(void **state) {
    fixture *f = *state;
    int slow = bind_peer(f, "999999994"); /* never reads */
    int sent = 0, tries = 0;
    for (; tries < 100000 && peers_send(f->p, "{}", 2) == 1; tries++)
        sent++;
    assert_true(tries < 100000); /* the queue filled: dropped, not blocked */
    assert_int_equal(peers_send(f->p, "{}", 2), 0);
    assert_true(exists(f, "999999994")); /* slow is not dead */
    close(slow);
}

/* Sends len bytes of data to f's own socket, as another process would. */
static void send_to_self(const fixture *f, const char *data, size_t len) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%ld", f->dir, (long)getpid());
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)len);
    close(fd);
}

static void test_receives_through_the_loop_and_drops_oversized(void **state) {
    fixture *f = *state;
    static char big[PEERS_MAX_PAYLOAD + 100];
    memset(big, 'y', sizeof big);
    send_to_self(f, big, sizeof big);
    send_to_self(f, "{\"ok\":1}", 8);
    for (int i = 0; i < 200 && f->got == 0; i++)
        lws_service(f->ctx, 10);
    assert_int_equal(f->got, 1);
    assert_string_equal(f->last, "{\"ok\":1}");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_directory_is_private_and_named_by_pid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alone_sends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sends_to_live_peers_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_payload_is_sent_to_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_peer_misses_datagrams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receives_through_the_loop_and_drops_oversized, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
