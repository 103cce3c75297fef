/* names.c -- invisible code points, mixed scripts and look-alike keys of
 * names (ICU) */
#include "names.h"

#include <pthread.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

/* UTF-16 units a name may take: 64 code points of 2 units; NFKC casefolding
 * may grow it (ligatures, compatibility forms), and a skeleton more. */
#define NAME_UNITS 1024

/* U+1F3F4 WAVING BLACK FLAG, the base of the subdivision flag sequences. */
#define BLACK_FLAG 0x1f3f4
#define ZWJ 0x200d
#define TAG_FIRST 0xe0020
#define TAG_LAST 0xe007e
#define CANCEL_TAG 0xe007f

/* Decodes s into cps (at most cap code points); returns the count, or -1. */
static int code_points(const char *s, UChar32 *cps, int cap) {
    UChar u[NAME_UNITS];
    int32_t n = 0, count = 0;
    UErrorCode e = U_ZERO_ERROR;

    u_strFromUTF8(u, NAME_UNITS, &n, s, -1, &e);
    if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING) return -1;
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        U16_NEXT(u, i, n, c);
        if (count == cap) return -1;
        cps[count++] = c;
    }
    return count;
}

static bool emoji(UChar32 c) {
    return u_hasBinaryProperty(c, UCHAR_EMOJI) ||
           u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC);
}

/* Whether c shows as something on its own: a letter, number, punctuation
 * or symbol (U+2800 BRAILLE PATTERN BLANK is a symbol that shows nothing;
 * the Hangul fillers are letters, but Default_Ignorable). */
static bool visible(UChar32 c) {
    return (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_N_MASK | U_GC_P_MASK | U_GC_S_MASK)) &&
           c != 0x2800 && !u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

bool names_visible(const char *s) {
    UChar32 cps[NAME_UNITS];
    int n = code_points(s, cps, NAME_UNITS);
    bool shown = false, in_tags = false;

    if (n <= 0) return false;
    for (int i = 0; i < n; i++) {
        UChar32 c = cps[i], prev = i ? cps[i - 1] : 0, next = i + 1 < n ? cps[i + 1] : 0;
        if (in_tags) { /* inside U+1F3F4 TAG... CANCEL TAG */
            if (c == CANCEL_TAG)
                in_tags = false;
            else if (c < TAG_FIRST || c > TAG_LAST)
                return false;
            continue;
        }
        if (c == BLACK_FLAG && next >= TAG_FIRST && next <= TAG_LAST) {
            in_tags = true;
            shown = true;
            continue;
        }
        if (c == 0x2800) return false;
        if (!u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
            shown = shown || visible(c);
            continue;
        }
        /* a ZWJ joins two emoji (a presentation selector or skin tone may
         * sit between the first and the ZWJ); FE0E/FE0F follow an emoji */
        if (c == ZWJ && i && (emoji(prev) || prev == 0xfe0f) && emoji(next)) continue;
        if ((c == 0xfe0e || c == 0xfe0f) && i && emoji(prev)) continue;
        return false;
    }
    return shown && !in_tags;
}

static USpoofChecker *checker;

/* Builds the shared checker once per process (uspoof_check is safe from
 * several threads on a checker that is no longer configured). */
static void checker_open(void) {
    UErrorCode e = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&e);

    uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS, &e);
    uspoof_setRestrictionLevel(sc, USPOOF_MODERATELY_RESTRICTIVE);
    if (U_FAILURE(e)) {
        uspoof_close(sc);
        return;
    }
    checker = sc;
}

static USpoofChecker *spoof_checker(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, checker_open);
    return checker;
}

bool names_unspoofed(const char *s) {
    USpoofChecker *sc = spoof_checker();
    UErrorCode e = U_ZERO_ERROR;

    if (!sc) return false;
    int32_t r = uspoof_checkUTF8(sc, s, -1, NULL, &e);
    return U_SUCCESS(e) && r == 0;
}

int names_key(const char *s, char *out, size_t cap) {
    USpoofChecker *sc = spoof_checker();
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *fold = unorm2_getNFKCCasefoldInstance(&e);
    UChar in[NAME_UNITS], folded[NAME_UNITS], skel[NAME_UNITS];
    int32_t n = 0, m = 0, k = 0, bytes = 0;

    if (!sc || U_FAILURE(e)) return -1;
    u_strFromUTF8(in, NAME_UNITS, &n, s, -1, &e);
    if (U_SUCCESS(e)) m = unorm2_normalize(fold, in, n, folded, NAME_UNITS, &e);
    if (U_SUCCESS(e)) k = uspoof_getSkeleton(sc, 0, folded, m, skel, NAME_UNITS, &e);
    if (U_SUCCESS(e)) u_strToUTF8(out, (int32_t)cap, &bytes, skel, k, &e);
    if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING || (size_t)bytes >= cap) {
        if (cap) out[0] = '\0';
        return -1;
    }
    return 0;
}
