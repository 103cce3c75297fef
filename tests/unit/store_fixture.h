/* store_fixture.h -- a store on a fresh database for the unit tests that need
 * one (cmocka assertions; include after cmocka.h). The backend comes from the
 * environment: SQLite in a temporary folder by default; PostgreSQL when
 * $CHAT_TEST_STORE is "postgresql", on the database at $CHAT_TEST_PG_URL
 * (tests/lib/pg.sh starts one), emptied before each test. tests/run.sh runs
 * the store's test binaries once per backend. */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Whether this run is on PostgreSQL. */
static inline bool store_fixture_pg(void) {
    const char *b = getenv("CHAT_TEST_STORE");
    return b && strcmp(b, "postgresql") == 0;
}

/* Skips the calling test when the run is on PostgreSQL (for what only SQLite
 * has: its file, pragmas and page counts). */
#define STORE_FIXTURE_SQLITE_ONLY()                                                                \
    do {                                                                                           \
        if (store_fixture_pg()) {                                                                  \
            fprintf(stderr, "skipped on PostgreSQL: SQLite's file only\n");                        \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Runs sql (our own statements, no parameters) on the test database. */
static inline void store_fixture_pg_exec(const char *sql) {
    const char *url = getenv("CHAT_TEST_PG_URL");
    assert_non_null(url);
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Makes a folder from template dir (ending in XXXXXX, rewritten in place),
 * writes the database's path into path (pathlen bytes): dir + "/chat.db", or
 * the PostgreSQL URL, whose database is emptied; and opens the store there. */
static inline void store_fixture_open(char *dir, char *path, size_t pathlen, store **st) {
    assert_non_null(mkdtemp(dir));
    if (store_fixture_pg()) {
        const char *url = getenv("CHAT_TEST_PG_URL");
        assert_non_null(url);
        assert_true(strlen(url) < pathlen);
        snprintf(path, pathlen, "%s", url);
        store_fixture_pg_exec("SET client_min_messages = warning;"
                              " DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
        snprintf(path, pathlen, "%s/chat.db", dir);
    }
    char err[256];
    int rc = store_open(st, path, NULL, err, sizeof err);
    if (rc != STORE_OK) fail_msg("store_open %s: %s", path, err);
}

/* Closes st and removes the folder with everything in it. */
static inline void store_fixture_close(store *st, const char *dir) {
    store_close(st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A store on a fresh database with one room of "/": the state of the tests
 * that append to a room. */
typedef struct store_room_fixture {
    char dir[64];
    char path[128];
    store *st;
    int64_t room; /* the room's id */
} store_room_fixture;

/* Opens f's store in a new folder /tmp/<test>.XXXXXX and creates the room;
 * store_fixture_close(f->st, f->dir) ends it. */
static inline void store_room_fixture_open(store_room_fixture *f, const char *test,
                                           const char *room) {
    snprintf(f->dir, sizeof f->dir, "/tmp/%s.XXXXXX", test);
    store_fixture_open(f->dir, f->path, sizeof f->path, &f->st);
    store_room r;
    assert_int_equal(store_room_create(f->st, "/", room, &r), STORE_OK);
    f->room = r.id;
}

/* cmocka's setup and teardown of a test on a store_room_fixture in *state:
 * store_room_fixture_setup(state, test, room) opens it (as
 * store_room_fixture_open), store_room_fixture_teardown(state) ends it. */
static inline int store_room_fixture_setup(void **state, const char *test, const char *room) {
    store_room_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    store_room_fixture_open(f, test, room);
    *state = f;
    return 0;
}

static inline int store_room_fixture_teardown(void **state) {
    store_room_fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

#endif
