/* sio_packet.c -- Socket.IO v5 packet text: strict decoder and encoder */
#include "sio_packet.h"

#include "contract.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void packet_reset(sio_packet *p) {
    p->type = SIO_CONNECT;
    p->nsp[0] = '/';
    p->nsp[1] = '\0';
    p->id = -1;
    p->attachments = 0;
    p->data = NULL;
}

void sio_packet_clear(sio_packet *p) {
    if (p == NULL) return;
    json_decref(p->data);
    packet_reset(p);
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Reads the decimal digits at buf[*i..len) into *val without overflowing.
 * Returns 1 when it read some, 0 when there are none, or -1 when the value
 * exceeds max; *i is left after the last digit read. */
static int parse_uint(const char *buf, size_t len, size_t *i, uint64_t max, uint64_t *val) {
    int found = 0;

    *val = 0;
    while (*i < len && is_digit(buf[*i])) {
        unsigned d = (unsigned)(buf[*i] - '0');
        if (d > max || *val > (max - d) / 10) return -1;
        *val = *val * 10 + d;
        (*i)++;
        found = 1;
    }
    return found;
}

/* Bounds the JSON text s[0..n) before jansson builds a tree of it, so that
 * a packet that would take many times its size in memory ("[{},{},...]":
 * one node of ~100 bytes for every 3 bytes of text) or nest too deep is
 * refused after one pass over its bytes, with no allocation: at most
 * max_depth levels of containers, at most max_values values (the top one,
 * and every element of an array or member of an object: the nodes jansson
 * would make, object keys aside), and at most max_args elements in a
 * top-level array. Strings are skipped with their escapes; the syntax is
 * jansson's to check. Returns NULL or a reason. */
static const char *json_prescan(const char *s, size_t n, int max_depth, size_t max_values,
                                size_t max_args) {
    size_t values = 1, top_elements = 1;
    int depth = 0;
    bool in_string = false, opened = false, top_array = n > 0 && s[0] == '[';

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        /* a container's first element: what follows its opening bracket */
        if (opened && c != ']' && c != '}' && ++values > max_values)
            return "JSON holds too many values";
        opened = false;
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            if (++depth > max_depth) return "JSON nested too deep";
            opened = true;
            break;
        case ']':
        case '}':
            depth--;
            break;
        case ',': /* one more element or member */
            if (++values > max_values) return "JSON holds too many values";
            if (depth == 1 && top_array && ++top_elements > max_args) return "too many arguments";
            break;
        default:
            break;
        }
    }
    return NULL;
}

/* Checks data (possibly NULL) against what type allows; NULL or a reason. */
static const char *check_payload(const sio_packet *p, size_t max_event_name, size_t max_args) {
    const json_t *d = p->data;

    switch (p->type) {
    case SIO_CONNECT:
        return d == NULL || json_is_object(d) ? NULL : "CONNECT payload must be an object";
    case SIO_DISCONNECT:
        return d == NULL ? NULL : "DISCONNECT takes no payload";
    case SIO_CONNECT_ERROR:
        return json_is_object(d) ? NULL : "CONNECT_ERROR payload must be an object";
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        if (!json_is_array(d)) return "EVENT payload must be an array";
        if (json_array_size(d) == 0) return "EVENT payload must not be empty";
        if (!json_is_string(json_array_get(d, 0))) return "event name must be a string";
        if (strlen(json_string_value(json_array_get(d, 0))) !=
            json_string_length(json_array_get(d, 0)))
            return "event name holds a NUL";
        if (json_string_length(json_array_get(d, 0)) > max_event_name) return "event name too long";
        return json_array_size(d) > max_args ? "too many arguments" : NULL;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if (!json_is_array(d)) return "ACK payload must be an array";
        if (p->id < 0) return "ACK without an id";
        return json_array_size(d) > max_args ? "too many arguments" : NULL;
    }
    return "unknown packet type";
}

int sio_packet_decode(const char *buf, size_t len, const sio_limits *lim, sio_packet *out,
                      const char **why) {
    size_t max_attachments = (size_t)contract_default(CONTRACT_MAX_ATTACHMENTS);
    size_t max_event_name = (size_t)contract_default(CONTRACT_MAX_EVENT_NAME);
    size_t max_args = (size_t)contract_default(CONTRACT_MAX_ARGS);
    int max_depth = (int)contract_default(CONTRACT_MAX_DEPTH);
    size_t max_values = (size_t)contract_default(CONTRACT_MAX_JSON_VALUES);
    const char *reason = NULL;
    size_t i = 0;
    uint64_t v;
    int nd;

    if (lim != NULL) {
        if (lim->max_attachments > 0) max_attachments = lim->max_attachments;
        if (lim->max_event_name > 0) max_event_name = lim->max_event_name;
        if (lim->max_args > 0) max_args = lim->max_args;
        if (lim->max_depth > 0) max_depth = lim->max_depth;
        if (lim->max_values > 0) max_values = lim->max_values;
    }
    packet_reset(out);

    if (len == 0) {
        reason = "empty packet";
        goto fail;
    }
    if (buf[0] < '0' || buf[0] > '6') {
        reason = "unknown packet type";
        goto fail;
    }
    out->type = (sio_type)(buf[0] - '0');
    i = 1;

    bool binary = out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK;
    if (binary) {
        uint64_t cap = max_attachments < INT32_MAX ? max_attachments : INT32_MAX;
        nd = parse_uint(buf, len, &i, cap, &v);
        if (nd < 0) {
            reason = "too many attachments";
            goto fail;
        }
        if (nd == 0 || i == len || buf[i] != '-') {
            reason = "invalid attachments count";
            goto fail;
        }
        out->attachments = (int)v;
        i++;
    }

    if (i < len && buf[i] == '/') {
        size_t start = i;
        while (i < len && buf[i] != ',') {
            unsigned char c = (unsigned char)buf[i];
            if (i - start >= SIO_NSP_MAX) {
                reason = "namespace too long";
                goto fail;
            }
            if (c < 0x20 || c > 0x7e) {
                reason = "invalid namespace";
                goto fail;
            }
            i++;
        }
        memcpy(out->nsp, buf + start, i - start);
        out->nsp[i - start] = '\0';
        if (i < len) i++; /* the comma */
    }

    size_t id_start = i;
    nd = parse_uint(buf, len, &i, SIO_ID_MAX, &v);
    if (nd < 0) {
        reason = "ack id out of range";
        goto fail;
    }
    if (nd > 0) out->id = (int64_t)v;

    if (i < len) {
        json_error_t err;

        if (buf[i] == '-') {
            reason = !binary && nd > 0 && id_start == 1 ? "attachments on a non-binary packet"
                                                        : "invalid ack id";
            goto fail;
        }
        if (buf[i] != '[' && buf[i] != '{') {
            reason = "invalid JSON";
            goto fail;
        }
        reason = json_prescan(buf + i, len - i, max_depth, max_values, max_args);
        if (reason != NULL) goto fail;
        /* jansson checks the JSON ends the input (bar whitespace, refused
         * below) and caps nesting at 2048. \u0000 is valid JSON and is let
         * through: handlers read strings with sio_str(), which refuses an
         * embedded NUL, so such input gets an error ack, not a hang-up. */
        out->data = json_loadb(buf + i, len - i, JSON_ALLOW_NUL, &err);
        if (out->data == NULL) {
            switch (json_error_code(&err)) {
            case json_error_end_of_input_expected:
                reason = "bytes after the JSON";
                break;
            case json_error_stack_overflow:
                reason = "JSON nested too deep";
                break;
            default:
                reason = "invalid JSON";
            }
            goto fail;
        }
        if (buf[len - 1] != ']' && buf[len - 1] != '}') {
            reason = "bytes after the JSON";
            goto fail;
        }
    }

    reason = check_payload(out, max_event_name, max_args);
    if (reason != NULL) goto fail;
    if (why != NULL) *why = NULL;
    return 0;

fail:
    sio_packet_clear(out);
    if (why != NULL) *why = reason;
    return -1;
}

char *sio_packet_encode(const sio_packet *p, size_t headroom, size_t *len) {
    /* type, attachments and '-', nsp and ',', id: all bounded */
    char head[1 + 11 + 1 + SIO_NSP_MAX + 1 + 20 + 1];
    size_t hlen;
    char *json = NULL;
    size_t jlen = 0;
    char *buf;

    assert(p->type >= SIO_CONNECT && p->type <= SIO_BINARY_ACK);
    assert(strnlen(p->nsp, sizeof p->nsp) <= SIO_NSP_MAX);
    assert(strchr(p->nsp, ',') == NULL);
    assert(p->id <= SIO_ID_MAX);

    hlen = (size_t)snprintf(head, sizeof head, "%d", (int)p->type);
    if (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK) {
        assert(p->attachments >= 0);
        hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "%d-", p->attachments);
    }
    if (p->nsp[0] != '\0' && strcmp(p->nsp, "/") != 0)
        hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "%s,", p->nsp);
    if (p->id >= 0) hlen += (size_t)snprintf(head + hlen, sizeof head - hlen, "%" PRId64, p->id);
    assert(hlen < sizeof head);

    if (p->data != NULL) {
        json = json_dumps(p->data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (json == NULL) return NULL;
        jlen = strlen(json);
    }
    if (headroom > SIZE_MAX - hlen - jlen - 1) {
        free(json);
        return NULL;
    }
    buf = malloc(headroom + hlen + jlen + 1);
    if (buf != NULL) {
        memcpy(buf + headroom, head, hlen);
        if (jlen > 0) memcpy(buf + headroom + hlen, json, jlen);
        buf[headroom + hlen + jlen] = '\0';
        *len = hlen + jlen;
    }
    free(json);
    return buf;
}

static size_t json_cost(const json_t *j, size_t sum, size_t cap) {
    if (sum > cap) return sum;
    sum += SIO_JSON_NODE_COST;
    if (json_is_string(j)) return sum + json_string_length(j);
    size_t idx;
    const char *key;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, idx, v) {
            sum = json_cost(v, sum, cap);
            if (sum > cap) break;
        }
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v) {
            sum = json_cost(v, sum + strlen(key), cap);
            if (sum > cap) break;
        }
    }
    return sum;
}

size_t sio_json_cost(const json_t *j, size_t cap) {
    return j ? json_cost(j, 0, cap) : 0;
}

/* Marks the placeholders under j in seen; -1 on a malformed or repeated one. */
static int mark_placeholders(const json_t *j, unsigned char *seen, int attachments, int *count) {
    size_t idx;
    const char *key;
    json_t *v;

    if (json_is_object(j)) {
        if (json_is_true(json_object_get(j, "_placeholder"))) {
            const json_t *num = json_object_get(j, "num");
            json_int_t n;

            if (!json_is_integer(num)) return -1;
            n = json_integer_value(num);
            if (n < 0 || n >= attachments || seen[n]) return -1;
            seen[n] = 1;
            (*count)++;
            return 0;
        }
        json_object_foreach((json_t *)j, key, v) {
            if (mark_placeholders(v, seen, attachments, count) < 0) return -1;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, idx, v) {
            if (mark_placeholders(v, seen, attachments, count) < 0) return -1;
        }
    }
    return 0;
}

int sio_placeholders_check(const json_t *data, int attachments) {
    unsigned char *seen = NULL;
    int count = 0;
    int rc = -1;

    if (attachments < 0) return -1;
    if (attachments > 0) {
        seen = calloc((size_t)attachments, 1);
        if (seen == NULL) return -1;
    }
    if (data != NULL && mark_placeholders(data, seen, attachments, &count) < 0) goto out;
    rc = count == attachments ? 0 : -1;
out:
    free(seen);
    return rc;
}

const char *sio_str(const json_t *v) {
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}
