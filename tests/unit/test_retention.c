/* test_retention.c -- retention settings and pruning, with a clock the test holds */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"
#include <sqlite3.h>

#include "retention.h"
#include "store.h"

#define DAY 86400000LL

extern const char store_schema_sql[];

typedef store_room_fixture fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    store_room_fixture_open(f, "test_retention", "lobby");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

/* Appends n messages to room; returns the last id. */
static int64_t append(store *st, int64_t room, int n, const char *text) {
    int64_t id = 0, ts;
    bool dup;
    for (int i = 0; i < n; i++)
        assert_int_equal(store_message_append(st, room, "ann", text, NULL, &id, &ts, &dup),
                         STORE_OK);
    return id;
}

static int count_cb(const store_message *m, void *ctx) {
    (void)m;
    ++*(int *)ctx;
    return 0;
}

static int count(store *st, int64_t room) {
    int n = 0;
    assert_int_equal(store_messages_list(st, room, 0, 0, CONTRACT_MESSAGES_PAGE_MAX, count_cb, &n),
                     STORE_OK);
    return n;
}

static int64_t pruned_upto(store *st, int64_t room) {
    store_room r;
    assert_int_equal(store_room_get(st, room, &r), STORE_OK);
    return r.pruned_upto;
}

/* Steps until a step deletes nothing more; returns the messages deleted. */
static int prune_all(retention *r, int64_t now) {
    int total = 0;
    retention_stats s;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(retention_step(r, now, &s), STORE_OK);
        total += s.messages;
        if (!s.more && s.messages == 0 && i > 2) break;
    }
    return total;
}

static void test_defaults_and_settings(void **state) {
    fixture *f = *state;
    retention_policy p;
    assert_int_equal(retention_defaults_get(f->st, &p), STORE_OK);
    assert_int_equal(p.days, contract_default(CONTRACT_RETENTION_DAYS));
    assert_int_equal(p.max_messages, 0);
    assert_int_equal(retention_get(f->st, "/acme", &p), STORE_OK);
    assert_int_equal(p.days, 90);

    retention_policy own = {RETENTION_INHERIT, 5};
    assert_int_equal(retention_set(f->st, "/acme", &own), STORE_OK);
    assert_int_equal(retention_get(f->st, "/acme", &p), STORE_OK);
    assert_int_equal(p.days, 90); /* inherited */
    assert_int_equal(p.max_messages, 5);
    retention_policy def = {30, 0};
    assert_int_equal(retention_defaults_set(f->st, &def), STORE_OK);
    assert_int_equal(retention_get(f->st, "/acme", &p), STORE_OK);
    assert_int_equal(p.days, 30);
    assert_int_equal(p.max_messages, 5);
    /* the private flag and the retention of one workspace live side by side */
    assert_int_equal(store_workspace_set_private(f->st, "/acme", true), STORE_OK);
    assert_int_equal(retention_get(f->st, "/acme", &p), STORE_OK);
    assert_int_equal(p.max_messages, 5);
    bool priv = false;
    assert_int_equal(store_workspace_private(f->st, "/acme", &priv), STORE_OK);
    assert_true(priv);

    const retention_policy bad[] = {{-2, 0},
                                    {CONTRACT_RETENTION_DAYS_MAX + 1, 0},
                                    {0, -5},
                                    {0, CONTRACT_RETENTION_MESSAGES_MAX + 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(retention_set(f->st, "/acme", &bad[i]), STORE_INVALID);
        assert_int_equal(retention_defaults_set(f->st, &bad[i]), STORE_INVALID);
    }
    retention_policy inherit = {RETENTION_INHERIT, RETENTION_INHERIT};
    assert_int_equal(retention_defaults_set(f->st, &inherit), STORE_INVALID);
    assert_int_equal(retention_set(f->st, "nope", &inherit), STORE_INVALID);
}

/* Messages older than the policy's days go; younger ones stay. */
static void test_prune_by_age(void **state) {
    fixture *f = *state;
    int64_t last = append(f->st, f->room, 7, "old");
    retention *r = retention_new(f->st, &(retention_config){.batch = 3});
    assert_non_null(r);
    int64_t now = store_now_ms();
    assert_int_equal(prune_all(r, now + 89 * DAY), 0);
    assert_int_equal(count(f->st, f->room), 7);
    assert_int_equal(pruned_upto(f->st, f->room), 0);

    assert_int_equal(prune_all(r, now + 91 * DAY), 7);
    assert_int_equal(count(f->st, f->room), 0);
    assert_int_equal(pruned_upto(f->st, f->room), last);
    /* the log's head does not go back when the log is emptied */
    int64_t head = 0;
    assert_int_equal(store_log_head(f->st, &head), STORE_OK);
    assert_int_equal(head, last);

    /* days 0: kept forever */
    retention_policy forever = {0, 0};
    assert_int_equal(retention_set(f->st, "/", &forever), STORE_OK);
    append(f->st, f->room, 2, "kept");
    assert_int_equal(prune_all(r, now + 10000 * DAY), 0);
    assert_int_equal(count(f->st, f->room), 2);
    retention_free(r);
}

/* A count limit keeps the newest max_messages, deleting in batches. */
static void test_prune_by_count(void **state) {
    fixture *f = *state;
    store_room other;
    assert_int_equal(store_room_create(f->st, "/", "other", &other), STORE_OK);
    append(f->st, f->room, 10, "a");
    append(f->st, other.id, 2, "b");
    int64_t last = append(f->st, f->room, 2, "c");
    retention_policy p = {RETENTION_INHERIT, 3};
    assert_int_equal(retention_set(f->st, "/", &p), STORE_OK);
    retention *r = retention_new(f->st, &(retention_config){.batch = 4});
    assert_non_null(r);
    int64_t now = store_now_ms();
    retention_stats s;
    /* rooms are taken in turn ("general" first); lobby's first step deletes
     * one batch of 4, with more to come */
    assert_int_equal(retention_step(r, now, &s), STORE_OK);
    assert_int_equal(s.messages, 0);
    assert_int_equal(retention_step(r, now, &s), STORE_OK);
    assert_int_equal(s.room_id, f->room);
    assert_int_equal(s.messages, 4);
    assert_int_equal(s.more, 1);
    assert_int_equal(prune_all(r, now), 5);
    assert_int_equal(count(f->st, f->room), 3);
    assert_int_equal(count(f->st, other.id), 2);
    /* the three kept are the newest; the oldest kept follows pruned_upto */
    store_room room;
    assert_int_equal(store_room_get(f->st, f->room, &room), STORE_OK);
    assert_int_equal(room.last_message_id, last);
    assert_true(room.pruned_upto > 0 && room.pruned_upto < last - 1);
    retention_free(r);
}

/* Expired sessions and old control events go in batches too. */
static void test_prune_sessions_and_control(void **state) {
    fixture *f = *state;
    int64_t now = store_now_ms();
    for (int i = 0; i < 5; i++) {
        store_session s = {.updated_at = now - 2 * DAY};
        snprintf(s.pid, sizeof s.pid, "old-%d", i);
        snprintf(s.sid, sizeof s.sid, "sid-%d", i);
        snprintf(s.ns, sizeof s.ns, "/");
        snprintf(s.user, sizeof s.user, "ann");
        assert_int_equal(store_session_save(f->st, &s), STORE_OK);
    }
    store_session young = {.updated_at = now};
    snprintf(young.pid, sizeof young.pid, "young");
    snprintf(young.ns, sizeof young.ns, "/");
    snprintf(young.user, sizeof young.user, "bob");
    assert_int_equal(store_session_save(f->st, &young), STORE_OK);
    int64_t id;
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_control_append(f->st, "announce", "{}", &id), STORE_OK);

    retention *r = retention_new(f->st, &(retention_config){.batch = 2});
    retention_stats s;
    assert_int_equal(retention_step(r, now, &s), STORE_OK);
    assert_int_equal(s.sessions, 2);
    assert_int_equal(s.control, 0); /* not an hour old yet */
    int sessions = s.sessions, control = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(retention_step(r, now + 2 * 3600 * 1000, &s), STORE_OK);
        sessions += s.sessions;
        control += s.control;
        assert_true(s.sessions <= 2 && s.control <= 2);
    }
    assert_int_equal(sessions, 5);
    assert_int_equal(control, 3);
    store_session out;
    assert_int_equal(store_session_load(f->st, "young", DAY, &out), STORE_OK);
    store_session_free(&out);
    assert_int_equal(store_session_load(f->st, "old-0", 10 * DAY, &out), STORE_NOTFOUND);
    retention_free(r);
}

static int64_t pragma_int(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Pruning gives the pages back: the file shrinks. */
static void test_incremental_vacuum(void **state) {
    STORE_FIXTURE_SQLITE_ONLY();
    fixture *f = *state;
    assert_int_equal(pragma_int(f->path, "PRAGMA auto_vacuum"), 2);
    char text[4001];
    memset(text, 'x', 4000);
    text[4000] = '\0';
    append(f->st, f->room, 300, text);
    int64_t pages = pragma_int(f->path, "PRAGMA page_count");
    retention_policy p = {RETENTION_INHERIT, 1};
    assert_int_equal(retention_set(f->st, "/", &p), STORE_OK);
    retention *r = retention_new(f->st, &(retention_config){.batch = 100, .vacuum_pages = 50});
    int freed = 0;
    retention_stats s;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(retention_step(r, store_now_ms(), &s), STORE_OK);
        assert_true(s.pages <= 50);
        freed += s.pages;
    }
    assert_int_equal(count(f->st, f->room), 1);
    assert_true(freed > 200);
    assert_true(pragma_int(f->path, "PRAGMA page_count") < pages / 2);
    assert_int_equal(pragma_int(f->path, "PRAGMA freelist_count"), 0);
    retention_free(r);
}

/* A database of schema version 1 (auto_vacuum NONE) is migrated on open:
 * its rows kept, the new columns there, and converted to incremental vacuum. */
static void test_migrate_from_v1(void **state) {
    STORE_FIXTURE_SQLITE_ONLY();
    fixture *f = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/v1.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", 0, 0, 0), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, store_schema_sql, 0, 0, 0), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 1;"
                                  "INSERT INTO messages (room_id, user, text, ts)"
                                  " VALUES (1, 'ann', 'from v1', 1);"
                                  "INSERT INTO workspaces VALUES ('/acme', 1, 1);",
                                  0, 0, 0),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(pragma_int(path, "PRAGMA auto_vacuum"), 0);

    store *st;
    char err[256];
    assert_int_equal(store_open(&st, path, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(count(st, 1), 1);
    bool priv = false;
    assert_int_equal(store_workspace_private(st, "/acme", &priv), STORE_OK);
    assert_true(priv);
    retention_policy p;
    assert_int_equal(retention_get(st, "/acme", &p), STORE_OK);
    assert_int_equal(p.days, 90);
    assert_int_equal(pruned_upto(st, 1), 0);
    store_close(st);
    assert_true(pragma_int(path, "PRAGMA user_version") >= 3); /* every migration ran */
    assert_int_equal(pragma_int(path, "PRAGMA auto_vacuum"), 2);
    /* opening again changes nothing */
    assert_int_equal(store_open(&st, path, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(count(st, 1), 1);
    store_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_by_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_sessions_and_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_vacuum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
