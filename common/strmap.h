/* strmap.h -- a small chained hash map from C strings to pointers */
#ifndef STRMAP_H
#define STRMAP_H

#include <stddef.h>

typedef struct strmap_entry {
    const char *key; /* not copied: the value owns the key's memory */
    void *value;
    struct strmap_entry *next;
} strmap_entry;

typedef struct strmap {
    strmap_entry **buckets;
    size_t nbuckets; /* a power of two, 0 before the first put */
    size_t count;
} strmap;

/* The value under key, or NULL. */
void *strmap_get(const strmap *m, const char *key);
/* Adds key -> value; the key must not be present and must stay valid while
 * it is in the map. Returns 0, or -1 when out of memory. */
int strmap_put(strmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *strmap_del(strmap *m, const char *key);
/* Calls fn for each entry; fn must not change the map. */
void strmap_each(const strmap *m, void (*fn)(const char *key, void *value, void *ud), void *ud);
/* Frees the map's own memory (not keys or values). */
void strmap_clear(strmap *m);

#endif
