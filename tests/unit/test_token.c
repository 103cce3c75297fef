/* test_token.c -- which validly signed tokens token_verify accepts: one row
 * per header and payload, signed with the test secret by hand (so the rows
 * can hold what no issuer of ours would write) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jwt.h>

#include "token.h"

static const token_secret test_secret = {"a-test-secret-of-32-bytes-000000", 32};

/* An HS256 token signed with the test secret by libjwt, carrying the JSON
 * object payload and the extra header fields of the JSON object header ("{}"
 * for none). Into out. */
static void sign(const char *header, const char *payload, char *out, size_t cap) {
    jwt_t *jwt = NULL;
    char *t;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
    assert_int_equal(jwt_add_headers_json(jwt, header), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, test_secret.key, (int)test_secret.len), 0);
    t = jwt_encode_str(jwt);
    assert_non_null(t);
    snprintf(out, cap, "%s", t);
    free(t);
    jwt_free(jwt);
}

#define PLAIN "{}" /* no header field but alg and typ */

/* One row: extra header fields, a payload with "%ld" standing for now + delta, and
 * whether it verifies. */
typedef struct token_case {
    const char *name;
    const char *header;
    const char *payload; /* a printf format: one %ld, given now + delta */
    long delta;
    bool ok;
} token_case;

static const token_case cases[] = {
    {"exp in the future", PLAIN, "{\"admin\":true,\"exp\":%ld}", 600, true},
    {"no exp", PLAIN, "{\"admin\":true,\"iat\":%ld}", 0, false},
    {"exp 0", PLAIN, "{\"admin\":true,\"exp\":0,\"iat\":%ld}", 0, false},
    {"exp in the past", PLAIN, "{\"admin\":true,\"exp\":%ld}", -60, false},
    {"exp now", PLAIN, "{\"admin\":true,\"exp\":%ld}", 0, false},
    {"exp a string in the past", PLAIN, "{\"admin\":true,\"exp\":\"%ld\"}", -60, false},
    {"exp a string in the future", PLAIN, "{\"admin\":true,\"exp\":\"%ld\"}", 600, false},
    {"exp a float in the past", PLAIN, "{\"admin\":true,\"exp\":%ld.5}", -60, false},
    {"exp a float in the future", PLAIN, "{\"admin\":true,\"exp\":%ld.5}", 600, false},
    {"exp null", PLAIN, "{\"admin\":true,\"exp\":null,\"iat\":%ld}", 0, false},
    {"exp true", PLAIN, "{\"admin\":true,\"exp\":true,\"iat\":%ld}", 0, false},
    {"exp negative", PLAIN, "{\"admin\":true,\"exp\":-1,\"iat\":%ld}", 0, false},
    {"nbf in the future", PLAIN, "{\"admin\":true,\"exp\":%ld,\"nbf\":9999999999}", 600, false},
    {"nbf a string", PLAIN, "{\"admin\":true,\"exp\":%ld,\"nbf\":\"1\"}", 600, false},
    {"nbf in the past", PLAIN, "{\"admin\":true,\"exp\":%ld,\"nbf\":1}", 600, true},
    {"crit naming an extension", "{\"crit\":[\"exp\"]}", "{\"admin\":true,\"exp\":%ld}", 600,
     false},
    {"crit empty", "{\"crit\":[]}", "{\"admin\":true,\"exp\":%ld}", 600, false},
    {"crit a string", "{\"crit\":\"b64\"}", "{\"admin\":true,\"exp\":%ld}", 600, false},
    {"another header field", "{\"kid\":\"k1\"}", "{\"admin\":true,\"exp\":%ld}", 600, true},
};

/* Each row verifies, or not, as it says; an accepted one carries its exp. */
static void test_verify_table(void **state) {
    (void)state;
    long now = (long)time(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const token_case *c = &cases[i];
        char payload[256], token[2048];
        token_claims claims;
        const char *why = NULL;

        snprintf(payload, sizeof payload, c->payload, now + c->delta);
        sign(c->header, payload, token, sizeof token);
        int rc = token_verify(&test_secret, token, &claims, &why);
        if ((rc == 0) != c->ok)
            fail_msg("%s: %s (%s)", c->name, rc == 0 ? "accepted" : "refused", why ? why : "");
        if (rc == 0) {
            assert_true(claims.admin);
            assert_int_equal(claims.exp, now + c->delta);
        }
    }
}

/* Our own issuer always writes an exp, and what it writes verifies. */
static void test_issued_tokens_verify(void **state) {
    (void)state;
    token_claims claims;
    const char *why = NULL;
    char *t = token_issue(&test_secret, true, "/acme", "ann", 60);

    assert_non_null(t);
    assert_int_equal(token_verify(&test_secret, t, &claims, &why), 0);
    assert_true(claims.admin);
    assert_string_equal(claims.workspace, "/acme");
    assert_string_equal(claims.sub, "ann");
    assert_true(claims.exp > (long)time(NULL));
    free(t);
}

/* A scoped token (the Admin UI's session) carries its scope and nothing that
 * grants more: no admin, no workspace, no name. */
static void test_scoped_token(void **state) {
    (void)state;
    token_claims claims;
    const char *why = NULL;
    char *t = token_issue_scoped(&test_secret, "admin-ui", 60);

    assert_non_null(t);
    assert_int_equal(token_verify(&test_secret, t, &claims, &why), 0);
    assert_string_equal(claims.scope, "admin-ui");
    assert_false(claims.admin);
    assert_string_equal(claims.workspace, "");
    assert_string_equal(claims.sub, "");
    free(t);
    assert_null(token_issue_scoped(&test_secret, "admin-ui", 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_table),
        cmocka_unit_test(test_issued_tokens_verify),
        cmocka_unit_test(test_scoped_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
