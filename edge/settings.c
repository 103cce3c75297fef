/* settings.c -- the deployment's settings from the environment (settings.h) */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "netaddr.h"

/* The value of contract row id's environment variable, else its default; a
 * value outside the row's range keeps the default. */
static long long settings_row(contract_id id) {
    const contract_limit *l = contract_get(id);
    const char *env = l->env ? getenv(l->env) : NULL;
    long long v = l->value;
    char err[128];
    if (env && *env && contract_parse(id, env, &v, err, sizeof err)) v = l->value;
    return v;
}

void settings_read(chat_settings *s) {
    memset(s, 0, sizeof *s);
    /* chat-fcgi and chat-ws of one deployment share the room cap and
     * promise the same durability */
    const char *cap = getenv("CHAT_MAX_ROOMS"), *sync = getenv("CHAT_SYNC");
    s->max_rooms = cap ? atoi(cap) : 0;
    s->sync = sync && strcmp(sync, "full") == 0 ? STORE_SYNC_FULL : STORE_SYNC_NORMAL;

    store_limits_default(&s->limits);
    s->limits.room_rate_user = settings_row(CONTRACT_ROOM_RATE_USER);
    s->limits.room_rate_address = settings_row(CONTRACT_ROOM_RATE_ADDRESS);
    const char *rate = getenv("CHAT_CLAIM_RATE"), *ttl = getenv("CHAT_CLAIM_TTL_S");
    long long m, d, t;
    if (rate && sscanf(rate, "%lld/%lld", &m, &d) == 2 && m >= 0 && d >= 0) {
        s->limits.claim_minute = m;
        s->limits.claim_day = d;
    }
    if (ttl && sscanf(ttl, "%lld", &t) == 1 && t > 0) s->limits.claim_ttl_ms = t * 1000;

    store_write_budget_init(&s->write_budget);
    const char *budget = getenv("CHAT_WRITE_BUDGET");
    if (budget && store_write_budget_parse(&s->write_budget, budget))
        store_write_budget_init(&s->write_budget); /* a bad value keeps the defaults */

    s->secret = getenv("CHAT_SECRET");
    s->secret_file = getenv("CHAT_SECRET_FILE");

    s->log_level = LOG_LEVEL_INFO;
    s->log_format = LOG_FORMAT_KV;
    log_level_parse(getenv("CHAT_LOG_LEVEL"), &s->log_level);
    log_format_parse(getenv("CHAT_LOG_FORMAT"), &s->log_format);

    long long v = contract_default(CONTRACT_IPV6_PREFIX);
    const char *prefix = getenv("CHAT_IPV6_PREFIX");
    if (prefix && *prefix &&
        contract_parse(CONTRACT_IPV6_PREFIX, prefix, &v, s->ipv6_prefix_error,
                       sizeof s->ipv6_prefix_error))
        v = contract_default(CONTRACT_IPV6_PREFIX);
    else
        s->ipv6_prefix_error[0] = '\0';
    s->ipv6_prefix = (int)v;

    s->cors_origin = getenv("CHAT_CORS_ORIGIN");
    const char *signin = getenv("CHAT_SIGNIN_RATE"), *sso = getenv("CHAT_AUTH_REQUEST");
    s->signin_account = s->signin_address = -1;
    if (signin && sscanf(signin, "%lld/%lld", &m, &d) == 2 && m >= 0 && d >= 0) {
        s->signin_account = m;
        s->signin_address = d;
    }
    s->auth_request = sso && strcmp(sso, "1") == 0;
}

void settings_apply(const chat_settings *s) {
    log_set(s->log_level, s->log_format);
    netaddr_set_ipv6_prefix(s->ipv6_prefix);
    if (s->ipv6_prefix_error[0])
        log_event(LOG_LEVEL_WARN, "CHAT_IPV6_PREFIX ignored", "error", s->ipv6_prefix_error, NULL);
}

void settings_store_options(const chat_settings *s, store_options *o) {
    o->sync = s->sync;
    o->max_rooms = s->max_rooms;
    o->limits = &s->limits;
}
