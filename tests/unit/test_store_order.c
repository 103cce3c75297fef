/* test_store_order.c -- the log's order under concurrent writers: several
 * processes, each with its own store connection, append in transactions
 * that stay open for random short times, while a reader tails the log the
 * way chat-ws does (id > cursor). The reader must see every committed
 * message, once, in ascending id order: an id given at INSERT time rather
 * than at COMMIT time (a PostgreSQL sequence) makes it skip rows. The same
 * for the control log. Runs on the fixture's backend (SQLite or
 * PostgreSQL); store_pg's reconnect is tested here too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

#include "store.h"
#include "store_pg.h"

#define WRITERS 4
#define TXNS 60          /* transactions per writer */
#define PER_TXN_MAX 3    /* messages per transaction: 1..3 */
#define HOLD_MAX_US 3000 /* how long a transaction stays open after its appends */
#define ALL_MAX (WRITERS * TXNS * PER_TXN_MAX)

typedef store_room_fixture fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    store_room_fixture_open(f, "test_store_order", "order");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

/* One committed id, as a writer reports it through its pipe. */
typedef struct committed {
    int64_t id;
    int control; /* 1: a control event */
} committed;

/* A writer process: its own connection, TXNS transactions of 1..3 messages
 * and one control event each, held open a random while before COMMIT. Each
 * message is counted against the write budgets of one of two users first,
 * in an order that differs between writers (as chat-ws batches do): locks
 * taken in different orders would deadlock. Reports each committed id on
 * fd; exits 0, 1 on a failure, 2 when a transaction was refused as busy. */
static int writer(const char *path, int64_t room, int n, int fd) {
    store *st;
    char err[256];
    if (store_open(&st, path, NULL, err, sizeof err) != STORE_OK) return 1;
    srand((unsigned)(getpid() * 7919 + n));
    int status = 0;
    for (int t = 0; t < TXNS && !status; t++) {
        committed got[PER_TXN_MAX + 1];
        int k = 1 + rand() % PER_TXN_MAX, have = 0;
        int rc = store_begin(st);
        for (int i = 0; i < k && rc == STORE_OK; i++) {
            char text[64], cid[32];
            snprintf(text, sizeof text, "w%d t%d m%d", n, t, i);
            snprintf(cid, sizeof cid, "w%d-%d-%d", n, t, i);
            int64_t ts;
            bool dup;
            const char *users[2] = {"ann", "bob"}, *which = NULL;
            store_write_budget b = {1000000, 1000000, 1000000, 1000000};
            rc = store_budget_spend(st, &b, users[(n + i) % 2], "10.0.0.1", &which);
            if (rc == STORE_OK)
                rc = store_message_append(st, room, "writer", text, cid, &got[have].id, &ts, &dup);
            got[have++].control = 0;
        }
        if (rc == STORE_OK) {
            rc = store_control_append(st, "announce", "{}", &got[have].id);
            got[have++].control = 1;
        }
        usleep((useconds_t)(rand() % HOLD_MAX_US));
        if (rc == STORE_OK) rc = store_commit(st);
        if (rc) {
            store_rollback(st);
            status = rc == STORE_BUSY ? 2 : 1;
            break;
        }
        if (write(fd, got, sizeof got[0] * (size_t)have) != (ssize_t)(sizeof got[0] * have))
            status = 1;
    }
    store_close(st);
    return status;
}

typedef struct seen {
    int64_t ids[ALL_MAX + 1];
    int n;
    int64_t cursor;
    bool disorder; /* an id not above the one before */
} seen;

static int on_message(const store_message *m, void *ctx) {
    seen *s = ctx;
    if (m->id <= s->cursor || s->n == ALL_MAX)
        s->disorder = true;
    else
        s->ids[s->n++] = m->id;
    s->cursor = m->id;
    return 0;
}

static int on_control(int64_t id, const char *kind, const char *payload, void *ctx) {
    (void)kind;
    (void)payload;
    seen *s = ctx;
    if (id <= s->cursor || s->n == ALL_MAX)
        s->disorder = true;
    else
        s->ids[s->n++] = id;
    s->cursor = id;
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every id a writer committed is one the reader saw, and the reader saw
 * nothing else. */
static void assert_same(seen *s, int64_t *want, int nwant, const char *what) {
    qsort(want, (size_t)nwant, sizeof want[0], cmp_id);
    if (s->n != nwant)
        fail_msg("%s: the reader saw %d rows, writers committed %d", what, s->n, nwant);
    for (int i = 0; i < nwant; i++)
        if (s->ids[i] != want[i])
            fail_msg("%s: row %d: the reader has id %lld where writers committed %lld", what, i,
                     (long long)s->ids[i], (long long)want[i]);
    assert_false(s->disorder);
}

static void test_concurrent_writers_no_gaps(void **state) {
    fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            _exit(writer(f->path, f->room, i, fds[1]));
        }
    }
    close(fds[1]);
    static seen msgs, ctl;
    memset(&msgs, 0, sizeof msgs);
    memset(&ctl, 0, sizeof ctl);
    /* Tail while the writers run, as often as the reader can. */
    int running = WRITERS;
    while (running > 0) {
        assert_int_equal(store_log_tail(f->st, msgs.cursor, 100, on_message, &msgs), STORE_OK);
        assert_int_equal(store_control_tail(f->st, ctl.cursor, on_control, &ctl), STORE_OK);
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
            running--;
        }
    }
    /* Everything is committed now: a last pass reads what is left. */
    for (int more = 1; more;) {
        int before = msgs.n;
        assert_int_equal(store_log_tail(f->st, msgs.cursor, 100, on_message, &msgs), STORE_OK);
        assert_int_equal(store_control_tail(f->st, ctl.cursor, on_control, &ctl), STORE_OK);
        more = msgs.n != before;
    }
    static committed all[ALL_MAX + WRITERS * TXNS];
    static int64_t want_msgs[ALL_MAX], want_ctl[ALL_MAX];
    int nmsgs = 0, nctl = 0;
    ssize_t got;
    size_t off = 0;
    while ((got = read(fds[0], (char *)all + off, sizeof all - off)) > 0)
        off += (size_t)got;
    close(fds[0]);
    for (size_t i = 0; i < off / sizeof all[0]; i++) {
        if (all[i].control)
            want_ctl[nctl++] = all[i].id;
        else
            want_msgs[nmsgs++] = all[i].id;
    }
    assert_true(nmsgs >= WRITERS * TXNS);
    assert_int_equal(nctl, WRITERS * TXNS);
    assert_same(&msgs, want_msgs, nmsgs, "messages");
    assert_same(&ctl, want_ctl, nctl, "control");
    int64_t head = 0;
    assert_int_equal(store_log_head(f->st, &head), STORE_OK);
    assert_int_equal(head, msgs.ids[msgs.n - 1]);
}

/* PostgreSQL: the server ends the store's connection. The call that finds
 * out fails with STORE_BUSY (never a crash), a transaction it broke stays
 * failed until rolled back (nothing of it is stored), and a later call
 * reconnects. */
static void test_pg_reconnect(void **state) {
    if (!store_fixture_pg()) {
        fprintf(stderr, "skipped on SQLite: PostgreSQL's connection only\n");
        skip();
    }
    fixture *f = *state;
    int64_t id, ts, head = 0;
    bool dup;
    assert_int_equal(store_message_append(f->st, f->room, "ann", "before", NULL, &id, &ts, &dup),
                     STORE_OK);
    const char *kill_all = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE application_name = 'chat' AND datname = current_database()"
                           " AND pid <> pg_backend_pid()";
    store_fixture_pg_exec(kill_all);
    assert_int_equal(store_log_head(f->st, &head), STORE_BUSY);
    assert_non_null(strstr(store_errmsg(f->st), "postgresql"));
    /* the next call may come before the backoff ends: BUSY, then it works */
    int rc = STORE_BUSY;
    for (int i = 0; i < 100 && rc == STORE_BUSY; i++) {
        rc = store_log_head(f->st, &head);
        if (rc == STORE_BUSY) usleep(20000);
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(head, id);

    /* lost inside a transaction */
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_message_append(f->st, f->room, "ann", "in", NULL, &id, &ts, &dup),
                     STORE_OK);
    store_fixture_pg_exec(kill_all);
    assert_int_equal(store_message_append(f->st, f->room, "ann", "lost", NULL, &id, &ts, &dup),
                     STORE_BUSY);
    /* reconnecting does not resume a broken transaction */
    usleep(300000);
    assert_int_equal(store_message_append(f->st, f->room, "ann", "lost", NULL, &id, &ts, &dup),
                     STORE_BUSY);
    assert_int_equal(store_commit(f->st), STORE_BUSY);
    rc = STORE_BUSY;
    for (int i = 0; i < 100 && rc == STORE_BUSY; i++) {
        rc = store_message_append(f->st, f->room, "ann", "after", NULL, &id, &ts, &dup);
        if (rc == STORE_BUSY) usleep(20000);
    }
    assert_int_equal(rc, STORE_OK);
    int64_t n = 0;
    assert_int_equal(store_log_head(f->st, &head), STORE_OK);
    assert_int_equal(head, id);
    assert_int_equal(store_counts(f->st, &n, &head), STORE_OK);
    assert_int_equal(head, 2); /* "before" and "after": nothing of the broken one */
}

/* PostgreSQL's errors map to the store's statuses as SQLite's do: what a
 * retry can cure is STORE_BUSY (callers answer 503 / ack {error}), a full or
 * failing disk STORE_FULL, an integrity violation STORE_EXISTS. */
static void test_pg_sqlstates(void **state) {
    (void)state;
    static const struct {
        const char *state;
        int want;
    } cases[] = {
        {NULL, STORE_BUSY},                             /* no answer: the connection */
        {"", STORE_BUSY},        {"08006", STORE_BUSY}, /* connection failure */
        {"40001", STORE_BUSY},                          /* serialization failure */
        {"40P01", STORE_BUSY},                          /* deadlock */
        {"55P03", STORE_BUSY},                          /* lock_timeout */
        {"57014", STORE_BUSY},                          /* statement cancelled */
        {"57P01", STORE_BUSY},                          /* the server shuts down */
        {"53300", STORE_BUSY},                          /* too many connections */
        {"53100", STORE_FULL},                          /* disk full */
        {"58030", STORE_FULL},                          /* I/O error */
        {"23505", STORE_EXISTS}, {"23503", STORE_EXISTS},
        {"42601", STORE_ERROR}, /* a syntax error is ours: no retry cures it */
        {"22021", STORE_ERROR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = store_pg_status(cases[i].state);
        if (got != cases[i].want)
            fail_msg("SQLSTATE %s: %d, want %d", cases[i].state ? cases[i].state : "(none)", got,
                     cases[i].want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_sqlstates),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_no_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
