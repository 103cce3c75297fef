/* strmap.c -- a small chained hash map from C strings to pointers */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: short keys, no adversarial worry beyond chains growing, which the
 * load factor bounds on average. */
static size_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

void *strmap_get(const strmap *m, const char *key) {
    if (!m->nbuckets) return NULL;
    for (strmap_entry *e = m->buckets[hash(key) & (m->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e->value;
    return NULL;
}

static int grow(strmap *m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    strmap_entry **b = calloc(n, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t j = hash(e->key) & (n - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

int strmap_put(strmap *m, const char *key, void *value) {
    if (m->count >= m->nbuckets && grow(m)) return -1;
    strmap_entry *e = malloc(sizeof *e);
    if (!e) return -1;
    size_t i = hash(key) & (m->nbuckets - 1);
    e->key = key;
    e->value = value;
    e->next = m->buckets[i];
    m->buckets[i] = e;
    m->count++;
    return 0;
}

void *strmap_del(strmap *m, const char *key) {
    if (!m->nbuckets) return NULL;
    for (strmap_entry **p = &m->buckets[hash(key) & (m->nbuckets - 1)]; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            strmap_entry *e = *p;
            void *v = e->value;
            *p = e->next;
            free(e);
            m->count--;
            return v;
        }
    }
    return NULL;
}

void strmap_each(const strmap *m, void (*fn)(const char *key, void *value, void *ud), void *ud) {
    for (size_t i = 0; i < m->nbuckets; i++)
        for (strmap_entry *e = m->buckets[i]; e; e = e->next) fn(e->key, e->value, ud);
}

void strmap_clear(strmap *m) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}
