/* store_fixture.h -- a store on a fresh database in a temporary folder, for
 * the unit tests that need one (cmocka assertions; include after cmocka.h) */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store.h"

/* Makes a folder from template dir (ending in XXXXXX, rewritten in place),
 * writes dir + "/chat.db" into path (pathlen bytes) and opens the store
 * there. */
static inline void store_fixture_open(char *dir, char *path, size_t pathlen, store **st) {
    assert_non_null(mkdtemp(dir));
    snprintf(path, pathlen, "%s/chat.db", dir);
    char err[256];
    assert_int_equal(store_open(st, path, NULL, err, sizeof err), STORE_OK);
}

/* Closes st and removes the folder with everything in it. */
static inline void store_fixture_close(store *st, const char *dir) {
    store_close(st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
