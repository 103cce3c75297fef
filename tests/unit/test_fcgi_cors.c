/* test_fcgi_cors.c -- which origins get CORS headers on /api/, and what a preflight answers */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cors.h"
#include "http.h"

/* One row: the setting, the request's Origin, preflight or not; then the
 * Access-Control-Allow-Origin expected (NULL: none), and Vary. */
static const struct {
    const char *name;
    const char *origins;
    const char *origin;
    bool preflight;
    const char *allow_origin;
    const char *vary;
} cases[] = {
    {"no setting: nobody", NULL, "https://app.example.org", false, NULL, NULL},
    {"empty setting: nobody", "", "https://app.example.org", true, NULL, NULL},
    {"no Origin header", "*", NULL, false, NULL, NULL},
    {"any origin", "*", "https://app.example.org", false, "*", NULL},
    {"a listed origin is reflected", "https://a.example http://localhost:5173",
     "http://localhost:5173", true, "http://localhost:5173", "Origin"},
    {"the first of the list", "https://a.example http://localhost:5173", "https://a.example", false,
     "https://a.example", "Origin"},
    {"a prefix of a listed origin", "https://a.example", "https://a.exam", false, NULL, NULL},
    {"a listed origin plus more", "https://a.example", "https://a.example.evil", false, NULL, NULL},
    {"another port", "http://localhost:5173", "http://localhost:5174", true, NULL, NULL},
    {"extra spaces in the setting", "  https://a.example   https://b.example ", "https://b.example",
     false, "https://b.example", "Origin"},
    {"the string null", "https://a.example", "null", true, NULL, NULL},
};

static void test_cors_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_request req = {.method = cases[i].preflight ? "OPTIONS" : "GET",
                            .path = "/api/rooms",
                            .query = "",
                            .origin = cases[i].origin};
        http_response resp;
        const char *got, *methods;

        http_response_init(&resp);
        cors_apply(cases[i].origins, &req, cases[i].preflight, "GET, HEAD, POST, OPTIONS", &resp);
        got = http_get_header(&resp, "Access-Control-Allow-Origin");
        methods = http_get_header(&resp, "Access-Control-Allow-Methods");
        print_message("%s\n", cases[i].name);
        if (cases[i].allow_origin == NULL) {
            assert_null(got);
            assert_int_equal(resp.nheaders, 0);
        } else {
            assert_string_equal(got, cases[i].allow_origin);
            if (cases[i].vary)
                assert_string_equal(http_get_header(&resp, "Vary"), cases[i].vary);
            else
                assert_null(http_get_header(&resp, "Vary"));
            if (cases[i].preflight) {
                assert_string_equal(methods, "GET, HEAD, POST, OPTIONS");
                assert_string_equal(http_get_header(&resp, "Access-Control-Allow-Headers"),
                                    "Authorization, Content-Type");
                assert_non_null(http_get_header(&resp, "Access-Control-Max-Age"));
            } else {
                assert_null(methods);
                assert_non_null(
                    strstr(http_get_header(&resp, "Access-Control-Expose-Headers"), "Retry-After"));
            }
        }
        http_response_free(&resp);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cors_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
