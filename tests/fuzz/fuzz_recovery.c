/* fuzz_recovery.c -- libFuzzer: connection state recovery requests against a
 * seeded store. Input: lines "offset", "floor", "upto", "max", then the
 * session's rooms (JSON). Checks that a recovery never replays from before
 * max(offset, floor) nor past upto, keeps log order, each message once, and
 * never more than max. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recovery.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store *st;
static int64_t head;

/* Rooms a, b (with more messages than a page) and general in "/", and a
 * room of the same name a in "/w", interleaved in the log. */
static void seed(void) {
    char path[] = "/tmp/fuzz-recovery-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    unlink(path);
    char err[256];
    store_options opt = {0};
    if (store_open(&st, path, &opt, err, sizeof err)) abort();
    store_room a, b, w;
    if (store_namespace_ensure(st, "/") || store_room_create(st, "/", "a", &a) ||
        store_room_create(st, "/", "b", &b) || store_room_create(st, "/w", "a", &w))
        abort();
    int64_t rooms[3] = {a.id, b.id, w.id};
    if (store_begin(st)) abort();
    for (int i = 0; i < 1200; i++) {
        int64_t id, ts;
        bool dup;
        int64_t room = rooms[i % 7 == 0 ? 0 : i % 7 < 5 ? 1 : 2];
        if (store_message_append(st, room, "u", "t", NULL, &id, &ts, &dup)) abort();
        head = id;
    }
    if (store_commit(st)) abort();
    unlink(path); /* the open connection keeps it */
}

static json_t *encode(const store_message *m) {
    return json_integer(m->id);
}

/* The next line of buf (NUL-terminated in place); rest follows it. */
static char *line(char **rest) {
    char *l = *rest, *nl = strchr(l, '\n');
    if (nl) {
        *nl = '\0';
        *rest = nl + 1;
    } else {
        *rest = l + strlen(l);
    }
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!st) seed();
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *rest = buf;
    const char *offset = line(&rest);
    int64_t floor = strtoll(line(&rest), NULL, 10);
    int64_t upto = strtoll(line(&rest), NULL, 10);
    long max = strtol(line(&rest), NULL, 10);
    if (upto <= 0 || upto > head) upto = head;
    if (max <= 0 || max > 3000) max = 1000;
    int64_t from;
    json_t *rooms = json_loads(rest, JSON_DECODE_ANY, NULL);
    if (recovery_from(offset, floor, &from) == 0) {
        if (from < floor) abort();
        json_t *got = recovery_gather(st, "/", rooms, from, upto, (size_t)max, encode);
        int64_t last = from;
        size_t i;
        json_t *v;
        if (got && json_array_size(got) > (size_t)max) abort();
        json_array_foreach(got, i, v) {
            int64_t id = json_integer_value(v);
            if (id <= last || id > upto) abort(); /* order, once, bounds */
            last = id;
        }
        json_decref(got);
    }
    json_decref(rooms);
    free(buf);
    return 0;
}
