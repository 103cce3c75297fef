/* names.h -- what makes a user or room name look like another: invisible
 * code points, mixed scripts, and the key under which two names that look
 * alike are one (ICU: Unicode properties and uspoof, UTS #39) */
#ifndef NAMES_H
#define NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of a name key, NUL included: a skeleton may grow a name several
 * times (one code point can become up to 18 bytes). */
#define NAMES_KEY_BUF 1024

/* Whether the valid UTF-8 string s shows what it holds: no Default_Ignorable
 * code point (soft hyphen, U+034F, Mongolian and Hangul fillers, U+17B4-5,
 * the deprecated format characters, variation selectors, musical format
 * characters, the tag block, ZWNJ) and no Braille blank (U+2800), except
 * inside emoji sequences: a ZWJ between two emoji, U+FE0E/FE0F after an
 * emoji, and tags after U+1F3F4 ended by U+E007F (subdivision flags). It must
 * also hold at least one letter, number, punctuation or symbol that is not
 * one of those (a name of fillers alone is refused). */
bool names_visible(const char *s);

/* Whether the valid UTF-8 string s passes ICU's spoof checks (uspoof):
 * restriction level "moderately restrictive" (one script, or Latin with one
 * other script but Cyrillic or Greek: "pаypal" with a Cyrillic а is refused;
 * emoji, digits and punctuation are of no script and stay valid), no mixed
 * digit systems, no invisible repeats of a combining mark. False also when
 * ICU's data cannot be loaded. */
bool names_unspoofed(const char *s);

/* Writes into out (cap bytes) the key of the valid UTF-8 name s: its UTS #39
 * skeleton after NFKC case folding, so "abc", "ABC", "аbc" (Cyrillic) and
 * "ａｂｃ" (fullwidth) share one key. Two names with the same key are one
 * name for claims. Returns 0, or -1 (ICU failed, or cap too small). */
int names_key(const char *s, char *out, size_t cap);

#endif
