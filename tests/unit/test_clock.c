/* test_clock.c -- timers on a clock: order, replacing, cancelling, stopping,
 * and what the backend is asked to wake for */
#include "clock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_clock.h"

static char fired[256]; /* the names of the timers run, in order */

typedef struct named {
    ws_timer t;
    const char *name;
    struct named *then; /* scheduled at once by this one's run, or NULL */
} named;

static void on_fire(void *ud) {
    named *n = ud;
    size_t len = strlen(fired);
    snprintf(fired + len, sizeof fired - len, "%s%s", len ? " " : "", n->name);
    if (n->then) assert_int_equal(ws_timer_schedule(&n->then->t, 0), 0);
}

static void setup(ws_clock **c, named *n, size_t count, const char *const *names) {
    fake_clock_ms = 0;
    fired[0] = 0;
    *c = fake_clock_new();
    for (size_t i = 0; i < count; i++) {
        n[i] = (named){.name = names[i]};
        ws_timer_init(&n[i].t, *c, on_fire, &n[i]);
    }
}

static const char *const abc[] = {"a", "b", "c"};

/* Earliest first; equal times in the order scheduled; a new schedule
 * replaces the old. */
static void test_order(void **state) {
    (void)state;
    ws_clock *c;
    named n[3];
    setup(&c, n, 3, abc);
    assert_int_equal(ws_timer_schedule(&n[0].t, 30), 0);
    assert_int_equal(ws_timer_schedule(&n[1].t, 10), 0);
    assert_int_equal(ws_timer_schedule(&n[2].t, 10), 0);
    long long due;
    assert_true(ws_clock_next(c, &due));
    assert_int_equal(due, 10000);
    fake_clock_advance(c, 9);
    assert_string_equal(fired, "");
    fake_clock_advance(c, 21);
    assert_string_equal(fired, "b c a");
    fired[0] = 0;
    ws_timer_schedule(&n[0].t, 10);
    ws_timer_schedule(&n[0].t, 50); /* replaces: runs once, at 50 */
    fake_clock_advance(c, 49);
    assert_string_equal(fired, "");
    assert_true(ws_timer_pending(&n[0].t));
    fake_clock_advance(c, 100);
    assert_string_equal(fired, "a");
    assert_false(ws_timer_pending(&n[0].t));
    assert_false(ws_clock_next(c, NULL));
    ws_clock_free(c);
}

/* A timer scheduled at once by a running one waits for the next run: a
 * timer re-arming itself at 0 cannot hold the loop. */
static void test_at_once_waits_for_the_next_run(void **state) {
    (void)state;
    ws_clock *c;
    named n[3];
    setup(&c, n, 3, abc);
    n[0].then = &n[1];
    n[1].then = &n[1]; /* forever */
    ws_timer_schedule(&n[0].t, 0);
    ws_clock_run(c);
    assert_string_equal(fired, "a");
    ws_clock_run(c);
    assert_string_equal(fired, "a b");
    ws_clock_run(c);
    assert_string_equal(fired, "a b b");
    ws_timer_cancel(&n[1].t);
    ws_clock_run(c);
    assert_string_equal(fired, "a b b");
    ws_clock_free(c);
}

/* Cancelled timers do not run; a stopped clock drops what is pending and
 * refuses new schedules; cancelling twice or a zeroed timer is harmless. */
static void test_cancel_and_stop(void **state) {
    (void)state;
    ws_clock *c;
    named n[3];
    setup(&c, n, 3, abc);
    ws_timer_schedule(&n[0].t, 10);
    ws_timer_schedule(&n[1].t, 20);
    ws_timer_cancel(&n[0].t);
    ws_timer_cancel(&n[0].t);
    ws_timer zero = {0};
    ws_timer_cancel(&zero);
    fake_clock_advance(c, 20);
    assert_string_equal(fired, "b");
    ws_timer_schedule(&n[2].t, 10);
    ws_clock_stop(c);
    assert_false(ws_timer_pending(&n[2].t));
    assert_int_equal(ws_timer_schedule(&n[0].t, 0), -1);
    assert_false(ws_timer_pending(&n[0].t));
    fake_clock_advance(c, 100);
    assert_string_equal(fired, "b");
    ws_clock_free(c);
    ws_clock_free(NULL);
}

/* The backend is asked to wake for the earliest timer, and for none when
 * there is none left. */
static char wakes[256];

static void record_wake(long long delay_us, void *ud) {
    (void)ud;
    size_t len = strlen(wakes);
    snprintf(wakes + len, sizeof wakes - len, "%s%lld", len ? " " : "", delay_us);
}

static void test_wake(void **state) {
    (void)state;
    fake_clock_ms = 0;
    fired[0] = wakes[0] = 0;
    ws_clock_backend be = {fake_clock_now_us, record_wake, NULL};
    ws_clock *c = ws_clock_new(&be);
    assert_non_null(c);
    named n[2] = {{.name = "a"}, {.name = "b"}};
    for (int i = 0; i < 2; i++)
        ws_timer_init(&n[i].t, c, on_fire, &n[i]);
    ws_timer_schedule(&n[0].t, 20); /* the earliest: wake in 20 ms */
    ws_timer_schedule(&n[1].t, 30); /* later: the wake-up stands */
    ws_timer_schedule(&n[1].t, 5);  /* now the earliest */
    ws_timer_cancel(&n[1].t);       /* back to a */
    fake_clock_ms = 20;
    ws_clock_run(c); /* a runs; none left */
    assert_string_equal(fired, "a");
    assert_string_equal(wakes, "20000 5000 20000 -1");
    ws_clock_free(c);
}

/* Many timers, as 10,000 sessions each with its own deadline: one delay
 * scheduled again and again fires in the order scheduled; a mix of delays,
 * replaced and cancelled ones fires by (due, order scheduled). */
#define MANY 10000

static unsigned long long order_seen[MANY];
static size_t nseen;

static void on_fire_index(void *ud) {
    order_seen[nseen++] = (unsigned long long)(uintptr_t)ud;
}

static void test_many_same_delay(void **state) {
    (void)state;
    static ws_timer t[MANY];
    fake_clock_ms = 0;
    nseen = 0;
    ws_clock *c = fake_clock_new();
    for (size_t i = 0; i < MANY; i++) {
        ws_timer_init(&t[i], c, on_fire_index, (void *)(uintptr_t)i);
        assert_int_equal(ws_timer_schedule(&t[i], 25000), 0);
        if (i % 100 == 99) fake_clock_ms++; /* sessions open over time */
    }
    fake_clock_advance(c, 25000 + MANY / 100);
    assert_int_equal(nseen, MANY);
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(order_seen[i], i);
    ws_clock_free(c);
}

/* A small deterministic generator: the same mix on every run. */
static unsigned long long lcg(unsigned long long *x) {
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

static void test_many_mixed(void **state) {
    (void)state;
    static ws_timer t[MANY];
    static long long due_ms[MANY];
    static unsigned long long when[MANY]; /* the order of the last schedule */
    unsigned long long x = 42, step = 0;
    fake_clock_ms = 0;
    nseen = 0;
    ws_clock *c = fake_clock_new();
    for (size_t i = 0; i < MANY; i++) {
        ws_timer_init(&t[i], c, on_fire_index, (void *)(uintptr_t)i);
        due_ms[i] = -1; /* not pending */
    }
    for (size_t k = 0; k < 3 * MANY; k++) {
        size_t i = lcg(&x) % MANY;
        if (lcg(&x) % 8 == 0) {
            ws_timer_cancel(&t[i]);
            due_ms[i] = -1;
            continue;
        }
        long long delay = (long long)(lcg(&x) % 50); /* many ties */
        assert_int_equal(ws_timer_schedule(&t[i], delay), 0);
        due_ms[i] = fake_clock_ms + delay;
        when[i] = step++;
    }
    size_t expected = 0;
    for (size_t i = 0; i < MANY; i++)
        expected += due_ms[i] >= 0;
    fake_clock_advance(c, 100);
    assert_int_equal(nseen, expected);
    for (size_t k = 1; k < nseen; k++) {
        size_t a = order_seen[k - 1], b = order_seen[k];
        assert_true(due_ms[a] < due_ms[b] || (due_ms[a] == due_ms[b] && when[a] < when[b]));
    }
    for (size_t i = 0; i < MANY; i++)
        assert_false(ws_timer_pending(&t[i]));
    ws_clock_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_at_once_waits_for_the_next_run),
        cmocka_unit_test(test_cancel_and_stop),
        cmocka_unit_test(test_wake),
        cmocka_unit_test(test_many_same_delay),
        cmocka_unit_test(test_many_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
