/* contract.h -- the public contract: every limit and default in one table, and
 * the validation of the contract's strings */
#ifndef CONTRACT_H
#define CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The limits that size arrays, as constant expressions. Each number is
 * written here once; the table (contract_get) describes each of them, and
 * every other file uses these names or the table, never the number. */
enum {
    CONTRACT_ROOM_NAME_MAX = 64,                  /* characters (UTF-8 code points) */
    CONTRACT_USER_NAME_MAX = 32,                  /* characters */
    CONTRACT_TEXT_MAX = 4000,                     /* characters of a message */
    CONTRACT_WORKSPACE_NAME_MAX = 32,             /* characters after the "/" of a namespace */
    CONTRACT_CLIENT_ID_MAX = 64,                  /* bytes */
    CONTRACT_MESSAGES_PAGE_MAX = 500,             /* most messages one list call returns */
    CONTRACT_ROOMS_PAGE_MAX = 500,                /* most rooms one page holds */
    CONTRACT_BODY_MAX = 65536,                    /* largest REST request body, bytes (else 413) */
    CONTRACT_QUERY_MAX = 4096,                    /* longest REST query string, bytes (else 414) */
    CONTRACT_PATH_MAX = 2048,                     /* longest REST path, bytes (else 414) */
    CONTRACT_WORKERS_MAX = 64,                    /* chat-fcgi worker processes */
    CONTRACT_RETENTION_DAYS_MAX = 36500,          /* a retention setting above is refused */
    CONTRACT_RETENTION_MESSAGES_MAX = 1000000000, /* likewise */
};
/* Bytes of a namespace: "/" + a workspace name. */
#define CONTRACT_NAMESPACE_MAX (1 + CONTRACT_WORKSPACE_NAME_MAX)
/* Byte sizes of buffers holding those strings, NUL included (4 bytes a
 * character at most in UTF-8). */
#define CONTRACT_ROOM_NAME_BUF (CONTRACT_ROOM_NAME_MAX * 4 + 1)
#define CONTRACT_USER_NAME_BUF (CONTRACT_USER_NAME_MAX * 4 + 1)
#define CONTRACT_NAMESPACE_BUF (CONTRACT_NAMESPACE_MAX + 1)

/* The first character of a guest's display name ("~guest-1a2b3c"). No valid
 * user name starts with it, so no one can claim or impersonate a guest form. */
#define CONTRACT_GUEST_MARK '~'
/* The namespace of the admin's own Socket.IO handlers (ws/chat/admin.c): no
 * workspace, room or chat socket may take it. */
#define CONTRACT_ADMIN_NAMESPACE "/admin"

/* The rows of the table, in the order usage texts and the README list them. */
typedef enum contract_id {
    /* strings and pages of the API (no option: the contract itself) */
    CONTRACT_ROOM_NAME,
    CONTRACT_USER_NAME,
    CONTRACT_TEXT,
    CONTRACT_WORKSPACE_NAME,
    CONTRACT_CLIENT_ID,
    CONTRACT_ROOMS_PAGE,
    CONTRACT_MESSAGES_PAGE,
    CONTRACT_BODY,
    CONTRACT_QUERY,
    CONTRACT_PATH,
    CONTRACT_ROOMS_PER_NAMESPACE,
    CONTRACT_ROOM_RATE_ADDRESS,
    CONTRACT_ROOM_RATE_USER,
    CONTRACT_BUDGET_USER_MINUTE,
    CONTRACT_BUDGET_USER_DAY,
    CONTRACT_BUDGET_ADDR_MINUTE,
    CONTRACT_BUDGET_ADDR_DAY,
    CONTRACT_MISSED_MAX,
    CONTRACT_KICK_REASON,
    CONTRACT_RETENTION_DAYS,
    CONTRACT_RETENTION_MESSAGES,
    CONTRACT_EDIT_WINDOW,
    CONTRACT_SANCTION_MINUTES,
    /* chat-ws settings */
    CONTRACT_PING_INTERVAL,
    CONTRACT_PING_TIMEOUT,
    CONTRACT_MAX_PAYLOAD,
    CONTRACT_MAX_CONNECTIONS,
    CONTRACT_CONNECT_TIMEOUT,
    CONTRACT_RECOVERY_WINDOW,
    CONTRACT_MAX_WORKSPACES,
    CONTRACT_WORKSPACE_RATE,
    CONTRACT_MAX_REPLAY,
    CONTRACT_MAX_PER_ADDRESS,
    CONTRACT_IPV6_PREFIX,
    CONTRACT_BODY_TIMEOUT,
    CONTRACT_MAX_POSTS_PER_ADDRESS,
    CONTRACT_MAX_QUEUE_BYTES,
    CONTRACT_MAX_ROOMS,
    CONTRACT_RATE,
    CONTRACT_BURST,
    CONTRACT_CONNECT_RATE,
    CONTRACT_CONNECT_BURST,
    CONTRACT_PRESENCE_INTERVAL,
    CONTRACT_MAX_EVENT_NAME,
    CONTRACT_MAX_ARGS,
    CONTRACT_MAX_DEPTH,
    CONTRACT_MAX_JSON_VALUES,
    CONTRACT_MAX_ATTACHMENTS,
    CONTRACT_MAX_PENDING_BYTES,
    CONTRACT_MAX_PENDING_TOTAL,
    CONTRACT_ATTACHMENT_TIMEOUT,
    CONTRACT_DRAIN_TIMEOUT,
    CONTRACT_PRUNE_INTERVAL,
    CONTRACT_PRUNE_BATCH,
    CONTRACT_BUS_POLL,
    CONTRACT_TOKEN_TTL,
    /* chat-fcgi settings */
    CONTRACT_WORKERS,
    CONTRACT_COUNT
} contract_id;

/* Which program's command line takes a row's option. */
#define CONTRACT_WS 1u
#define CONTRACT_FCGI 2u
#define CONTRACT_ADMIN 4u /* chat-admin */

/* One row of the table. A string or page row (no option) says the accepted
 * length or count, min..max, and value is its maximum or, for pages, the size
 * without limit=; a setting row says the option's default (value) and the
 * range the option accepts. */
typedef struct contract_limit {
    const char *name;   /* snake_case, e.g. "room_name" */
    long long value;    /* the default */
    long long min, max; /* accepted, inclusive */
    const char *unit;   /* "characters", "bytes", "ms", "count", ... */
    const char *option; /* "--ping-interval", or NULL when none */
    const char *arg;    /* the option's argument in the usage text ("MS") */
    const char *env;    /* the environment variable that overrides it, or NULL */
    unsigned programs;  /* CONTRACT_WS | CONTRACT_FCGI: whose option it is */
    const char *shown;  /* the default as the usage text says it when value
                           is not the whole story ("2 x --rate"), or NULL */
    const char *what;   /* what it limits, for messages: "room name" */
    const char *desc;   /* one line */
} contract_limit;

/* The row of id (0 <= id < CONTRACT_COUNT). Never NULL; static. */
const contract_limit *contract_get(contract_id id);

/* The default of id, the table's value. */
long long contract_default(contract_id id);

/* Whether v is within id's min..max. */
bool contract_in_range(contract_id id, long long v);

/* The row whose option is name ("--max-rooms"), or NULL. The first of the
 * rows sharing an option (the write budget's four) is returned. */
const contract_limit *contract_find_option(const char *option);

/* Parses text, a decimal integer, as id's option: within min..max. Returns
 * 0 with *out set, or -1 with err filled ("--max-rooms must be a number in
 * 1..100000"). */
int contract_parse(contract_id id, const char *text, long long *out, char *err, size_t errlen);

/* ---- the table as text (contract_usage.c) --------------------------------- */

/* Writes the usage lines of program's options (CONTRACT_WS, _FCGI or _ADMIN)
 * to f, one entry per option: "  --ping-interval MS  <desc> (default)",
 * wrapped at 79 columns; rows sharing an option print once, their defaults
 * joined with "/". Returns 0 or -1 on a write error. */
int contract_usage(FILE *f, unsigned program);

/* Writes the whole table to f as a Markdown table (the README's "Limits"
 * section is this output). Returns 0 or -1. */
int contract_markdown(FILE *f);

/* ---- messages (contract.c) ------------------------------------------------ */

/* The error message of a string or page row refused: "invalid room name:
 * 1-64 characters, no control, bidi or invisible formatting characters",
 * built from the table into buf (CONTRACT_MESSAGE_MAX is enough); field
 * names what was refused ("user", the request's field) or is NULL for the
 * row's own word ("room name"). Returns buf. */
#define CONTRACT_MESSAGE_MAX 192
const char *contract_message(contract_id id, const char *field, char *buf, size_t len);

/* ---- validation of the contract's strings (contract_strings.c) ------------
 * Each returns true when s (a NUL terminated UTF-8 string, NULL refused) is
 * acceptable. Names are checked after trimming (contract_trim).
 * A valid name is 1..max code points of valid UTF-8 in NFC, with no C0/C1
 * control, no bidi control (U+061C, U+200E/F, U+202A-202E, U+2066-2069)
 * and no invisible separator (U+200B, U+2028-2029, U+2060-2064, U+FEFF,
 * U+FFF9-FFFB); a user name also does not start with CONTRACT_GUEST_MARK. */
bool contract_valid_room_name(const char *s);
bool contract_valid_user_name(const char *s);
/* A message's sender: a valid user name, or a guest's display form. */
bool contract_valid_sender(const char *s);
/* Makes a name from a client canonical in place: trims it, refuses (-1,
 * s then unspecified) invalid UTF-8, more than CONTRACT_ROOM_NAME_BUF bytes or
 * a forbidden code point, and normalises it to NFC (ICU) within cap bytes,
 * NUL included. Returns 0; the caller then checks the length with
 * contract_valid_room_name / contract_valid_user_name. */
int contract_name_clean(char *s, size_t cap);
/* A message text: 1..CONTRACT_TEXT_MAX characters of valid UTF-8. */
bool contract_valid_text(const char *s);
/* A client_id: 1..CONTRACT_CLIENT_ID_MAX bytes. */
bool contract_valid_client_id(const char *s);
/* "/" or "/" + 1..CONTRACT_WORKSPACE_NAME_MAX of a-z 0-9 -. */
bool contract_valid_namespace(const char *s);
/* Whether s can name a workspace: a valid namespace but "/" and the admin
 * one. The one place the reserved-namespace rule is written. */
bool contract_valid_workspace(const char *s);
/* Whether s can hold chat rooms: "/" or a valid workspace. */
bool contract_valid_chat_namespace(const char *s);
/* Trims leading and trailing ASCII whitespace of s in place; returns s. */
char *contract_trim(char *s);
/* Number of code points in a valid UTF-8 string of len bytes, or -1 when it
 * is not valid (overlong forms, surrogates, past U+10FFFF). */
long contract_utf8_len(const char *s, size_t len);

#endif
