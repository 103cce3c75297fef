/* test_eio_packet.c -- Engine.IO codec: frames, polling payloads, base64, open, ids */
#include "eio_packet.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#define S(s) s, sizeof(s) - 1 /* a literal and its length, NULs included */

/* Setup runs outside any test: a failed allocation just ends the program. */
static void *must(void *p) {
    if (p == NULL) {
        perror("test_eio_packet");
        exit(2);
    }
    return p;
}

/* A heap copy of exactly len bytes, so ASan sees any read past the end. */
static char *exact_copy(const char *s, size_t len) {
    char *p = must(malloc(len ? len : 1));
    memcpy(p, s, len);
    return p;
}

/* ---- one WebSocket frame in, one packet out ------------------------------ */

typedef struct fcase {
    const char *in;
    size_t len;
    bool binary_frame;
    int rc;
    eio_type type;
    const char *data; /* expected payload bytes */
    size_t dlen;
} fcase;

#define TEXT(s, t, d)                                                                              \
    { S(s), false, 0, t, S(d) }
#define BIN(s)                                                                                     \
    { S(s), true, 0, EIO_MESSAGE, S(s) }
#define BAD_TEXT(s)                                                                                \
    { S(s), false, -1, EIO_OPEN, S("") }

static const fcase frame_cases[] = {
    TEXT("0{\"sid\":\"x\"}", EIO_OPEN, "{\"sid\":\"x\"}"),
    TEXT("1", EIO_CLOSE, ""),
    TEXT("2", EIO_PING, ""),
    TEXT("2probe", EIO_PING, "probe"),
    TEXT("3probe", EIO_PONG, "probe"),
    TEXT("3", EIO_PONG, ""),
    TEXT("4hello", EIO_MESSAGE, "hello"),
    TEXT("42[\"hello\"]", EIO_MESSAGE, "2[\"hello\"]"),
    TEXT("4", EIO_MESSAGE, ""),
    TEXT("4a\0b", EIO_MESSAGE, "a\0b"),
    TEXT("5", EIO_UPGRADE, ""),
    TEXT("6", EIO_NOOP, ""),
    BIN("\x01\x02\x03\x04"),
    BIN(""),
    BIN("4hello"), /* a binary frame has no type byte */
    BIN("\0"),
    BAD_TEXT(""),
    BAD_TEXT("7"),
    BAD_TEXT("9"),
    BAD_TEXT("/"),
    BAD_TEXT("b"),
    BAD_TEXT("bAQIDBA=="), /* base64 belongs to polling only */
    BAD_TEXT(" 4hello"),
    BAD_TEXT("\0"),
    BAD_TEXT("\xff"),
};

static void test_frame(void **state) {
    const fcase *c = *state;
    char *in = exact_copy(c->in, c->len);
    eio_packet p;

    int rc = eio_packet_decode(in, c->len, c->binary_frame, &p);
    assert_int_equal(rc, c->rc);
    if (rc == 0) {
        assert_int_equal(p.type, c->type);
        assert_int_equal(p.binary, c->binary_frame);
        assert_int_equal(p.len, c->dlen);
        assert_memory_equal(p.data, c->data, c->dlen);
        assert_true(p.data >= in && p.data + p.len <= in + c->len); /* not copied */
    }
    free(in);
}

/* ---- a polling body in, packets out -------------------------------------- */

typedef struct want {
    eio_type type;
    bool binary;
    const char *data;
    size_t len;
} want_packet;

typedef struct pcase {
    const char *in;
    size_t len;
    size_t max;
    int rc;
    size_t n;
    want_packet w[4];
} pcase;

#define T(t, d)                                                                                    \
    { t, false, S(d) }
#define B(d)                                                                                       \
    { EIO_MESSAGE, true, S(d) }

static const pcase payload_cases[] = {
    {S("4hello\x1e"
       "2\x1e"
       "4world"),
     8,
     0,
     3,
     {T(EIO_MESSAGE, "hello"), T(EIO_PING, ""), T(EIO_MESSAGE, "world")}},
    {S("4hello\x1e"
       "bAQIDBA=="),
     8,
     0,
     2,
     {T(EIO_MESSAGE, "hello"), B("\x01\x02\x03\x04")}},
    {S("42[\"hello\"]\x1e"
       "42[\"world\"]"),
     8,
     0,
     2,
     {T(EIO_MESSAGE, "2[\"hello\"]"), T(EIO_MESSAGE, "2[\"world\"]")}},
    {S("bAQIDBA==\x1e"
       "bBQY=\x1e"
       "bBw==\x1e"
       "4x"),
     8,
     0,
     4,
     {B("\x01\x02\x03\x04"), B("\x05\x06"), B("\x07"), T(EIO_MESSAGE, "x")}},
    {S("b/w=="), 8, 0, 1, {B("\xff")}},
    {S("b"), 8, 0, 1, {B("")}},
    {S("b\x1e"
       "b"),
     8,
     0,
     2,
     {B(""), B("")}},
    {S("1"), 8, 0, 1, {T(EIO_CLOSE, "")}},
    {S("6"), 1, 0, 1, {T(EIO_NOOP, "")}},
    {S("2\x1e"
       "2\x1e"
       "2"),
     3,
     0,
     3,
     {T(EIO_PING, ""), T(EIO_PING, ""), T(EIO_PING, "")}},
    {S("4a\0b\x1e"
       "4"),
     8,
     0,
     2,
     {T(EIO_MESSAGE, "a\0b"), T(EIO_MESSAGE, "")}},
    {S("2\x1e"
       "2\x1e"
       "2"),
     2,
     -1,
     0,
     {{0}}}, /* more packets than max */
    {S("2"), 0, -1, 0, {{0}}},
    {S(""), 8, -1, 0, {{0}}},
    {S("\x1e"), 8, -1, 0, {{0}}},
    {S("4hello\x1e"), 8, -1, 0, {{0}}},
    {S("\x1e"
       "4hello"),
     8,
     -1,
     0,
     {{0}}},
    {S("4a\x1e\x1e"
       "4b"),
     8,
     -1,
     0,
     {{0}}},
    {S("7x"), 8, -1, 0, {{0}}},
    {S("4a\x1e"
       "9"),
     8,
     -1,
     0,
     {{0}}},
    {S("bAQID="), 8, -1, 0, {{0}}},
    {S("bAQIDBA="), 8, -1, 0, {{0}}},
    {S("b!!!!"), 8, -1, 0, {{0}}},
    {S("bAR==\x1e"
       "4x"),
     8,
     -1,
     0,
     {{0}}},
    {S("4x\x1e"
       "bAR=="),
     8,
     -1,
     0,
     {{0}}},
};

static void test_payload(void **state) {
    const pcase *c = *state;
    char *in = exact_copy(c->in, c->len);
    char *scratch = must(malloc(c->len ? c->len : 1)); /* exactly the promised size */
    eio_packet out[4];
    size_t n = 99;

    int rc = eio_payload_decode(in, c->len, out, c->max, &n, scratch);
    assert_int_equal(rc, c->rc);
    if (rc == 0) {
        assert_int_equal(n, c->n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(out[i].type, c->w[i].type);
            assert_int_equal(out[i].binary, c->w[i].binary);
            assert_int_equal(out[i].len, c->w[i].len);
            assert_memory_equal(out[i].data, c->w[i].data, c->w[i].len);
            const char *base = out[i].binary ? scratch : in;
            assert_true(out[i].data >= base && out[i].data + out[i].len <= base + c->len);
        }
    } else {
        assert_int_equal(n, 0);
    }
    free(scratch);
    free(in);
}

static void test_payload_binary_without_scratch(void **state) {
    (void)state;
    eio_packet out[2];
    size_t n;
    assert_int_equal(eio_payload_decode(S("4x\x1e"
                                          "bAQ=="),
                                        out, 2, &n, NULL),
                     -1);
    assert_int_equal(eio_payload_decode(S("4x"), out, 2, &n, NULL), 0);
    assert_int_equal(n, 1);
}

/* Many binary parts in a row fill scratch to within the rounding of len. */
static void test_payload_scratch_is_enough(void **state) {
    (void)state;
    enum { PARTS = 1000 };
    size_t len = PARTS * 6 - 1; /* "b////" + sep, 3 bytes each */
    char *in = must(malloc(len));
    char *scratch = must(malloc(len));
    eio_packet *out = must(calloc(PARTS, sizeof *out));
    size_t n;

    for (size_t i = 0; i < PARTS; i++) {
        memcpy(in + i * 6, "b////", 5);
        if (i + 1 < PARTS) in[i * 6 + 5] = 0x1e;
    }
    assert_int_equal(eio_payload_decode(in, len, out, PARTS, &n, scratch), 0);
    assert_int_equal(n, PARTS);
    for (size_t i = 0; i < PARTS; i++) {
        assert_int_equal(out[i].len, 3);
        assert_ptr_equal(out[i].data, scratch + 3 * i);
        assert_memory_equal(out[i].data, "\xff\xff\xff", 3);
    }
    free(out);
    free(scratch);
    free(in);
}

/* ---- base64 ------------------------------------------------------------- */

typedef struct b64case {
    const char *raw;
    size_t rawlen;
    const char *text;
} b64case;

static const b64case b64_cases[] = {
    /* RFC 4648 section 10 */
    {S(""), ""},
    {S("f"), "Zg=="},
    {S("fo"), "Zm8="},
    {S("foo"), "Zm9v"},
    {S("foob"), "Zm9vYg=="},
    {S("fooba"), "Zm9vYmE="},
    {S("foobar"), "Zm9vYmFy"},
    /* the Engine.IO spec's example, and every bit pattern at the ends */
    {S("\x01\x02\x03\x04"), "AQIDBA=="},
    {S("\0"), "AA=="},
    {S("\0\0\0"), "AAAA"},
    {S("\xff"), "/w=="},
    {S("\xff\xff"), "//8="},
    {S("\xff\xff\xff"), "////"},
    {S("\xfb\xef\xbe"), "++++"},
    {S("\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97\x61\x96\x9b"
       "\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7"
       "\xe3\x9e\xbb\xf3\xdf\xbf"),
     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
};

static void test_b64_encode(void **state) {
    const b64case *c = *state;
    size_t cap = (c->rawlen + 2) / 3 * 4 + 1;
    char *out = must(malloc(cap)); /* exactly what the header promises to write */

    assert_int_equal(eio_base64_encode((const unsigned char *)c->raw, c->rawlen, out),
                     strlen(c->text));
    assert_string_equal(out, c->text);
    free(out);
}

static void test_b64_decode(void **state) {
    const b64case *c = *state;
    size_t tlen = strlen(c->text);
    char *in = exact_copy(c->text, tlen);
    unsigned char *out = must(malloc(c->rawlen ? c->rawlen : 1)); /* exact */

    assert_int_equal(eio_base64_decode(in, tlen, out), (long)c->rawlen);
    assert_memory_equal(out, c->raw, c->rawlen);
    free(out);
    free(in);
}

typedef struct b64bad {
    const char *text;
    size_t len;
} b64bad;

static const b64bad b64_bad_cases[] = {
    {S("Z")},        {S("Zg")},     {S("Zg=")},      {S("Zm9vY")}, /* not a multiple of 4 */
    {S("Zg==Zg==")},                                               /* padding before the end */
    {S("Z===")},     {S("====")},   {S("Zm9v====")}, {S("=Zm9")},    {S("Zm=v")},
    {S("Zh==")},     {S("Zm9=")},   {S("//9=")}, /* non-zero padding bits */
    {S("Zm-v")},     {S("Zm_v")},                /* URL-safe alphabet */
    {S("Zm 9")},     {S("Zm9v\n")}, {S("Zm9\0")},    {S("Zm9\x80")}, {S("Zm.v")},
};

static void test_b64_bad(void **state) {
    const b64bad *c = *state;
    char *in = exact_copy(c->text, c->len);
    unsigned char out[16];

    assert_int_equal(eio_base64_decode(in, c->len, out), -1);
    free(in);
}

/* ---- open packet and ids ----------------------------------------------- */

typedef struct ocase {
    const char *sid;
    bool websocket;
    int interval, timeout;
    long max_payload;
    const char *json;
} ocase;

static const ocase open_cases[] = {
    {"lv_VI97HAXpY6yYWAAAC", true, 25000, 20000, 1000000,
     "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
     "\"pingTimeout\":20000,\"maxPayload\":1000000}"},
    {"lv_VI97HAXpY6yYWAAAC", false, 25000, 5000, 1000000,
     "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[],\"pingInterval\":25000,"
     "\"pingTimeout\":5000,\"maxPayload\":1000000}"},
    {"-G5j-67EZFp-q59rADQM", true, 1, 0, 9007199254740991L,
     "{\"sid\":\"-G5j-67EZFp-q59rADQM\",\"upgrades\":[\"websocket\"],\"pingInterval\":1,"
     "\"pingTimeout\":0,\"maxPayload\":9007199254740991}"},
};

static void test_open(void **state) {
    const ocase *c = *state;
    size_t want = strlen(c->json);
    char *buf = must(malloc(want + 1));
    json_t *j;

    /* one byte short of the NUL fails; exactly enough works */
    assert_int_equal(
        eio_open_json(buf, want, c->sid, c->websocket, c->interval, c->timeout, c->max_payload),
        -1);
    assert_int_equal(
        eio_open_json(buf, want + 1, c->sid, c->websocket, c->interval, c->timeout, c->max_payload),
        (int)want);
    assert_string_equal(buf, c->json);

    /* and it is JSON with the v4 spec's key names and types */
    j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_string(json_object_get(j, "sid")));
    assert_true(json_is_array(json_object_get(j, "upgrades")));
    assert_true(json_is_integer(json_object_get(j, "pingInterval")));
    assert_true(json_is_integer(json_object_get(j, "pingTimeout")));
    assert_true(json_is_integer(json_object_get(j, "maxPayload")));
    assert_int_equal(json_object_size(j), 5);
    json_decref(j);
    free(buf);
}

static void test_random_id(void **state) {
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    char seen[256] = {0};
    char a[EIO_SID_LEN + 1], b[EIO_SID_LEN + 1];

    for (int k = 0; k < 2000; k++) {
        memset(a, '\x7f', sizeof a);
        eio_random_id(a);
        assert_int_equal(a[EIO_SID_LEN], '\0');
        assert_int_equal(strlen(a), EIO_SID_LEN);
        assert_int_equal(strspn(a, alphabet), EIO_SID_LEN);
        for (int i = 0; i < EIO_SID_LEN; i++)
            seen[(unsigned char)a[i]] = 1;
    }
    /* 40000 draws leave one of 64 symbols unused with odds ~64 * e^-625 */
    for (const char *p = alphabet; *p; p++)
        if (!seen[(unsigned char)*p]) fail_msg("'%c' never drawn", *p);
    eio_random_id(a);
    eio_random_id(b);
    assert_string_not_equal(a, b); /* 120 random bits each */
}

/* ---- runner ------------------------------------------------------------- */

/* A test name from arbitrary bytes: C escapes, cut at 60 characters. */
static char *case_name(const char *s, size_t len) {
    char *name = must(malloc(80));
    size_t o = 0;
    for (size_t i = 0; i < len && o < 60; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            name[o++] = (char)ch;
        else
            o += (size_t)sprintf(name + o, "\\x%02x", ch);
    }
    name[o] = '\0';
    return name;
}

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Runs fn once per row of a table, naming each by its bytes. */
#define RUN_TABLE(group, rows, fn, field, lenexpr)                                                 \
    do {                                                                                           \
        struct CMUnitTest *t = must(calloc(NROWS(rows), sizeof *t));                               \
        for (size_t i = 0; i < NROWS(rows); i++)                                                   \
            t[i] = (struct CMUnitTest){case_name(rows[i].field, (lenexpr)), fn, NULL, NULL,        \
                                       (void *)&rows[i]};                                          \
        failed += _cmocka_run_group_tests(group, t, NROWS(rows), NULL, NULL);                      \
        for (size_t i = 0; i < NROWS(rows); i++)                                                   \
            free((char *)t[i].name);                                                               \
        free(t);                                                                                   \
    } while (0)

int main(void) {
    int failed = 0;

    RUN_TABLE("eio_packet_decode", frame_cases, test_frame, in, frame_cases[i].len);
    RUN_TABLE("eio_payload_decode", payload_cases, test_payload, in, payload_cases[i].len);
    RUN_TABLE("eio_base64_encode", b64_cases, test_b64_encode, text, strlen(b64_cases[i].text));
    RUN_TABLE("eio_base64_decode", b64_cases, test_b64_decode, text, strlen(b64_cases[i].text));
    RUN_TABLE("eio_base64_decode rejects", b64_bad_cases, test_b64_bad, text, b64_bad_cases[i].len);
    RUN_TABLE("eio_open_json", open_cases, test_open, json, strlen(open_cases[i].json));

    const struct CMUnitTest props[] = {
        cmocka_unit_test(test_payload_binary_without_scratch),
        cmocka_unit_test(test_payload_scratch_is_enough),
        cmocka_unit_test(test_random_id),
    };
    failed += cmocka_run_group_tests_name("eio properties", props, NULL, NULL);
    return failed ? 1 : 0;
}
