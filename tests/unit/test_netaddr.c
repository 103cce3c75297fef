/* test_netaddr.c -- per-address keys (issue 21.3: IPv4-mapped addresses are
 * IPv4; 21.17: IPv6 by prefix) and the numeric address a listener binds */
#include "netaddr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct key_case {
    const char *name;
    const char *addr;
    int prefix;
    const char *key;
} key_case;

static const key_case key_cases[] = {
    {"IPv4 as it is", "192.0.2.7", 64, "192.0.2.7"},
    {"IPv4-mapped is IPv4", "::ffff:192.0.2.7", 64, "192.0.2.7"},
    {"IPv4-mapped, upper case", "::FFFF:10.1.2.3", 48, "10.1.2.3"},
    {"mapped loopback", "::ffff:127.0.0.2", 64, "127.0.0.2"},
    {"IPv6 by its /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
    {"another host, the same /64", "2001:db8:1:2::1", 64, "2001:db8:1:2::/64"},
    {"the next /64", "2001:db8:1:3::1", 64, "2001:db8:1:3::/64"},
    {"a /56", "2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56"},
    {"a /128 keeps the host", "2001:db8::1", 128, "2001:db8::1/128"},
    {"a bit inside a byte (/60)", "2001:db8:0:1f::", 60, "2001:db8:0:10::/60"},
    {"out of range: the default /64", "2001:db8:1:2::9", 0, "2001:db8:1:2::/64"},
    {"::1", "::1", 64, "::/64"},
    {"not an address: as it is", "unix-peer", 64, "unix-peer"},
    {"empty", "", 64, ""},
};

static void test_key(void **state) {
    const key_case *c = *state;
    char out[NETADDR_LEN];
    netaddr_key_prefix(c->addr, c->prefix, out, sizeof out);
    assert_string_equal(out, c->key);
}

static void test_key_deployment_prefix(void **state) {
    (void)state;
    char out[NETADDR_LEN];
    netaddr_key("2001:db8:1:2::1", out, sizeof out); /* the default: /64 */
    assert_string_equal(out, "2001:db8:1:2::/64");
    netaddr_set_ipv6_prefix(48); /* CHAT_IPV6_PREFIX=48 */
    netaddr_key("2001:db8:1:2::1", out, sizeof out);
    assert_string_equal(out, "2001:db8:1::/48");
    netaddr_key("::ffff:198.51.100.1", out, sizeof out);
    assert_string_equal(out, "198.51.100.1");
    netaddr_set_ipv6_prefix(129); /* out of range: the default again */
    netaddr_key("2001:db8:1:2::1", out, sizeof out);
    assert_string_equal(out, "2001:db8:1:2::/64");
}

static void test_key_short_buffer(void **state) {
    (void)state;
    char out[8];
    netaddr_key_prefix("2001:db8:1:2::1", 64, out, sizeof out);
    assert_int_equal(strlen(out), sizeof out - 1); /* cut, terminated */
}

static void test_listen_host(void **state) {
    (void)state;
    char out[NETADDR_LEN];
    bool v6 = true;
    assert_int_equal(netaddr_listen_host("127.0.0.1", out, sizeof out, &v6), 0);
    assert_string_equal(out, "127.0.0.1");
    assert_false(v6);
    assert_int_equal(netaddr_listen_host("[::1]", out, sizeof out, &v6), 0);
    assert_string_equal(out, "::1");
    assert_true(v6);
    assert_int_equal(netaddr_listen_host("::1", out, sizeof out, &v6), 0);
    assert_true(v6);
    assert_int_equal(netaddr_listen_host("", out, sizeof out, &v6), -1);
    assert_int_equal(netaddr_listen_host("no-such-host.invalid", out, sizeof out, &v6), -1);
}

int main(void) {
    struct CMUnitTest keys[sizeof key_cases / sizeof key_cases[0]];
    for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++)
        keys[i] =
            (struct CMUnitTest){key_cases[i].name, test_key, NULL, NULL, (void *)&key_cases[i]};
    int failed = _cmocka_run_group_tests("netaddr_key_prefix", keys,
                                         sizeof key_cases / sizeof key_cases[0], NULL, NULL);
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_key_deployment_prefix),
        cmocka_unit_test(test_key_short_buffer),
        cmocka_unit_test(test_listen_host),
    };
    failed += cmocka_run_group_tests_name("netaddr", rest, NULL, NULL);
    return failed ? 1 : 0;
}
