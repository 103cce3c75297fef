/* contract_strings.c -- the validation of the contract's strings (contract.h):
 * UTF-8, names through ICU's NFC and the spoof checks of names.h, namespaces */
#include "contract.h"

#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "names.h"

long contract_utf8_len(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    long n = 0;
    while (p < end) {
        unsigned c = *p;
        int extra;
        unsigned cp;
        if (c < 0x80) {
            extra = 0, cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07;
        } else {
            return -1;
        }
        if (end - p <= extra) return -1;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80) return -1;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        p += extra + 1;
        n++;
    }
    return n;
}

/* Decodes the code point at *p of a valid UTF-8 string and moves *p past it. */
static unsigned utf8_next(const unsigned char **p) {
    const unsigned char *q = *p;
    unsigned c = *q++;
    int extra = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
    c &= extra == 0 ? 0x7f : extra == 1 ? 0x1f : extra == 2 ? 0x0f : 0x07;
    for (int i = 0; i < extra; i++)
        c = (c << 6) | (*q++ & 0x3f);
    *p = q;
    return c;
}

/* Code points a name may not hold: C0 and C1 controls, DEL, the bidi
 * embeddings, overrides, isolates and marks, and invisible separators and
 * joiners that make two names look alike (ZWJ/ZWNJ stay: scripts and emoji
 * need them). */
static bool forbidden_in_name(unsigned cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200b ||
           cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/* The NFC normalizer of ICU, or NULL when its data cannot be loaded. */
static const UNormalizer2 *nfc(void) {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *n = unorm2_getNFCInstance(&e);
    return U_SUCCESS(e) ? n : NULL;
}

/* UTF-16 units a name may take on the way through ICU: 64 code points, each
 * at most two units, after NFC (which grows a string by at most 3x). */
#define NAME_UNITS (CONTRACT_ROOM_NAME_MAX * 2 * 3)

/* Whether the valid UTF-8 string s (at most CONTRACT_ROOM_NAME_BUF bytes) is in
 * NFC. */
static bool is_nfc(const char *s) {
    UErrorCode e = U_ZERO_ERROR;
    UChar u[NAME_UNITS];
    int32_t n = 0;
    const UNormalizer2 *norm = nfc();
    if (!norm) return false;
    u_strFromUTF8(u, NAME_UNITS, &n, s, -1, &e);
    if (U_FAILURE(e)) return false;
    UBool ok = unorm2_isNormalized(norm, u, n, &e);
    return U_SUCCESS(e) && ok;
}

static bool valid_name(const char *s, long max) {
    if (!s) return false;
    size_t len = strlen(s);
    long n = contract_utf8_len(s, len);
    if (n < 1 || n > max) return false;
    if (s[0] == ' ' || s[len - 1] == ' ') return false; /* the caller trims */
    for (const unsigned char *p = (const unsigned char *)s; *p;)
        if (forbidden_in_name(utf8_next(&p))) return false;
    return is_nfc(s) && names_visible(s) && names_unspoofed(s);
}

/* Whether the user name s would pass for a guest's display form: its key
 * starts with the guest mark (U+FF5E FULLWIDTH TILDE and U+223C fold or map
 * to "~"), or it starts with another tilde a reader takes for one. */
static bool looks_like_guest(const char *s) {
    static const char *const tildes[] = {"\xcb\x9c",     "\xcb\xb7",     "\xe2\x81\x93",
                                         "\xe3\x80\x9c", "\xe3\x80\xb0", "\xe1\xbf\x80"};
    char key[NAMES_KEY_BUF];

    if (names_key(s, key, sizeof key) != 0 || key[0] == CONTRACT_GUEST_MARK || !key[0]) return true;
    for (size_t i = 0; i < sizeof tildes / sizeof tildes[0]; i++)
        if (strncmp(s, tildes[i], strlen(tildes[i])) == 0) return true;
    return false;
}

bool contract_valid_room_name(const char *s) {
    return valid_name(s, CONTRACT_ROOM_NAME_MAX);
}

bool contract_valid_user_name(const char *s) {
    return valid_name(s, CONTRACT_USER_NAME_MAX) && s[0] != CONTRACT_GUEST_MARK &&
           !looks_like_guest(s);
}

bool contract_valid_sender(const char *s) {
    return s && (contract_valid_user_name(s) ||
                 (s[0] == CONTRACT_GUEST_MARK && valid_name(s + 1, CONTRACT_USER_NAME_MAX - 1) &&
                  s[1] != CONTRACT_GUEST_MARK));
}

int contract_name_clean(char *s, size_t cap) {
    contract_trim(s);
    size_t len = strlen(s);
    if (len >= CONTRACT_ROOM_NAME_BUF || contract_utf8_len(s, len) < 0) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p;)
        if (forbidden_in_name(utf8_next(&p))) return -1;
    const UNormalizer2 *norm = nfc();
    UErrorCode e = U_ZERO_ERROR;
    UChar in[NAME_UNITS], out[NAME_UNITS];
    int32_t n = 0, m = 0, bytes = 0;
    if (!norm) return -1;
    u_strFromUTF8(in, NAME_UNITS, &n, s, -1, &e);
    if (U_SUCCESS(e)) m = unorm2_normalize(norm, in, n, out, NAME_UNITS, &e);
    if (U_SUCCESS(e)) u_strToUTF8(s, (int32_t)cap, &bytes, out, m, &e);
    /* a result that fills cap exactly has no NUL: too long as well */
    if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING || (size_t)bytes >= cap) {
        s[0] = '\0';
        return -1;
    }
    return 0;
}

bool contract_valid_text(const char *s) {
    if (!s) return false;
    long n = contract_utf8_len(s, strlen(s));
    return n >= 1 && n <= CONTRACT_TEXT_MAX;
}

bool contract_valid_client_id(const char *s) {
    return s && s[0] && strlen(s) <= CONTRACT_CLIENT_ID_MAX;
}

bool contract_valid_namespace(const char *s) {
    if (!s || s[0] != '/') return false;
    if (s[1] == '\0') return true;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
    }
    return n >= 1 && n <= CONTRACT_WORKSPACE_NAME_MAX;
}

bool contract_valid_workspace(const char *s) {
    return contract_valid_namespace(s) && strcmp(s, "/") != 0 &&
           strcmp(s, CONTRACT_ADMIN_NAMESPACE) != 0;
}

bool contract_valid_chat_namespace(const char *s) {
    return contract_valid_namespace(s) && strcmp(s, CONTRACT_ADMIN_NAMESPACE) != 0;
}

char *contract_trim(char *s) {
    if (!s) return s;
    char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t len = strlen(p);
    while (len &&
           (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    memmove(s, p, len);
    s[len] = '\0';
    return s;
}
