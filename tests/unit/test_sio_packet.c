/* test_sio_packet.c -- Socket.IO packet codec: wire text in, packet or reason out */
#include "sio_packet.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- decode: bytes in, packet or failure reason out ---------------------- */

typedef struct dcase {
    const char *in;
    size_t len;
    const sio_limits *lim; /* NULL: the defaults */
    const char *why;       /* the expected failure reason; NULL when it decodes */
    sio_type type;
    const char *nsp;
    int64_t id;
    int attachments;
    const char *data; /* the expected payload as JSON text; NULL when absent */
} dcase;

#define OK(s, t, n, i, a, d)                                                                       \
    { s, sizeof(s) - 1, NULL, NULL, t, n, i, a, d }
#define OK_LIM(l, s, t, n, i, a, d)                                                                \
    { s, sizeof(s) - 1, l, NULL, t, n, i, a, d }
#define BAD(s, w)                                                                                  \
    { s, sizeof(s) - 1, NULL, w, SIO_CONNECT, NULL, 0, 0, NULL }
#define BAD_LIM(l, s, w)                                                                           \
    { s, sizeof(s) - 1, l, w, SIO_CONNECT, NULL, 0, 0, NULL }

static const sio_limits two_attachments = {.max_attachments = 2};
static const sio_limits depth_two = {.max_depth = 2};
static const sio_limits short_names = {.max_event_name = 3};
static const sio_limits two_args = {.max_args = 2};
static const sio_limits zero_means_default = {0};
static const sio_limits four_values = {.max_values = 4};

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"

static const dcase decode_cases[] = {
    /* the v5 spec's examples */
    OK("0", SIO_CONNECT, "/", -1, 0, NULL),
    OK("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", SIO_CONNECT, "/admin", -1, 0,
       "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}"),
    OK("4{\"message\":\"Not authorized\"}", SIO_CONNECT_ERROR, "/", -1, 0,
       "{\"message\":\"Not authorized\"}"),
    OK("2[\"foo\"]", SIO_EVENT, "/", -1, 0, "[\"foo\"]"),
    OK("2/admin,[\"bar\"]", SIO_EVENT, "/admin", -1, 0, "[\"bar\"]"),
    OK("51-[\"baz\"," PH(0) "]", SIO_BINARY_EVENT, "/", -1, 1, "[\"baz\"," PH(0) "]"),
    OK("52-/admin,[\"baz\"," PH(0) "," PH(1) "]", SIO_BINARY_EVENT, "/admin", -1, 2,
       "[\"baz\"," PH(0) "," PH(1) "]"),
    OK("212[\"foo\"]", SIO_EVENT, "/", 12, 0, "[\"foo\"]"),
    OK("3/admin,13[\"bar\"]", SIO_ACK, "/admin", 13, 0, "[\"bar\"]"),
    OK("61-15[\"bar\"," PH(0) "]", SIO_BINARY_ACK, "/", 15, 1, "[\"bar\"," PH(0) "]"),
    OK("1", SIO_DISCONNECT, "/", -1, 0, NULL),
    OK("1/admin,", SIO_DISCONNECT, "/admin", -1, 0, NULL),
    OK("0/admin,", SIO_CONNECT, "/admin", -1, 0, NULL),
    OK("61-/admin,1[" PH(0) "]", SIO_BINARY_ACK, "/admin", 1, 1, "[" PH(0) "]"),
    /* namespaces */
    OK("0/admin", SIO_CONNECT, "/admin", -1, 0, NULL),
    OK("1/admin", SIO_DISCONNECT, "/admin", -1, 0, NULL),
    OK("0{\"token\":\"123\"}", SIO_CONNECT, "/", -1, 0, "{\"token\":\"123\"}"),
    OK("0/admin,{}", SIO_CONNECT, "/admin", -1, 0, "{}"),
    OK("2/chat,12[\"x\"]", SIO_EVENT, "/chat", 12, 0, "[\"x\"]"),
    OK("2/,[\"x\"]", SIO_EVENT, "/", -1, 0, "[\"x\"]"),
    OK("2/a/b-c_d.e~!:@ ,[\"x\"]", SIO_EVENT, "/a/b-c_d.e~!:@ ", -1, 0, "[\"x\"]"),
    OK("2/12,[\"x\"]", SIO_EVENT, "/12", -1, 0, "[\"x\"]"),
    OK("0/a{\"b\":1}", SIO_CONNECT, "/a{\"b\":1}", -1, 0, NULL), /* no comma: all nsp */
    /* ack ids */
    OK("20[\"x\"]", SIO_EVENT, "/", 0, 0, "[\"x\"]"),
    OK("2007[\"x\"]", SIO_EVENT, "/", 7, 0, "[\"x\"]"),
    OK("29007199254740991[\"x\"]", SIO_EVENT, "/", SIO_ID_MAX, 0, "[\"x\"]"),
    OK("30[]", SIO_ACK, "/", 0, 0, "[]"),
    OK("312[\"a\",{\"b\":null}]", SIO_ACK, "/", 12, 0, "[\"a\",{\"b\":null}]"),
    OK("17", SIO_DISCONNECT, "/", 7, 0, NULL),
    /* attachments */
    OK("50-[\"x\"]", SIO_BINARY_EVENT, "/", -1, 0, "[\"x\"]"),
    OK("510-[\"x\"]", SIO_BINARY_EVENT, "/", -1, 10, "[\"x\"]"),
    OK("5000001-[\"x\"]", SIO_BINARY_EVENT, "/", -1, 1, "[\"x\"]"),
    OK("60-0[]", SIO_BINARY_ACK, "/", 0, 0, "[]"),
    /* payloads */
    OK("2[\"\"]", SIO_EVENT, "/", -1, 0, "[\"\"]"),
    OK("2[\"msg\",1,-2.5,null,true,false,{\"a\":[1,{}]},[]]", SIO_EVENT, "/", -1, 0,
       "[\"msg\",1,-2.5,null,true,false,{\"a\":[1,{}]},[]]"),
    OK("2[\"caf\xc3\xa9\",\"\xf0\x9f\x98\x80\"]", SIO_EVENT, "/", -1, 0,
       "[\"caf\\u00e9\",\"\\ud83d\\ude00\"]"),
    OK("2[\"a\\\"b\\\\c\\n\\u0041\"]", SIO_EVENT, "/", -1, 0, "[\"a\\\"b\\\\c\\nA\"]"),
    OK("2[\"x\",{\"k\":1,\"k\":2}]", SIO_EVENT, "/", -1, 0, "[\"x\",{\"k\":2}]"),
    /* limits: a zero field is the default; tighter limits bite at +1 */
    OK_LIM(&zero_means_default, "510-[\"x\"]", SIO_BINARY_EVENT, "/", -1, 10, "[\"x\"]"),
    OK_LIM(&two_attachments, "52-[\"x\"]", SIO_BINARY_EVENT, "/", -1, 2, "[\"x\"]"),
    BAD_LIM(&two_attachments, "53-[\"x\"]", "too many attachments"),
    OK_LIM(&depth_two, "2[\"x\",[1]]", SIO_EVENT, "/", -1, 0, "[\"x\",[1]]"),
    OK_LIM(&depth_two, "2[\"x\",{\"a\":1}]", SIO_EVENT, "/", -1, 0, "[\"x\",{\"a\":1}]"),
    BAD_LIM(&depth_two, "2[\"x\",[[1]]]", "JSON nested too deep"),
    BAD_LIM(&depth_two, "2[\"x\",{\"a\":{}}]", "JSON nested too deep"),
    BAD_LIM(&depth_two, "0{\"a\":{\"b\":[]}}", "JSON nested too deep"),
    OK_LIM(&short_names, "2[\"abc\"]", SIO_EVENT, "/", -1, 0, "[\"abc\"]"),
    BAD_LIM(&short_names, "2[\"abcd\"]", "event name too long"),
    BAD_LIM(&short_names, "2[\"\xc3\xa9\xc3\xa9\"]", "event name too long"), /* bytes */
    OK_LIM(&two_args, "2[\"a\",1]", SIO_EVENT, "/", -1, 0, "[\"a\",1]"),
    BAD_LIM(&two_args, "2[\"a\",1,2]", "too many arguments"),
    BAD_LIM(&two_args, "31[1,2,3]", "too many arguments"),
    /* values, counted on the text before parsing (issue 21.10): the top
     * container and each element or member; brackets and commas inside
     * strings are text */
    OK_LIM(&four_values, "2[\"x\",1,2]", SIO_EVENT, "/", -1, 0, "[\"x\",1,2]"),
    OK_LIM(&four_values, "2[\"x\",[{}]]", SIO_EVENT, "/", -1, 0, "[\"x\",[{}]]"),
    OK_LIM(&four_values, "2[\"x\",{\"a\":[]}]", SIO_EVENT, "/", -1, 0, "[\"x\",{\"a\":[]}]"),
    BAD_LIM(&four_values, "2[\"x\",{\"a\":1,\"b\":[]}]", "JSON holds too many values"),
    OK_LIM(&four_values, "2[\"x\", [ ] ,\"[,{,\\\",[\"]", SIO_EVENT, "/", -1, 0,
           "[\"x\",[],\"[,{,\\\",[\"]"),
    BAD_LIM(&four_values, "2[\"x\",1,2,3]", "JSON holds too many values"),
    BAD_LIM(&four_values, "2[\"x\",[{},{}]]", "JSON holds too many values"),
    BAD_LIM(&four_values, "2[\"x\",[[[1]]]]", "JSON holds too many values"),
    BAD_LIM(&four_values, "0{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", "JSON holds too many values"),
    BAD_LIM(&four_values, "2[\"x\",[{},{}", "JSON holds too many values"), /* before syntax */
    /* packet type */
    BAD("", "empty packet"),
    BAD("7", "unknown packet type"),
    BAD("9[\"x\"]", "unknown packet type"),
    BAD("a", "unknown packet type"),
    BAD("-1", "unknown packet type"),
    BAD(" 2[\"x\"]", "unknown packet type"),
    BAD("\0", "unknown packet type"),
    BAD("/admin,", "unknown packet type"),
    /* an Engine.IO "4" left on: CONNECT_ERROR with id 2 */
    BAD("42[\"msg\"]", "CONNECT_ERROR payload must be an object"),
    /* payload shape per type */
    BAD("2", "EVENT payload must be an array"),
    BAD("2/chat,", "EVENT payload must be an array"),
    BAD("212", "EVENT payload must be an array"),
    BAD("2{\"a\":1}", "EVENT payload must be an array"),
    BAD("2/chat[\"x\"]", "EVENT payload must be an array"), /* the nsp ate it */
    BAD("2[]", "EVENT payload must not be empty"),
    BAD("51-[]", "EVENT payload must not be empty"),
    BAD("2[1]", "event name must be a string"),
    BAD("2[null,\"x\"]", "event name must be a string"),
    BAD("2[[\"x\"]]", "event name must be a string"),
    BAD("2[{\"x\":1}]", "event name must be a string"),
    BAD("51-", "EVENT payload must be an array"),
    BAD("3[]", "ACK without an id"),
    BAD("3/chat,[]", "ACK without an id"),
    BAD("61-[]", "ACK without an id"),
    BAD("31", "ACK payload must be an array"),
    BAD("31{}", "ACK payload must be an array"),
    BAD("0[]", "CONNECT payload must be an object"),
    BAD("0/admin,[\"x\"]", "CONNECT payload must be an object"),
    BAD("1{}", "DISCONNECT takes no payload"),
    BAD("1/admin,[]", "DISCONNECT takes no payload"),
    BAD("4", "CONNECT_ERROR payload must be an object"),
    BAD("4[]", "CONNECT_ERROR payload must be an object"),
    /* JSON */
    BAD("2[\"msg\",", "invalid JSON"),
    BAD("2[\"msg\"", "invalid JSON"),
    BAD("2[", "invalid JSON"),
    BAD("2{", "invalid JSON"),
    BAD("2[\"x]", "invalid JSON"),
    BAD("2[\"x\",]", "invalid JSON"),
    BAD("2['x']", "invalid JSON"),
    BAD("2[\"x\",NaN]", "invalid JSON"),
    BAD("2[\"x\",1e999]", "invalid JSON"),
    BAD("2\"x\"", "invalid JSON"),
    BAD("242", "EVENT payload must be an array"), /* digits are the id */
    BAD("2true", "invalid JSON"),
    BAD("2 [\"x\"]", "invalid JSON"),
    BAD("0/admin,x", "invalid JSON"),
    BAD("2[\"a\\u0000b\"]", "event name holds a NUL"),
    /* a NUL in an argument is valid JSON: handlers refuse it through sio_str() */
    OK("2[\"a\",\"x\\u0000y\"]", SIO_EVENT, "/", -1, 0, "[\"a\",\"x\\u0000y\"]"),
    BAD("2[\"a\0b\"]", "invalid JSON"),
    BAD("2[\"\xff\"]", "invalid JSON"),
    BAD("2[\"\xc3\"]", "invalid JSON"),
    BAD("2[\"\xed\xa0\x80\"]", "invalid JSON"), /* UTF-8 encoded surrogate */
    BAD("2[\"x\"]x", "bytes after the JSON"),
    BAD("2[\"x\"]]", "bytes after the JSON"),
    BAD("2[\"x\"][\"y\"]", "bytes after the JSON"),
    BAD("2[\"x\"] ", "bytes after the JSON"),
    BAD("2[\"x\"]\n", "bytes after the JSON"),
    BAD("2[\"x\"]\0", "bytes after the JSON"),
    /* ack ids */
    BAD("29007199254740992[\"x\"]", "ack id out of range"),
    BAD("218446744073709551616[\"x\"]", "ack id out of range"),
    BAD("2999999999999999999999999999999[\"x\"]", "ack id out of range"),
    BAD("2-1[\"x\"]", "invalid ack id"),
    BAD("2/chat,-1[\"x\"]", "invalid ack id"),
    BAD("51-/chat,-1[\"x\"]", "invalid ack id"),
    BAD("3-5[]", "invalid ack id"),
    /* attachments */
    BAD("21-[\"x\"]", "attachments on a non-binary packet"),
    BAD("01-{}", "attachments on a non-binary packet"),
    BAD("5[\"x\"]", "invalid attachments count"),
    BAD("5-[\"x\"]", "invalid attachments count"),
    BAD("51[\"x\"]", "invalid attachments count"),
    BAD("51", "invalid attachments count"),
    BAD("5", "invalid attachments count"),
    BAD("5/chat,[\"x\"]", "invalid attachments count"),
    BAD("6-1-[]", "invalid attachments count"),
    BAD("511-[\"x\"]", "too many attachments"),
    BAD("54294967297-[\"x\"]", "too many attachments"),
    BAD("599999999999999999999999999-[\"x\"]", "too many attachments"),
    /* namespaces */
    BAD("0/ad\x01min,", "invalid namespace"),
    BAD("0/ad\x7fmin,", "invalid namespace"),
    BAD("0/ad\tmin,", "invalid namespace"),
    BAD("0/caf\xc3\xa9,", "invalid namespace"),
    BAD("0/ad\0min,", "invalid namespace"),
    BAD("0/admin\n", "invalid namespace"),
};

/* A heap copy of exactly len bytes, so ASan sees any read past the end. */
static char *exact_copy(const char *s, size_t len) {
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static void assert_json_text(const json_t *got, const char *want) {
    json_error_t err;
    json_t *w = json_loads(want, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (w == NULL) fail_msg("bad expected JSON in table: %s", want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("payload %s, want %s\n", g ? g : "(null)", want);
        free(g);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

static void test_decode(void **state) {
    const dcase *c = *state;
    char *in = exact_copy(c->in, c->len);
    const char *why = "(not set)";
    sio_packet p;

    memset(&p, 0xa5, sizeof p); /* decode must set every field */
    int rc = sio_packet_decode(in, c->len, c->lim, &p, &why);
    free(in);
    if (c->why != NULL) {
        if (rc == 0) sio_packet_clear(&p);
        assert_int_equal(rc, -1);
        assert_string_equal(why, c->why);
        assert_null(p.data);
        assert_string_equal(p.nsp, "/");
        assert_int_equal(p.id, -1);
        return;
    }
    if (rc != 0) fail_msg("decode failed: %s", why);
    assert_int_equal(p.type, c->type);
    assert_string_equal(p.nsp, c->nsp);
    assert_int_equal(p.id, c->id);
    assert_int_equal(p.attachments, c->attachments);
    if (c->data == NULL)
        assert_null(p.data);
    else
        assert_json_text(p.data, c->data);
    sio_packet_clear(&p);
    assert_null(p.data);
}

/* ---- encode: packet in, wire text out, and back ---------------------- */

typedef struct ecase {
    sio_type type;
    const char *nsp;
    int64_t id;
    int attachments;
    const char *data; /* JSON text or NULL */
    const char *wire;
} ecase;

static const ecase encode_cases[] = {
    {SIO_CONNECT, "/", -1, 0, NULL, "0"},
    {SIO_CONNECT, "/admin", -1, 0, NULL, "0/admin,"},
    {SIO_CONNECT, "/admin", -1, 0, "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
     "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}"},
    {SIO_CONNECT, "/", -1, 0, "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\",\"pid\":\"x\"}",
     "0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\",\"pid\":\"x\"}"},
    {SIO_CONNECT_ERROR, "/", -1, 0, "{\"message\":\"Not authorized\"}",
     "4{\"message\":\"Not authorized\"}"},
    {SIO_EVENT, "/", -1, 0, "[\"foo\"]", "2[\"foo\"]"},
    {SIO_EVENT, "/admin", -1, 0, "[\"bar\"]", "2/admin,[\"bar\"]"},
    {SIO_EVENT, "/", 12, 0, "[\"foo\"]", "212[\"foo\"]"},
    {SIO_EVENT, "/chat", 12, 0, "[\"x\"]", "2/chat,12[\"x\"]"},
    {SIO_EVENT, "/", 0, 0, "[\"x\"]", "20[\"x\"]"},
    {SIO_EVENT, "/", SIO_ID_MAX, 0, "[\"x\"]", "29007199254740991[\"x\"]"},
    {SIO_ACK, "/admin", 13, 0, "[\"bar\"]", "3/admin,13[\"bar\"]"},
    {SIO_ACK, "/", 12, 0, "[]", "312[]"},
    {SIO_BINARY_EVENT, "/", -1, 1, "[\"baz\"," PH(0) "]", "51-[\"baz\"," PH(0) "]"},
    {SIO_BINARY_EVENT, "/admin", -1, 2, "[\"baz\"," PH(0) "," PH(1) "]",
     "52-/admin,[\"baz\"," PH(0) "," PH(1) "]"},
    {SIO_BINARY_EVENT, "/", -1, 10, "[\"x\"]", "510-[\"x\"]"},
    {SIO_BINARY_ACK, "/", 15, 1, "[\"bar\"," PH(0) "]", "61-15[\"bar\"," PH(0) "]"},
    {SIO_BINARY_ACK, "/admin", 1, 1, "[" PH(0) "]", "61-/admin,1[" PH(0) "]"},
    {SIO_DISCONNECT, "/", -1, 0, NULL, "1"},
    {SIO_DISCONNECT, "/admin", -1, 0, NULL, "1/admin,"},
    {SIO_EVENT, "/", -1, 0, "[\"caf\\u00e9\",\"\\ud83d\\ude00\"]",
     "2[\"caf\xc3\xa9\",\"\xf0\x9f\x98\x80\"]"},
    {SIO_EVENT, "/", -1, 0, "[\"a\\\"b\\\\c\\n/\\u001f\"]",
     "2[\"a\\\"b\\\\c\\n/\\u001F\"]"}, /* jansson: upper-case hex */
    {SIO_EVENT, "/", -1, 0, "[\"m\",1,-2,true,false,null,{\"a\":[{}]}]",
     "2[\"m\",1,-2,true,false,null,{\"a\":[{}]}]"},
};

#define HEADROOM 17

static void test_encode(void **state) {
    const ecase *c = *state;
    sio_packet p = {.type = c->type, .id = c->id, .attachments = c->attachments};
    sio_packet q;
    const char *why = NULL;
    size_t len = 0;

    snprintf(p.nsp, sizeof p.nsp, "%s", c->nsp);
    if (c->data != NULL) {
        p.data = json_loads(c->data, JSON_DECODE_ANY, NULL);
        assert_non_null(p.data);
    }
    char *buf = sio_packet_encode(&p, HEADROOM, &len);
    assert_non_null(buf);
    assert_int_equal(len, strlen(c->wire));
    assert_string_equal(buf + HEADROOM, c->wire);

    /* decode(encode(p)) == p */
    int rc = sio_packet_decode(buf + HEADROOM, len, NULL, &q, &why);
    if (rc != 0) fail_msg("decode of %s failed: %s", buf + HEADROOM, why);
    assert_int_equal(q.type, p.type);
    assert_string_equal(q.nsp, p.nsp);
    assert_int_equal(q.id, p.id);
    assert_int_equal(q.attachments, p.attachments);
    if (p.data == NULL)
        assert_null(q.data);
    else
        assert_true(json_equal(q.data, p.data));
    free(buf);
    sio_packet_clear(&q);
    sio_packet_clear(&p);
}

/* ---- placeholders: payload and count in, match or not out ---------------- */

typedef struct pcase {
    const char *data; /* JSON text or NULL */
    int attachments;
    int rc;
} pcase;

static const pcase placeholder_cases[] = {
    {NULL, 0, 0},
    {"[\"x\"]", 0, 0},
    {"[\"x\"," PH(0) "]", 1, 0},
    {"[\"x\"," PH(1) "," PH(0) "]", 2, 0},
    {"[\"x\",{\"a\":[1,{\"b\":" PH(0) "}]}," PH(1) "]", 2, 0},
    {"{\"file\":" PH(0) "}", 1, 0},
    {"[\"x\"," PH(0) "]", 2, -1},           /* fewer than announced */
    {"[\"x\"," PH(0) "]", 0, -1},           /* none announced */
    {"[\"x\"," PH(0) "," PH(0) "]", 2, -1}, /* repeated */
    {"[\"x\"," PH(1) "]", 1, -1},           /* out of range */
    {"[\"x\"," PH(-1) "]", 1, -1},          /* negative */
    {"[\"x\"," PH(4294967296) "]", 1, -1},  /* wraps an int */
    {"[\"x\",{\"_placeholder\":true,\"num\":\"0\"}]", 1, -1},
    {"[\"x\",{\"_placeholder\":true,\"num\":0.0}]", 1, -1},
    {"[\"x\",{\"_placeholder\":true}]", 1, -1},
    {"[\"x\",{\"_placeholder\":false,\"num\":0}]", 0, 0}, /* not a placeholder */
    {"[\"x\",{\"_placeholder\":\"true\",\"num\":0}]", 0, 0},
    {"[\"x\",{\"_placeholder\":true,\"num\":0,\"k\":" PH(1) "}]", 2, -1}, /* inner one is gone */
    {"[\"x\"]", -1, -1},
};

static void test_placeholders(void **state) {
    const pcase *c = *state;
    json_t *d = NULL;

    if (c->data != NULL) {
        d = json_loads(c->data, JSON_DECODE_ANY, NULL);
        assert_non_null(d);
    }
    int rc = sio_placeholders_check(d, c->attachments);
    json_decref(d);
    assert_int_equal(rc, c->rc);
}

/* ---- single properties -------------------------------------------------- */

static void test_clear_zeroed(void **state) {
    (void)state;
    sio_packet p;
    memset(&p, 0, sizeof p);
    sio_packet_clear(&p);
    assert_string_equal(p.nsp, "/");
    assert_int_equal(p.id, -1);
    assert_null(p.data);
    sio_packet_clear(&p); /* twice is fine */
    sio_packet_clear(NULL);
}

static void test_encode_empty_nsp_is_main(void **state) {
    (void)state;
    sio_packet p = {.type = SIO_EVENT, .nsp = "", .id = -1};
    size_t len;
    p.data = json_pack("[s]", "x");
    char *buf = sio_packet_encode(&p, 0, &len);
    assert_non_null(buf);
    assert_string_equal(buf, "2[\"x\"]");
    assert_int_equal(len, 6);
    free(buf);
    sio_packet_clear(&p);
}

static void test_decode_null_why(void **state) {
    (void)state;
    sio_packet p;
    assert_int_equal(sio_packet_decode("9", 1, NULL, &p, NULL), -1);
    assert_int_equal(sio_packet_decode("2[\"x\"]", 6, NULL, &p, NULL), 0);
    sio_packet_clear(&p);
}

/* Every prefix and many one-byte changes of each row that decodes, each in
 * an exact-size heap buffer: the decoder returns 0 or -1 with a reason, never
 * reads past the end (ASan), and what it accepts re-encodes to a packet that
 * decodes the same. */
static void check_survives(const char *s, size_t len) {
    char *in = exact_copy(s, len);
    const char *why = NULL;
    sio_packet p, q;
    int rc = sio_packet_decode(in, len, NULL, &p, &why);
    free(in);
    if (rc != 0) {
        assert_int_equal(rc, -1);
        assert_non_null(why);
        assert_null(p.data);
        return;
    }
    size_t elen;
    char *e = sio_packet_encode(&p, 0, &elen);
    assert_non_null(e);
    if (sio_packet_decode(e, elen, NULL, &q, &why) != 0)
        fail_msg("re-decode of %s failed: %s", e, why);
    assert_int_equal(q.type, p.type);
    assert_string_equal(q.nsp, p.nsp);
    assert_int_equal(q.id, p.id);
    assert_int_equal(q.attachments, p.attachments);
    assert_true(p.data == NULL ? q.data == NULL : json_equal(p.data, q.data));
    free(e);
    sio_packet_clear(&p);
    sio_packet_clear(&q);
}

static void test_prefixes_and_mutations(void **state) {
    (void)state;
    static const char swaps[] = {'\0', '"', ',',  '-', '/',    '[',    ']',    '{',   '}',
                                 '0',  '9', '\\', ' ', '\x1e', '\x7f', '\x80', '\xff'};
    for (size_t r = 0; r < sizeof decode_cases / sizeof decode_cases[0]; r++) {
        const dcase *c = &decode_cases[r];
        if (c->why != NULL) continue;
        for (size_t n = 0; n <= c->len; n++)
            check_survives(c->in, n);
        char *m = exact_copy(c->in, c->len);
        for (size_t i = 0; i < c->len; i++) {
            for (size_t k = 0; k < sizeof swaps; k++) {
                char saved = m[i];
                m[i] = swaps[k];
                check_survives(m, c->len);
                m[i] = saved;
            }
        }
        free(m);
    }
}

/* ---- generated rows: inputs too long to write out ----------------------- */

#define MAX_GENERATED 32
static char *owned[MAX_GENERATED];
static size_t n_owned;

/* Setup runs outside any test: a failed allocation just ends the program. */
static void *must(void *p) {
    if (p == NULL) {
        perror("test_sio_packet");
        exit(2);
    }
    return p;
}

static const char *keep(char *s) {
    if (n_owned == MAX_GENERATED) {
        fputs("test_sio_packet: raise MAX_GENERATED\n", stderr);
        exit(2);
    }
    owned[n_owned++] = s;
    return s;
}

/* prefix + fill * count + suffix, NUL terminated and kept until exit. */
static const char *gen(const char *prefix, char fill, size_t count, const char *suffix,
                       size_t *len) {
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = must(malloc(pl + count + sl + 1));
    memcpy(s, prefix, pl);
    memset(s + pl, fill, count);
    memcpy(s + pl + count, suffix, sl + 1);
    *len = pl + count + sl;
    return keep(s);
}

/* ["x", [[...]]] nested depth levels deep in all, as packet text "2...". */
static const char *gen_depth(int depth, size_t *len) {
    size_t inner = (size_t)depth - 1;
    char *s = must(malloc(6 + 2 * inner + 2));
    size_t o = 0;
    memcpy(s + o, "2[\"x\",", 6);
    o += 6;
    memset(s + o, '[', inner);
    o += inner;
    memset(s + o, ']', inner);
    o += inner;
    s[o++] = ']';
    s[o] = '\0';
    *len = o;
    return keep(s);
}

/* "2[\"e\",0,0,...]" with n elements in all. */
static const char *gen_args(size_t n, size_t *len) {
    char *s = must(malloc(4 + 4 + 2 * n + 2));
    size_t o = (size_t)sprintf(s, "2[\"e\"");
    for (size_t i = 1; i < n; i++)
        o += (size_t)sprintf(s + o, ",0");
    o += (size_t)sprintf(s + o, "]");
    *len = o;
    return keep(s);
}

/* "2[\"x\",[{},{},...]]" with n objects: n + 3 values. */
static const char *gen_objects(size_t n, size_t *len) {
    char *s = must(malloc(8 + 3 * n + 3));
    size_t o = (size_t)sprintf(s, "2[\"x\",[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, i ? ",{}" : "{}");
    o += (size_t)sprintf(s + o, "]]");
    *len = o;
    return keep(s);
}

static size_t generated_cases(dcase *out) {
    size_t n = 0;
    size_t len;
    const char *s;

    /* [ * 10^6: jansson stops at 2048 */
    s = gen("2", '[', 1000000, "", &len);
    out[n++] = (dcase){s, len, NULL, "JSON nested too deep", 0, NULL, 0, 0, NULL};
    /* well formed but 3000 deep, and 33 deep */
    s = gen_depth(3000, &len);
    out[n++] = (dcase){s, len, NULL, "JSON nested too deep", 0, NULL, 0, 0, NULL};
    s = gen_depth(33, &len);
    out[n++] = (dcase){s, len, NULL, "JSON nested too deep", 0, NULL, 0, 0, NULL};
    s = gen_depth(32, &len);
    out[n++] = (dcase){s, len, NULL, NULL, SIO_EVENT, "/", -1, 0, s + 1};
    /* namespace of SIO_NSP_MAX bytes, and one more, with and without comma */
    s = gen("0/", 'a', SIO_NSP_MAX - 1, ",", &len);
    out[n++] = (dcase){s,  len, NULL, NULL, SIO_CONNECT, gen("/", 'a', SIO_NSP_MAX - 1, "", &len),
                       -1, 0,   NULL};
    s = gen("0/", 'a', SIO_NSP_MAX, ",", &len);
    out[n++] = (dcase){s, len, NULL, "namespace too long", 0, NULL, 0, 0, NULL};
    s = gen("0/", 'a', SIO_NSP_MAX, "", &len);
    out[n++] = (dcase){s, len, NULL, "namespace too long", 0, NULL, 0, 0, NULL};
    s = gen("0/", 'a', 1000000, "", &len);
    out[n++] = (dcase){s, len, NULL, "namespace too long", 0, NULL, 0, 0, NULL};
    /* event name of the default 128 bytes, and 129 */
    s = gen("2[\"", 'e', 128, "\"]", &len);
    out[n++] = (dcase){s, len, NULL, NULL, SIO_EVENT, "/", -1, 0, s + 1};
    s = gen("2[\"", 'e', 129, "\"]", &len);
    out[n++] = (dcase){s, len, NULL, "event name too long", 0, NULL, 0, 0, NULL};
    /* the default 32 arguments, and 33 */
    s = gen_args(32, &len);
    out[n++] = (dcase){s, len, NULL, NULL, SIO_EVENT, "/", -1, 0, s + 1};
    s = gen_args(33, &len);
    out[n++] = (dcase){s, len, NULL, "too many arguments", 0, NULL, 0, 0, NULL};
    /* the default 10000 values, and one more; then the 990 KB payload of
     * issue 21.10, refused on its text */
    s = gen_objects(10000 - 3, &len);
    out[n++] = (dcase){s, len, NULL, NULL, SIO_EVENT, "/", -1, 0, s + 1};
    s = gen_objects(10000 - 2, &len);
    out[n++] = (dcase){s, len, NULL, "JSON holds too many values", 0, NULL, 0, 0, NULL};
    s = gen_objects(330000, &len);
    out[n++] = (dcase){s, len, NULL, "JSON holds too many values", 0, NULL, 0, 0, NULL};
    /* a million-digit ack id: zeros are 0, nines overflow */
    s = gen("2", '0', 1000000, "[\"x\"]", &len);
    out[n++] = (dcase){s, len, NULL, NULL, SIO_EVENT, "/", 0, 0, "[\"x\"]"};
    s = gen("2", '9', 1000000, "[\"x\"]", &len);
    out[n++] = (dcase){s, len, NULL, "ack id out of range", 0, NULL, 0, 0, NULL};
    return n;
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
    if (o >= 60 || len > 60) o += (size_t)sprintf(name + o, "...(%zu)", len);
    name[o] = '\0';
    return name;
}

static int run(const char *group, struct CMUnitTest *tests, size_t n) {
    int failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free((char *)tests[i].name);
    free(tests);
    return failed;
}

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

int main(void) {
    int failed = 0;
    dcase *all = must(calloc(NROWS(decode_cases) + MAX_GENERATED, sizeof *all));
    size_t n = NROWS(decode_cases);
    struct CMUnitTest *t;

    memcpy(all, decode_cases, sizeof decode_cases);
    n += generated_cases(all + n);

    t = must(calloc(n, sizeof *t));
    for (size_t i = 0; i < n; i++)
        t[i] =
            (struct CMUnitTest){case_name(all[i].in, all[i].len), test_decode, NULL, NULL, &all[i]};
    failed += run("sio_packet_decode", t, n);

    t = must(calloc(NROWS(encode_cases), sizeof *t));
    for (size_t i = 0; i < NROWS(encode_cases); i++)
        t[i] = (struct CMUnitTest){case_name(encode_cases[i].wire, strlen(encode_cases[i].wire)),
                                   test_encode, NULL, NULL, (void *)&encode_cases[i]};
    failed += run("sio_packet_encode", t, NROWS(encode_cases));

    t = must(calloc(NROWS(placeholder_cases), sizeof *t));
    for (size_t i = 0; i < NROWS(placeholder_cases); i++) {
        const pcase *c = &placeholder_cases[i];
        char buf[256];
        snprintf(buf, sizeof buf, "%d: %s", c->attachments, c->data ? c->data : "null");
        t[i] = (struct CMUnitTest){case_name(buf, strlen(buf)), test_placeholders, NULL, NULL,
                                   (void *)c};
    }
    failed += run("sio_placeholders_check", t, NROWS(placeholder_cases));

    const struct CMUnitTest props[] = {
        cmocka_unit_test(test_clear_zeroed),
        cmocka_unit_test(test_encode_empty_nsp_is_main),
        cmocka_unit_test(test_decode_null_why),
        cmocka_unit_test(test_prefixes_and_mutations),
    };
    failed += cmocka_run_group_tests_name("sio_packet properties", props, NULL, NULL);

    free(all);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return failed ? 1 : 0;
}
