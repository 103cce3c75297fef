/* test_metrics.c -- the Prometheus text format registry and the log line format */
#include "log.h"
#include "metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The registry rendered, as a string the test frees. */
static char *render(const metrics *m) {
    metrics_text out = {0};
    metrics_render(m, &out);
    assert_false(out.oom);
    return out.s ? out.s : strdup("");
}

static void test_counter_and_gauge(void **state) {
    (void)state;
    metrics *m = metrics_new(false);
    assert_non_null(m);
    metrics_series *a = metrics_register(m, METRICS_COUNTER, "x_total", "Things.\\ and\nmore",
                                         "kind=\"a\"", NULL, 0);
    metrics_series *b = metrics_register(m, METRICS_COUNTER, "x_total", "", "kind=\"b\"", NULL, 0);
    metrics_series *g = metrics_register(m, METRICS_GAUGE, "y", "A gauge.", NULL, NULL, 0);
    metrics_inc(a);
    metrics_add(a, 2);
    metrics_inc(b);
    metrics_set(g, 0.25);
    metrics_inc(NULL); /* no registry: a no-op */
    char *s = render(m);
    assert_string_equal(s, "# HELP x_total Things.\\\\ and\\nmore\n"
                           "# TYPE x_total counter\n"
                           "x_total{kind=\"a\"} 3\n"
                           "x_total{kind=\"b\"} 1\n"
                           "# HELP y A gauge.\n"
                           "# TYPE y gauge\n"
                           "y 0.25\n");
    assert_true(metrics_value(a) == 3);
    free(s);
    metrics_free(m);
}

static void test_histogram(void **state) {
    (void)state;
    static const double bounds[] = {0.5, 1, 2.5};
    metrics *m = metrics_new(false);
    metrics_series *h =
        metrics_register(m, METRICS_HISTOGRAM, "lat_seconds", "Latency.", NULL, bounds, 3);
    metrics_observe(h, 0.1);
    metrics_observe(h, 0.5); /* le is inclusive */
    metrics_observe(h, 2);
    metrics_observe(h, 7);
    char *s = render(m);
    assert_string_equal(s, "# HELP lat_seconds Latency.\n"
                           "# TYPE lat_seconds histogram\n"
                           "lat_seconds_bucket{le=\"0.5\"} 2\n"
                           "lat_seconds_bucket{le=\"1\"} 2\n"
                           "lat_seconds_bucket{le=\"2.5\"} 3\n"
                           "lat_seconds_bucket{le=\"+Inf\"} 4\n"
                           "lat_seconds_sum 9.6\n"
                           "lat_seconds_count 4\n");
    free(s);
    metrics_free(m);
}

static void test_full_registry(void **state) {
    (void)state;
    metrics *m = metrics_new(false);
    for (int i = 0; i < METRICS_SERIES_MAX; i++)
        assert_non_null(metrics_register(m, METRICS_COUNTER, "c_total", "", NULL, NULL, 0));
    assert_null(metrics_register(m, METRICS_COUNTER, "c_total", "", NULL, NULL, 0));
    static const double many[METRICS_BUCKETS_MAX + 1] = {0};
    metrics_free(m);
    m = metrics_new(false);
    assert_null(
        metrics_register(m, METRICS_HISTOGRAM, "h", "", NULL, many, METRICS_BUCKETS_MAX + 1));
    metrics_free(m);
}

/* A child process's updates show in the parent: chat-fcgi's workers. */
static void test_shared_across_fork(void **state) {
    (void)state;
    metrics *m = metrics_new(true);
    metrics_series *c = metrics_register(m, METRICS_COUNTER, "n_total", "", NULL, NULL, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 1000; i++)
            metrics_inc(c);
        _exit(0);
    }
    for (int i = 0; i < 1000; i++)
        metrics_inc(c);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(metrics_value(c) == 2000);
    metrics_free(m);
}

/* Label values: key="value" with \, " and newline escaped. */
static const struct label_case {
    const char *name, *start, *key, *value, *out;
    size_t size;
    int rc;
} label_cases[] = {
    {"plain", "", "namespace", "/acme", "namespace=\"/acme\"", 64, 0},
    {"appended", "a=\"1\"", "b", "2", "a=\"1\",b=\"2\"", 64, 0},
    {"escaped", "", "k", "q\"b\\n\n", "k=\"q\\\"b\\\\n\\n\"", 64, 0},
    {"too small: unchanged", "a=\"1\"", "b", "22222222", "a=\"1\"", 12, -1},
};

static void test_label(void **state) {
    const struct label_case *c = *state;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", c->start);
    assert_int_equal(metrics_label(buf, c->size, c->key, c->value), c->rc);
    assert_string_equal(buf, c->out);
}

/* Captures stderr around one log_event and returns the line (static buffer). */
static const char *capture(log_format form, const char *msg, const char *key, const char *value) {
    static char line[LOG_LINE_MAX + 64];
    int fds[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    log_set(LOG_LEVEL_INFO, form);
    log_event(LOG_LEVEL_INFO, msg, key, value, NULL);
    log_event(LOG_LEVEL_DEBUG, "below the threshold", NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    assert_true(n > 0);
    line[n] = '\0';
    /* drop the time and pid, which change */
    char *p = strstr(line, form == LOG_FORMAT_JSON ? "\"level\"" : "level=");
    assert_non_null(p);
    char *pid = strstr(p, form == LOG_FORMAT_JSON ? "\"pid\":\"" : "pid=");
    assert_non_null(pid);
    char *after = strstr(pid, form == LOG_FORMAT_JSON ? "\"," : " ");
    memmove(pid, after + (form == LOG_FORMAT_JSON ? 2 : 1), strlen(after) + 1);
    return p;
}

/* One event, one line, however hostile the value. */
static const struct line_case {
    const char *name;
    log_format form;
    const char *msg, *key, *value, *out;
} line_cases[] = {
    {"kv plain", LOG_FORMAT_KV, "a user connected", "user", "ann",
     "level=info prog=chat msg=\"a user connected\" user=ann\n"},
    {"kv quoted", LOG_FORMAT_KV, "m", "user", "a b=c",
     "level=info prog=chat msg=m user=\"a b=c\"\n"},
    {"kv newline and quote", LOG_FORMAT_KV, "m", "reason", "x\n\"y\" level=error",
     "level=info prog=chat msg=m reason=\"x\\n\\\"y\\\" level=error\"\n"},
    {"kv control", LOG_FORMAT_KV, "m", "v", "\x1b[31m",
     "level=info prog=chat msg=m v=\"\\u001b[31m\"\n"},
    {"kv empty", LOG_FORMAT_KV, "m", "v", "", "level=info prog=chat msg=m v=\"\"\n"},
    {"json", LOG_FORMAT_JSON, "a user connected", "user", "a\"n\n",
     "\"level\":\"info\",\"prog\":\"chat\",\"msg\":\"a user connected\",\"user\":\"a\\\"n\\n\"}\n"},
};

static void test_line(void **state) {
    const struct line_case *c = *state;
    assert_string_equal(capture(c->form, c->msg, c->key, c->value), c->out);
}

static void test_line_cut(void **state) {
    (void)state;
    char big[LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *line = capture(LOG_FORMAT_KV, "m", "v", big);
    size_t n = strlen(line);
    assert_true(n < LOG_LINE_MAX);
    assert_string_equal(line + n - 4, "...\n");
    assert_null(strchr(line, '\n') == line + n - 1 ? NULL : "a second line");
}

#define RUN_TABLE(title, cases, fn)                                                                \
    do {                                                                                           \
        struct CMUnitTest t[sizeof cases / sizeof cases[0]];                                       \
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)                                \
            t[i] = (struct CMUnitTest){cases[i].name, fn, NULL, NULL, (void *)&cases[i]};          \
        failed += _cmocka_run_group_tests(title, t, sizeof cases / sizeof cases[0], NULL, NULL);   \
    } while (0)

int main(void) {
    int failed = 0;
    const struct CMUnitTest props[] = {
        cmocka_unit_test(test_counter_and_gauge), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_full_registry),     cmocka_unit_test(test_shared_across_fork),
        cmocka_unit_test(test_line_cut),
    };
    failed += cmocka_run_group_tests_name("metrics and log", props, NULL, NULL);
    RUN_TABLE("metrics_label", label_cases, test_label);
    RUN_TABLE("log_event lines", line_cases, test_line);
    return failed ? 1 : 0;
}
