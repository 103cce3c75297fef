/* chat-admin.c -- the operator's tool: online backup, restore, retention defaults */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "contract.h"
#include "retention.h"
#include "settings.h"
#include "store.h"

#define ADMIN_DEFAULT_DB "/var/lib/chat/chat.db"

typedef struct admin_options {
    const char *db;
    bool force;
    int64_t days, max_messages; /* -2: not given */
    store_options store;        /* the environment's (edge/settings.h) */
} admin_options;

static void admin_usage(FILE *f) {
    fprintf(f, "usage: chat-admin [--db PATH] COMMAND ...\n"
               "  backup FILE            a consistent copy of the live database in FILE\n"
               "                         (written aside, then renamed: FILE is whole or old)\n"
               "  restore [--force] FILE put the copy FILE back as the database; stop the chat\n"
               "                         first (refused while a chat-ws runs, unless --force)\n"
               "  retention [--days N] [--max-messages M]\n"
               "                         print, or set, the default retention of every\n"
               "                         workspace without its own (0 = no limit)\n"
               "--db PATH: the database (default: $CHAT_DB, else " ADMIN_DEFAULT_DB ")\n");
    contract_usage(f, CONTRACT_ADMIN);
}

/* The value of row id's option, within the contract's range; exits with
 * status 2 otherwise. */
static int64_t admin_number(contract_id id, const char *v) {
    char err[128];
    long long n;
    if (contract_parse(id, v, &n, err, sizeof err)) {
        fprintf(stderr, "chat-admin: %s\n", err);
        exit(2);
    }
    return n;
}

static int admin_backup(const admin_options *o, const char *file) {
    backup_info info;
    char err[512];
    if (backup_copy(o->db, file, &info, err, sizeof err)) {
        fprintf(stderr, "chat-admin: backup failed: %s\n", err);
        return 1;
    }
    printf("backup: %s: %lld pages, %lld rooms, messages up to id %lld\n", file,
           (long long)info.pages, (long long)info.rooms, (long long)info.last_message);
    return 0;
}

static int admin_restore(const admin_options *o, const char *file) {
    backup_info info;
    char err[512];
    if (backup_restore(file, o->db, o->force, &info, err, sizeof err)) {
        fprintf(stderr, "chat-admin: restore failed: %s\n", err);
        return 1;
    }
    printf("restore: %s from %s: %lld rooms, messages up to id %lld\n", o->db, file,
           (long long)info.rooms, (long long)info.last_message);
    return 0;
}

static int admin_retention(const admin_options *o) {
    store *st = NULL;
    retention_policy p;
    char err[256];
    int status = 1;
    if (store_open(&st, o->db, &o->store, err, sizeof err)) {
        fprintf(stderr, "chat-admin: %s\n", err);
        return 1;
    }
    if (retention_defaults_get(st, &p)) goto fail;
    if (o->days != -2 || o->max_messages != -2) {
        if (o->days != -2) p.days = o->days;
        if (o->max_messages != -2) p.max_messages = o->max_messages;
        if (retention_defaults_set(st, &p)) goto fail;
    }
    printf("retention: days=%lld max_messages=%lld\n", (long long)p.days,
           (long long)p.max_messages);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "chat-admin: retention: %s\n", store_errmsg(st));
out:
    store_close(st);
    return status;
}

int main(int argc, char **argv) {
    enum { DB = 256, FORCE, DAYS, MAX_MESSAGES };
    static const struct option longopts[] = {
        {"db", required_argument, 0, DB},     {"force", no_argument, 0, FORCE},
        {"days", required_argument, 0, DAYS}, {"max-messages", required_argument, 0, MAX_MESSAGES},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    admin_options o = {.db = getenv("CHAT_DB"), .days = -2, .max_messages = -2};
    chat_settings cs;
    settings_read(&cs);
    settings_store_options(&cs, &o.store);
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case DB:
            o.db = optarg;
            break;
        case FORCE:
            o.force = true;
            break;
        case DAYS:
            o.days = admin_number(CONTRACT_RETENTION_DAYS, optarg);
            break;
        case MAX_MESSAGES:
            o.max_messages = admin_number(CONTRACT_RETENTION_MESSAGES, optarg);
            break;
        case 'h':
            admin_usage(stdout);
            return 0;
        default:
            admin_usage(stderr);
            return 2;
        }
    }
    if (!o.db || !o.db[0]) o.db = ADMIN_DEFAULT_DB;
    int left = argc - optind;
    const char *cmd = left > 0 ? argv[optind] : "";
    if (strcmp(cmd, "backup") == 0 && left == 2) return admin_backup(&o, argv[optind + 1]);
    if (strcmp(cmd, "restore") == 0 && left == 2) return admin_restore(&o, argv[optind + 1]);
    if (strcmp(cmd, "retention") == 0 && left == 1) return admin_retention(&o);
    admin_usage(stderr);
    return 2;
}
