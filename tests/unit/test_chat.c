/* test_chat.c -- the chat handlers as a state machine: packets in, frames out
 *
 * The chat runs on the real Socket.IO layer, the real bus and a real store in
 * a temporary folder, over the fake transport and the fake clock of
 * fake_transport.h and fake_clock.h: no lws context, no socket. The group commit, the bus's
 * batching and presence run only when a row advances the clock. Each row is a
 * script of steps. Frames are matched with a glob where '*' stands for any
 * run of characters but '"', "**" for any run, and "$1".."$9" like '*',
 * captured: a later step's "$n" (in a packet, a pattern or SQL) is what was
 * captured. */
#include "chat.h"
#include "log.h"
#include "metrics.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fake_transport.h"
#include "store_fixture.h"

typedef enum op {
    END = 0,
    OPEN,    /* a transport opens on connection c, from 10.0.0.<c+1> */
    IN,      /* c receives the Socket.IO packet s (the payload after Engine.IO's '4') */
    OUT,     /* c's next frame matches s */
    NONE,    /* c has no frame left */
    DRAIN,   /* c's frames are dropped, unread */
    ADVANCE, /* the clock moves n ms, running the timers due (0: those due now) */
    GONE,    /* the transport of c ends with reason s */
    DB,      /* the SQL s, each row's columns joined by '|' and rows by ';', reads want */
    COMMITS, /* n group commits ran in this row so far */
} op;

typedef struct step {
    op op;
    int c;
    const char *s;
    const char *want;
    long long n;
} step;

typedef struct ccase {
    const char *name;
    int presence_interval_ms; /* 0: every presence change at once */
    int64_t addr_day;         /* the write budget per address and day; 0: none */
    step steps[48];
    int workspace_rate; /* > 0: a CONNECT may create a workspace, this many an
                           hour per address; 0: workspaces are closed */
} ccase;

/* The rows are laid out one step a line. */
/* clang-format off */

/* A transport from 10.0.0.<c+1> sends a CONNECT to "/" (packet). */
#define OPEN_IN(c, packet) {OPEN, c, NULL, NULL, 0}, {IN, c, packet, NULL, 0}
/* c connects to "/" as the named user (claiming the name: the greeting
 * carries its token) and reads the CONNECT answer and the greeting. */
#define AS(c, user)                                                                               \
    OPEN_IN(c, "0{\"name\":\"" user "\"}"),                                                       \
    {OUT, c, "40{\"sid\":\"*\",\"pid\":\"*\"}", NULL, 0},                                         \
    {OUT, c, "42[\"session\",{\"sid\":\"*\",\"user\":\"" user "\",\"namespace\":\"/\","           \
             "\"recovered\":false,\"token\":\"*\"},\"*\"]", NULL, 0}
#define SEND(c, packet) {IN, c, packet, NULL, 0}
#define EXPECT(c, pattern) {OUT, c, pattern, NULL, 0}
#define QUIET(c) {NONE, c, NULL, NULL, 0}
#define SKIP(c) {DRAIN, c, NULL, NULL, 0}
#define LOST(c) {GONE, c, "transport close", NULL, 0}
#define TURN {ADVANCE, 0, NULL, NULL, 0}
#define WAIT(ms) {ADVANCE, 0, NULL, NULL, ms}
#define SQL(q, w) {DB, 0, q, w, 0}
#define COMMITTED(k) {COMMITS, 0, NULL, NULL, k}
/* c joins general and reads its ack (ack id 9), after dropping what it had
 * received (presence is sent at once). */
#define JOIN(c) SKIP(c), SEND(c, "29[\"join\",\"general\"]"), EXPECT(c, "439[{\"ok\":true,\"room\":\"general\",**")
/* A chat message of general as delivered: the message and its offset. */
#define MSG(id, user, text, client_id)                                                            \
    "42[\"chat message\",{\"id\":" #id ",\"room\":\"general\",\"room_id\":1,\"user\":\"" user     \
    "\",\"text\":\"" text "\",\"ts\":*" client_id "},\"" #id "\"]"
#define CONNECTED(user) "42[\"user connected\",{\"user\":\"" user "\",\"sid\":\"*\"}]"
#define JOINED(user) "42[\"user joined\",{\"room\":\"general\",\"user\":\"" user "\"},\"*\"]"
#define LEFT(user) "42[\"user left\",{\"room\":\"general\",\"user\":\"" user "\"},\"*\"]"
#define TEXT_10 "aaaaaaaaaa"
#define TEXT_100 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10 TEXT_10
#define TEXT_1000 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100 TEXT_100
#define TEXT_4001 TEXT_1000 TEXT_1000 TEXT_1000 TEXT_1000 "a"
#define SAY(ack, text) "2" #ack "[\"chat message\",{\"room\":\"general\",\"text\":\"" text "\"}]"

static const ccase cases[] = {
    {"connect: the greeting; `user connected` reaches the others at once (ephemeral)", 0, 0,
     {AS(0, "ann"),
      QUIET(0),
      TURN,
      QUIET(0), /* not its own */
      AS(1, "bob"),
      EXPECT(0, CONNECTED("bob")),
      QUIET(0),
      TURN,
      QUIET(0),
      QUIET(1),
      SQL("SELECT name FROM users ORDER BY name", "ann;bob")}},
    {"a name claimed by someone else needs its token", 0, 0,
     {AS(0, "ann"),
      OPEN_IN(1, "0{\"name\":\"ann\"}"),
      EXPECT(1, "44{\"message\":\"this name is taken: present its token\"}"),
      QUIET(1)}},
    {"join: the ack has the room, its members and what was missed; `user joined` to the room", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      TURN,
      SKIP(0),
      QUIET(1), /* ann's was sent before bob came */
      SEND(0, "21[\"join\",\"general\"]"),
      EXPECT(0, "431[{\"ok\":true,\"room\":\"general\",\"room_id\":1,\"members\":[\"ann\"],"
                "\"missed\":[],\"more\":false,\"truncated\":false}]"),
      TURN,
      QUIET(0), /* not its own */
      QUIET(1), /* not in the room */
      SEND(1, "22[\"join\",{\"room\":\"general\"}]"),
      EXPECT(1, "432[{\"ok\":true,\"room\":\"general\",\"room_id\":1,\"members\":[\"ann\",\"bob\"],"
                "\"missed\":[],\"more\":false,\"truncated\":false}]"),
      EXPECT(0, "42[\"user joined\",{\"room\":\"general\",\"user\":\"bob\"},\"0\"]"),
      TURN,
      QUIET(0),
      QUIET(1),
      SQL("SELECT user FROM presence ORDER BY user", "ann;bob")}},
    {"a named user's join: what was missed since the last read", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      SEND(0, SAY(1, "m1")),
      TURN,
      SKIP(1),
      SEND(1, "25[\"read\",{\"room\":\"general\",\"id\":1}]"), /* bob read up to m1 */
      EXPECT(1, "435[{\"ok\":true}]"),
      SEND(1, "21[\"leave\",\"general\"]"),
      SEND(0, SAY(2, "m2")),
      SEND(0, SAY(3, "m3")),
      TURN,
      SKIP(1),
      SEND(1, "22[\"join\",\"general\"]"),
      EXPECT(1, "432[{\"ok\":true,\"room\":\"general\",\"room_id\":1,\"members\":[\"ann\",\"bob\"],"
                "\"missed\":[{\"id\":2,**\"text\":\"m2\"**},{\"id\":3,**\"text\":\"m3\"**}],"
                "\"more\":false,\"truncated\":false}]")}},
    {"join an unknown room, or with no name: an error ack, no presence", 0, 0,
     {AS(0, "ann"),
      SEND(0, "21[\"join\",\"nope\"]"),
      EXPECT(0, "431[{\"error\":\"no such room\"}]"),
      SEND(0, "22[\"join\",{\"room\":7}]"),
      EXPECT(0, "432[{\"error\":\"expected a room name\"}]"),
      SEND(0, "23[\"join\"]"),
      EXPECT(0, "433[{\"error\":\"expected a room name\"}]"),
      TURN,
      QUIET(0),
      SQL("SELECT count(*) FROM presence", "0")}},
    {"join twice: acked both times, announced once, one presence row", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      TURN,
      SKIP(0),
      SKIP(1),
      JOIN(1),
      JOIN(1),
      TURN,
      EXPECT(0, JOINED("bob")),
      QUIET(0),
      QUIET(1),
      SQL("SELECT count(*) FROM presence WHERE user = 'bob'", "1")}},
    {"leave: acked, `user left` to the rest of the room; a room not joined is an error", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      SKIP(1),
      SEND(1, "21[\"leave\",\"general\"]"),
      EXPECT(1, "431[{\"ok\":true,\"room\":\"general\"}]"),
      SEND(1, "22[\"leave\",\"general\"]"),
      EXPECT(1, "432[{\"error\":\"not in that room\"}]"),
      SEND(1, "23[\"leave\"]"),
      EXPECT(1, "433[{\"error\":\"expected a room name\"}]"),
      TURN,
      EXPECT(0, "42[\"user left\",{\"room\":\"general\",\"user\":\"bob\"},\"0\"]"),
      QUIET(0),
      QUIET(1),
      SQL("SELECT user FROM presence", "ann"),
      /* gone from the room: a message there reaches ann only */
      SEND(0, SAY(4, "hi")),
      TURN,
      EXPECT(0, "434[{\"id\":1,\"ts\":*}]"),
      EXPECT(0, MSG(1, "ann", "hi", "")),
      QUIET(1)}},
    {"a chat message before join: an error ack, nothing stored, no commit", 0, 0,
     {AS(0, "ann"),
      SEND(0, SAY(1, "hi")),
      EXPECT(0, "431[{\"error\":\"join the room first\"}]"),
      TURN,
      QUIET(0),
      COMMITTED(0),
      SQL("SELECT count(*) FROM messages", "0")}},
    {"a message is acked once the group commit ran, then reaches every member with its offset", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      AS(2, "cat"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      SKIP(1),
      SKIP(2),
      SEND(0, SAY(1, "hello")),
      QUIET(0), /* not durable yet: no ack, no delivery */
      QUIET(1),
      SQL("SELECT count(*) FROM messages", "0"),
      COMMITTED(0),
      TURN,
      COMMITTED(1),
      EXPECT(0, "431[{\"id\":1,\"ts\":*}]"),
      EXPECT(0, MSG(1, "ann", "hello", "")),
      EXPECT(1, MSG(1, "ann", "hello", "")),
      QUIET(0),
      QUIET(1),
      QUIET(2), /* not in the room */
      SEND(1, "2[\"chat message\",{\"room\":\"general\",\"text\":\"no ack asked\"}]"),
      TURN,
      EXPECT(0, MSG(2, "bob", "no ack asked", "")),
      EXPECT(1, MSG(2, "bob", "no ack asked", "")),
      QUIET(1),
      SQL("SELECT id, user, text FROM messages ORDER BY id", "1|ann|hello;2|bob|no ack asked")}},
    {"several messages in one loop turn: one commit, contiguous ids, delivered in order", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      SKIP(1),
      SEND(0, SAY(1, "a")),
      SEND(1, SAY(1, "b")),
      SEND(0, SAY(2, "c")),
      QUIET(0),
      QUIET(1),
      TURN,
      COMMITTED(1),
      EXPECT(0, "431[{\"id\":1,\"ts\":*}]"),
      EXPECT(0, MSG(1, "ann", "a", "")),
      EXPECT(0, MSG(2, "bob", "b", "")),
      EXPECT(0, "432[{\"id\":3,\"ts\":*}]"),
      EXPECT(0, MSG(3, "ann", "c", "")),
      EXPECT(1, MSG(1, "ann", "a", "")),
      EXPECT(1, "431[{\"id\":2,\"ts\":*}]"),
      EXPECT(1, MSG(2, "bob", "b", "")),
      EXPECT(1, MSG(3, "ann", "c", "")),
      QUIET(0),
      QUIET(1),
      SEND(1, SAY(2, "d")),
      TURN,
      COMMITTED(2),
      EXPECT(1, "432[{\"id\":4,\"ts\":*}]"),
      SQL("SELECT group_concat(id) FROM messages", "1,2,3,4")}},
    {"a duplicate client_id: the same id, stored and delivered once, in one turn or later", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      SKIP(1),
      SEND(0, "21[\"chat message\",{\"room\":\"general\",\"text\":\"x\",\"client_id\":\"k1\"}]"),
      SEND(0, "22[\"chat message\",{\"room\":\"general\",\"text\":\"x\",\"client_id\":\"k1\"}]"),
      TURN,
      EXPECT(0, "431[{\"id\":1,\"ts\":*}]"),
      EXPECT(0, MSG(1, "ann", "x", ",\"client_id\":\"k1\"")),
      EXPECT(0, "432[{\"id\":1,\"ts\":*}]"),
      EXPECT(1, MSG(1, "ann", "x", ",\"client_id\":\"k1\"")),
      QUIET(0),
      QUIET(1),
      SEND(0, "23[\"chat message\",{\"room\":\"general\",\"text\":\"x\",\"client_id\":\"k1\"}]"),
      TURN,
      EXPECT(0, "433[{\"id\":1,\"ts\":*}]"),
      QUIET(0),
      QUIET(1),
      SQL("SELECT count(*) FROM messages", "1")}},
    {"invalid text, room or client_id: error acks, nothing stored", 0, 0,
     {AS(0, "ann"),
      JOIN(0),
      TURN,
      SKIP(0),
      SEND(0, SAY(1, "")),
      EXPECT(0, "431[{\"error\":\"invalid text: *\"}]"),
      SEND(0, "22[\"chat message\",{\"room\":\"general\",\"text\":5}]"),
      EXPECT(0, "432[{\"error\":\"expected {room, text}\"}]"),
      SEND(0, "23[\"chat message\",{\"text\":\"hi\"}]"),
      EXPECT(0, "433[{\"error\":\"expected {room, text}\"}]"),
      SEND(0, "24[\"chat message\",\"hi\"]"),
      EXPECT(0, "434[{\"error\":\"expected {room, text}\"}]"),
      SEND(0, "25[\"chat message\",{\"room\":\"nope\",\"text\":\"hi\"}]"),
      EXPECT(0, "435[{\"error\":\"join the room first\"}]"),
      SEND(0, "26[\"chat message\",{\"room\":\"general\",\"text\":\"hi\",\"client_id\":\"\"}]"),
      EXPECT(0, "436[{\"error\":\"invalid client_id*\"}]"),
      SEND(0, "27[\"chat message\",{\"room\":\"general\",\"text\":\"hi\",\"client_id\":7}]"),
      EXPECT(0, "437[{\"error\":\"invalid client_id*\"}]"),
      SEND(0, SAY(8, TEXT_4001)), /* one character too many */
      EXPECT(0, "438[{\"error\":\"invalid text: *\"}]"),
      TURN,
      QUIET(0),
      COMMITTED(0),
      SQL("SELECT count(*) FROM messages", "0")}},
    {"typing: at once to the room but the sender, never stored nor committed", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      AS(2, "cat"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      SKIP(1),
      SKIP(2),
      SQL("SELECT count(*) FROM control", "$9"),
      /* volatile: the fake transport takes it only with nothing unread */
      SEND(0, "2[\"typing\",\"general\"]"),
      EXPECT(1, "42[\"typing\",{\"room\":\"general\",\"user\":\"ann\"}]"),
      QUIET(0),
      QUIET(2),
      SEND(2, "21[\"typing\",\"general\"]"), /* not in the room: nothing, no ack */
      TURN,
      QUIET(0),
      QUIET(1),
      QUIET(2),
      COMMITTED(0),
      SQL("SELECT count(*) FROM control", "$9"),
      SQL("SELECT count(*) FROM messages", "0")}},
    {"recovery: what was missed is replayed in order, before the greeting and new messages", 0, 0,
     {OPEN_IN(0, "0{\"name\":\"ann\"}"),
      EXPECT(0, "40{\"sid\":\"$1\",\"pid\":\"$2\"}"),
      EXPECT(0, "42[\"session\",{\"sid\":\"$1\",\"user\":\"ann\",**"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      SEND(1, SAY(1, "m1")),
      TURN,
      SKIP(0),
      SKIP(1),
      LOST(0),
      SEND(1, SAY(2, "m2")),
      SEND(1, SAY(3, "m3")),
      TURN,
      SKIP(1),
      SQL("SELECT sid, user FROM sessions WHERE pid = '$2'", "$1|ann"),
      OPEN_IN(2, "0{\"pid\":\"$2\",\"offset\":\"1\"}"),
      EXPECT(2, "40{\"sid\":\"$1\",\"pid\":\"$2\"}"),
      EXPECT(2, MSG(2, "bob", "m2", "")),
      EXPECT(2, MSG(3, "bob", "m3", "")),
      EXPECT(2, "42[\"session\",{\"sid\":\"$1\",\"user\":\"ann\",\"namespace\":\"/\","
                "\"recovered\":true},\"3\"]"),
      QUIET(2),
      SEND(1, SAY(4, "m4")),
      TURN,
      EXPECT(2, MSG(4, "bob", "m4", "")),
      QUIET(2),
      /* the session was consumed: the same pid again before a new
       * disconnect is a fresh session */
      OPEN_IN(3, "0{\"pid\":\"$2\",\"offset\":\"4\"}"),
      EXPECT(3, "40{\"sid\":\"*\",\"pid\":\"*\"}"),
      EXPECT(3, "42[\"session\",{\"sid\":\"*\",\"user\":\"~guest-*\",\"namespace\":\"/\","
                "\"recovered\":false},\"4\"]"),
      QUIET(3),
      /* after the next disconnect it recovers again, nothing missed */
      LOST(2),
      OPEN_IN(4, "0{\"pid\":\"$2\",\"offset\":\"4\"}"),
      EXPECT(4, "40{\"sid\":\"$1\",\"pid\":\"$2\"}"),
      EXPECT(4, "42[\"session\",{\"sid\":\"$1\",\"user\":\"ann\",\"namespace\":\"/\","
                "\"recovered\":true},\"4\"]"),
      QUIET(4)}},
    {"recovery with an unknown pid or a malformed offset: a fresh session, nothing replayed", 0, 0,
     {AS(1, "bob"),
      JOIN(1),
      SEND(1, SAY(1, "m1")),
      TURN,
      OPEN_IN(0, "0{\"pid\":\"nope\",\"offset\":\"0\"}"),
      EXPECT(0, "40{\"sid\":\"*\",\"pid\":\"*\"}"),
      EXPECT(0, "42[\"session\",{\"sid\":\"*\",\"user\":\"~guest-*\",\"namespace\":\"/\","
                "\"recovered\":false},\"1\"]"),
      QUIET(0),
      OPEN_IN(2, "0{\"pid\":7,\"offset\":\"x\"}"),
      EXPECT(2, "40{\"sid\":\"*\",\"pid\":\"*\"}"),
      EXPECT(2, "42[\"session\",{**\"recovered\":false},\"1\"]"),
      QUIET(2)}},
    {"the write budget used up: an error ack for the message over it, the others stored", 0, 2,
     {AS(0, "ann"),
      JOIN(0),
      TURN,
      SKIP(0),
      SEND(0, SAY(1, "a")),
      SEND(0, SAY(2, "b")),
      SEND(0, SAY(3, "c")),
      TURN,
      EXPECT(0, "431[{\"id\":1,\"ts\":*}]"),
      EXPECT(0, MSG(1, "ann", "a", "")),
      EXPECT(0, "432[{\"id\":2,\"ts\":*}]"),
      EXPECT(0, MSG(2, "ann", "b", "")),
      EXPECT(0, "433[{\"error\":\"write budget exceeded: *, try later\"}]"),
      QUIET(0),
      SEND(0, SAY(4, "d")),
      TURN,
      EXPECT(0, "434[{\"error\":\"write budget exceeded: *, try later\"}]"),
      QUIET(0),
      SQL("SELECT group_concat(text) FROM messages", "a,b")}},
    {"presence is coalesced on the clock: a leave right after a join waits for the interval", 250, 0,
     {AS(0, "ann"),
      JOIN(0),
      WAIT(250),
      SKIP(0),
      AS(1, "bob"),
      JOIN(1),
      WAIT(1), /* bob's join goes at once, and an interval starts */
      EXPECT(0, CONNECTED("bob")),
      EXPECT(0, JOINED("bob")),
      SEND(1, "21[\"leave\",\"general\"]"),
      EXPECT(1, "431[{\"ok\":true,\"room\":\"general\"}]"),
      WAIT(100),
      QUIET(0), /* the leave waits for the end of the interval */
      WAIT(149),
      EXPECT(0, LEFT("bob")),
      QUIET(0)}},
    {"open workspaces: a CONNECT creates one within its address's hourly rate, counted in the store", 0, 0,
     {OPEN_IN(0, "0/w1,"),
      EXPECT(0, "40/w1,{\"sid\":\"*\",\"pid\":\"*\"}"),
      EXPECT(0, "42/w1,[\"session\",{\"sid\":\"*\",\"user\":\"~guest-*\",\"namespace\":\"/w1\","
                "\"recovered\":false},\"0\"]"),
      SEND(0, "0/w2,"),
      EXPECT(0, "44/w2,{\"message\":\"too many workspaces created from this address, try later\"}"),
      OPEN_IN(1, "0/w2,"), /* another address: a budget of its own */
      EXPECT(1, "40/w2,**"),
      SEND(0, "0/w3,"),
      EXPECT(0, "44/w3,{\"message\":\"too many workspaces created from this address, try later\"}"),
      SKIP(0),
      SKIP(1),
      /* the counts are in the database, for every process (issue 21.12);
       * a refused creation is not counted */
      SQL("SELECT group_concat(count) FROM budgets WHERE key LIKE 'wa:%'", "1,1"),
      SQL("SELECT group_concat(namespace) FROM workspaces ORDER BY namespace", "/w1,/w2")},
     1},
    {"the transport ends: `user left` and `user disconnected` to the others, presence gone", 0, 0,
     {AS(0, "ann"),
      AS(1, "bob"),
      JOIN(0),
      JOIN(1),
      TURN,
      SKIP(0),
      LOST(1),
      TURN,
      EXPECT(0, LEFT("bob")),
      EXPECT(0, "42[\"user disconnected\",{\"user\":\"bob\",\"sid\":\"*\"}]"),
      QUIET(0),
      SQL("SELECT user FROM presence", "ann"),
      SQL("SELECT user, rooms FROM sessions ORDER BY user",
          "ann|[\"general\"];bob|[\"general\"]")}},
};

/* clang-format on */

/* ---- the runner ----------------------------------------------------------- */

#define NCAPS 10
#define CAP_LEN 128

static char caps[NCAPS][CAP_LEN];

/* s with every captured "$n" replaced by its value; "$n" not captured yet
 * stay. The caller frees it. */
static char *expand(const char *s) {
    size_t cap = strlen(s) + 1;
    for (const char *p = s; *p; p++)
        if (*p == '$') cap += CAP_LEN;
    char *out = malloc(cap), *o = out;
    assert_non_null(out);
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && isdigit((unsigned char)p[1]) && caps[p[1] - '0'][0]) {
            o += sprintf(o, "%s", caps[p[1] - '0']);
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

/* fake_glob with captures: "$n" matches like '*' and records the match;
 * "**" matches any run of characters, '"' included. */
static bool match(const char *pat, const char *s) {
    if (!*pat) return !*s;
    if (pat[0] == '*' && pat[1] == '*') { /* "**": any run of characters */
        for (;; s++) {
            if (match(pat + 2, s)) return true;
            if (!*s) return false;
        }
    }
    bool is_cap = pat[0] == '$' && isdigit((unsigned char)pat[1]);
    if (*pat == '*' || is_cap) {
        for (const char *e = s;; e++) {
            if (match(pat + (is_cap ? 2 : 1), e)) {
                if (is_cap) {
                    assert_true(e - s < CAP_LEN);
                    snprintf(caps[pat[1] - '0'], CAP_LEN, "%.*s", (int)(e - s), s);
                }
                return true;
            }
            if (!*e || *e == '"') return false;
        }
    }
    return *pat == *s && match(pat + 1, s + 1);
}

typedef struct sql_out {
    char text[1024];
    size_t len;
    int rows;
} sql_out;

static int sql_row(void *ud, int n, char **values, char **names) {
    (void)names;
    sql_out *o = ud;
    o->len +=
        (size_t)snprintf(o->text + o->len, sizeof o->text - o->len, "%s", o->rows++ ? ";" : "");
    for (int i = 0; i < n && o->len < sizeof o->text; i++)
        o->len += (size_t)snprintf(o->text + o->len, sizeof o->text - o->len, "%s%s", i ? "|" : "",
                                   values[i] ? values[i] : "NULL");
    assert_true(o->len < sizeof o->text);
    return 0;
}

/* The rows of query on the database at path, read by a connection of the
 * test's own. */
static void sql_read(const char *path, const char *query, sql_out *o) {
    sqlite3 *db;
    char *err = NULL;
    memset(o, 0, sizeof *o);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_exec(db, query, sql_row, o, &err) != SQLITE_OK) fail_msg("%s: %s", query, err);
    sqlite3_close(db);
}

static const token_secret secret = {"test secret of thirty-two bytes!", 32};

static void run_case(const ccase *k) {
    char dir[] = "/tmp/test_chat_XXXXXX", path[64];
    store *st;
    store_fixture_open(dir, path, sizeof path, &st);
    int64_t process_id;
    assert_int_equal(store_process_register(st, 1, "test", NULL, NULL, &process_id), STORE_OK);
    memset(caps, 0, sizeof caps);
    memset(fake_conns, 0, sizeof fake_conns);
    fake_clock_ms = 1000000;
    ws_clock *clock = fake_clock_new();
    sio_config scfg = {.clock = clock};
    sio_server *srv = sio_server_new(&scfg);
    assert_non_null(srv);
    sio_server_set_transport(srv, &fake_transport);
    char err[256];
    bus *bu = bus_open(path, NULL, err, sizeof err);
    assert_non_null(bu);
    hub *hb = hub_new(st, bu, NULL); /* a hub that counts nothing */
    assert_non_null(hb);
    adapter *ad = adapter_new(srv, st, bu, hb);
    assert_non_null(ad);
    /* The chat counts its group commits into the case's own registry (its
     * other series NULL: not counted). */
    static const double one[] = {1};
    metrics *reg = metrics_new(false);
    assert_non_null(reg);
    chat_metrics cm = {.commit_batch = metrics_register(reg, METRICS_HISTOGRAM, "commit_batch",
                                                        "Messages per commit.", NULL, one, 1)};
    chat_config cfg = {.process_id = process_id,
                       .budget = {.addr_day = k->addr_day},
                       .secret = &secret,
                       .adapter = ad,
                       .hub = hb,
                       .presence_interval_ms = k->presence_interval_ms,
                       .open_workspaces = k->workspace_rate > 0,
                       .workspace_rate = k->workspace_rate,
                       .clock = clock,
                       .metrics = &cm};
    chat *ch = chat_new(srv, st, &cfg);
    assert_non_null(ch);

    for (const step *s = k->steps; s->op != END; s++) {
        fake_conn *f = &fake_conns[s->c];
        char *arg = s->s ? expand(s->s) : NULL, *got = NULL;
        sql_out rows;
        switch (s->op) {
        case OPEN:
            while (f->nframes)
                free(fake_pop_frame(f));
            snprintf(arg = malloc(32), 32, "10.0.0.%d", s->c + 1);
            fake_open(srv, s->c, arg);
            break;
        case IN:
            if (sio_client_message(f->client, arg, strlen(arg), false))
                fail_msg("%s: step %td: packet %s refused", k->name, s - k->steps, arg);
            break;
        case OUT:
            got = fake_pop_frame(f);
            if (!got || !match(arg, got))
                fail_msg("%s: step %td: conn %d: frame %s, expected %s", k->name, s - k->steps,
                         s->c, got ? got : "(none)", arg);
            break;
        case NONE:
            if (f->nframes)
                fail_msg("%s: step %td: conn %d: unexpected frame %s", k->name, s - k->steps, s->c,
                         f->frames[0]);
            break;
        case DRAIN:
            while (f->nframes)
                free(fake_pop_frame(f));
            break;
        case ADVANCE:
            fake_clock_advance(clock, s->n);
            break;
        case GONE:
            fake_gone(f, arg);
            break;
        case DB: {
            sql_read(path, arg, &rows);
            char *want = expand(s->want);
            if (!match(want, rows.text))
                fail_msg("%s: step %td: %s read %s, expected %s", k->name, s - k->steps, arg,
                         rows.text, want);
            free(want);
            break;
        }
        case COMMITS:
            if (metrics_value(cm.commit_batch) != (double)s->n)
                fail_msg("%s: step %td: %g commits, expected %lld", k->name, s - k->steps,
                         metrics_value(cm.commit_batch), s->n);
            break;
        case END:
            break;
        }
        free(arg);
        free(got);
    }
    fake_conns_reset();
    assert_int_equal(sio_server_sockets(srv), 0);
    chat_free(ch);
    adapter_free(ad);
    hub_free(hb);
    bus_close(bu);
    sio_server_free(srv);
    ws_clock_free(clock);
    metrics_free(reg);
    store_fixture_close(st, dir);
}

static void test_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i]);
}

/* A message waiting for the group commit when the chat goes: its ack is
 * dropped (no frame), nothing is stored, nothing leaks. */
static void test_free_with_batch(void **state) {
    (void)state;
    static const ccase k = {"freed with a batch waiting",
                            0,
                            0,
                            {AS(0, "ann"), JOIN(0),
                             SEND(0, "21[\"chat message\",{\"room\":\"general\",\"text\":\"a\"}]"),
                             SQL("SELECT count(*) FROM messages", "0")}};
    run_case(&k);
}

static int group_setup(void **state) {
    (void)state;
    log_set(LOG_LEVEL_WARN, LOG_FORMAT_KV); /* a line per connection otherwise */
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_free_with_batch),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
