/* test_fcgi_http.c -- URL decoding, query parsing, headers, and the CGI gateway's framing */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"
#include "http.h"

static void test_url_decode(void **state) {
    static const struct {
        const char *in;
        bool plus;
        int rc;
        const char *out;
    } cases[] = {
        {"", false, HTTP_OK, ""},
        {"/api/rooms", false, HTTP_OK, "/api/rooms"},
        {"%2Fa%2fb", false, HTTP_OK, "/a/b"},
        {"a+b", false, HTTP_OK, "a+b"},
        {"a+b", true, HTTP_OK, "a b"},
        {"%2B", true, HTTP_OK, "+"},
        {"caf%C3%A9", false, HTTP_OK, "caf\xc3\xa9"},
        {"%", false, HTTP_EINVAL, NULL},
        {"%4", false, HTTP_EINVAL, NULL},
        {"%zz", false, HTTP_EINVAL, NULL},
        {"%G1", false, HTTP_EINVAL, NULL},
        {"%00", false, HTTP_EINVAL, NULL},
        {"a%00b", true, HTTP_EINVAL, NULL},
        {"%%41", false, HTTP_EINVAL, NULL},
        {"%41%", false, HTTP_EINVAL, NULL},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = http_url_decode(out, sizeof out, cases[i].in, strlen(cases[i].in), cases[i].plus);

        if (rc != cases[i].rc) fail_msg("decode case %zu (%s): %d", i, cases[i].in, rc);
        if (rc == HTTP_OK) assert_string_equal(out, cases[i].out);
    }
    /* the output buffer bounds the result, NUL included */
    assert_int_equal(http_url_decode(out, 4, "abcd", 4, false), HTTP_ETOOLONG);
    assert_int_equal(http_url_decode(out, 5, "abcd", 4, false), HTTP_OK);
    assert_int_equal(http_url_decode(out, 0, "", 0, false), HTTP_ETOOLONG);
    /* only len bytes are read */
    assert_int_equal(http_url_decode(out, sizeof out, "ab%41", 2, false), HTTP_OK);
    assert_string_equal(out, "ab");
    assert_int_equal(http_url_decode(out, sizeof out, "ab%41", 4, false), HTTP_EINVAL);
}

static void test_query_get(void **state) {
    static const struct {
        const char *query, *name;
        int rc;
        const char *out;
    } cases[] = {
        {"", "a", HTTP_ENOTFOUND, NULL},
        {"a=1", "a", HTTP_OK, "1"},
        {"a=1&b=2", "b", HTTP_OK, "2"},
        {"a=1;b=2", "b", HTTP_OK, "2"},
        {"a=1&a=2", "a", HTTP_OK, "1"},
        {"a", "a", HTTP_OK, ""},
        {"a=", "a", HTTP_OK, ""},
        {"&&a=x&&", "a", HTTP_OK, "x"},
        {"ab=1", "a", HTTP_ENOTFOUND, NULL},
        {"namespace=%2Fws-1", "namespace", HTTP_OK, "/ws-1"},
        {"n%61me=x", "name", HTTP_OK, "x"},
        {"a=b+c", "a", HTTP_OK, "b c"},
        {"a=%00", "a", HTTP_EINVAL, NULL},
        {"a=%", "a", HTTP_EINVAL, NULL},
        {"x=%zz&a=1", "a", HTTP_OK, "1"}, /* values of other names are not decoded */
        {"%zz=1&a=1", "a", HTTP_EINVAL, NULL},
        {"a=0123456789", "a", HTTP_ETOOLONG, NULL},
    };
    char out[10];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = http_query_get(cases[i].query, cases[i].name, out, sizeof out);

        if (rc != cases[i].rc) fail_msg("query case %zu (%s): %d", i, cases[i].query, rc);
        if (rc == HTTP_OK) assert_string_equal(out, cases[i].out);
    }
    assert_int_equal(http_query_validate(""), HTTP_OK);
    assert_int_equal(http_query_validate("a=%41&b=c+d&e"), HTTP_OK);
    assert_int_equal(http_query_validate("x=%zz&a=1"), HTTP_EINVAL);
    assert_int_equal(http_query_validate("x=%00"), HTTP_EINVAL);
    assert_int_equal(http_query_validate("%0=1"), HTTP_EINVAL);
    assert_int_equal(http_query_validate("a=1%"), HTTP_EINVAL);
}

static void test_parse_uint(void **state) {
    static const struct {
        const char *in;
        int rc;
        int64_t out;
    } cases[] = {
        {"0", HTTP_OK, 0},
        {"42", HTTP_OK, 42},
        {"007", HTTP_OK, 7},
        {"9223372036854775807", HTTP_OK, INT64_MAX},
        {"9223372036854775808", HTTP_EINVAL, 0},
        {"99999999999999999999", HTTP_EINVAL, 0},
        {"", HTTP_EINVAL, 0},
        {"-1", HTTP_EINVAL, 0},
        {"+1", HTTP_EINVAL, 0},
        {" 1", HTTP_EINVAL, 0},
        {"1 ", HTTP_EINVAL, 0},
        {"1e3", HTTP_EINVAL, 0},
        {"0x10", HTTP_EINVAL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -1;
        int rc = http_parse_uint(cases[i].in, &v);

        if (rc != cases[i].rc) fail_msg("uint case %zu (%s): %d", i, cases[i].in, rc);
        if (rc == HTTP_OK) assert_int_equal(v, cases[i].out);
    }
}

static void test_json_type(void **state) {
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"application/json", true},
        {"application/json; charset=utf-8", true},
        {"application/json;charset=UTF-8", true},
        {"Application/JSON", true},
        {" application/json ", true},
        {"application/json ; charset=utf-8", true},
        {NULL, false},
        {"", false},
        {"text/plain", false},
        {"application/jsonp", false},
        {"application/json-patch+json", false},
        {"application/", false},
        {"text/json", false},
        {"multipart/form-data; boundary=application/json", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (http_is_json_type(cases[i].in) != cases[i].ok)
            fail_msg("content type case %zu (%s)", i, cases[i].in ? cases[i].in : "NULL");
}

static void test_headers(void **state) {
    http_response resp;
    char big[HTTP_HEADER_VALUE_BUF + 1];

    (void)state;
    http_response_init(&resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(http_set_header(&resp, "Allow", "%s", "GET"), HTTP_OK);
    assert_int_equal(http_set_header(&resp, "allow", "%s, %s", "GET", "POST"), HTTP_OK);
    assert_int_equal(resp.nheaders, 1);
    assert_string_equal(http_get_header(&resp, "ALLOW"), "GET, POST");
    assert_null(http_get_header(&resp, "Location"));
    /* no header splitting */
    assert_int_equal(http_set_header(&resp, "Location", "/a\r\nSet-Cookie: x"), HTTP_EINVAL);
    assert_int_equal(http_set_header(&resp, "Bad: name", "x"), HTTP_EINVAL);
    assert_null(http_get_header(&resp, "Location"));
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(http_set_header(&resp, "Big", "%s", big), HTTP_ETOOLONG);
    http_response_free(&resp);
    http_response_free(NULL);

    http_response_init(&resp);
    for (int i = 0; i < HTTP_HEADERS_MAX; i++) {
        char name[16];

        snprintf(name, sizeof name, "X-%d", i);
        assert_int_equal(http_set_header(&resp, name, "v"), HTTP_OK);
    }
    assert_int_equal(http_set_header(&resp, "X-full", "v"), HTTP_ETOOLONG);
    assert_int_equal(http_reply_error(&resp, 404, "nope \"quoted\""), HTTP_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.body_len, strlen("{\"error\":\"nope \\\"quoted\\\"\"}"));
    assert_memory_equal(resp.body, "{\"error\":\"nope \\\"quoted\\\"\"}", resp.body_len);
    http_response_free(&resp);
    assert_string_equal(http_reason(413), "Content Too Large");
    assert_string_equal(http_reason(429), "Too Many Requests");
    assert_string_equal(http_reason(299), "Unknown");
}

/* A fake gateway: variables from a NULL-terminated name/value list, the body
 * from a string, the output into a memory stream. */
typedef struct fake_io {
    const char *const *vars;
    const char *body;
    size_t body_len, pos;
    size_t reads;    /* read calls */
    size_t max_read; /* most bytes one read returns, 0 for any */
    char *out;
    size_t out_len;
    FILE *f;
} fake_io;

static const char *fake_param(const char *name, void *ctx) {
    fake_io *io = ctx;

    for (size_t i = 0; io->vars[i] != NULL; i += 2)
        if (strcmp(io->vars[i], name) == 0) return io->vars[i + 1];
    return NULL;
}

static long fake_read(char *buf, size_t len, void *ctx) {
    fake_io *io = ctx;
    size_t n = io->body_len - io->pos;

    io->reads++;
    if (n > len) n = len;
    if (io->max_read > 0 && n > io->max_read) n = io->max_read;
    memcpy(buf, io->body + io->pos, n);
    io->pos += n;
    return (long)n;
}

static int fake_write(const char *buf, size_t len, void *ctx) {
    fake_io *io = ctx;

    return fwrite(buf, 1, len, io->f) == len ? 0 : -1;
}

typedef struct gateway_case {
    const char *vars[20];
    const char *body;
    const char *method, *path, *query; /* expected */
    bool decoded;
    http_body_state bs;
    size_t body_len;
    int64_t content_length;
} gateway_case;

static void test_gateway_read(void **state) {
    static const gateway_case cases[] = {
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/rooms?namespace=%2F", "QUERY_STRING",
          "namespace=%2F", NULL},
         NULL,
         "GET",
         "/api/rooms",
         "namespace=%2F",
         false,
         HTTP_BODY_OK,
         0,
         -1},
        /* no QUERY_STRING: the URI's */
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/a%20b?x=1", NULL},
         NULL,
         "GET",
         "/a%20b",
         "x=1",
         false,
         HTTP_BODY_OK,
         0,
         -1},
        /* classic CGI mount: the program's prefix is stripped */
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/cgi-bin/chat/api/rooms", "SCRIPT_NAME",
          "/cgi-bin/chat", "PATH_INFO", "/api/rooms", NULL},
         NULL,
         "GET",
         "/api/rooms",
         "",
         false,
         HTTP_BODY_OK,
         0,
         -1},
        /* nginx: SCRIPT_NAME is the whole path, PATH_INFO empty */
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/rooms/1", "SCRIPT_NAME", "/api/rooms/1",
          "PATH_INFO", "", NULL},
         NULL,
         "GET",
         "/api/rooms/1",
         "",
         false,
         HTTP_BODY_OK,
         0,
         -1},
        /* no REQUEST_URI: PATH_INFO, else SCRIPT_NAME, else / (decoded) */
        {{"REQUEST_METHOD", "GET", "PATH_INFO", "/api/health", "SCRIPT_NAME", "/x", NULL},
         NULL,
         "GET",
         "/api/health",
         "",
         true,
         HTTP_BODY_OK,
         0,
         -1},
        {{"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/api/health", NULL},
         NULL,
         "GET",
         "/api/health",
         "",
         true,
         HTTP_BODY_OK,
         0,
         -1},
        {{NULL}, NULL, "", "/", "", true, HTTP_BODY_OK, 0, -1},
        /* bodies */
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/rooms", "CONTENT_LENGTH", "5", NULL},
         "hello",
         "POST",
         "/api/rooms",
         "",
         false,
         HTTP_BODY_OK,
         5,
         5},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "3", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_OK,
         3,
         3},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "9", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_SHORT,
         5,
         9},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "0", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_OK,
         0,
         0},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_OK,
         0,
         -1},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "65537", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_TOO_LARGE,
         0,
         65537},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "18446744073709551617",
          NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_BAD_LENGTH,
         0,
         -1},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "-1", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_BAD_LENGTH,
         0,
         -1},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "5x", NULL},
         "hello",
         "POST",
         "/",
         "",
         false,
         HTTP_BODY_BAD_LENGTH,
         0,
         -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gateway_case *c = &cases[i];
        fake_io f = {c->vars, c->body, c->body ? strlen(c->body) : 0, 0, 0, 2, NULL, 0, NULL};
        gateway_io io = {fake_param, fake_read, fake_write, &f};
        gateway_request g;

        assert_int_equal(gateway_read_request(&io, &g), HTTP_OK);
        assert_string_equal(g.req.method, c->method);
        assert_string_equal(g.req.path, c->path);
        assert_string_equal(g.req.query, c->query);
        assert_int_equal(g.req.path_decoded, c->decoded);
        if (g.req.body_state != c->bs)
            fail_msg("gateway case %zu: body state %d", i, (int)g.req.body_state);
        assert_int_equal(g.req.body_len, c->body_len);
        assert_int_equal(g.req.content_length, c->content_length);
        if (c->body_len > 0) assert_memory_equal(g.req.body, c->body, c->body_len);
        /* nothing is read past CONTENT_LENGTH, nor at all when it is refused */
        assert_true(f.pos == c->body_len);
        if (c->bs == HTTP_BODY_TOO_LARGE || c->bs == HTTP_BODY_BAD_LENGTH)
            assert_int_equal(f.reads, 0);
        gateway_request_free(&g);
    }
    gateway_request_free(NULL);
}

/* A whole exchange through gateway_handle, with no database: the framing. */
static void test_gateway_handle(void **state) {
    static const struct {
        const char *vars[12];
        const char *body;
        const char *want[4];
        const char *nowant;
    } cases[] = {
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/nope", NULL},
         NULL,
         {"Status: 404 Not Found\r\n", "Content-Type: application/json; charset=utf-8\r\n",
          "Content-Length: 24\r\n\r\n{\"error\":\"no such path\"}"},
         NULL},
        {{"REQUEST_METHOD", "HEAD", "REQUEST_URI", "/nope", NULL},
         NULL,
         {"Status: 404 Not Found\r\n", "Content-Length: 24\r\n\r\n"},
         "{"},
        {{"REQUEST_METHOD", "OPTIONS", "REQUEST_URI", "/api/rooms", NULL},
         NULL,
         {"Status: 204 No Content\r\n", "Allow: GET, HEAD, POST, OPTIONS\r\n"},
         "Content-Length"},
        {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/rooms", "CONTENT_TYPE", "application/json",
          "CONTENT_LENGTH", "100000", NULL},
         "{}",
         {"Status: 413 Content Too Large\r\n", "{\"error\":"},
         NULL},
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/rooms?x=%zz", NULL},
         NULL,
         {"Status: 400 Bad Request\r\n"},
         NULL},
        {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/health", NULL},
         NULL,
         {"Status: 503 Service Unavailable\r\n", "Retry-After: 1\r\n", "\"status\":\"error\""},
         NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_io f = {cases[i].vars,
                     cases[i].body,
                     cases[i].body ? strlen(cases[i].body) : 0,
                     0,
                     0,
                     0,
                     NULL,
                     0,
                     NULL};
        gateway_io io = {fake_param, fake_read, fake_write, &f};

        f.f = open_memstream(&f.out, &f.out_len);
        assert_non_null(f.f);
        assert_int_equal(gateway_handle(&io, NULL, NULL, NULL, NULL, NULL), 0);
        fclose(f.f);
        assert_true(strncmp(f.out, "Status: ", 8) == 0);
        for (size_t k = 0; k < 4 && cases[i].want[k] != NULL; k++)
            if (strstr(f.out, cases[i].want[k]) == NULL)
                fail_msg("handle case %zu lacks %s in:\n%s", i, cases[i].want[k], f.out);
        if (cases[i].nowant != NULL && strstr(f.out, cases[i].nowant) != NULL)
            fail_msg("handle case %zu has %s in:\n%s", i, cases[i].nowant, f.out);
        free(f.out);
    }
}

/* One exchange through gateway_handle counted in fm; the response, freed by
 * the caller. */
static char *exchange(const fcgi_metrics *fm, const char *uri) {
    const char *vars[] = {"REQUEST_METHOD", "GET",       "REQUEST_URI", uri,
                          "REMOTE_ADDR",    "127.0.0.1", NULL};
    fake_io f = {vars, NULL, 0, 0, 0, 0, NULL, 0, NULL};
    gateway_io io = {fake_param, fake_read, fake_write, &f};

    f.f = open_memstream(&f.out, &f.out_len);
    assert_non_null(f.f);
    assert_int_equal(gateway_handle(&io, NULL, NULL, NULL, NULL, fm), 0);
    fclose(f.f);
    return f.out;
}

/* Two programs' metrics in one process count apart; none counts nothing and
 * serves an empty exposition. */
static void test_gateway_metrics(void **state) {
    fcgi_metrics *a = fcgi_metrics_new(), *b = fcgi_metrics_new();
    char *out;

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    free(exchange(a, "/nope"));
    free(exchange(a, "/nope"));
    free(exchange(b, "/nope"));
    free(exchange(NULL, "/nope"));
    out = exchange(a, "/metrics");
    if (strstr(out, "\nchat_fcgi_requests_total{code=\"4xx\"} 2\n") == NULL)
        fail_msg("a's 404s not 2 in:\n%s", out);
    free(out);
    out = exchange(b, "/metrics");
    if (strstr(out, "\nchat_fcgi_requests_total{code=\"4xx\"} 1\n") == NULL)
        fail_msg("b's 404s not 1 in:\n%s", out);
    free(out);
    out = exchange(NULL, "/metrics");
    if (strstr(out, "Status: 200 OK\r\n") == NULL || strstr(out, "Content-Length: 0\r\n") == NULL)
        fail_msg("no metrics: not an empty 200 in:\n%s", out);
    free(out);
    assert_null(fcgi_metrics_api(NULL));
    fcgi_metrics_free(a);
    fcgi_metrics_free(b);
    fcgi_metrics_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),     cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_parse_uint),     cmocka_unit_test(test_json_type),
        cmocka_unit_test(test_headers),        cmocka_unit_test(test_gateway_read),
        cmocka_unit_test(test_gateway_handle), cmocka_unit_test(test_gateway_metrics),
    };

    return cmocka_run_group_tests_name("fcgi http", tests, NULL, NULL);
}
