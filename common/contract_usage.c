/* contract_usage.c -- the contract's table as text: the usage lines of each
 * program's options (--help) and the Markdown table of docs/limits.md
 * (chat-ws --print-limits, make limits); declared in contract.h */
#include "contract.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The default of the run of rows from first sharing its option: "120/10000". */
static void defaults_of(int first, int end, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = first; i < end && n < len; i++) {
        const contract_limit *l = contract_get(i);
        int w = l->shown ? snprintf(buf + n, len - n, "%s%s", i > first ? "/" : "", l->shown)
                         : snprintf(buf + n, len - n, "%s%lld", i > first ? "/" : "", l->value);
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
        const contract_limit *l = contract_get(i);
        int end = i + 1;
        while (end < CONTRACT_COUNT && contract_get(end)->option && l->option &&
               strcmp(contract_get(end)->option, l->option) == 0)
            end++;
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
        const contract_limit *l = contract_get(i);
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
