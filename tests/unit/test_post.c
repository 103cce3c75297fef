/* test_post.c -- core/post.c, the one way both programs post a chat message,
 * on a real store (SQLite, or PostgreSQL in tests/run.sh's second pass): a
 * message accepted, a text or client_id refused, a repeated client_id
 * answered with the first message, a write budget used up, and many posts in
 * one caller's transaction (chat-ws's group commit). Each case is a script of
 * posts on a fresh room, one named row per post. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

#include "post.h"
#include "store.h"

typedef store_room_fixture fixture;

static int setup(void **state) {
    return store_room_fixture_setup(state, "test_post", "lobby");
}

static int teardown(void **state) {
    return store_room_fixture_teardown(state);
}

/* ---- validation --------------------------------------------------------- */

typedef struct valid_case {
    const char *name;
    const char *text, *client_id;
    bool ok;
    contract_id broken; /* when not ok */
} valid_case;

static char long_text[CONTRACT_TEXT_MAX + 2];
static char long_client_id[CONTRACT_CLIENT_ID_MAX + 2];

static void test_valid(void **state) {
    (void)state;
    memset(long_text, 'x', sizeof long_text - 1);
    memset(long_client_id, 'c', sizeof long_client_id - 1);
    const valid_case cases[] = {
        {"a text", "hello", NULL, true, 0},
        {"a text and a client_id", "hello", "c-1", true, 0},
        {"an empty text", "", NULL, false, CONTRACT_TEXT},
        {"no text", NULL, NULL, false, CONTRACT_TEXT},
        {"a text too long", long_text, NULL, false, CONTRACT_TEXT},
        {"an empty client_id", "hello", "", false, CONTRACT_CLIENT_ID},
        {"a client_id too long", "hello", long_client_id, false, CONTRACT_CLIENT_ID},
        {"the text is checked first", "", "", false, CONTRACT_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const valid_case *k = &cases[i];
        contract_id broken = (contract_id)-1;
        bool ok = post_valid(k->text, k->client_id, &broken);
        if (ok != k->ok || (!ok && broken != k->broken))
            fail_msg("%s: ok %d broken %d", k->name, ok, (int)broken);
    }
}

/* ---- posting ------------------------------------------------------------ */

/* One post of a script and what it must do. */
typedef struct post_step {
    const char *name;
    const char *user;
    bool guest; /* no per-user budget: budget_user NULL */
    const char *addr;
    const char *text, *client_id;
    int rc;           /* post_one's */
    bool duplicate;   /* answered with an earlier message */
    int same_as;      /* a duplicate: the 1-based step whose id it answers */
    const char *over; /* STORE_OVER_BUDGET: the budget named */
} post_step;

#define END                                                                                        \
    { NULL, NULL, false, NULL, NULL, NULL, 0, false, 0, NULL }

typedef struct post_case {
    const char *name;
    store_write_budget budget;
    int stored; /* messages the room's log holds at the end */
    post_step steps[8];
} post_case;

static const post_case cases[] = {
    {"a message is accepted and stored",
     {0, 0, 0, 0},
     1,
     {{"ann posts", "ann", false, "10.0.0.1", "hello", NULL, STORE_OK, false, 0, NULL}, END}},
    {"a repeated client_id is answered with the first message, stored once",
     {0, 0, 0, 0},
     3,
     {{"ann posts c1", "ann", false, "10.0.0.1", "hello", "c1", STORE_OK, false, 0, NULL},
      {"ann retries c1", "ann", false, "10.0.0.1", "hello", "c1", STORE_OK, true, 1, NULL},
      {"ann posts c2", "ann", false, "10.0.0.1", "again", "c2", STORE_OK, false, 0, NULL},
      {"bob's c1 is his own", "bob", false, "10.0.0.2", "hi", "c1", STORE_OK, false, 0, NULL},
      {"ann retries c1 again", "ann", false, "10.0.0.1", "hello", "c1", STORE_OK, true, 1, NULL},
      END}},
    {"a user's budget used up refuses the message, stores and counts nothing",
     {2, 0, 0, 0},
     3,
     {{"ann 1", "ann", false, "10.0.0.1", "one", NULL, STORE_OK, false, 0, NULL},
      {"ann 2", "ann", false, "10.0.0.1", "two", NULL, STORE_OK, false, 0, NULL},
      {"ann 3: over", "ann", false, "10.0.0.1", "three", NULL, STORE_OVER_BUDGET, false, 0,
       "messages per minute for this user"},
      {"ann 4: still over", "ann", false, "10.0.0.1", "four", NULL, STORE_OVER_BUDGET, false, 0,
       "messages per minute for this user"},
      {"bob has his own", "bob", false, "10.0.0.1", "bob's", NULL, STORE_OK, false, 0, NULL},
      END}},
    {"a guest is counted by address only",
     {1, 0, 2, 0},
     2,
     {{"a guest", "~guest-a", true, "10.0.0.9", "one", NULL, STORE_OK, false, 0, NULL},
      {"the same guest", "~guest-a", true, "10.0.0.9", "two", NULL, STORE_OK, false, 0, NULL},
      {"the address is over", "~guest-b", true, "10.0.0.9", "three", NULL, STORE_OVER_BUDGET, false,
       0, "messages per minute from this address"},
      END}},
};

static void run_case(fixture *f, const post_case *k) {
    int64_t ids[8] = {0};
    for (size_t i = 0; k->steps[i].name; i++) {
        const post_step *p = &k->steps[i];
        post_msg m = {.room_id = f->room,
                      .room = "lobby",
                      .ns = "/",
                      .user = p->user,
                      .text = p->text,
                      .client_id = p->client_id,
                      .budget_user = p->guest ? NULL : p->user,
                      .addr = p->addr};
        post_result r;
        int rc = post_one(f->st, &k->budget, &m, &r);
        if (rc != p->rc || r.rc != rc)
            fail_msg("%s / %s: rc %d (result %d), want %d: %s", k->name, p->name, rc, r.rc, p->rc,
                     store_errmsg(f->st));
        if (rc == STORE_OVER_BUDGET) {
            assert_non_null(r.over);
            assert_string_equal(r.over, p->over);
            continue;
        }
        if (rc != STORE_OK) continue;
        if (r.dup != p->duplicate) fail_msg("%s / %s: duplicate", k->name, p->name);
        assert_true(r.id > 0);
        assert_true(r.ts > 0);
        ids[i] = r.id;
        if (p->duplicate) assert_int_equal(r.id, ids[p->same_as - 1]);
        /* the row published after the commit is the one stored */
        store_message row = post_row(&m, &r);
        assert_int_equal(row.id, r.id);
        assert_int_equal(row.ts, r.ts);
        assert_int_equal(row.room_id, f->room);
        assert_string_equal(row.room, "lobby");
        assert_string_equal(row.ns, "/");
        assert_string_equal(row.user, p->user);
        assert_string_equal(row.text, p->text);
        assert_ptr_equal(row.client_id, p->client_id);
        assert_int_equal(row.kind, STORE_EVENT_MESSAGE);
    }
    int64_t rooms = 0, messages = 0;
    assert_int_equal(store_counts(f->st, &rooms, &messages), STORE_OK);
    if (messages != k->stored)
        fail_msg("%s: %lld messages stored, want %d", k->name, (long long)messages, k->stored);
}

static void test_post_one(void **state) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        teardown(state);
        setup(state);
        run_case(*state, &cases[i]);
    }
}

/* chat-ws's group commit: many post_append in the caller's transaction, one
 * commit; a refused one does not stop the others, and the new ids are
 * consecutive. */
static void test_append_in_one_transaction(void **state) {
    fixture *f = *state;
    store_write_budget b = {1, 0, 0, 0};
    post_msg m[3] = {
        {f->room, "lobby", "/", "ann", "one", "c1", "ann", "10.0.0.1"},
        {f->room, "lobby", "/", "ann", "two", NULL, "ann", "10.0.0.1"}, /* over ann's budget */
        {f->room, "lobby", "/", "bob", "three", NULL, "bob", "10.0.0.2"},
    };
    post_result r[3];
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(post_append(f->st, &b, &m[0], &r[0]), STORE_OK);
    assert_int_equal(post_append(f->st, &b, &m[1], &r[1]), STORE_OVER_BUDGET);
    assert_string_equal(r[1].over, "messages per minute for this user");
    assert_int_equal(post_append(f->st, &b, &m[2], &r[2]), STORE_OK);
    assert_int_equal(store_commit(f->st), STORE_OK);
    assert_int_equal(r[2].id, r[0].id + 1);
    int64_t rooms = 0, messages = 0;
    assert_int_equal(store_counts(f->st, &rooms, &messages), STORE_OK);
    assert_int_equal(messages, 2);
    /* an unknown room: the append fails, and rolled back nothing stays */
    post_msg gone = {f->room + 1000, "gone", "/", "cy", "lost", NULL, "cy", "10.0.0.3"};
    post_result rg;
    assert_int_equal(post_one(f->st, &(store_write_budget){0, 0, 0, 0}, &gone, &rg),
                     STORE_NOTFOUND);
    assert_int_equal(store_counts(f->st, &rooms, &messages), STORE_OK);
    assert_int_equal(messages, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test_setup_teardown(test_post_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_in_one_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
