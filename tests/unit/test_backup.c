/* test_backup.c -- online copies and restores of a store, with a writer mid-transaction */
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

#include "backup.h"
#include "store.h"

typedef struct fixture {
    char dir[64];
    char db[128], copy[128], restored[128];
    store *st;
    int64_t room;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_backup.XXXXXX");
    store_fixture_open(f->dir, f->db, sizeof f->db, &f->st);
    snprintf(f->copy, sizeof f->copy, "%s/copy.db", f->dir);
    snprintf(f->restored, sizeof f->restored, "%s/restored.db", f->dir);
    store_room r;
    assert_int_equal(store_room_create(f->st, "/", "lobby", &r), STORE_OK);
    f->room = r.id;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

static int64_t append(store *st, int64_t room, const char *text) {
    int64_t id, ts;
    bool dup;
    assert_int_equal(store_message_append(st, room, "ann", text, NULL, &id, &ts, &dup), STORE_OK);
    return id;
}

/* The copy holds what was committed when it was taken, not a transaction
 * still open on another connection; the open writer is not disturbed. */
static void test_copy_is_one_commit(void **state) {
    fixture *f = *state;
    int64_t committed = append(f->st, f->room, "committed");
    store *writer;
    char err[256];
    assert_int_equal(store_open(&writer, f->db, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(store_begin(writer), STORE_OK);
    append(writer, f->room, "not yet committed");

    backup_info info;
    assert_int_equal(backup_copy(f->db, f->copy, &info, err, sizeof err), 0);
    assert_int_equal(info.last_message, committed);
    assert_int_equal(info.rooms, 2); /* general and lobby */
    assert_int_equal(store_commit(writer), STORE_OK);
    store_close(writer);

    /* the copy opens as a chat database with that one message */
    store *copy;
    assert_int_equal(store_open(&copy, f->copy, NULL, err, sizeof err), STORE_OK);
    int64_t head = 0;
    assert_int_equal(store_log_head(copy, &head), STORE_OK);
    assert_int_equal(head, committed);
    store_close(copy);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", f->copy, (int)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0); /* nothing left aside */
}

/* A copy that cannot be made leaves the previous FILE as it was. */
static void test_failed_copy_keeps_old_file(void **state) {
    fixture *f = *state;
    append(f->st, f->room, "one");
    char err[256];
    assert_int_equal(backup_copy(f->db, f->copy, NULL, err, sizeof err), 0);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.db", f->dir);
    assert_int_equal(backup_copy(missing, f->copy, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope.db"));
    backup_info info;
    assert_int_equal(backup_restore(f->copy, f->restored, false, &info, err, sizeof err), 0);
    assert_int_equal(info.rooms, 2);
}

/* restore refuses a database with a live chat-ws unless forced, and a file
 * that is not a database. */
static void test_restore_guards(void **state) {
    fixture *f = *state;
    int64_t first = append(f->st, f->room, "before the backup");
    char err[256];
    assert_int_equal(backup_copy(f->db, f->copy, NULL, err, sizeof err), 0);
    append(f->st, f->room, "after the backup");
    int64_t pid;
    assert_int_equal(store_process_register(f->st, 4242, "127.0.0.1:1", &pid), STORE_OK);
    assert_int_equal(backup_restore(f->copy, f->db, false, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "running chat-ws"));

    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk", f->dir);
    FILE *j = fopen(junk, "w");
    assert_non_null(j);
    for (int i = 0; i < 200; i++)
        fputs("not a database ", j);
    fclose(j);
    assert_int_equal(backup_restore(junk, f->restored, false, NULL, err, sizeof err), -1);

    /* once the process is gone, the copy goes back in place */
    assert_int_equal(store_process_unregister(f->st, pid), STORE_OK);
    backup_info info;
    assert_int_equal(backup_restore(f->copy, f->db, false, &info, err, sizeof err), 0);
    assert_int_equal(info.last_message, first);
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->db, NULL, err, sizeof err), STORE_OK);
    int64_t head = 0;
    assert_int_equal(store_log_head(f->st, &head), STORE_OK);
    assert_int_equal(head, first);
}

/* A PostgreSQL database is not copied by the SQLite backup API: both calls
 * refuse it with an error that names PostgreSQL's own tools, and touch no
 * file. */
static void test_postgresql_refused(void **state) {
    (void)state;
    char err[256], out[64];
    snprintf(out, sizeof out, "/tmp/test_backup_pg.%d", (int)getpid());
    assert_int_equal(backup_copy("postgresql://chat@127.0.0.1/chat", out, NULL, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "pg_dump"));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(
        backup_restore(out, "postgres://chat@127.0.0.1/chat", true, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "pg_restore"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgresql_refused),
        cmocka_unit_test_setup_teardown(test_copy_is_one_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_copy_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_guards, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
