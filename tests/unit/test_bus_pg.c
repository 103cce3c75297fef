/* test_bus_pg.c -- the PostgreSQL bus against a real server (tests/lib/pg.sh):
 * two nodes in one event loop, publishing and receiving, by reference,
 * ephemeral, hostile notifications, and a server restart */
#include "bus_lws.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_GOT 512
#define NO_POLL_MS 3600000

/* What one node received. */
typedef struct node {
    bus *bus;
    int messages;         /* messages received */
    int64_t ids[MAX_GOT]; /* their ids, in order */
    char last_text[16];   /* the start of the last one's text */
    char last_cid[16];    /* its client_id, "" for none */
    int reads;            /* messages(NULL): read the log */
    int controls;
    int ephemerals;
    char last_ephemeral[64];
} node;

typedef struct fixture {
    const char *url;
    struct lws_context *ctx;
    lws_sorted_usec_list_t tick; /* wakes lws_service so the waits see the time */
    struct lws_vhost *vh;
    node a, b;
} fixture;

static void on_messages(const store_message *m, void *ud) {
    node *n = ud;
    if (!m) {
        n->reads++;
        return;
    }
    if (n->messages < MAX_GOT) n->ids[n->messages] = m->id;
    n->messages++;
    snprintf(n->last_text, sizeof n->last_text, "%s", m->text);
    snprintf(n->last_cid, sizeof n->last_cid, "%s", m->client_id ? m->client_id : "");
}

static void on_control(void *ud) {
    node *n = ud;
    n->controls++;
}

static void on_ephemeral(const char *data, size_t len, void *ud) {
    node *n = ud;
    n->ephemerals++;
    snprintf(n->last_ephemeral, sizeof n->last_ephemeral, "%.*s", (int)len, data);
}

static const bus_handlers handlers = {on_messages, on_control, on_ephemeral};

static void on_tick(lws_sorted_usec_list_t *sul) {
    fixture *f = lws_container_of(sul, fixture, tick);
    lws_sul_schedule(f->ctx, 0, &f->tick, on_tick, 20 * LWS_US_PER_MS);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serves the loop until *value reaches want (or past it), for up to 20 s.
 * The deadline is a hang guard, not a timing assertion. */
static void serve_until(fixture *f, const int *value, int want) {
    long long deadline = now_ms() + 20000;
    while (*value < want && now_ms() < deadline)
        lws_service(f->ctx, 0);
    assert_true(*value >= want);
}

/* Serves the loop for ms milliseconds. */
static void serve_for(fixture *f, int ms) {
    long long end = now_ms() + ms;
    while (now_ms() < end)
        lws_service(f->ctx, 0);
}

static int connected_both(const fixture *f) {
    return bus_connected(f->a.bus) && bus_connected(f->b.bus);
}

static void wait_connected(fixture *f) {
    long long deadline = now_ms() + 20000;
    while (!connected_both(f) && now_ms() < deadline)
        lws_service(f->ctx, 0);
    assert_true(connected_both(f));
}

static int setup(void **state) {
    const char *url = getenv("CHAT_TEST_PG_URL");
    if (!url || !*url) {
        fprintf(stderr, "test_bus_pg: CHAT_TEST_PG_URL unset (tests/lib/pg.sh starts a server)\n");
        return -1;
    }
    fixture *f = calloc(1, sizeof *f);
    f->url = url;
    static const struct lws_protocols protocols[] = {
        {BUS_PROTOCOL, bus_lws_callback, 0, 0, 0, NULL, 0},
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
    lws_sul_schedule(f->ctx, 0, &f->tick, on_tick, 20 * LWS_US_PER_MS);
    f->vh = lws_get_vhost_by_name(f->ctx, "default");
    assert_non_null(f->vh);
    f->a.bus = bus_open(url, NULL, NULL, 0);
    f->b.bus = bus_open(url, NULL, NULL, 0);
    assert_non_null(f->a.bus);
    assert_non_null(f->b.bus);
    /* no fallback poll during a test: what arrives came through NOTIFY */
    assert_int_equal(bus_listen(f->a.bus, f->ctx, f->vh, &handlers, &f->a, NO_POLL_MS), 0);
    assert_int_equal(bus_listen(f->b.bus, f->ctx, f->vh, &handlers, &f->b, NO_POLL_MS), 0);
    assert_int_equal(bus_listen(f->b.bus, f->ctx, f->vh, &handlers, &f->b, NO_POLL_MS), -1);
    wait_connected(f);
    /* each read the log once it listened: nothing it missed is lost */
    serve_until(f, &f->a.reads, 1);
    serve_until(f, &f->b.reads, 1);
    serve_for(f, 100); /* the other's "read the log" after connecting */
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    bus_close(f->a.bus);
    bus_close(f->b.bus);
    lws_sul_cancel(&f->tick);
    lws_context_destroy(f->ctx);
    free(f);
    return 0;
}

static store_message message(int64_t id, const char *text, const char *cid) {
    return (store_message){.id = id,
                           .room_id = 7,
                           .room = "general",
                           .ns = "/",
                           .user = "ann",
                           .text = text,
                           .client_id = cid,
                           .ts = 1700000000000};
}

static void test_messages_reach_the_other_node_in_order(void **state) {
    fixture *f = *state;
    int64_t id = 1000;
    for (int batch = 0; batch < 10; batch++) {
        store_message rows[20];
        for (int i = 0; i < 20; i++)
            rows[i] = message(++id, "hi \"there\" \\o/", i ? NULL : "c-1");
        assert_int_equal(bus_publish_messages(f->a.bus, rows, 20), 0);
        if (batch % 3 == 0) lws_service(f->ctx, 0); /* some batches wait for the one in flight */
    }
    serve_until(f, &f->b.messages, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(f->b.ids[i], 1001 + i);
    assert_string_equal(f->b.last_text, "hi \"there\" \\o/");
    assert_string_equal(f->b.last_cid, "");
    serve_for(f, 100);
    assert_int_equal(f->b.messages, 200); /* once each */
    assert_int_equal(f->a.messages, 0);   /* its own are not handed back */
}

static void test_a_big_message_goes_by_reference(void **state) {
    fixture *f = *state;
    char *big = malloc(9001);
    memset(big, 'x', 9000);
    big[9000] = '\0';
    store_message rows[3] = {message(1, "before", "c-b"), message(2, big, NULL),
                             message(3, "after", NULL)};
    int reads = f->b.reads;
    assert_int_equal(bus_publish_messages(f->a.bus, rows, 3), 0);
    serve_until(f, &f->b.messages, 2);
    assert_int_equal(f->b.reads, reads + 1); /* the big one: read the log */
    assert_int_equal(f->b.ids[0], 1);
    assert_int_equal(f->b.ids[1], 3);
    assert_string_equal(f->b.last_text, "after");
    free(big);
}

static void test_control_and_ephemeral(void **state) {
    fixture *f = *state;
    int controls = f->b.controls;
    assert_int_equal(bus_publish_control(f->a.bus, 42), 0);
    serve_until(f, &f->b.controls, controls + 1);

    char big[BUS_EPHEMERAL_MAX + 2];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(bus_publish_ephemeral(f->a.bus, big, sizeof big - 1), -1); /* refused */
    assert_int_equal(bus_publish_ephemeral(f->a.bus, "a\0b", 3), -1);           /* NUL */
    assert_int_equal(bus_publish_ephemeral(f->a.bus, "{\"typing\":1}", 12), 0);
    serve_until(f, &f->b.ephemerals, 1);
    assert_string_equal(f->b.last_ephemeral, "{\"typing\":1}");
    serve_for(f, 100);
    assert_int_equal(f->b.ephemerals, 1);
    assert_int_equal(f->a.ephemerals, 0);
}

/* Publications that outrun the server queue up to a bound; past it,
 * ephemeral events are dropped and messages become one "read the log". */
static void test_a_full_queue_drops_ephemera_and_sends_one_reference(void **state) {
    fixture *f = *state;
    char *text = malloc(4001);
    memset(text, 'q', 4000);
    text[4000] = '\0';
    int reads = f->b.reads, over = 0;
    /* without serving the loop: one batch in flight, the rest queued */
    for (int i = 1; i <= 1500; i++) {
        store_message m = message(i, text, NULL);
        bus_publish_messages(f->a.bus, &m, 1);
        if (bus_publish_ephemeral(f->a.bus, "t", 1) != 0) over++;
    }
    assert_true(over > 0); /* past the bound, typing is dropped */
    serve_until(f, &f->b.reads, reads + 1);
    serve_for(f, 300);
    assert_int_equal(f->b.reads, reads + 1); /* one reference for all the rest */
    assert_true(f->b.messages > 0 && f->b.messages < 1500);
    for (int i = 0; i < f->b.messages && i < MAX_GOT; i++)
        assert_int_equal(f->b.ids[i], i + 1);
    free(text);
}

/* Runs one NOTIFY as another client of the database would. */
static void raw_notify(const char *url, const char *channel, const char *payload) {
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *params[2] = {channel, payload};
    PGresult *r = PQexecParams(c, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* A notification is anyone's who can reach the database: what is not a
 * whole, well-typed message array means "read the log", never a crash. */
static void test_hostile_notifications_mean_read_the_log(void **state) {
    fixture *f = *state;
    static const char *const bad[] = {
        "garbage",
        "[",
        "[{\"id\":\"1\",\"room_id\":1,\"room\":\"r\",\"ns\":\"/\",\"user\":\"u\",\"text\":\"t\","
        "\"ts\":1}]",
        "[{\"id\":1,\"room_id\":1,\"room\":\"r\",\"ns\":\"/\",\"user\":\"u\",\"ts\":1}]",
        "[{\"id\":1,\"room_id\":1,\"room\":\"r\",\"ns\":\"/\",\"user\":\"u\",\"text\":\"t\","
        "\"ts\":1,\"client_id\":5}]",
        "[{\"id\":0,\"room_id\":1,\"room\":\"r\",\"ns\":\"/"
        "\",\"user\":\"u\",\"text\":\"t\",\"ts\":1}]",
        "[{\"id\":1,\"id\":2,\"room_id\":1,\"room\":\"r\",\"ns\":\"/"
        "\",\"user\":\"u\",\"text\":\"t\","
        "\"ts\":1}]",
        "[1]",
        "{\"read\":[1,2]}",
        "",
    };
    int reads = f->b.reads;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        raw_notify(f->url, "chat_log", bad[i]);
    serve_until(f, &f->b.reads, reads + (int)(sizeof bad / sizeof *bad));
    assert_int_equal(f->b.messages, 0);

    /* an ephemeral payload over the limit is not handed on */
    char *big = malloc(BUS_EPHEMERAL_MAX + 2);
    memset(big, 'z', BUS_EPHEMERAL_MAX + 1);
    big[BUS_EPHEMERAL_MAX + 1] = '\0';
    raw_notify(f->url, "chat_ephemeral", big);
    free(big);
    raw_notify(f->url, "chat_ephemeral", "small");
    serve_until(f, &f->b.ephemerals, 1);
    assert_string_equal(f->b.last_ephemeral, "small");
    assert_int_equal(f->b.ephemerals, 1);

    raw_notify(f->url, "chat_log",
               "[{\"id\":9,\"room_id\":1,\"room\":\"r\",\"ns\":\"/\",\"user\":\"u\","
               "\"text\":\"fine\",\"ts\":1,\"client_id\":\"k\"}]");
    serve_until(f, &f->b.messages, 1);
    assert_int_equal(f->b.ids[0], 9);
    assert_string_equal(f->b.last_cid, "k");
}

/* A process without a loop (chat-fcgi) publishes synchronously. */
static void test_publishing_without_a_loop(void **state) {
    fixture *f = *state;
    bus *c = bus_open(f->url, NULL, NULL, 0);
    int controls = f->b.controls;
    store_message m = message(77, "from fcgi", NULL);
    assert_int_equal(bus_publish_messages(c, &m, 1), 0);
    assert_int_equal(bus_publish_control(c, 5), 0);
    assert_false(bus_connected(c)); /* it does not listen */
    serve_until(f, &f->a.messages, 1);
    serve_until(f, &f->b.messages, 1);
    assert_int_equal(f->b.ids[0], 77);
    serve_until(f, &f->b.controls, controls + 1);
    bus_close(c);
}

/* Restarts the test server (its folder and user come from tests/lib/pg.sh). */
static void restart_server(void) {
    const char *dir = getenv("PG_TEST_DIR"), *bin = getenv("PG_TEST_BIN"),
               *user = getenv("PG_TEST_USER");
    assert_non_null(dir);
    assert_non_null(bin);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && %s%s%s '%s/pg_ctl' -D '%s/data' -m fast -w -t 60 restart "
             ">/dev/null 2>&1",
             dir, geteuid() == 0 ? "runuser -u '" : "", geteuid() == 0 && user ? user : "",
             geteuid() == 0 ? "' --" : "", bin, dir);
    assert_int_equal(system(cmd), 0);
}

static void test_server_restart_reconnects_and_catches_up(void **state) {
    fixture *f = *state;
    int reads_a = f->a.reads, reads_b = f->b.reads;
    restart_server();
    /* both notice, go down, come back with their LISTENs, read the log */
    long long deadline = now_ms() + 30000;
    while ((f->a.reads == reads_a || f->b.reads == reads_b || !connected_both(f)) &&
           now_ms() < deadline)
        lws_service(f->ctx, 0);
    assert_true(connected_both(f));
    assert_true(f->a.reads > reads_a);
    assert_true(f->b.reads > reads_b);
    /* and the bus works again */
    store_message m = message(500, "back", NULL);
    assert_int_equal(bus_publish_messages(f->b.bus, &m, 1), 0);
    serve_until(f, &f->a.messages, 1);
    assert_int_equal(f->a.ids[0], 500);
}

/* While the connection is down, publications are not taken (the reference
 * sent on reconnecting covers them), and connected() says so. */
static void test_down_while_the_server_is_away(void **state) {
    fixture *f = *state;
    bus *c = bus_open("postgresql://chat@127.0.0.1:1/none", NULL, NULL, 0);
    node n = {0};
    assert_int_equal(bus_listen(c, f->ctx, f->vh, &handlers, &n, NO_POLL_MS), 0);
    serve_for(f, 400); /* a few attempts, refused */
    assert_false(bus_connected(c));
    /* said to be maybe lost: the receivers' fallback poll covers it */
    assert_int_equal(bus_publish_ephemeral(c, "x", 1), -1);
    store_message m = message(1, "lost?", NULL);
    assert_int_equal(bus_publish_messages(c, &m, 1), -1);
    assert_int_equal(bus_publish_control(c, 1), -1);
    assert_int_equal(n.reads, 1); /* bus.c's first poll only: never connected */
    bus_close(c);
}

/* Two deployments on one database: bus_options' channel keeps them apart. */
static void test_channels_keep_deployments_apart(void **state) {
    fixture *f = *state;
    bus *other = bus_open(f->url, &(bus_options){.channel = "staging"}, NULL, 0);
    node n = {0};
    assert_int_equal(bus_listen(other, f->ctx, f->vh, &handlers, &n, NO_POLL_MS), 0);
    long long deadline = now_ms() + 20000;
    while (!bus_connected(other) && now_ms() < deadline)
        lws_service(f->ctx, 0);
    assert_true(bus_connected(other));
    store_message m = message(3, "prod", NULL);
    assert_int_equal(bus_publish_messages(f->a.bus, &m, 1), 0);
    serve_until(f, &f->b.messages, 1);
    assert_int_equal(bus_publish_ephemeral(other, "staging", 7), 0);
    serve_for(f, 200);
    assert_int_equal(n.messages, 0);
    assert_int_equal(f->b.ephemerals, 0);
    bus_close(other);
}

/* A listener that stops (bus_unlisten) before its lws context is destroyed,
 * connected or waiting to reconnect: nothing of ours is left in the context,
 * later publications go out without a loop, and closing after the context
 * is gone touches none of it (ASan would see it). */
static void test_unlisten_then_the_context_goes(void **state) {
    fixture *f = *state;
    static const struct lws_protocols protocols[] = {
        {BUS_PROTOCOL, bus_lws_callback, 0, 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    struct lws_context *ctx = lws_create_context(&info);
    assert_non_null(ctx);
    bus *c = bus_open(f->url, NULL, NULL, 0);
    node n = {0};
    assert_int_equal(
        bus_listen(c, ctx, lws_get_vhost_by_name(ctx, "default"), &handlers, &n, NO_POLL_MS), 0);
    long long deadline = now_ms() + 20000;
    while (!bus_connected(c) && now_ms() < deadline) {
        lws_service(ctx, 0);
        lws_service(f->ctx, 0);
    }
    assert_true(bus_connected(c));
    /* and one that is down, its reconnection timer pending in the context */
    bus *d = bus_open("postgresql://chat@127.0.0.1:1/none", NULL, NULL, 0);
    assert_int_equal(
        bus_listen(d, ctx, lws_get_vhost_by_name(ctx, "default"), &handlers, &n, NO_POLL_MS), 0);
    for (int i = 0; i < 5; i++)
        lws_service(ctx, 0);
    assert_false(bus_connected(d));
    bus_unlisten(c);
    bus_unlisten(d);
    lws_context_destroy(ctx);
    assert_false(bus_connected(c));
    bus_close(d);
    store_message m = message(31, "after the loop", NULL);
    assert_int_equal(bus_publish_messages(c, &m, 1), 0);
    serve_until(f, &f->b.messages, 1);
    assert_int_equal(f->b.ids[0], 31);
    assert_int_equal(n.messages, 0);
    bus_close(c);
}

int main(void) {
    /* tests/run.sh runs each binary on SQLite, and this one again on
     * PostgreSQL (PG_UNIT) with a server of tests/lib/pg.sh */
    const char *backend = getenv("CHAT_TEST_STORE");
    if (!backend || strcmp(backend, "postgresql") != 0 || !getenv("CHAT_TEST_PG_URL")) {
        printf("test_bus_pg: needs PostgreSQL (CHAT_TEST_STORE=postgresql and tests/lib/pg.sh's "
               "CHAT_TEST_PG_URL): skipped here, run by tests/run.sh's PostgreSQL pass\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_channels_keep_deployments_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_reach_the_other_node_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_big_message_goes_by_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_and_ephemeral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_queue_drops_ephemera_and_sends_one_reference,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_notifications_mean_read_the_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publishing_without_a_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_while_the_server_is_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart_reconnects_and_catches_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unlisten_then_the_context_goes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
