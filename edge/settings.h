/* settings.h -- the deployment's settings from the environment, read once at
 * a program's edge (its main) and handed to the libraries as options and
 * arguments: nothing below reads the environment (docs/configuration.md
 * lists the variables). */
#ifndef SETTINGS_H
#define SETTINGS_H

#include "log.h"
#include "store.h"

/* Every variable's value, or its default when unset or invalid. */
typedef struct chat_settings {
    /* For store_open (settings_store_options): CHAT_MAX_ROOMS (max_rooms,
     * 0: the default), CHAT_SYNC ("full": FULL, else NORMAL). */
    int max_rooms;
    store_sync sync;
    /* CHAT_ROOM_RATE_USER and CHAT_ROOM_RATE_ADDRESS (the contract's rows:
     * a value out of range keeps the default), CHAT_CLAIM_RATE ("M/D") and
     * CHAT_CLAIM_TTL_S (seconds, > 0). */
    store_limits limits;
    /* CHAT_WRITE_BUDGET ("UM/UD/AM/AD"; malformed: the defaults). */
    store_write_budget write_budget;
    /* CHAT_SECRET and CHAT_SECRET_FILE for token_secret_load; NULL when
     * unset; borrowed from the environment. */
    const char *secret, *secret_file;
    /* CHAT_LOG_LEVEL and CHAT_LOG_FORMAT; unknown values keep info, kv. */
    log_level log_level;
    log_format log_format;
    /* CHAT_IPV6_PREFIX (netaddr_key); out of range: the default, and
     * ipv6_prefix_error says why (settings_apply logs it). */
    int ipv6_prefix;
    char ipv6_prefix_error[128];
    /* chat-fcgi's: CHAT_CORS_ORIGIN (browser origins allowed to call /api/;
     * NULL when unset; borrowed), CHAT_SIGNIN_RATE ("account/address"
     * sign-in attempts a window; -1 when unset or malformed: the handler's
     * defaults) and CHAT_AUTH_REQUEST ("1": trust the user nginx's
     * auth_request names). */
    const char *cors_origin;
    int64_t signin_account, signin_address;
    bool auth_request;
} chat_settings;

/* Reads the environment into s. */
void settings_read(chat_settings *s);

/* Applies s's process-wide settings: the logger's threshold and form
 * (log_set) and the IPv6 prefix of per-address keys (netaddr); logs a
 * CHAT_IPV6_PREFIX that was ignored. Call it after log_init. */
void settings_apply(const chat_settings *s);

/* Sets o's sync, max_rooms and limits from s (limits points into s, which
 * must live until store_open returns); the other fields of o are kept. */
void settings_store_options(const chat_settings *s, store_options *o);

#endif
