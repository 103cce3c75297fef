/* status.c -- what a client is told of a store status */
#include "status.h"

#include <stdio.h>

#include "store.h"

static const struct {
    int rc;
    status_reply reply;
} table[] = {
    {STORE_NOTFOUND, {404, "not found", 0}},
    {STORE_EXISTS, {409, "already exists", 0}},
    {STORE_INVALID, {400, "invalid request", 0}},
    {STORE_LIMIT, {403, "this namespace has its maximum number of rooms", 0}},
    {STORE_OVER_BUDGET, {429, "write budget exceeded, try later", 1}},
    {STORE_BUSY, {503, "database busy, try again", 1}},
    {STORE_FULL, {507, "storage unavailable, try again", 1}},
};

static const status_reply internal = {500, "internal error", 0};

const status_reply *status_of_store(int rc) {
    for (unsigned i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].rc == rc) return &table[i].reply;
    return &internal;
}

const char *status_over_budget(const char *which, char *buf, size_t len) {
    snprintf(buf, len, "write budget exceeded: %s, try later", which ? which : "messages");
    return buf;
}
