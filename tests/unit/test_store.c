/* test_store.c -- the store against a real SQLite file in a temporary folder */
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

#include "store.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    store *st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_store.XXXXXX");
    store_fixture_open(f->dir, f->path, sizeof f->path, &f->st);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

/* ---- rooms ------------------------------------------------------------ */

static int count_room(const store_room *r, void *ud) {
    (void)r;
    ++*(int *)ud;
    return 0;
}

static void test_rooms(void **state) {
    fixture *f = *state;
    store_room r;
    assert_int_equal(store_room_find(f->st, "/", "general", &r), STORE_OK); /* from the schema */
    assert_int_equal(store_room_create(f->st, "/", "random", &r), STORE_OK);
    assert_string_equal(r.name, "random");
    assert_string_equal(r.ns, "/");
    assert_int_equal(r.online, 0);
    assert_int_equal(r.last_message_id, 0);
    assert_int_equal(store_room_create(f->st, "/", "random", NULL), STORE_EXISTS);
    /* the same name in another workspace is another room */
    store_room other;
    assert_int_equal(store_room_create(f->st, "/acme", "random", &other), STORE_OK);
    assert_true(other.id != r.id);
    assert_int_equal(store_room_create(f->st, "/", "", NULL), STORE_INVALID);
    assert_int_equal(store_room_create(f->st, "bad", "x", NULL), STORE_INVALID);
    assert_int_equal(store_room_get(f->st, 999999, &r), STORE_NOTFOUND);
    int n = 0;
    assert_int_equal(store_rooms_list(f->st, "/", 0, 100, count_room, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_namespace_ensure(f->st, "/acme"), STORE_OK);
    assert_int_equal(store_namespace_ensure(f->st, "/acme"), STORE_OK);
    n = 0;
    store_rooms_list(f->st, "/acme", 0, 100, count_room, &n);
    assert_int_equal(n, 2); /* random + general */
    assert_int_equal(store_room_delete(f->st, other.id), STORE_OK);
    assert_int_equal(store_room_delete(f->st, other.id), STORE_NOTFOUND);
}

static int last_room(const store_room *r, void *ud) {
    *(int64_t *)ud = r->id;
    return 0;
}

/* Pages of rooms by id, and the cap of rooms per namespace. */
static void test_rooms_pages_and_cap(void **state) {
    fixture *f = *state;
    store_close(f->st);
    store_options opt = {.max_rooms = 5};
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, &opt, err, sizeof err), STORE_OK);
    char name[16];
    for (int i = 1; i < 5; i++) { /* general + 4 */
        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(store_room_create(f->st, "/", name, NULL), STORE_OK);
    }
    assert_int_equal(store_room_create(f->st, "/", "r5", NULL), STORE_LIMIT);
    assert_int_equal(store_room_create(f->st, "/other", "r5", NULL), STORE_OK); /* per namespace */
    int n = 0;
    int64_t last = 0;
    assert_int_equal(store_rooms_list(f->st, "/", 0, 2, count_room, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_rooms_list(f->st, "/", 0, 2, last_room, &last);
    n = 0;
    store_rooms_list(f->st, "/", last, 2, count_room, &n);
    assert_int_equal(n, 2);
    n = 0;
    store_rooms_list(f->st, "/", last + 2, 100, count_room, &n);
    assert_int_equal(n, 1);
}

/* ---- claimed names ---------------------------------------------------- */

static void test_user_claims(void **state) {
    fixture *f = *state;
    bool claimed = true;
    assert_int_equal(store_user_claimed(f->st, "ann", &claimed), STORE_OK);
    assert_false(claimed);
    assert_int_equal(store_user_claim(f->st, "ann"), STORE_OK);
    assert_int_equal(store_user_claim(f->st, "ann"), STORE_EXISTS);
    assert_int_equal(store_user_claimed(f->st, "ann", &claimed), STORE_OK);
    assert_true(claimed);
    assert_int_equal(store_user_claim(f->st, "~guest-1"), STORE_INVALID);
    assert_int_equal(store_user_claim(f->st, "a\xe2\x80\xae"
                                             "b"),
                     STORE_INVALID);
    /* one name whatever its case or look-alike letters (issue 21.7) */
    static const char *const same[] = {"ANN", "Ann", "\xd0\xb0nn" /* Cyrillic a */,
                                       "\xef\xbd\x81nn" /* fullwidth a */};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        claimed = false;
        assert_int_equal(store_user_claimed(f->st, same[i], &claimed), STORE_OK);
        if (!claimed) fail_msg("%s is not ann's", same[i]);
        if (store_user_claim(f->st, same[i]) == STORE_OK) fail_msg("%s claimed again", same[i]);
    }
    assert_int_equal(store_user_claim(f->st, "anne"), STORE_OK);
}

/* ---- messages --------------------------------------------------------- */

typedef struct collected {
    int64_t ids[600];
    int n;
} collected;

static int collect(const store_message *m, void *ud) {
    collected *c = ud;
    c->ids[c->n++] = m->id;
    return 0;
}

static void test_messages(void **state) {
    fixture *f = *state;
    store_room g, o;
    store_room_find(f->st, "/", "general", &g);
    store_room_create(f->st, "/", "other", &o);
    int64_t id, ts, first = 0;
    bool dup;
    for (int i = 0; i < 10; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(
            store_message_append(f->st, i % 2 ? o.id : g.id, "ann", text, NULL, &id, &ts, &dup),
            STORE_OK);
        assert_false(dup);
        if (!first) first = id;
    }
    collected c = {0};
    /* newest first window, returned ascending */
    assert_int_equal(store_messages_list(f->st, g.id, -1, 0, 3, collect, &c), STORE_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.ids[0] < c.ids[1] && c.ids[1] < c.ids[2]);
    assert_int_equal(c.ids[2], first + 8);
    /* after: the oldest ones past the offset */
    c.n = 0;
    store_messages_list(f->st, g.id, first, 0, 2, collect, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], first + 2);
    /* before */
    c.n = 0;
    store_messages_list(f->st, g.id, -1, first + 4, 50, collect, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[1], first + 2);
    /* after 0 pages from the oldest, not the newest */
    c.n = 0;
    store_messages_list(f->st, g.id, 0, 0, 2, collect, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], first);
    assert_int_equal(c.ids[1], first + 2);
    /* the tail sees every room, in order */
    c.n = 0;
    store_log_tail(f->st, first + 5, 100, collect, &c);
    assert_int_equal(c.n, 4);
    int64_t head;
    store_log_head(f->st, &head);
    assert_int_equal(head, first + 9);
    /* unknown room, bad text, bad user */
    assert_int_equal(store_message_append(f->st, 424242, "ann", "x", NULL, &id, &ts, &dup),
                     STORE_NOTFOUND);
    assert_int_equal(store_message_append(f->st, g.id, "ann", "", NULL, &id, &ts, &dup),
                     STORE_INVALID);
    assert_int_equal(store_message_append(f->st, g.id, "", "x", NULL, &id, &ts, &dup),
                     STORE_INVALID);
    assert_int_equal(store_message_append(f->st, g.id, "ann", "\xff", NULL, &id, &ts, &dup),
                     STORE_INVALID);
}

static void test_client_id_idempotent(void **state) {
    fixture *f = *state;
    store_room g;
    store_room_find(f->st, "/", "general", &g);
    int64_t id1, ts1, id2, ts2, id3, ts3;
    bool dup;
    assert_int_equal(store_message_append(f->st, g.id, "ann", "hi", "c-1", &id1, &ts1, &dup), 0);
    assert_false(dup);
    assert_int_equal(store_message_append(f->st, g.id, "ann", "hi", "c-1", &id2, &ts2, &dup), 0);
    assert_true(dup);
    assert_int_equal(id1, id2);
    assert_int_equal(ts1, ts2);
    /* another user may use the same client_id */
    assert_int_equal(store_message_append(f->st, g.id, "bob", "hi", "c-1", &id3, &ts3, &dup), 0);
    assert_false(dup);
    assert_true(id3 > id1);
    /* the same client_id in another room is another message, not an answer
     * with the first room's message */
    store_room o;
    assert_int_equal(store_room_create(f->st, "/", "elsewhere", &o), STORE_OK);
    int64_t id4, ts4;
    assert_int_equal(store_message_append(f->st, o.id, "ann", "there", "c-1", &id4, &ts4, &dup),
                     STORE_OK);
    assert_false(dup);
    assert_true(id4 > id3);
    assert_int_equal(store_message_append(f->st, o.id, "ann", "there", "c-1", &id2, &ts2, &dup),
                     STORE_OK);
    assert_true(dup);
    assert_int_equal(id2, id4);
}

static void test_group_commit_and_rollback(void **state) {
    fixture *f = *state;
    store_room g;
    store_room_find(f->st, "/", "general", &g);
    int64_t id, ts, head0, head1;
    bool dup;
    store_log_head(f->st, &head0);
    assert_int_equal(store_begin(f->st), STORE_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_message_append(f->st, g.id, "ann", "x", NULL, &id, &ts, &dup), 0);
    /* a failing append inside the batch does not spoil the others */
    assert_int_equal(store_message_append(f->st, 999, "ann", "x", NULL, &id, &ts, &dup),
                     STORE_NOTFOUND);
    assert_int_equal(store_rollback(f->st), STORE_OK);
    store_log_head(f->st, &head1);
    assert_int_equal(head1, head0); /* nothing half-written */
    assert_int_equal(store_begin(f->st), STORE_OK);
    for (int i = 0; i < 5; i++)
        store_message_append(f->st, g.id, "ann", "x", NULL, &id, &ts, &dup);
    assert_int_equal(store_commit(f->st), STORE_OK);
    store_log_head(f->st, &head1);
    assert_true(head1 > head0); /* AUTOINCREMENT: offsets never reused after the rollback */
}

/* ---- batched writes (store_batch_begin/end) ---------------------------- */

static void save_session(store *st, const char *pid) {
    store_session s = {.rooms = "[]", .data = "{}"};
    snprintf(s.pid, sizeof s.pid, "%s", pid);
    snprintf(s.sid, sizeof s.sid, "sid-%s", pid);
    snprintf(s.ns, sizeof s.ns, "/");
    snprintf(s.user, sizeof s.user, "ann");
    assert_int_equal(store_session_save(st, &s), STORE_OK);
}

/* Whether the connection sees the session pid (committed, or its own). */
static bool sees(store *st, const char *pid) {
    store_session out;
    int rc = store_session_load(st, pid, 60000, &out);
    store_session_free(&out);
    return rc == STORE_OK;
}

static void test_write_batch(void **state) {
    fixture *f = *state;
    char err[256];
    store *other, *third;
    assert_int_equal(store_open(&other, f->path, NULL, err, sizeof err), STORE_OK);
    /* single writes join the batch: visible to others only at its end */
    assert_int_equal(store_batch_begin(f->st), STORE_OK);
    assert_int_equal(store_batch_begin(f->st), STORE_OK); /* already open: nothing */
    save_session(f->st, "b1");
    save_session(f->st, "b2");
    assert_true(sees(f->st, "b1"));
    assert_false(sees(other, "b1"));
    assert_int_equal(store_batch_end(f->st), STORE_OK);
    assert_true(sees(other, "b1") && sees(other, "b2"));
    assert_int_equal(store_batch_end(f->st), STORE_OK); /* none open: nothing */
    /* an explicit transaction commits the open batch first: its rollback
     * does not take the batch's writes with it */
    assert_int_equal(store_batch_begin(f->st), STORE_OK);
    save_session(f->st, "b3");
    assert_int_equal(store_begin(f->st), STORE_OK);
    save_session(f->st, "b4");
    assert_int_equal(store_rollback(f->st), STORE_OK);
    assert_true(sees(other, "b3"));
    assert_false(sees(other, "b4"));
    assert_int_equal(store_batch_end(f->st), STORE_OK);
    /* a rollback ends an open batch too; closing commits one */
    assert_int_equal(store_batch_begin(f->st), STORE_OK);
    save_session(f->st, "b5");
    assert_int_equal(store_rollback(f->st), STORE_OK);
    assert_int_equal(store_batch_end(f->st), STORE_OK);
    assert_false(sees(other, "b5"));
    assert_int_equal(store_open(&third, f->path, NULL, err, sizeof err), STORE_OK);
    assert_int_equal(store_batch_begin(third), STORE_OK);
    save_session(third, "b6");
    store_close(third);
    assert_true(sees(other, "b6"));
    store_close(other);
}

/* ---- presence, processes, sessions, cursors --------------------------- */

static int count_user(const char *u, void *ud) {
    (void)u;
    ++*(int *)ud;
    return 0;
}

/* Finds the process row with the id in proc_seen's first field. */
typedef struct proc_seen {
    int64_t id;
    char node[8], host[64];
    int count;
} proc_seen;

static int see_process(const store_process *p, void *ctx) {
    proc_seen *s = ctx;
    if (p->id != s->id) return 0;
    s->count++;
    snprintf(s->node, sizeof s->node, "%s", p->node);
    snprintf(s->host, sizeof s->host, "%s", p->host);
    return 0;
}

static void test_presence(void **state) {
    fixture *f = *state;
    store_room g;
    store_room_find(f->st, "/", "general", &g);
    int64_t p1;
    assert_int_equal(store_process_register(f->st, 1234, "127.0.0.1:1", "t", "web1", &p1),
                     STORE_OK);
    /* which node on which host, for /api/health across hosts */
    proc_seen seen = {.id = p1};
    assert_int_equal(store_processes_list(f->st, see_process, &seen), STORE_OK);
    assert_int_equal(seen.count, 1);
    assert_string_equal(seen.node, "t");
    assert_string_equal(seen.host, "web1");
    assert_int_equal(store_presence_add(f->st, p1, "sid-a", g.id, "ann"), STORE_OK);
    assert_int_equal(store_presence_add(f->st, p1, "sid-b", g.id, "ann"), STORE_OK);
    assert_int_equal(store_presence_add(f->st, p1, "sid-c", g.id, "bob"), STORE_OK);
    store_room r;
    store_room_get(f->st, g.id, &r);
    assert_int_equal(r.online, 2); /* distinct users */
    int n = 0;
    store_presence_users(f->st, g.id, count_user, &n);
    assert_int_equal(n, 2);
    store_presence_remove(f->st, "sid-c", g.id);
    store_room_get(f->st, g.id, &r);
    assert_int_equal(r.online, 1);
    /* the process goes away: its presence goes with it */
    assert_int_equal(store_process_unregister(f->st, p1), STORE_OK);
    store_room_get(f->st, g.id, &r);
    assert_int_equal(r.online, 0);
    assert_int_equal(store_process_heartbeat(f->st, p1, 0), STORE_NOTFOUND);
}

static void test_sessions_and_cursors(void **state) {
    fixture *f = *state;
    store_session s = {.rooms = "[\"general\"]", .data = "{}"};
    snprintf(s.pid, sizeof s.pid, "pid-1");
    snprintf(s.sid, sizeof s.sid, "sid-1");
    snprintf(s.ns, sizeof s.ns, "/");
    snprintf(s.user, sizeof s.user, "ann");
    assert_int_equal(store_session_save(f->st, &s), STORE_OK);
    store_session out;
    assert_int_equal(store_session_load(f->st, "pid-1", 60000, &out), STORE_OK);
    assert_string_equal(out.sid, "sid-1");
    assert_string_equal(out.rooms, "[\"general\"]");
    store_session_free(&out);
    assert_int_equal(store_session_load(f->st, "nope", 60000, &out), STORE_NOTFOUND);
    s.updated_at = store_now_ms() - 120000; /* older than the window */
    store_session_save(f->st, &s);
    assert_int_equal(store_session_load(f->st, "pid-1", 60000, &out), STORE_NOTFOUND);
    assert_int_equal(store_session_expire(f->st, 60000), STORE_OK);

    store_room g;
    store_room_find(f->st, "/", "general", &g);
    int64_t last;
    assert_int_equal(store_cursor_get(f->st, "ann", g.id, &last), STORE_OK);
    assert_int_equal(last, -1);              /* no cursor */
    store_cursor_set(f->st, "ann", g.id, 0); /* a first visit to an empty room */
    store_cursor_get(f->st, "ann", g.id, &last);
    assert_int_equal(last, 0);
    store_cursor_set(f->st, "ann", g.id, 10);
    store_cursor_set(f->st, "ann", g.id, 5); /* never backwards */
    store_cursor_get(f->st, "ann", g.id, &last);
    assert_int_equal(last, 10);
    assert_int_equal(store_cursor_set(f->st, "ann", 999, 1), STORE_NOTFOUND);
}

static void test_workspaces_and_reopen(void **state) {
    fixture *f = *state;
    bool priv = true;
    assert_int_equal(store_workspace_private(f->st, "/acme", &priv), STORE_OK);
    assert_false(priv);
    assert_int_equal(store_workspace_set_private(f->st, "/acme", true), STORE_OK);
    store_workspace_private(f->st, "/acme", &priv);
    assert_true(priv);
    assert_int_equal(store_workspace_set_private(f->st, "/", true), STORE_INVALID);
    /* a second connection to the same file: the schema is applied once */
    store *again;
    char err[256];
    assert_int_equal(store_open(&again, f->path, NULL, err, sizeof err), STORE_OK);
    int64_t rooms, msgs;
    assert_int_equal(store_counts(again, &rooms, &msgs), STORE_OK);
    assert_int_equal(rooms, 1);
    store_close(again);
    store_close(NULL);
    /* a path that cannot be opened is an error, not a crash */
    assert_int_not_equal(store_open(&again, "/nonexistent/dir/x.db", NULL, err, sizeof err), 0);
    assert_null(again);
}

/* Write budgets (issue 14.7): a refusal names the budget and counts nothing. */
static void test_write_budgets(void **state) {
    fixture *f = *state;
    store_write_budget b;
    const char *which = NULL;
    assert_int_equal(store_write_budget_parse(&b, "2/3/0/0"), 0);
    assert_int_equal(store_write_budget_parse(&b, "2/3/0"), -1);
    assert_int_equal(store_write_budget_parse(&b, "2/3/0/-1"), -1);
    assert_int_equal(store_write_budget_parse(&b, "2/3/0/0x"), -1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_budget_spend(f->st, &b, "ann", "10.0.0.1", &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "ann", "10.0.0.1", &which), STORE_OVER_BUDGET);
    assert_string_equal(which, "messages per minute for this user");
    assert_int_equal(store_budget_spend(f->st, &b, "bob", "10.0.0.1", &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, NULL, "10.0.0.1", &which), STORE_OK);
    /* per day: 3 for a user whose minutes are unlimited */
    b = (store_write_budget){0, 3, 0, 0};
    assert_int_equal(store_budget_spend(f->st, &b, "bob", NULL, &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "bob", NULL, &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "bob", NULL, &which), STORE_OVER_BUDGET);
    assert_string_equal(which, "messages per day for this user");
    /* per address, whatever the user */
    b = (store_write_budget){0, 0, 2, 0};
    assert_int_equal(store_budget_spend(f->st, &b, "x", "10.0.0.9", &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "y", "10.0.0.9", &which), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "z", "10.0.0.9", &which), STORE_OVER_BUDGET);
    assert_string_equal(which, "messages per minute from this address");
    assert_int_equal(store_budget_spend(f->st, &b, "z", "10.0.0.8", &which), STORE_OK);
    /* inside a caller's transaction a refusal leaves the transaction usable */
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_budget_spend(f->st, &b, "z", "10.0.0.9", &which), STORE_OVER_BUDGET);
    assert_int_equal(store_commit(f->st), STORE_OK);
    assert_int_equal(store_process_reap(f->st), STORE_OK); /* prunes past windows only */
    assert_int_equal(store_budget_spend(f->st, &b, "z", "10.0.0.9", &which), STORE_OVER_BUDGET);
}

/* Room creation rates and sessions per address, counted in the store for
 * every process (issues 21.6 and 21.12). */
static void test_shared_rates(void **state) {
    fixture *f = *state;
    int64_t retry = -1, p1, p2, n = -1;
    store_limits limits;
    store_limits_default(&limits);
    limits.room_rate_address = 2;
    limits.room_rate_user = 1;
    store_limits_set(f->st, &limits);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.1", &retry), STORE_OK);
    assert_int_equal(retry, 0);
    assert_int_equal(store_room_rate_spend(f->st, "ann", "10.0.0.1", &retry), STORE_OK);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.1", &retry), STORE_OVER_BUDGET);
    assert_true(retry >= 1 && retry <= 3600);
    assert_int_equal(store_room_rate_spend(f->st, "ann", "10.0.0.2", &retry), STORE_OVER_BUDGET);
    assert_int_equal(store_room_rate_spend(f->st, "bob", "10.0.0.2", &retry), STORE_OK);
    /* rolled back with the room it was for: not counted */
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.3", &retry), STORE_OK);
    assert_int_equal(store_rollback(f->st), STORE_OK);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.3", &retry), STORE_OK);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.3", &retry), STORE_OK);
    limits.room_rate_address = 0; /* 0: no limit */
    store_limits_set(f->st, &limits);
    assert_int_equal(store_room_rate_spend(f->st, NULL, "10.0.0.3", &retry), STORE_OK);
    /* workspaces per address */
    assert_int_equal(store_workspace_rate_spend(f->st, "10.0.0.1", 1, &retry), STORE_OK);
    assert_int_equal(store_workspace_rate_spend(f->st, "10.0.0.1", 1, &retry), STORE_OVER_BUDGET);
    /* sessions per address: the others' count, not one's own */
    assert_int_equal(store_process_register(f->st, 1, "127.0.0.1:1", "a", "h", &p1), STORE_OK);
    assert_int_equal(store_process_register(f->st, 2, "127.0.0.1:2", "b", "h", &p2), STORE_OK);
    assert_int_equal(store_address_sessions_set(f->st, p1, "10.0.0.1", 3), STORE_OK);
    assert_int_equal(store_address_sessions_set(f->st, p2, "10.0.0.1", 2), STORE_OK);
    assert_int_equal(store_address_sessions_elsewhere(f->st, p1, "10.0.0.1", &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_address_sessions_elsewhere(f->st, p2, "10.0.0.1", &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(store_address_sessions_set(f->st, p2, "10.0.0.1", 0), STORE_OK);
    assert_int_equal(store_address_sessions_elsewhere(f->st, p1, "10.0.0.1", &n), STORE_OK);
    assert_int_equal(n, 0);
    /* a process that is gone takes its rows along */
    assert_int_equal(store_address_sessions_set(f->st, p2, "10.0.0.1", 4), STORE_OK);
    assert_int_equal(store_process_unregister(f->st, p2), STORE_OK);
    assert_int_equal(store_address_sessions_elsewhere(f->st, p1, "10.0.0.1", &n), STORE_OK);
    assert_int_equal(n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_budgets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms_pages_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_id_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_and_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workspaces_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_rates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
