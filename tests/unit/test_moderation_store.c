/* test_moderation_store.c -- sql/moderation_store.c on the fixture's backend
 * (SQLite, or PostgreSQL in tests/run.sh's second pass): edits and deletions
 * as log rows (history lists the current state, the log every row, a deleted
 * text is nowhere), roles and the owner's claim, sanctions in force and
 * lifted, the audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

#include "moderation_store.h"
#include "store.h"

typedef store_room_fixture fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    store_room_fixture_open(f, "test_moderation_store", "mod");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    store_fixture_close(f->st, f->dir);
    free(f);
    return 0;
}

/* What a list call saw: "kind:target:text" per row, ';'-separated. */
typedef struct seen {
    char buf[1024];
    int n;
} seen;

static int see(const store_message *m, void *ud) {
    seen *s = ud;
    size_t at = strlen(s->buf);
    snprintf(s->buf + at, sizeof s->buf - at, "%s%d:%lld:%s", s->n++ ? ";" : "", m->kind,
             (long long)m->target, m->text ? m->text : "");
    return 0;
}

static int64_t append(fixture *f, const char *user, const char *text) {
    int64_t id, ts;
    bool dup;
    assert_int_equal(store_message_append(f->st, f->room, user, text, NULL, &id, &ts, &dup),
                     STORE_OK);
    return id;
}

static void test_edit_and_delete_are_log_rows(void **state) {
    fixture *f = *state;
    int64_t a = append(f, "ann", "helo"), b = append(f, "bob", "secret"), ev, ts;
    char want[256];

    assert_int_equal(modstore_message_edit(f->st, a, "bob", "not mine", &ev, &ts), STORE_NOTFOUND);
    assert_int_equal(modstore_message_edit(f->st, a, "ann", "hello", &ev, &ts), STORE_OK);
    assert_true(ev > b);
    assert_int_equal(modstore_message_edit(f->st, b, "bob", "secret, edited", &ev, &ts), STORE_OK);
    assert_int_equal(modstore_message_delete(f->st, b, "mod", &ev, &ts), STORE_OK);
    assert_int_equal(modstore_message_delete(f->st, b, "mod", &ev, &ts), STORE_NOTFOUND);
    assert_int_equal(modstore_message_edit(f->st, ev, "mod", "x", &ev, &ts), STORE_NOTFOUND);

    /* history: the messages as they are now */
    seen h = {0};
    assert_int_equal(store_messages_list(f->st, f->room, 0, 0, 100, see, &h), STORE_OK);
    assert_string_equal(h.buf, "0:0:hello");
    /* the log: every row the room has left, edits and the deletion */
    seen l = {0};
    assert_int_equal(modstore_room_log(f->st, f->room, 0, 100, see, &l), STORE_OK);
    snprintf(want, sizeof want, "0:0:hello;1:%lld:hello;2:%lld:", (long long)a, (long long)b);
    assert_string_equal(l.buf, want);
    seen t = {0};
    assert_int_equal(store_log_tail(f->st, 0, 100, see, &t), STORE_OK);
    assert_string_equal(t.buf, want);
    assert_null(strstr(t.buf, "secret"));
}

static int count_roles(const char *user, int role, const char *by, int64_t at, void *ud) {
    (void)by, (void)at;
    char *buf = ud;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s%s=%s", n ? "," : "", user, modstore_role_name(role));
    return 0;
}

static void test_roles_and_owner_claim(void **state) {
    fixture *f = *state;
    int role = -1;
    bool granted = false;
    char list[256] = "";

    assert_int_equal(modstore_role_get(f->st, "/w", "ann", &role), STORE_OK);
    assert_int_equal(role, MODSTORE_ROLE_MEMBER);
    assert_int_equal(modstore_owner_claim(f->st, "/w", "ann", &granted), STORE_OK);
    assert_true(granted);
    assert_int_equal(modstore_owner_claim(f->st, "/w", "bob", &granted), STORE_OK);
    assert_false(granted); /* one creator */
    assert_int_equal(modstore_role_set(f->st, "/w", "bob", MODSTORE_ROLE_MODERATOR, "ann"),
                     STORE_OK);
    assert_int_equal(modstore_role_set(f->st, "/w", "~guest-1", MODSTORE_ROLE_MODERATOR, "ann"),
                     STORE_INVALID);
    assert_int_equal(modstore_roles_list(f->st, "/w", count_roles, list), STORE_OK);
    assert_string_equal(list, "ann=owner,bob=moderator");
    assert_int_equal(modstore_role_set(f->st, "/w", "bob", MODSTORE_ROLE_MEMBER, "ann"), STORE_OK);
    assert_int_equal(modstore_role_get(f->st, "/w", "bob", &role), STORE_OK);
    assert_int_equal(role, MODSTORE_ROLE_MEMBER);
    assert_int_equal(modstore_role_parse("owner"), MODSTORE_ROLE_OWNER);
    assert_int_equal(modstore_role_parse("admin"), -1);
}

static int count_sanctions(const modstore_sanction *s, void *ud) {
    (void)s;
    ++*(int *)ud;
    return 0;
}

typedef struct audit_seen {
    char actions[256];
} audit_seen;

static int see_audit(const modstore_audit *a, void *ud) {
    audit_seen *s = ud;
    size_t n = strlen(s->actions);
    snprintf(s->actions + n, sizeof s->actions - n, "%s%s %s by %s", n ? "," : "", a->action,
             a->target, a->actor);
    return 0;
}

static void test_sanctions_and_audit(void **state) {
    fixture *f = *state;
    int64_t now = store_now_ms(), until = 0;
    modstore_sanction mute = {.ns = "/",
                              .kind = "mute",
                              .user = "eve",
                              .address = "",
                              .until = now + 60000,
                              .by = "mod",
                              .reason = "calm",
                              .at = now};
    modstore_sanction old = mute;
    old.user = "old";
    old.until = now - 1;
    modstore_sanction ban = {.ns = "/",
                             .kind = "ban",
                             .user = "mal",
                             .address = "",
                             .until = modstore_sanction_end("ban", -1, now),
                             .by = "admin",
                             .at = now,
                             .with_address = true};
    modstore_sanction addr = ban;
    addr.address = "10.0.0.7";
    addr.with_address = false;
    int n = 0;

    assert_int_equal(modstore_sanction_give(f->st, &mute, false), STORE_OK);
    assert_int_equal(modstore_sanction_put(f->st, &old), STORE_OK);
    assert_int_equal(modstore_sanction_give(f->st, &ban, false), STORE_OK);
    assert_int_equal(modstore_sanction_put(f->st, &addr), STORE_OK);
    assert_int_equal(ban.until, MODSTORE_FOREVER);
    assert_int_equal(modstore_sanctions_active(f->st, NULL, now, count_sanctions, &n), STORE_OK);
    assert_int_equal(n, 3); /* the expired mute is not in force */
    int rc = modstore_sanction_until(f->st, "/", "mute", "eve", NULL, now, &until);
    if (rc) fail_msg("sanction_until: %d %s", rc, store_errmsg(f->st));
    assert_int_equal(until, now + 60000);
    assert_int_equal(modstore_sanction_until(f->st, "/w", "mute", "eve", NULL, now, &until),
                     STORE_OK);
    assert_int_equal(until, 0); /* another namespace */
    assert_int_equal(modstore_sanction_until(f->st, "/", "ban", "", "10.0.0.7", now, &until),
                     STORE_OK);
    assert_int_equal(until, MODSTORE_FOREVER);
    /* an unban lifts the addresses the name's ban followed */
    assert_int_equal(modstore_sanction_give(f->st, &ban, true), STORE_OK);
    assert_int_equal(modstore_sanction_until(f->st, "/", "ban", "", "10.0.0.7", now, &until),
                     STORE_OK);
    assert_int_equal(until, 0);
    audit_seen a = {""};
    assert_int_equal(modstore_audit_list(f->st, "/", 0, 10, see_audit, &a), STORE_OK);
    assert_string_equal(a.actions, "mute eve by mod,ban mal by admin,unban mal by admin");
    audit_seen none = {""};
    assert_int_equal(modstore_audit_list(f->st, "/w", 0, 10, see_audit, &none), STORE_OK);
    assert_string_equal(none.actions, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edit_and_delete_are_log_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles_and_owner_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sanctions_and_audit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
