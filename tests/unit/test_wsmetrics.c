/* test_wsmetrics.c -- each server's metrics are its own: two in one process
 * share no counter and no scrape state, a layer given none counts nothing
 *
 * Socket.IO servers run on the fake transport (fake_transport.h); their
 * rate limit is the counter under test: each refused event counts once in
 * the chat_rate_limited_total of the wsmetrics its config points at. */
#include "wsmetrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_transport.h"

/* 1 event a second, a bucket of 5: the sixth event at one instant is the
 * first refused; a socket is disconnected at its fifth refusal. */
#define RATE 1
#define BURST 5

static ws_clock *test_clock; /* the servers' time: fake_clock_ms */

static sio_server *server_new(const sio_metrics *m) {
    sio_config cfg = {.clock = test_clock, .rate = RATE, .burst = BURST, .metrics = m};
    sio_server *srv = sio_server_new(&cfg);
    assert_non_null(srv);
    sio_server_set_transport(srv, &fake_transport);
    sio_of(srv, "/"); /* no handler: events count, then go nowhere */
    return srv;
}

/* fake_conns[i] connects to srv's "/" and sends n events at one instant. */
static void connect_and_send(sio_server *srv, int i, int n) {
    char peer[32];
    snprintf(peer, sizeof peer, "10.0.0.%d", i + 1);
    fake_open(srv, i, peer);
    assert_int_equal(sio_client_message(fake_conns[i].client, "0", 1, false), 0);
    static const char event[] = "2[\"tick\"]";
    for (int k = 0; k < n; k++)
        assert_int_equal(sio_client_message(fake_conns[i].client, event, sizeof event - 1, false),
                         0);
}

/* wm's exposition; the caller frees it. */
static char *render(const wsmetrics *wm) {
    metrics_text out = {0};
    wsmetrics_render(wm, &out);
    assert_false(out.oom);
    return out.s ? out.s : strdup("");
}

static void assert_has(const char *text, const char *line) {
    if (!strstr(text, line)) fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_two_servers_count_apart(void **state) {
    (void)state;
    fake_clock_ms = 1000000;
    wsmetrics *a = wsmetrics_new(), *b = wsmetrics_new();
    assert_non_null(a);
    assert_non_null(b);
    sio_server *sa = server_new(wsmetrics_sio(a)), *sb = server_new(wsmetrics_sio(b));
    sio_server *none = server_new(NULL);
    wsmetrics_attach(a, NULL, sa, NULL);
    wsmetrics_attach(b, NULL, sb, NULL);

    connect_and_send(sa, 0, BURST + 2);   /* 2 refused, counted in a */
    connect_and_send(sb, 1, BURST + 1);   /* 1 refused, counted in b */
    connect_and_send(sb, 2, 0);           /* b's second socket */
    connect_and_send(none, 3, BURST + 3); /* 3 refused, counted nowhere */
    assert_int_equal(metrics_value(wsmetrics_sio(a)->rate_limited), 2);
    assert_int_equal(metrics_value(wsmetrics_sio(b)->rate_limited), 1);

    /* Each exposition has its own counters and its own server's sockets. */
    char *ta = render(a), *tb = render(b);
    assert_has(ta, "\nchat_rate_limited_total 2\n");
    assert_has(ta, "\nchat_ws_sockets{namespace=\"/\"} 1\n");
    assert_has(tb, "\nchat_rate_limited_total 1\n");
    assert_has(tb, "\nchat_ws_sockets{namespace=\"/\"} 2\n");
    free(ta);
    free(tb);

    fake_conns_reset();
    sio_server_free(sa);
    sio_server_free(sb);
    sio_server_free(none);
    wsmetrics_free(a);
    wsmetrics_free(b);
}

/* Every family of chat-ws's exposition, in order (README "Metrics"): the
 * registry's, then the scrape-time gauges of an attached server. */
static const char *const families[] = {
    "# TYPE chat_messages_received_total counter\n",
    "# TYPE chat_messages_stored_total counter\n",
    "# TYPE chat_messages_delivered_total counter\n",
    "# TYPE chat_deliveries_dropped_total counter\n",
    "chat_deliveries_dropped_total{reason=\"volatile\"} 0\n",
    "chat_deliveries_dropped_total{reason=\"slow_reader\"} 0\n",
    "# TYPE chat_rate_limited_total counter\n",
    "# TYPE chat_commit_duration_seconds histogram\n",
    "# TYPE chat_commit_batch_size histogram\n",
    "# TYPE chat_bus_lag_seconds histogram\n",
    "# TYPE chat_db_errors_total counter\n",
    "# TYPE chat_db_busy_retries_total counter\n",
    "# TYPE chat_ws_sessions_opened_total counter\n",
    "chat_ws_sessions_opened_total{transport=\"polling\"} 0\n",
    "chat_ws_sessions_opened_total{transport=\"websocket\"} 0\n",
    "# TYPE process_start_time_seconds gauge\n",
    "# TYPE chat_ws_sockets gauge\n",
    "# TYPE chat_ws_rooms gauge\n",
};

static void test_exposition_families(void **state) {
    (void)state;
    wsmetrics *wm = wsmetrics_new();
    assert_non_null(wm);
    sio_server *srv = server_new(wsmetrics_sio(wm));
    wsmetrics_attach(wm, NULL, srv, NULL);
    char *text = render(wm);
    const char *at = text;
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        const char *found = strstr(at, families[i]);
        if (!found) fail_msg("\"%s\" missing or out of order in:\n%s", families[i], text);
        at = found + strlen(families[i]);
    }
    /* the database's errors are one series, whichever layer counts them */
    assert_ptr_equal(wsmetrics_chat(wm)->db_errors, wsmetrics_hub(wm)->db_errors);
    free(text);
    sio_server_free(srv);
    wsmetrics_free(wm);
}

/* Without metrics (out of memory at start): every layer is given NULL and
 * the exposition is empty. */
static void test_no_metrics(void **state) {
    (void)state;
    assert_null(wsmetrics_eio(NULL));
    assert_null(wsmetrics_sio(NULL));
    assert_null(wsmetrics_hub(NULL));
    assert_null(wsmetrics_chat(NULL));
    wsmetrics_attach(NULL, NULL, NULL, NULL);
    char *text = render(NULL);
    assert_string_equal(text, "");
    free(text);
    wsmetrics_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_servers_count_apart),
        cmocka_unit_test(test_exposition_families),
        cmocka_unit_test(test_no_metrics),
    };
    test_clock = fake_clock_new();
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    ws_clock_free(test_clock);
    return failed;
}
