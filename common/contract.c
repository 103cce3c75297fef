/* contract.c -- the table of the public contract's limits and defaults
 * (linked by every program); the table printed is contract_usage.c, the
 * validation of the contract's strings contract_strings.c */
#include "contract.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL
#define WS CONTRACT_WS
#define FCGI CONTRACT_FCGI
#define NAME_RULE ", no control, bidi or invisible formatting characters"

/* The table. A setting's default is the value its module takes when its
 * config leaves the field 0 (eio_server_new, sio_server_new, chat_new, ...),
 * and the value main() starts from. */
static const contract_limit table[CONTRACT_COUNT] = {
    [CONTRACT_ROOM_NAME] = {"room_name", CONTRACT_ROOM_NAME_MAX, 1, CONTRACT_ROOM_NAME_MAX,
                            "characters", NULL, NULL, NULL, 0, NULL, "room name",
                            "a room's name, trimmed, in NFC" NAME_RULE},
    [CONTRACT_USER_NAME] = {"user_name", CONTRACT_USER_NAME_MAX, 1, CONTRACT_USER_NAME_MAX,
                            "characters", NULL, NULL, NULL, 0, NULL, "user name",
                            "a user's name, trimmed, in NFC, not starting with ~" NAME_RULE},
    [CONTRACT_TEXT] = {"text", CONTRACT_TEXT_MAX, 1, CONTRACT_TEXT_MAX, "characters", NULL, NULL,
                       NULL, 0, NULL, "text", "a message's text (valid UTF-8)"},
    [CONTRACT_WORKSPACE_NAME] = {"workspace_name", CONTRACT_WORKSPACE_NAME_MAX, 1,
                                 CONTRACT_WORKSPACE_NAME_MAX, "characters", NULL, NULL, NULL, 0,
                                 NULL, "namespace",
                                 "a workspace's namespace: / and a-z 0-9 -, not /admin"},
    [CONTRACT_CLIENT_ID] = {"client_id", CONTRACT_CLIENT_ID_MAX, 1, CONTRACT_CLIENT_ID_MAX, "bytes",
                            NULL, NULL, NULL, 0, NULL, "client_id",
                            "a message's idempotency key, a string"},
    [CONTRACT_ROOMS_PAGE] = {"rooms_page", 100, 1, CONTRACT_ROOMS_PAGE_MAX, "rooms", NULL, NULL,
                             NULL, 0, NULL, "limit", "rooms in one page (limit=; default 100)"},
    [CONTRACT_MESSAGES_PAGE] = {"messages_page", 50, 1, CONTRACT_MESSAGES_PAGE_MAX, "messages",
                                NULL, NULL, NULL, 0, NULL, "limit",
                                "messages in one history read (limit=; default 50)"},
    [CONTRACT_BODY] = {"request_body", CONTRACT_BODY_MAX, 0, CONTRACT_BODY_MAX, "bytes", NULL, NULL,
                       NULL, 0, NULL, "request body", "a REST request body (else 413)"},
    [CONTRACT_QUERY] = {"query_string", CONTRACT_QUERY_MAX, 0, CONTRACT_QUERY_MAX, "bytes", NULL,
                        NULL, NULL, 0, NULL, "query string", "a REST query string (else 414)"},
    [CONTRACT_PATH] = {"path", CONTRACT_PATH_MAX, 1, CONTRACT_PATH_MAX, "bytes", NULL, NULL, NULL,
                       0, NULL, "path", "a REST path (else 414)"},
    [CONTRACT_ROOMS_PER_NAMESPACE] = {"rooms_per_namespace", 1000, 1, 100000000, "rooms", NULL,
                                      NULL, "CHAT_MAX_ROOMS", 0, NULL, "rooms",
                                      "rooms one namespace may hold (both programs)"},
    [CONTRACT_ROOM_RATE_ADDRESS] = {"room_rate_address", 100, 0, 1000000, "per hour", NULL, NULL,
                                    "CHAT_ROOM_RATE_ADDRESS", 0, NULL, "rooms",
                                    "rooms one client address may create an hour, across every "
                                    "process (both programs; 0: no limit)"},
    [CONTRACT_ROOM_RATE_USER] = {"room_rate_user", 30, 0, 1000000, "per hour", NULL, NULL,
                                 "CHAT_ROOM_RATE_USER", 0, NULL, "rooms",
                                 "rooms one named user may create an hour, across every process "
                                 "(both programs; 0: no limit)"},
    [CONTRACT_BUDGET_USER_MINUTE] = {"budget_user_minute", 120, 0, 1000000000, "messages",
                                     "--write-budget", "UM/UD/AM/AD", "CHAT_WRITE_BUDGET", WS, NULL,
                                     "messages",
                                     "messages a named user may write per minute and per day, "
                                     "and a client address, across every process (0: no limit)"},
    [CONTRACT_BUDGET_USER_DAY] = {"budget_user_day", 10000, 0, 1000000000, "messages",
                                  "--write-budget", NULL, "CHAT_WRITE_BUDGET", WS, NULL, "messages",
                                  "messages a named user may write per day"},
    [CONTRACT_BUDGET_ADDR_MINUTE] = {"budget_address_minute", 600, 0, 1000000000, "messages",
                                     "--write-budget", NULL, "CHAT_WRITE_BUDGET", WS, NULL,
                                     "messages",
                                     "messages one client address may write per minute"},
    [CONTRACT_BUDGET_ADDR_DAY] = {"budget_address_day", 50000, 0, 1000000000, "messages",
                                  "--write-budget", NULL, "CHAT_WRITE_BUDGET", WS, NULL, "messages",
                                  "messages one client address may write per day"},
    [CONTRACT_MISSED_MAX] = {"missed_max", 100, 1, 100, "messages", NULL, NULL, NULL, 0, NULL,
                             "missed", "messages in a join ack's missed list"},
    [CONTRACT_KICK_REASON] = {"kick_reason", 200, 0, 200, "bytes", NULL, NULL, NULL, 0, NULL,
                              "reason", "the reason an administrator gives a kick"},
    [CONTRACT_RETENTION_DAYS] = {"retention_days", 90, 0, CONTRACT_RETENTION_DAYS_MAX, "days",
                                 "--days", "N", NULL, CONTRACT_ADMIN, NULL, "days",
                                 "messages older than this go (0: no limit), the default of "
                                 "every workspace without its own (chat-admin retention, "
                                 "PUT /api/workspaces)"},
    [CONTRACT_RETENTION_MESSAGES] = {"retention_max_messages", 0, 0,
                                     CONTRACT_RETENTION_MESSAGES_MAX, "messages", "--max-messages",
                                     "M", NULL, CONTRACT_ADMIN, NULL, "max_messages",
                                     "a room keeps at most this many, the newest (0: no "
                                     "limit); likewise"},
    [CONTRACT_EDIT_WINDOW] = {"edit_window", 15 * 60000, 0, 15 * 60000, "ms", NULL, NULL, NULL, 0,
                              NULL, "edit window",
                              "how long after sending its author may edit a message"},
    [CONTRACT_SANCTION_MINUTES] = {"sanction_minutes", 60, 1, 5256000, "minutes", NULL, NULL, NULL,
                                   0, NULL, "minutes",
                                   "how long a mute or ban lasts (a ban without minutes: "
                                   "until lifted)"},
    [CONTRACT_PING_INTERVAL] = {"ping_interval", 25000, 10, 3600000, "ms", "--ping-interval", "MS",
                                NULL, WS, NULL, "ping interval", "Engine.IO ping period"},
    [CONTRACT_PING_TIMEOUT] = {"ping_timeout", 20000, 10, 3600000, "ms", "--ping-timeout", "MS",
                               NULL, WS, NULL, "ping timeout", "how long a pong may take"},
    [CONTRACT_MAX_PAYLOAD] = {"max_payload", 1000000, 64, 100000000, "bytes", "--max-payload",
                              "BYTES", NULL, WS, NULL, "payload",
                              "largest Engine.IO message accepted"},
    [CONTRACT_MAX_CONNECTIONS] = {"max_connections", 100000, 1, 10000000, "connections",
                                  "--max-connections", "N", NULL, WS, NULL, "connections",
                                  "per process, and below RLIMIT_NOFILE"},
    [CONTRACT_CONNECT_TIMEOUT] = {"connect_timeout", 45000, 10, 3600000, "ms", "--connect-timeout",
                                  "MS", NULL, WS, NULL, "connect timeout",
                                  "to join a namespace after the handshake"},
    [CONTRACT_RECOVERY_WINDOW] = {"recovery_window", MS_PER_DAY, 1, 365 * MS_PER_DAY, "ms",
                                  "--recovery-window", "MS", NULL, WS, NULL, "recovery window",
                                  "how long a session can be recovered"},
    [CONTRACT_MAX_WORKSPACES] = {"max_workspaces", 1000, 1, 10000000, "workspaces",
                                 "--max-workspaces", "N", NULL, WS, NULL, "workspaces",
                                 "workspaces in all, for --open-workspaces"},
    [CONTRACT_WORKSPACE_RATE] = {"workspace_rate", 5, 1, 1000000, "per hour", "--workspace-rate",
                                 "N", NULL, WS, NULL, "workspaces",
                                 "workspaces one address may create an hour"},
    [CONTRACT_MAX_REPLAY] = {"max_replay", 1000, 1, 1000000, "messages", "--max-replay", "N", NULL,
                             WS, NULL, "replay",
                             "most messages a recovery replays; past it the client gets "
                             "recovered false and rejoins"},
    [CONTRACT_MAX_PER_ADDRESS] = {"max_per_address", 64, 1, 10000000, "sessions",
                                  "--max-per-address", "N", NULL, WS, NULL, "sessions",
                                  "sessions per client address"},
    [CONTRACT_IPV6_PREFIX] = {"ipv6_prefix", 64, 1, 128, "bits", NULL, NULL, "CHAT_IPV6_PREFIX", 0,
                              NULL, "IPv6 prefix",
                              "every per-address limit counts an IPv6 client by its first N "
                              "bits (a /64: one site or line), an IPv4-mapped one as IPv4 "
                              "(both programs)"},
    [CONTRACT_BODY_TIMEOUT] = {"body_timeout", 10000, 100, 600000, "ms", "--body-timeout", "MS",
                               NULL, WS, NULL, "body timeout",
                               "for a polling POST's whole body to arrive (else 408, closed)"},
    [CONTRACT_MAX_POSTS_PER_ADDRESS] = {"max_posts_per_address", 16, 1, 100000, "requests",
                                        "--max-posts-per-address", "N", NULL, WS, NULL,
                                        "POSTs in progress",
                                        "polling POSTs one client address may have receiving "
                                        "their bodies at once (else 429)"},
    [CONTRACT_MAX_QUEUE_BYTES] = {"max_queue_bytes", 4LL << 20, 1024, 1LL << 30, "bytes",
                                  "--max-queue-bytes", "N", NULL, WS, NULL, "queue",
                                  "output queued per connection before a slow reader is dropped"},
    [CONTRACT_MAX_ROOMS] = {"max_rooms", 100, 1, 100000, "rooms", "--max-rooms", "N", NULL, WS,
                            NULL, "rooms", "rooms one socket may be in"},
    [CONTRACT_RATE] = {"rate", 50, 0, 1000000, "per second", "--rate", "N", NULL, WS, NULL, "rate",
                       "events per second per socket, 0 = off"},
    [CONTRACT_BURST] = {"burst", 0, 1, 10000000, "events", "--burst", "N", NULL, WS, "2 x rate",
                        "burst",
                        "events allowed at once over the rate; the bucket is the transport's, "
                        "kept across reconnections of an address; namespace CONNECTs and "
                        "DISCONNECTs take from it too"},
    [CONTRACT_CONNECT_RATE] = {"connect_rate", 10, 0, 1000000, "per second", "--connect-rate", "N",
                               NULL, WS, NULL, "connect rate",
                               "namespace CONNECTs per second per client address, 0 = off"},
    [CONTRACT_CONNECT_BURST] = {"connect_burst", 0, 1, 10000000, "connects", "--connect-burst", "N",
                                NULL, WS, "6 x connect-rate", "connect burst",
                                "CONNECTs allowed at once over the connect rate"},
    [CONTRACT_PRESENCE_INTERVAL] = {"presence_interval", 250, 0, 60000, "ms", "--presence-interval",
                                    "MS", NULL, WS, NULL, "presence",
                                    "user joined/left, connected/disconnected: the first change "
                                    "goes at once, later ones within MS are netted per user and "
                                    "sent at its end; 0 = each at once"},
    [CONTRACT_MAX_EVENT_NAME] = {"max_event_name", 128, 1, 65536, "bytes", "--max-event-name", "N",
                                 NULL, WS, NULL, "event name", "bytes of an event name"},
    [CONTRACT_MAX_ARGS] = {"max_args", 32, 1, 65536, "elements", "--max-args", "N", NULL, WS, NULL,
                           "arguments", "elements of an event's array, its name included"},
    [CONTRACT_MAX_DEPTH] = {"max_depth", 32, 1, 1000, "levels", "--max-depth", "N", NULL, WS, NULL,
                            "depth", "JSON nesting depth"},
    [CONTRACT_MAX_JSON_VALUES] = {"max_json_values", 10000, 1, 10000000, "values",
                                  "--max-json-values", "N", NULL, WS, NULL, "values",
                                  "JSON values of one packet's payload (containers and "
                                  "elements), counted on its text before it is parsed"},
    [CONTRACT_MAX_ATTACHMENTS] = {"max_attachments", 10, 0, 1000, "attachments",
                                  "--max-attachments", "N", NULL, WS, NULL, "attachments",
                                  "binary attachments per packet"},
    [CONTRACT_MAX_PENDING_BYTES] = {"max_pending_bytes", 1LL << 20, 1024, 1LL << 30, "bytes",
                                    "--max-pending-bytes", "N", NULL, WS, NULL, "pending bytes",
                                    "held for one connection's binary packet until its "
                                    "attachments come: parsed JSON + attachments"},
    [CONTRACT_MAX_PENDING_TOTAL] = {"max_pending_total", 64LL << 20, 1024, 1LL << 40, "bytes",
                                    "--max-pending-total", "N", NULL, WS, NULL, "pending bytes",
                                    "the same over the process"},
    [CONTRACT_ATTACHMENT_TIMEOUT] = {"attachment_timeout", 10000, 10, 3600000, "ms",
                                     "--attachment-timeout", "MS", NULL, WS, NULL,
                                     "attachment timeout",
                                     "for a binary packet's attachments to arrive"},
    [CONTRACT_DRAIN_TIMEOUT] = {"drain_timeout", 3000, 0, 600000, "ms", "--drain-timeout", "MS",
                                NULL, WS, NULL, "drain timeout",
                                "on SIGTERM: stop accepting, commit, close every session so "
                                "clients reconnect, exit within MS"},
    [CONTRACT_PRUNE_INTERVAL] = {"prune_interval", 1000, 10, 3600000, "ms", "--prune-interval",
                                 "MS", NULL, WS, NULL, "prune interval",
                                 "period of one retention step"},
    [CONTRACT_PRUNE_BATCH] = {"prune_batch", 500, 1, 100000, "rows", "--prune-batch", "N", NULL, WS,
                              NULL, "prune batch", "rows one retention step deletes per table"},
    [CONTRACT_BUS_POLL] = {"bus_poll", 2000, 10, 3600000, "ms", "--bus-poll", "MS", NULL, WS, NULL,
                           "bus poll",
                           "how often the store is read for news the bus did not bring (a lost "
                           "wake-up, a writer such as the sqlite3 shell)"},
    [CONTRACT_TOKEN_TTL] = {"token_ttl", 3600, 1, 10 * 365 * 86400LL, "seconds", "--ttl", "SECONDS",
                            NULL, WS, NULL, "ttl",
                            "lifetime of a token from --issue-token; a token always expires"},
    [CONTRACT_WORKERS] = {"workers", 2, 1, CONTRACT_WORKERS_MAX, "processes", "--workers", "N",
                          NULL, FCGI, NULL, "workers", "FastCGI worker processes"},
};

const contract_limit *contract_get(contract_id id) {
    assert(id >= 0 && id < CONTRACT_COUNT);
    return &table[id];
}

long long contract_default(contract_id id) {
    return contract_get(id)->value;
}

bool contract_in_range(contract_id id, long long v) {
    const contract_limit *l = contract_get(id);
    return v >= l->min && v <= l->max;
}

const contract_limit *contract_find_option(const char *option) {
    for (int i = 0; option && i < CONTRACT_COUNT; i++)
        if (table[i].option && strcmp(table[i].option, option) == 0) return &table[i];
    return NULL;
}

int contract_parse(contract_id id, const char *text, long long *out, char *err, size_t errlen) {
    const contract_limit *l = contract_get(id);
    char *end;
    errno = 0;
    /* digits, maybe after a minus: no blanks or plus sign strtoll would skip */
    bool digits = text && (isdigit((unsigned char)text[0]) ||
                           (text[0] == '-' && isdigit((unsigned char)text[1])));
    long long v = digits ? strtoll(text, &end, 10) : 0;
    if (!digits || *end || errno || v < l->min || v > l->max) {
        snprintf(err, errlen, "%s must be a number in %lld..%lld", l->option ? l->option : l->name,
                 l->min, l->max);
        return -1;
    }
    *out = v;
    return 0;
}

const char *contract_message(contract_id id, const char *field, char *buf, size_t len) {
    const contract_limit *l = contract_get(id);
    const char *rule = id == CONTRACT_USER_NAME   ? ", not starting with ~" NAME_RULE
                       : id == CONTRACT_ROOM_NAME ? NAME_RULE
                       : id == CONTRACT_WORKSPACE_NAME
                           ? " of a-z 0-9 - after the /, not " CONTRACT_ADMIN_NAMESPACE
                       : id == CONTRACT_CLIENT_ID ? ", a string"
                                                  : "";
    if (id == CONTRACT_BODY)
        snprintf(buf, len, "request body too large (%lld KiB at most)", l->max / 1024);
    else
        snprintf(buf, len, "invalid %s: %lld-%lld %s%s", field ? field : l->what, l->min, l->max,
                 l->unit, rule);
    return buf;
}
