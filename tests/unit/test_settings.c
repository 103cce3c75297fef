/* test_settings.c -- the environment read at the programs' edges
 * (edge/settings.h): each variable's default, a valid value, and an invalid
 * one that keeps the default. The only unit test that sets the environment:
 * every variable it reads is cleared first, so a developer's shell changes
 * nothing. */
#include "settings.h"

#include "account.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const variables[] = {
    "CHAT_MAX_ROOMS",   "CHAT_SYNC",        "CHAT_ROOM_RATE_USER", "CHAT_ROOM_RATE_ADDRESS",
    "CHAT_CLAIM_RATE",  "CHAT_CLAIM_TTL_S", "CHAT_WRITE_BUDGET",   "CHAT_SECRET",
    "CHAT_SECRET_FILE", "CHAT_LOG_LEVEL",   "CHAT_LOG_FORMAT",     "CHAT_IPV6_PREFIX",
    "CHAT_CORS_ORIGIN", "CHAT_SIGNIN_RATE", "CHAT_AUTH_REQUEST",
};

static int clear_environment(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof variables / sizeof *variables; i++)
        unsetenv(variables[i]);
    return 0;
}

static void test_defaults(void **state) {
    (void)state;
    chat_settings s;
    store_limits def;
    store_write_budget budget = STORE_BUDGET_DEFAULT;
    settings_read(&s);
    store_limits_default(&def);
    assert_int_equal(s.max_rooms, 0); /* store_open: the contract's default */
    assert_int_equal(s.sync, STORE_SYNC_NORMAL);
    assert_memory_equal(&s.limits, &def, sizeof def);
    assert_int_equal(s.limits.room_rate_user, contract_default(CONTRACT_ROOM_RATE_USER));
    assert_int_equal(s.limits.claim_ttl_ms, ACCOUNT_CLAIM_TTL_S * 1000LL);
    assert_memory_equal(&s.write_budget, &budget, sizeof budget);
    assert_null(s.secret);
    assert_null(s.secret_file);
    assert_int_equal(s.log_level, LOG_LEVEL_INFO);
    assert_int_equal(s.log_format, LOG_FORMAT_KV);
    assert_int_equal(s.ipv6_prefix, contract_default(CONTRACT_IPV6_PREFIX));
    assert_string_equal(s.ipv6_prefix_error, "");
    assert_null(s.cors_origin);
    assert_int_equal(s.signin_account, -1); /* the handler's defaults */
    assert_int_equal(s.signin_address, -1);
    assert_false(s.auth_request);
}

static void test_values(void **state) {
    (void)state;
    chat_settings s;
    setenv("CHAT_MAX_ROOMS", "7", 1);
    setenv("CHAT_SYNC", "full", 1);
    setenv("CHAT_ROOM_RATE_USER", "1", 1);
    setenv("CHAT_ROOM_RATE_ADDRESS", "0", 1); /* 0: no limit */
    setenv("CHAT_CLAIM_RATE", "3/4", 1);
    setenv("CHAT_CLAIM_TTL_S", "60", 1);
    setenv("CHAT_WRITE_BUDGET", "1/2/3/4", 1);
    setenv("CHAT_SECRET", "0123456789abcdef", 1);
    setenv("CHAT_SECRET_FILE", "/nonexistent", 1);
    setenv("CHAT_LOG_LEVEL", "debug", 1);
    setenv("CHAT_LOG_FORMAT", "json", 1);
    setenv("CHAT_IPV6_PREFIX", "48", 1);
    setenv("CHAT_CORS_ORIGIN", "*", 1);
    setenv("CHAT_SIGNIN_RATE", "3/0", 1);
    setenv("CHAT_AUTH_REQUEST", "1", 1);
    settings_read(&s);
    assert_int_equal(s.max_rooms, 7);
    assert_int_equal(s.sync, STORE_SYNC_FULL);
    assert_int_equal(s.limits.room_rate_user, 1);
    assert_int_equal(s.limits.room_rate_address, 0);
    assert_int_equal(s.limits.claim_minute, 3);
    assert_int_equal(s.limits.claim_day, 4);
    assert_int_equal(s.limits.claim_ttl_ms, 60000);
    assert_int_equal(s.write_budget.user_minute, 1);
    assert_int_equal(s.write_budget.addr_day, 4);
    assert_string_equal(s.secret, "0123456789abcdef");
    assert_string_equal(s.secret_file, "/nonexistent");
    assert_int_equal(s.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(s.log_format, LOG_FORMAT_JSON);
    assert_int_equal(s.ipv6_prefix, 48);
    assert_string_equal(s.cors_origin, "*");
    assert_int_equal(s.signin_account, 3);
    assert_int_equal(s.signin_address, 0);
    assert_true(s.auth_request);

    store_options o = {.busy_timeout_ms = 100};
    settings_store_options(&s, &o);
    assert_int_equal(o.busy_timeout_ms, 100); /* the caller's own */
    assert_int_equal(o.sync, STORE_SYNC_FULL);
    assert_int_equal(o.max_rooms, 7);
    assert_ptr_equal(o.limits, &s.limits);
}

static void test_invalid_values_keep_defaults(void **state) {
    (void)state;
    chat_settings s, def;
    clear_environment(NULL);
    settings_read(&def);
    setenv("CHAT_SYNC", "fast", 1);
    setenv("CHAT_ROOM_RATE_USER", "-1", 1);
    setenv("CHAT_ROOM_RATE_ADDRESS", "lots", 1);
    setenv("CHAT_CLAIM_RATE", "3", 1);
    setenv("CHAT_CLAIM_TTL_S", "0", 1);
    setenv("CHAT_WRITE_BUDGET", "1/2/3", 1);
    setenv("CHAT_LOG_LEVEL", "loud", 1);
    setenv("CHAT_LOG_FORMAT", "xml", 1);
    setenv("CHAT_IPV6_PREFIX", "129", 1);
    setenv("CHAT_SIGNIN_RATE", "3/-1", 1);
    setenv("CHAT_AUTH_REQUEST", "yes", 1);
    settings_read(&s);
    assert_int_equal(s.sync, STORE_SYNC_NORMAL);
    assert_memory_equal(&s.limits, &def.limits, sizeof def.limits);
    assert_memory_equal(&s.write_budget, &def.write_budget, sizeof def.write_budget);
    assert_int_equal(s.log_level, LOG_LEVEL_INFO);
    assert_int_equal(s.log_format, LOG_FORMAT_KV);
    assert_int_equal(s.ipv6_prefix, def.ipv6_prefix);
    assert_string_not_equal(s.ipv6_prefix_error, ""); /* settings_apply logs it */
    assert_int_equal(s.signin_account, -1);
    assert_false(s.auth_request);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_environment),
        cmocka_unit_test_setup(test_values, clear_environment),
        cmocka_unit_test_setup(test_invalid_values_keep_defaults, clear_environment),
    };
    return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
