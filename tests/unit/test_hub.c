/* test_hub.c -- the hub's rules for following a log (ws/chat/hub.c): what a
 * message notification makes it do, and the bounded catch-up loop. Each row
 * of a table is its own cmocka test, so that one failing row hides no other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "hub.h"

/* ---- hub_message_step: a notification is never news to deliver ---------- */

typedef struct step_row {
    const char *name;
    int64_t cursor, id; /* id 0: a bare wake-up (m NULL) */
    hub_step want;
} step_row;

static const step_row step_rows[] = {
    {"step: the next one reads the log (a datagram is not trusted)", 10, 11, HUB_READ_LOG},
    {"step: the first one reads the log", 0, 1, HUB_READ_LOG},
    {"step: delivered already: nothing", 10, 10, HUB_SKIP},
    {"step: older: nothing", 10, 3, HUB_SKIP},
    {"step: a gap reads the log", 10, 12, HUB_READ_LOG},
    {"step: far ahead reads the log", 10, INT64_MAX, HUB_READ_LOG},
    {"step: a bare wake-up reads the log", 10, 0, HUB_READ_LOG},
};

static void test_step_row(void **state) {
    const step_row *r = *state;
    store_message m = {.id = r->id, .text = "x"};
    assert_int_equal(hub_message_step(r->cursor, r->id ? &m : NULL), r->want);
}

/* ---- hub_pages: a fake log, ids 1..head, pages of 3 ---------------------- */

typedef struct fake_log {
    int64_t cursor, head;
    int pages, fail_at; /* fail_at: that page's read fails */
} fake_log;

static int fake_page(void *ud) {
    fake_log *l = ud;
    if (++l->pages == l->fail_at) return -1;
    for (int i = 0; i < 3 && l->cursor < l->head; i++)
        l->cursor++;
    return 0;
}

typedef struct pages_row {
    const char *name;
    int64_t cursor, head, upto;
    int max_pages, fail_at;
    int want_rc;
    int64_t want_cursor;
    int want_pages;
} pages_row;

static const pages_row pages_rows[] = {
    {"pages: to the end", 0, 7, INT64_MAX, 100, 0, 0, 7, 4},
    {"pages: nothing new: one read", 7, 7, INT64_MAX, 100, 0, 0, 7, 1},
    {"pages: up to a bound: stops there", 0, 20, 5, 100, 0, 0, 6, 2},
    {"pages: the pages run out", 0, 20, INT64_MAX, 2, 0, -1, 6, 2},
    {"pages: a read fails", 0, 20, INT64_MAX, 100, 2, -1, 3, 2},
};

static void test_pages_row(void **state) {
    const pages_row *r = *state;
    fake_log l = {r->cursor, r->head, 0, r->fail_at};
    int rc = hub_pages(&l.cursor, r->upto, r->max_pages, fake_page, &l);
    assert_int_equal(rc, r->want_rc);
    assert_int_equal(l.cursor, r->want_cursor);
    assert_int_equal(l.pages, r->want_pages);
}

#define NSTEP (sizeof step_rows / sizeof *step_rows)
#define NPAGES (sizeof pages_rows / sizeof *pages_rows)

int main(void) {
    struct CMUnitTest tests[NSTEP + NPAGES];
    size_t n = 0;
    for (size_t i = 0; i < NSTEP; i++)
        tests[n++] = (struct CMUnitTest){step_rows[i].name, test_step_row, NULL, NULL,
                                         (void *)&step_rows[i]};
    for (size_t i = 0; i < NPAGES; i++)
        tests[n++] = (struct CMUnitTest){pages_rows[i].name, test_pages_row, NULL, NULL,
                                         (void *)&pages_rows[i]};
    return _cmocka_run_group_tests("hub", tests, n, NULL, NULL);
}
