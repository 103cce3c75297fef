/* test_contract.c -- the table of limits, the texts built from it, and the
 * validation of the contract's strings */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contract.h"
#include "names.h"

/* ---- the table --------------------------------------------------------- */

/* Every row is filled, its default within its range (a derived default,
 * "2 x rate", is 0 and shown as text), and the names are unique. */
static void test_table_rows(void **state) {
    (void)state;
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = contract_get((contract_id)i);
        if (!l->name || !l->unit || !l->what || !l->desc) fail_msg("row %d is not filled", i);
        if (l->min > l->max) fail_msg("%s: min > max", l->name);
        if (!l->shown && (l->value < l->min || l->value > l->max))
            fail_msg("%s: default %lld outside %lld..%lld", l->name, l->value, l->min, l->max);
        if (l->option && (strncmp(l->option, "--", 2) != 0 || !l->programs))
            fail_msg("%s: option %s", l->name, l->option);
        for (int j = 0; j < i; j++)
            if (strcmp(contract_get((contract_id)j)->name, l->name) == 0)
                fail_msg("%s twice", l->name);
    }
    /* the compile-time constants are the table's */
    assert_int_equal(contract_get(CONTRACT_ROOM_NAME)->max, CONTRACT_ROOM_NAME_MAX);
    assert_int_equal(contract_get(CONTRACT_USER_NAME)->max, CONTRACT_USER_NAME_MAX);
    assert_int_equal(contract_get(CONTRACT_TEXT)->max, CONTRACT_TEXT_MAX);
    assert_int_equal(contract_get(CONTRACT_CLIENT_ID)->max, CONTRACT_CLIENT_ID_MAX);
    assert_int_equal(contract_get(CONTRACT_BODY)->max, CONTRACT_BODY_MAX);
}

/* contract_parse: each option's boundaries, from the table, accepted; one
 * past them refused with a message that names the option and the range. */
static void test_parse_boundaries(void **state) {
    (void)state;
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = contract_get((contract_id)i);
        char text[32], err[128], want[128];
        long long v = -12345;
        snprintf(text, sizeof text, "%lld", l->min);
        if (contract_parse((contract_id)i, text, &v, err, sizeof err) || v != l->min)
            fail_msg("%s: min %s refused", l->name, text);
        snprintf(text, sizeof text, "%lld", l->max);
        if (contract_parse((contract_id)i, text, &v, err, sizeof err) || v != l->max)
            fail_msg("%s: max %s refused", l->name, text);
        snprintf(want, sizeof want, "%s must be a number in %lld..%lld",
                 l->option ? l->option : l->name, l->min, l->max);
        const long long outside[] = {l->min - 1, l->max + 1};
        for (int k = 0; k < 2; k++) {
            snprintf(text, sizeof text, "%lld", outside[k]);
            err[0] = '\0';
            if (!contract_parse((contract_id)i, text, &v, err, sizeof err))
                fail_msg("%s: %s accepted", l->name, text);
            assert_string_equal(err, want);
        }
        assert_true(contract_in_range((contract_id)i, l->max));
        assert_false(contract_in_range((contract_id)i, l->max + 1));
        assert_false(contract_in_range((contract_id)i, l->min - 1));
    }
    char err[128];
    long long v;
    const char *bad[] = {"", "12x", " 5", "0x10", "99999999999999999999999", NULL};
    for (int k = 0; bad[k]; k++)
        if (!contract_parse(CONTRACT_MAX_ROOMS, bad[k], &v, err, sizeof err))
            fail_msg("\"%s\" accepted", bad[k]);
    assert_int_equal(contract_parse(CONTRACT_MAX_ROOMS, NULL, &v, err, sizeof err), -1);
}

/* Reads what fn writes to a FILE into a malloc'd string. */
static char *capture_usage(unsigned program) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(contract_usage(f, program), 0);
    fclose(f);
    return buf;
}

/* The usage texts: every option of the table, in its program's text only,
 * with its default and range; no line past 79 columns. */
static void test_usage(void **state) {
    (void)state;
    const unsigned programs[] = {CONTRACT_WS, CONTRACT_FCGI, CONTRACT_ADMIN};
    char *text[3];
    for (int p = 0; p < 3; p++)
        text[p] = capture_usage(programs[p]);
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = contract_get((contract_id)i);
        if (!l->option) continue;
        char opt[64], range[64];
        snprintf(opt, sizeof opt, "  %s ", l->option);
        snprintf(range, sizeof range, "%lld..%lld)", l->min, l->max);
        for (int p = 0; p < 3; p++) {
            bool mine = l->programs & programs[p];
            if (mine != (strstr(text[p], opt) != NULL))
                fail_msg("%s %s the usage of program %u", l->option, mine ? "missing from" : "in",
                         programs[p]);
            if (mine && !l->env && !strstr(text[p], range))
                fail_msg("%s: no range %s", l->option, range);
        }
    }
    assert_non_null(strstr(text[0], "(25000; 10..3600000)")); /* --ping-interval */
    assert_non_null(strstr(text[0], "120/10000/600/50000)")); /* --write-budget */
    assert_non_null(strstr(text[1], "  --workers N"));
    assert_non_null(strstr(text[2], "  --days N"));
    for (int p = 0; p < 3; p++) {
        for (const char *c = text[p]; *c;) {
            size_t n = strcspn(c, "\n");
            if (n > 79) fail_msg("a line of %zu columns: %.*s", n, (int)n, c);
            c += n + (c[n] == '\n');
        }
        free(text[p]);
    }
}

/* The Markdown table: one row per limit, and docs/limits.md's section is it. */
static void test_markdown_and_readme(void **state) {
    (void)state;
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    assert_int_equal(contract_markdown(f), 0);
    fclose(f);
    int rows = 0;
    for (const char *p = md; (p = strchr(p, '\n')); p++)
        rows++;
    assert_int_equal(rows, CONTRACT_COUNT + 2);
    assert_non_null(strstr(md, "| room_name | 64 | characters | 1..64 |  |"));
    assert_non_null(
        strstr(md, "| rooms_per_namespace | 1000 | rooms | 1..100000000 | `$CHAT_MAX_ROOMS` |"));
    /* docs/limits.md (the tests run from the repository's root, or
     * tests/unit below it) holds the same table between its markers */
    FILE *r = fopen("docs/limits.md", "r");
    if (!r) r = fopen("../../docs/limits.md", "r");
    assert_non_null(r);
    char *readme = NULL;
    size_t rlen = 0;
    FILE *w = open_memstream(&readme, &rlen);
    char line[4096];
    while (fgets(line, sizeof line, r))
        fputs(line, w);
    fclose(r);
    fclose(w);
    const char *begin = strstr(readme, "<!-- limits: chat-ws --print-limits -->\n");
    assert_non_null(begin);
    begin = strchr(begin, '\n') + 1;
    const char *end = strstr(begin, "<!-- /limits -->");
    assert_non_null(end);
    if ((size_t)(end - begin) != len || memcmp(begin, md, len) != 0)
        fail_msg("docs/limits.md's Limits table differs from chat-ws --print-limits:\n%s", md);
    free(readme);
    free(md);
}

/* The error messages carry the table's numbers, so they change with it. */
static void test_messages(void **state) {
    (void)state;
    char buf[CONTRACT_MESSAGE_MAX], want[64];
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = contract_get((contract_id)i);
        contract_message((contract_id)i, NULL, buf, sizeof buf);
        if (i == CONTRACT_BODY)
            snprintf(want, sizeof want, "(%lld KiB at most)", l->max / 1024);
        else
            snprintf(want, sizeof want, "%lld-%lld %s", l->min, l->max, l->unit);
        if (!strstr(buf, want)) fail_msg("%s: \"%s\" lacks \"%s\"", l->name, buf, want);
        if (strlen(buf) >= sizeof buf - 1) fail_msg("%s: cut", l->name);
    }
    assert_string_equal(contract_message(CONTRACT_TEXT, NULL, buf, sizeof buf),
                        "invalid text: 1-4000 characters");
    assert_string_equal(contract_message(CONTRACT_ROOM_NAME, NULL, buf, sizeof buf),
                        "invalid room name: 1-64 characters, no control, bidi or invisible "
                        "formatting characters");
    assert_string_equal(contract_message(CONTRACT_BODY, NULL, buf, sizeof buf),
                        "request body too large (64 KiB at most)");
}

/* Every string limit at its boundary: max accepted, max + 1 refused, in
 * characters (a 4-byte character counts one), and the empty string refused. */
static void test_string_boundaries(void **state) {
    (void)state;
    const struct {
        contract_id id;
        bool (*valid)(const char *);
        const char *unit; /* the repeated character */
        const char *prefix;
    } cases[] = {
        {CONTRACT_ROOM_NAME, contract_valid_room_name, "a", ""},
        {CONTRACT_ROOM_NAME, contract_valid_room_name, "\xf0\x9f\x98\x80", ""},
        {CONTRACT_USER_NAME, contract_valid_user_name, "b", ""},
        {CONTRACT_USER_NAME, contract_valid_user_name, "\xc3\xa9", ""},
        {CONTRACT_TEXT, contract_valid_text, "x", ""},
        {CONTRACT_TEXT, contract_valid_text, "\xf0\x9f\x98\x80", ""},
        {CONTRACT_CLIENT_ID, contract_valid_client_id, "c", ""},
        {CONTRACT_WORKSPACE_NAME, contract_valid_workspace, "w", "/"},
        {CONTRACT_WORKSPACE_NAME, contract_valid_namespace, "w", "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const contract_limit *l = contract_get(cases[i].id);
        size_t ulen = strlen(cases[i].unit);
        char *s = malloc(strlen(cases[i].prefix) + (size_t)(l->max + 1) * ulen + 1);
        strcpy(s, cases[i].prefix);
        for (long long n = 0; n < l->max; n++)
            strcat(s, cases[i].unit);
        if (!cases[i].valid(s)) fail_msg("case %zu: %s of %lld refused", i, l->name, l->max);
        strcat(s, cases[i].unit);
        if (cases[i].valid(s)) fail_msg("case %zu: %s of %lld + 1 accepted", i, l->name, l->max);
        strcpy(s, cases[i].prefix);
        /* "/" alone is a namespace (the root's), no workspace */
        if (cases[i].valid(s) != (cases[i].valid == contract_valid_namespace))
            fail_msg("case %zu: an empty %s", i, l->name);
        free(s);
    }
    assert_false(contract_valid_client_id(NULL));
    assert_false(contract_valid_text(NULL));
}

/* ---- validation: data-driven ------------------------------------------ */

typedef struct name_case {
    const char *input;
    bool room_ok, user_ok;
} name_case;

static void test_names(void **state) {
    (void)state;
    char long65[66], long33[34];
    memset(long65, 'a', 65), long65[65] = '\0';
    memset(long33, 'b', 33), long33[33] = '\0';
    const name_case cases[] = {
        {"general", true, true},
        {"a", true, true},
        {"", false, false},
        {long65, false, false},
        {long65 + 1, true, false}, /* 64 characters */
        {long33, true, false},
        {long33 + 1, true, true}, /* 32 characters */
        {"tab\there", false, false},
        {"bell\a", false, false},
        {"del\x7f", false, false},
        {" lead", false, false}, /* callers trim first */
        {"caf\xc3\xa9", true, true},
        {"\xc3\x28", false, false},         /* invalid UTF-8 */
        {"\xc0\xaf", false, false},         /* overlong '/' */
        {"\xed\xa0\x80", false, false},     /* a UTF-16 surrogate */
        {"\xf4\x90\x80\x80", false, false}, /* past U+10FFFF */
        {"../etc", true, true},             /* just a name: never a path */
        {"c1\xc2\x85", false, false},       /* U+0085, a C1 control */
        {"c1\xc2\x9b", false, false},       /* U+009B CSI */
        {"\xe2\x80\xae"
         "evil",
         false, false}, /* U+202E right-to-left override */
        {"a\xe2\x80\xaa"
         "b",
         false, false}, /* U+202A embedding */
        {"a\xe2\x81\xa6"
         "b",
         false, false}, /* U+2066 isolate */
        {"a\xe2\x81\xa9"
         "b",
         false, false}, /* U+2069 pop isolate */
        {"a\xe2\x80\x8e"
         "b",
         false, false}, /* U+200E LRM */
        {"a\xe2\x80\x8f"
         "b",
         false, false}, /* U+200F RLM */
        {"a\xd8\x9c"
         "b",
         false, false}, /* U+061C Arabic letter mark */
        {"a\xe2\x80\x8b"
         "b",
         false, false}, /* U+200B zero width space */
        {"a\xef\xbb\xbf"
         "b",
         false, false},                                               /* U+FEFF */
        {"e\xcc\x81", false, false},                                  /* e + U+0301: not NFC */
        {"\xc3\xa9", true, true},                                     /* U+00E9: NFC */
        {"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb", true, true}, /* ZWJ emoji */
        {"~guest-1", true, false},                                    /* the guest mark */
        {"a~b", true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (contract_valid_room_name(cases[i].input) != cases[i].room_ok ||
            contract_valid_user_name(cases[i].input) != cases[i].user_ok)
            fail_msg("case %zu (%s): room %d user %d", i, cases[i].input, cases[i].room_ok,
                     cases[i].user_ok);
    }
    /* 64 four-byte characters are 64 characters, not 256 */
    char emoji[64 * 4 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat(emoji, "\xf0\x9f\x98\x80");
    assert_true(contract_valid_room_name(emoji));
}

/* Invisible and look-alike names (issue 21.7): one row per character or
 * trick, named, with whether a room and a user may take it. */
typedef struct look_alike_case {
    const char *what;
    const char *input;
    bool room_ok, user_ok;
} look_alike_case;

static const look_alike_case look_alikes[] = {
    {"soft hyphen U+00AD",
     "a\xc2\xad"
     "b",
     false, false},
    {"ZWNJ between letters",
     "a\xe2\x80\x8c"
     "b",
     false, false},
    {"ZWJ between letters",
     "a\xe2\x80\x8d"
     "b",
     false, false},
    {"combining grapheme joiner U+034F",
     "a\xcd\x8f"
     "b",
     false, false},
    {"Mongolian vowel separator U+180E",
     "a\xe1\xa0\x8e"
     "b",
     false, false},
    {"Hangul choseong filler U+115F",
     "a\xe1\x85\x9f"
     "b",
     false, false},
    {"Hangul jungseong filler U+1160",
     "a\xe1\x85\xa0"
     "b",
     false, false},
    {"Hangul filler U+3164",
     "a\xe3\x85\xa4"
     "b",
     false, false},
    {"halfwidth Hangul filler U+FFA0",
     "a\xef\xbe\xa0"
     "b",
     false, false},
    {"Braille blank U+2800",
     "a\xe2\xa0\x80"
     "b",
     false, false},
    {"Khmer vowel inherent U+17B4",
     "a\xe1\x9e\xb4"
     "b",
     false, false},
    {"inhibit symmetric swapping U+206A",
     "a\xe2\x81\xaa"
     "b",
     false, false},
    {"tag latin small a U+E0061",
     "a\xf3\xa0\x81\xa1"
     "b",
     false, false},
    {"language tag U+E0001", "a\xf3\xa0\x80\x81", false, false},
    {"cancel tag alone U+E007F", "a\xf3\xa0\x81\xbf", false, false},
    {"variation selector-16 on a letter", "a\xef\xb8\x8f", false, false},
    {"variation selector-1 on a letter", "a\xef\xb8\x80", false, false},
    {"variation selector-17 U+E0100", "a\xf3\xa0\x84\x80", false, false},
    {"musical symbol begin beam U+1D173",
     "a\xf0\x9d\x85\xb3"
     "b",
     false, false},
    {"only U+3164", "\xe3\x85\xa4\xe3\x85\xa4", false, false},
    {"only U+2800", "\xe2\xa0\x80\xe2\xa0\x80", false, false},
    {"only combining marks", "\xcc\x81\xcc\x82", false, false},
    {"fullwidth tilde ~guest", "\xef\xbd\x9eguest-1a2b", true, false},
    {"tilde operator ~guest", "\xe2\x88\xbcguest-1a2b", true, false},
    {"small tilde ~guest", "\xcb\x9cguest-1a2b", true, false},
    {"wave dash ~guest", "\xe3\x80\x9cguest-1a2b", true, false},
    {"Latin with a Cyrillic a", "p\xd0\xb0ypal", false, false},
    {"Latin and Greek words", "abc \xce\xb1\xce\xb2\xce\xb3", false, false},
    {"mixed digit systems",
     "a\xd9\xa1"
     "1",
     false, false},
    /* what stays valid */
    {"plain", "Ann", true, true},
    {"Cyrillic alone", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true, true},
    {"Greek alone", "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1", true, true},
    {"Japanese", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", true, true},
    {"Latin and Arabic", "Ahmed \xd8\xa3\xd8\xad\xd9\x85\xd8\xaf", true, true},
    {"room with spaces and punctuation", "dev-ops (EU) #2", true, true},
    {"emoji ZWJ sequence", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb", true, true},
    {"emoji with VS16", "\xe2\x9d\xa4\xef\xb8\x8f", true, true},
    {"keycap", "1\xef\xb8\x8f\xe2\x83\xa3", true, true},
    {"skin tone", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", true, true},
    {"ZWJ sequence with VS16 (heart on fire)",
     "\xe2\x9d\xa4\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x94\xa5", true, true},
    {"subdivision flag (England)",
     "\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81\xa5\xf3\xa0\x81\xae"
     "\xf3\xa0\x81\xa7\xf3\xa0\x81\xbf",
     true, true},
    {"tags left open after the flag", "\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7", false, false},
    {"text then emoji", "team \xf0\x9f\x9a\x80", true, true},
};

static void test_look_alike_names(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof look_alikes / sizeof *look_alikes; i++) {
        const look_alike_case *c = &look_alikes[i];
        bool room = contract_valid_room_name(c->input), user = contract_valid_user_name(c->input);
        if (room != c->room_ok || user != c->user_ok)
            fail_msg("%s: room %s, user %s", c->what, room ? "accepted" : "refused",
                     user ? "accepted" : "refused");
    }
}

/* Pairs of names that are one name for claims (the same key), and pairs
 * that are two. */
static void test_name_keys(void **state) {
    (void)state;
    static const struct {
        const char *a, *b;
        bool same;
    } pairs[] = {
        {"abc", "ABC", true},
        {"Ann", "aNN", true},
        {"paypal", "p\xd0\xb0ypal", true},                                  /* Cyrillic a */
        {"full", "\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c", true}, /* fullwidth */
        {"Stra\xc3\x9f"
         "e",
         "strasse", true}, /* case folding of sharp s */
        {"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true}, /* Cyrillic case */
        {"rn", "m", true},
        {"abc", "abd", false},
        {"ann", "anna", false},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char ka[NAMES_KEY_BUF], kb[NAMES_KEY_BUF];
        assert_int_equal(names_key(pairs[i].a, ka, sizeof ka), 0);
        assert_int_equal(names_key(pairs[i].b, kb, sizeof kb), 0);
        if ((strcmp(ka, kb) == 0) != pairs[i].same)
            fail_msg("%s / %s: keys %s / %s", pairs[i].a, pairs[i].b, ka, kb);
    }
    char small[4];
    assert_int_equal(names_key("abcdef", small, sizeof small), -1);
}

/* contract_name_clean: trims, refuses forbidden code points, composes to NFC. */
static void test_name_clean(void **state) {
    (void)state;
    char s[CONTRACT_ROOM_NAME_BUF];
    snprintf(s, sizeof s, "  Cafe\xcc\x81 ");
    assert_int_equal(contract_name_clean(s, sizeof s), 0);
    assert_string_equal(s, "Caf\xc3\xa9");
    assert_true(contract_valid_user_name(s));
    snprintf(s, sizeof s, "\xe2\x84\xa6"); /* U+2126 OHM SIGN -> U+03A9 */
    assert_int_equal(contract_name_clean(s, sizeof s), 0);
    assert_string_equal(s, "\xce\xa9");
    snprintf(s, sizeof s, "ann\xe2\x80\xae");
    assert_int_equal(contract_name_clean(s, sizeof s), -1);
    snprintf(s, sizeof s, "x\xc2\x80");
    assert_int_equal(contract_name_clean(s, sizeof s), -1);
    snprintf(s, sizeof s, "\xff");
    assert_int_equal(contract_name_clean(s, sizeof s), -1);
    /* a result that does not fit the caller's buffer is refused */
    char small[4] = "abc";
    assert_int_equal(contract_name_clean(small, 3), -1);
    /* senders: user names and the guest form, nothing else */
    assert_true(contract_valid_sender("ann"));
    assert_true(contract_valid_sender("~guest-abc123"));
    assert_false(contract_valid_sender("~~x"));
    assert_false(contract_valid_sender("~"));
}

static void test_namespaces(void **state) {
    (void)state;
    const struct {
        const char *ns;
        bool ok;
    } cases[] = {
        {"/", true},
        {"/acme", true},
        {"/a-b-9", true},
        {"", false},
        {"acme", false},
        {"/Acme", false},
        {"/a,b", false},
        {"/a b", false},
        {"//", false},
        {"/012345678901234567890123456789ab", true},
        {"/012345678901234567890123456789abc", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (contract_valid_namespace(cases[i].ns) != cases[i].ok) fail_msg("case %zu", i);
    /* the reserved namespaces: "/" holds rooms but is no workspace; the
     * admin namespace is neither */
    assert_false(contract_valid_workspace("/"));
    assert_true(contract_valid_chat_namespace("/"));
    assert_false(contract_valid_workspace(CONTRACT_ADMIN_NAMESPACE));
    assert_false(contract_valid_chat_namespace(CONTRACT_ADMIN_NAMESPACE));
    assert_true(contract_valid_workspace("/acme"));
    assert_true(contract_valid_chat_namespace("/acme"));
    assert_false(contract_valid_workspace("/Acme"));
    assert_false(contract_valid_workspace(NULL));
}

static void test_text_and_trim(void **state) {
    (void)state;
    char big[4002];
    memset(big, 'x', 4001), big[4001] = '\0';
    assert_false(contract_valid_text(big));
    big[4000] = '\0';
    assert_true(contract_valid_text(big));
    assert_false(contract_valid_text(""));
    assert_true(contract_valid_text("line\nbreaks are fine in text"));
    char s[] = "  \t room \r\n";
    assert_string_equal(contract_trim(s), "room");
    char e[] = "   ";
    assert_string_equal(contract_trim(e), "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_parse_boundaries),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_markdown_and_readme),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_string_boundaries),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_name_clean),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_text_and_trim),
        cmocka_unit_test(test_look_alike_names),
        cmocka_unit_test(test_name_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
