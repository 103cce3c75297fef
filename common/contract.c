/* contract.c -- the table of the public contract's limits and defaults, and
 * the validation of the contract's strings (linked by every program) */
#include "contract.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "names.h"

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

/* ---- usage text and README table ----------------------------------------- */

/* The default of the run of rows from first sharing its option: "120/10000". */
static void defaults_of(int first, int end, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = first; i < end && n < len; i++) {
        int w = table[i].shown
                    ? snprintf(buf + n, len - n, "%s%s", i > first ? "/" : "", table[i].shown)
                    : snprintf(buf + n, len - n, "%s%lld", i > first ? "/" : "", table[i].value);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* Writes words to f, the cursor at column col, wrapping at 79 columns to
 * column indent. Returns 0 or -1. */
static int wrap(FILE *f, const char *words, int col, int indent) {
    bool line_start = true;
    for (const char *p = words; *p;) {
        size_t w = strcspn(p, " ");
        if (!line_start && col + 1 + (int)w > 79) {
            if (fprintf(f, "\n%*s", indent, "") < 0) return -1;
            col = indent, line_start = true;
        }
        if (fprintf(f, "%s%.*s", line_start ? "" : " ", (int)w, p) < 0) return -1;
        col += (int)w + !line_start;
        line_start = false;
        p += w;
        while (*p == ' ')
            p++;
    }
    return fputc('\n', f) == EOF ? -1 : 0;
}

/* The column of an option's description in the usage texts. */
#define USAGE_COLUMN 25

int contract_usage(FILE *f, unsigned program) {
    for (int i = 0; i < CONTRACT_COUNT;) {
        int end = i + 1;
        while (end < CONTRACT_COUNT && table[end].option && table[i].option &&
               strcmp(table[end].option, table[i].option) == 0)
            end++;
        const contract_limit *l = &table[i];
        if (l->option && (l->programs & program)) {
            char def[96], text[512];
            int col = fprintf(f, "  %s %s", l->option, l->arg ? l->arg : "");
            if (col < 0) return -1;
            defaults_of(i, end, def, sizeof def);
            if (l->env)
                snprintf(text, sizeof text, "%s (default: $%s, else %s)", l->desc, l->env, def);
            else
                snprintf(text, sizeof text, "%s (%s; %lld..%lld)", l->desc, def, l->min, l->max);
            if (col >= USAGE_COLUMN - 1) {
                if (fprintf(f, "\n%*s", USAGE_COLUMN, "") < 0) return -1;
            } else if (fprintf(f, "%*s", USAGE_COLUMN - col, "") < 0) {
                return -1;
            }
            if (wrap(f, text, USAGE_COLUMN, USAGE_COLUMN) != 0) return -1;
        }
        i = end;
    }
    return 0;
}

int contract_markdown(FILE *f) {
    if (fputs("| Limit | Value | Unit | Range | Override | Meaning |\n"
              "|---|---|---|---|---|---|\n",
              f) == EOF)
        return -1;
    for (int i = 0; i < CONTRACT_COUNT; i++) {
        const contract_limit *l = &table[i];
        char over[96] = "";
        if (l->option && l->env)
            snprintf(over, sizeof over, "`%s`, `$%s`", l->option, l->env);
        else if (l->option || l->env)
            snprintf(over, sizeof over, "`%s%s`", l->env ? "$" : "",
                     l->option ? l->option : l->env);
        char val[48];
        if (l->shown)
            snprintf(val, sizeof val, "%s", l->shown);
        else
            snprintf(val, sizeof val, "%lld", l->value);
        if (fprintf(f, "| %s | %s | %s | %lld..%lld | %s | %s |\n", l->name, val, l->unit, l->min,
                    l->max, over, l->desc) < 0)
            return -1;
    }
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

/* ---- validation ------------------------------------------------------- */

long contract_utf8_len(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    long n = 0;
    while (p < end) {
        unsigned c = *p;
        int extra;
        unsigned cp;
        if (c < 0x80) {
            extra = 0, cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07;
        } else {
            return -1;
        }
        if (end - p <= extra) return -1;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80) return -1;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        p += extra + 1;
        n++;
    }
    return n;
}

/* Decodes the code point at *p of a valid UTF-8 string and moves *p past it. */
static unsigned utf8_next(const unsigned char **p) {
    const unsigned char *q = *p;
    unsigned c = *q++;
    int extra = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
    c &= extra == 0 ? 0x7f : extra == 1 ? 0x1f : extra == 2 ? 0x0f : 0x07;
    for (int i = 0; i < extra; i++)
        c = (c << 6) | (*q++ & 0x3f);
    *p = q;
    return c;
}

/* Code points a name may not hold: C0 and C1 controls, DEL, the bidi
 * embeddings, overrides, isolates and marks, and invisible separators and
 * joiners that make two names look alike (ZWJ/ZWNJ stay: scripts and emoji
 * need them). */
static bool forbidden_in_name(unsigned cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200b ||
           cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/* The NFC normalizer of ICU, or NULL when its data cannot be loaded. */
static const UNormalizer2 *nfc(void) {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *n = unorm2_getNFCInstance(&e);
    return U_SUCCESS(e) ? n : NULL;
}

/* UTF-16 units a name may take on the way through ICU: 64 code points, each
 * at most two units, after NFC (which grows a string by at most 3x). */
#define NAME_UNITS (CONTRACT_ROOM_NAME_MAX * 2 * 3)

/* Whether the valid UTF-8 string s (at most CONTRACT_ROOM_NAME_BUF bytes) is in
 * NFC. */
static bool is_nfc(const char *s) {
    UErrorCode e = U_ZERO_ERROR;
    UChar u[NAME_UNITS];
    int32_t n = 0;
    const UNormalizer2 *norm = nfc();
    if (!norm) return false;
    u_strFromUTF8(u, NAME_UNITS, &n, s, -1, &e);
    if (U_FAILURE(e)) return false;
    UBool ok = unorm2_isNormalized(norm, u, n, &e);
    return U_SUCCESS(e) && ok;
}

static bool valid_name(const char *s, long max) {
    if (!s) return false;
    size_t len = strlen(s);
    long n = contract_utf8_len(s, len);
    if (n < 1 || n > max) return false;
    if (s[0] == ' ' || s[len - 1] == ' ') return false; /* the caller trims */
    for (const unsigned char *p = (const unsigned char *)s; *p;)
        if (forbidden_in_name(utf8_next(&p))) return false;
    return is_nfc(s) && names_visible(s) && names_unspoofed(s);
}

/* Whether the user name s would pass for a guest's display form: its key
 * starts with the guest mark (U+FF5E FULLWIDTH TILDE and U+223C fold or map
 * to "~"), or it starts with another tilde a reader takes for one. */
static bool looks_like_guest(const char *s) {
    static const char *const tildes[] = {"\xcb\x9c",     "\xcb\xb7",     "\xe2\x81\x93",
                                         "\xe3\x80\x9c", "\xe3\x80\xb0", "\xe1\xbf\x80"};
    char key[NAMES_KEY_BUF];

    if (names_key(s, key, sizeof key) != 0 || key[0] == CONTRACT_GUEST_MARK || !key[0]) return true;
    for (size_t i = 0; i < sizeof tildes / sizeof tildes[0]; i++)
        if (strncmp(s, tildes[i], strlen(tildes[i])) == 0) return true;
    return false;
}

bool contract_valid_room_name(const char *s) {
    return valid_name(s, CONTRACT_ROOM_NAME_MAX);
}

bool contract_valid_user_name(const char *s) {
    return valid_name(s, CONTRACT_USER_NAME_MAX) && s[0] != CONTRACT_GUEST_MARK &&
           !looks_like_guest(s);
}

bool contract_valid_sender(const char *s) {
    return s && (contract_valid_user_name(s) ||
                 (s[0] == CONTRACT_GUEST_MARK && valid_name(s + 1, CONTRACT_USER_NAME_MAX - 1) &&
                  s[1] != CONTRACT_GUEST_MARK));
}

int contract_name_clean(char *s, size_t cap) {
    contract_trim(s);
    size_t len = strlen(s);
    if (len >= CONTRACT_ROOM_NAME_BUF || contract_utf8_len(s, len) < 0) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p;)
        if (forbidden_in_name(utf8_next(&p))) return -1;
    const UNormalizer2 *norm = nfc();
    UErrorCode e = U_ZERO_ERROR;
    UChar in[NAME_UNITS], out[NAME_UNITS];
    int32_t n = 0, m = 0, bytes = 0;
    if (!norm) return -1;
    u_strFromUTF8(in, NAME_UNITS, &n, s, -1, &e);
    if (U_SUCCESS(e)) m = unorm2_normalize(norm, in, n, out, NAME_UNITS, &e);
    if (U_SUCCESS(e)) u_strToUTF8(s, (int32_t)cap, &bytes, out, m, &e);
    /* a result that fills cap exactly has no NUL: too long as well */
    if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING || (size_t)bytes >= cap) {
        s[0] = '\0';
        return -1;
    }
    return 0;
}

bool contract_valid_text(const char *s) {
    if (!s) return false;
    long n = contract_utf8_len(s, strlen(s));
    return n >= 1 && n <= CONTRACT_TEXT_MAX;
}

bool contract_valid_client_id(const char *s) {
    return s && s[0] && strlen(s) <= CONTRACT_CLIENT_ID_MAX;
}

bool contract_valid_namespace(const char *s) {
    if (!s || s[0] != '/') return false;
    if (s[1] == '\0') return true;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
    }
    return n >= 1 && n <= CONTRACT_WORKSPACE_NAME_MAX;
}

bool contract_valid_workspace(const char *s) {
    return contract_valid_namespace(s) && strcmp(s, "/") != 0 &&
           strcmp(s, CONTRACT_ADMIN_NAMESPACE) != 0;
}

bool contract_valid_chat_namespace(const char *s) {
    return contract_valid_namespace(s) && strcmp(s, CONTRACT_ADMIN_NAMESPACE) != 0;
}

char *contract_trim(char *s) {
    if (!s) return s;
    char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t len = strlen(p);
    while (len &&
           (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    memmove(s, p, len);
    s[len] = '\0';
    return s;
}
