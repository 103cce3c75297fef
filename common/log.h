/* log.h -- one line per event, with a level, as key=value pairs or JSON */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

/* Severity, lowest first. The default threshold is LOG_LEVEL_INFO. */
typedef enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
} log_level;

/* The output forms. */
typedef enum log_format {
    LOG_FORMAT_KV,   /* ts=... level=info prog=chat-ws msg="..." key=value ... */
    LOG_FORMAT_JSON, /* {"ts":"...","level":"info","prog":"chat-ws","msg":"...","key":"value"} */
} log_format;

/* Sets the program name (borrowed, a string literal). The logger is
 * process-wide state, like stderr it writes to: every program calls this
 * once in main before anything logs, then log_set with the threshold and
 * form of its settings (CHAT_LOG_LEVEL, CHAT_LOG_FORMAT: edge/settings.h).
 * Without them, lines still go out at the defaults (info, kv) with prog
 * "chat". */
void log_init(const char *prog);
void log_set(log_level threshold, log_format format);
/* Reads a threshold name (debug, info, warn, error) or a form name (kv,
 * json) into *out. Returns 0, or -1 (out untouched) for NULL or another
 * name. */
int log_level_parse(const char *name, log_level *out);
int log_format_parse(const char *name, log_format *out);
/* Whether an event at level would be written. */
bool log_enabled(log_level level);

/* Writes one line to stderr: the time, the level, the program, msg, then
 * the key/value pairs given as const char * arguments, NULL-terminated
 * (a NULL value writes the key with an empty value). Values are quoted when
 * they hold spaces, quotes, '=' or control characters, which are escaped, so
 * a line is always one line whatever a client put in a name. Never pass a
 * token, a secret or a message text. Line length is bounded (LOG_LINE_MAX);
 * a longer line is cut and ends with "...". Safe to call from any process of
 * a prefork; one write(2) per line. */
void log_event(log_level level, const char *msg, ...) __attribute__((sentinel));

#define LOG_LINE_MAX 2048

/* An integer as a value: LOG_I(n) is a string in a temporary buffer that
 * lives until the end of the enclosing full expression's block. */
#define LOG_I(n) log_itoa((char[24]){0}, (long long)(n))
const char *log_itoa(char buf[24], long long n);

#endif
