/* test_presence.c -- presence coalescing: changes in at fake times, broadcasts out */
#include "presence.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_clock.h"

/* A change noted at a time: "room" "" is the namespace key. */
typedef struct step {
    long long at; /* ms */
    const char *room;
    const char *user;
    const char *sid;
    bool on;
} step;

#define MAX_STEPS 16

/* One case: its interval and cap, the changes, and what is emitted, each
 * update written "<ms> <room|-> <+|-><user>/<sid>", separated by "; ". */
typedef struct pcase {
    const char *name;
    int interval_ms;
    size_t max_pending; /* 0: the default */
    step steps[MAX_STEPS];
    const char *out;
} pcase;

#define J(t, r, u, s)                                                                              \
    { t, r, u, s, true }
#define L(t, r, u, s)                                                                              \
    { t, r, u, s, false }

static const pcase cases[] = {
    {"interval 0: every change at once, as before",
     0,
     0,
     {J(0, "r", "ann", "a1"), L(1, "r", "ann", "a1"), J(2, "r", "ann", "a2")},
     "0 r +ann/a1; 1 r -ann/a1; 2 r +ann/a2"},
    {"a single join: at once (leading edge), then the key goes idle",
     250,
     0,
     {J(0, "r", "ann", "a1")},
     "0 r +ann/a1"},
    {"join then leave within the interval: the leave at its end",
     250,
     0,
     {J(0, "r", "ann", "a1"), L(10, "r", "ann", "a1")},
     "0 r +ann/a1; 250 r -ann/a1"},
    {"leave then join in one interval: nothing",
     250,
     0,
     {J(0, "r", "bob", "b1"), L(10, "r", "ann", "a1"), J(20, "r", "ann", "a2")},
     "0 r +bob/b1"},
    {"join then leave in one interval: nothing",
     250,
     0,
     {J(0, "r", "bob", "b1"), J(10, "r", "ann", "a1"), L(20, "r", "ann", "a1")},
     "0 r +bob/b1"},
    {"leave then join, someone joining in between: the latest (the newcomer's list lacked it)",
     250,
     0,
     {J(0, "r", "bob", "b1"), L(10, "r", "ann", "a1"), J(20, "r", "cat", "c1"),
      J(30, "r", "ann", "a2")},
     "0 r +bob/b1; 250 r +ann/a2; 250 r +cat/c1"},
    {"join then leave, someone joining in between: the latest",
     250,
     0,
     {J(0, "r", "bob", "b1"), J(10, "r", "ann", "a1"), J(20, "r", "cat", "c1"),
      L(30, "r", "ann", "a1")},
     "0 r +bob/b1; 250 r -ann/a1; 250 r +cat/c1"},
    {"someone joining before or after the pair: nothing for it",
     250,
     0,
     {J(0, "r", "bob", "b1"), J(5, "r", "cat", "c1"), J(10, "r", "ann", "a1"),
      L(20, "r", "ann", "a1"), J(30, "r", "dan", "d1")},
     "0 r +bob/b1; 250 r +cat/c1; 250 r +dan/d1"},
    {"the newcomer left and came back after the pair: its latest list is right",
     250,
     0,
     {J(0, "r", "bob", "b1"), J(10, "r", "ann", "a1"), J(15, "r", "cat", "c1"),
      L(20, "r", "ann", "a1"), L(25, "r", "cat", "c1"), J(30, "r", "cat", "c2")},
     "0 r +bob/b1; 250 r +cat/c2"},
    {"join, leave, join: the latest, with its socket",
     250,
     0,
     {J(0, "r", "bob", "b1"), J(10, "r", "ann", "a1"), L(20, "r", "ann", "a1"),
      J(30, "r", "ann", "a2")},
     "0 r +bob/b1; 250 r +ann/a2"},
    {"a join/leave loop: one update per interval",
     100,
     0,
     {J(0, "r", "ann", "a"), L(10, "r", "ann", "a"), J(20, "r", "ann", "a"), L(30, "r", "ann", "a"),
      J(110, "r", "ann", "a"), L(120, "r", "ann", "a"), J(130, "r", "ann", "a"),
      L(140, "r", "ann", "a"), J(150, "r", "ann", "a"), L(210, "r", "ann", "a"),
      J(220, "r", "ann", "a"), L(230, "r", "ann", "a")},
     "0 r +ann/a; 100 r -ann/a; 200 r +ann/a; 300 r -ann/a"},
    {"after an interval that emitted nothing the key is idle: the next change is at once",
     100,
     0,
     {J(0, "r", "ann", "a1"), J(10, "r", "bob", "b1"), L(20, "r", "bob", "b1"),
      J(150, "r", "cat", "c1")},
     "0 r +ann/a1; 150 r +cat/c1"},
    {"keys are independent: rooms, and the namespace",
     250,
     0,
     {J(0, "r", "ann", "a1"), J(5, "s", "ann", "a1"), J(6, "", "bob", "b1"), J(7, "s", "bob", "b1"),
      L(8, "", "bob", "b1")},
     "0 r +ann/a1; 5 s +ann/a1; 6 - +bob/b1; 255 s +bob/b1; 256 - -bob/b1"},
    {"users net separately, in order of their first change",
     250,
     0,
     {J(0, "r", "zed", "z1"), L(1, "r", "bob", "b1"), J(2, "r", "ann", "a1"),
      L(3, "r", "bob", "b1")},
     "0 r +zed/z1; 250 r -bob/b1; 250 r +ann/a1"},
    {"a CONNECT/DISCONNECT loop of guests: their pairs cancel out",
     250,
     0,
     {J(0, "", "g1", "g1"), L(1, "", "g1", "g1"), J(2, "", "g2", "g2"), L(3, "", "g2", "g2"),
      J(4, "", "g3", "g3"), L(5, "", "g3", "g3")},
     "0 - +g1/g1; 250 - -g1/g1"},
    {"past max_pending users, the oldest's net change goes out at once",
     250,
     2,
     {J(0, "r", "ann", "a1"), J(1, "r", "bob", "b1"), J(2, "r", "cat", "c1"),
      J(3, "r", "dan", "d1"), L(4, "r", "dan", "d1")},
     "0 r +ann/a1; 3 r +bob/b1; 250 r +cat/c1"},
};

typedef struct fake {
    presence *p;
    ws_clock *clock; /* on fake_clock_ms */
    char out[1024];
} fake;

static void fake_emit(const presence_update *u, void *ud) {
    fake *f = ud;
    size_t len = strlen(f->out);
    snprintf(f->out + len, sizeof f->out - len, "%s%lld %s %c%s/%s", len ? "; " : "", fake_clock_ms,
             u->room ? u->room : "-", u->on ? '+' : '-', u->user, u->sid);
    assert_string_equal(u->ns, "/");
}

/* Moves the clock to t, ending the intervals due on the way. */
static void advance(fake *f, long long t) {
    fake_clock_advance(f->clock, t - fake_clock_ms);
}

static void fake_start(fake *f, presence_config *cfg) {
    fake_clock_ms = 0;
    f->clock = fake_clock_new();
    cfg->clock = f->clock;
    cfg->ud = f;
    f->p = presence_new(cfg);
    assert_non_null(f->p);
}

static void fake_stop(fake *f) {
    presence_free(f->p);
    assert_false(ws_clock_next(f->clock, NULL)); /* its timer went with it */
    ws_clock_free(f->clock);
}

static void test_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const pcase *c = &cases[i];
        fake f = {0};
        presence_config cfg = {
            .interval_ms = c->interval_ms, .max_pending = c->max_pending, .emit = fake_emit};
        fake_start(&f, &cfg);
        long long last = 0;
        for (size_t j = 0; j < MAX_STEPS && c->steps[j].user; j++) {
            const step *s = &c->steps[j];
            advance(&f, s->at);
            presence_update u = {"/", s->room[0] ? s->room : NULL, s->user, s->sid, s->on};
            presence_note(f.p, &u);
            last = s->at;
        }
        advance(&f, last + 100 * (long long)c->interval_ms + 1);
        if (strcmp(f.out, c->out) != 0)
            fail_msg("%s:\n  got  %s\n  want %s", c->name, f.out, c->out);
        /* every key went idle and was freed; no timer is left armed */
        assert_int_equal(presence_key_count(f.p), 0);
        assert_false(ws_clock_next(f.clock, NULL));
        fake_stop(&f);
    }
}

static int count_emit;
static void count_only(const presence_update *u, void *ud) {
    (void)u, (void)ud;
    count_emit++;
}

/* Keys past max_keys are not held: their changes go out at once. */
static void test_max_keys(void **state) {
    (void)state;
    fake f = {0};
    presence_config cfg = {.interval_ms = 250, .max_keys = 2, .emit = count_only};
    fake_start(&f, &cfg);
    count_emit = 0;
    const char *rooms[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        presence_update j = {"/", rooms[i], "ann", "s1", true},
                        l = {"/", rooms[i], "ann", "s1", false};
        presence_note(f.p, &j);
        presence_note(f.p, &l);
    }
    assert_int_equal(presence_key_count(f.p), 2);
    assert_int_equal(count_emit, 4); /* a and b: the join; c: both */
    fake_stop(&f);                   /* with changes pending: nothing leaks */
    presence_free(NULL);
    presence_config no_clock = {.interval_ms = 250, .emit = count_only};
    assert_null(presence_new(&no_clock)); /* an interval needs a clock */
}

/* A long flood of one user in one room holds one entry and one key. */
static void test_flood_is_bounded(void **state) {
    (void)state;
    fake f = {0};
    presence_config cfg = {.interval_ms = 250, .emit = count_only};
    fake_start(&f, &cfg);
    count_emit = 0;
    char sid[32], user[32];
    for (int i = 0; i < 100000; i++) {
        advance(&f, i / 10); /* 10 changes a ms */
        snprintf(user, sizeof user, "guest-%d", i / 2);
        snprintf(sid, sizeof sid, "s%d", i / 2);
        presence_update u = {"/", NULL, user, sid, i % 2 == 0};
        presence_note(f.p, &u);
        assert_true(presence_key_count(f.p) <= 1);
    }
    advance(&f, 1000000);
    /* 100000 changes over 10000 ms: the pairs cancel out; only a pair cut by
     * the end of an interval shows, two updates at most per interval */
    assert_true(count_emit <= 2 * (10000 / 250 + 2));
    assert_int_equal(presence_key_count(f.p), 0);
    fake_stop(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_max_keys),
        cmocka_unit_test(test_flood_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
