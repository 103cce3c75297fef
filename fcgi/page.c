/* page.c -- the chat page, HTML rendered server-side with every user string escaped */
#include "page.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"

int page_html_escape(FILE *f, const char *s) {
    for (; *s != '\0'; s++) {
        const char *rep = NULL;

        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep != NULL ? fputs(rep, f) < 0 : putc(*s, f) == EOF) return -1;
    }
    return 0;
}

int page_json_script(FILE *f, const json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT);
    int rc = 0;

    if (text == NULL) return -1;
    /* <, > and & only occur inside JSON strings, where \u escapes mean the same. */
    for (const char *p = text; *p != '\0' && rc == 0; p++) {
        switch (*p) {
        case '<':
            rc = fputs("\\u003c", f) < 0 ? -1 : 0;
            break;
        case '>':
            rc = fputs("\\u003e", f) < 0 ? -1 : 0;
            break;
        case '&':
            rc = fputs("\\u0026", f) < 0 ? -1 : 0;
            break;
        default:
            rc = putc(*p, f) == EOF ? -1 : 0;
            break;
        }
    }
    free(text);
    return rc;
}

typedef struct page_rooms {
    json_t *array;
    bool oom;
} page_rooms;

static int page_room_cb(const store_room *room, void *ctx) {
    page_rooms *r = ctx;

    if (json_array_append_new(r->array, api_room_json(room)) != 0) {
        r->oom = true;
        return 1;
    }
    return 0;
}

/* Writes one <li> of the room list. */
static int page_room_item(FILE *f, json_t *room) {
    long long id = (long long)json_integer_value(json_object_get(room, "id"));
    long long online = (long long)json_integer_value(json_object_get(room, "online"));
    const char *name = json_string_value(json_object_get(room, "name"));

    if (fprintf(f, "<li><a class=\"room\" href=\"#room-%lld\" data-room-id=\"%lld\">", id, id) < 0)
        return -1;
    if (fputs("<span class=\"room-name\">", f) < 0) return -1;
    if (page_html_escape(f, name != NULL ? name : "") < 0) return -1;
    if (fprintf(f,
                "</span><span class=\"room-online\" title=\"online\" "
                "aria-label=\"%lld online\">%lld</span></a></li>\n",
                online, online) < 0)
        return -1;
    return 0;
}

static const char page_head[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"color-scheme\" content=\"light dark\">\n"
    "<title>Chat</title>\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<link rel=\"stylesheet\" href=\"/static/chat.css\">\n"
    "</head>\n";

static const char page_sidebar_head[] =
    "<div class=\"app\" id=\"app\">\n"
    "<aside class=\"sidebar\" id=\"sidebar\" aria-label=\"Rooms\">\n"
    "<header class=\"sidebar-head\">\n"
    "<h1 class=\"brand\">Chat</h1>\n"
    "<button type=\"button\" class=\"icon-button only-narrow\" id=\"menu-close\" "
    "aria-label=\"Close the room list\">&times;</button>\n"
    "</header>\n"
    "<form class=\"name-form\" id=\"name-form\" autocomplete=\"off\">\n"
    "<label for=\"name\">Your name</label>\n"
    "<input id=\"name\" name=\"name\" maxlength=\"32\" placeholder=\"anonymous\" "
    "spellcheck=\"false\">\n"
    "</form>\n"
    "<nav class=\"rooms\">\n"
    "<h2 class=\"rooms-title\">Rooms</h2>\n"
    "<ul class=\"room-list\" id=\"room-list\">\n";

static const char page_sidebar_tail[] =
    "</ul>\n"
    "</nav>\n"
    "<form class=\"room-form\" id=\"room-form\" autocomplete=\"off\">\n"
    "<input id=\"room-name\" name=\"room\" maxlength=\"64\" placeholder=\"New room\" required "
    "aria-label=\"New room name\">\n"
    "<button type=\"submit\">Create</button>\n"
    "</form>\n"
    "<p class=\"form-error\" id=\"room-error\" role=\"alert\" hidden></p>\n"
    "</aside>\n";

static const char page_main[] =
    "<main class=\"main\" id=\"main\">\n"
    "<header class=\"room-head\">\n"
    "<button type=\"button\" class=\"icon-button only-narrow\" id=\"menu-open\" "
    "aria-label=\"Show the room list\">&#9776;</button>\n"
    "<h2 class=\"room-title\" id=\"room-title\">Pick a room</h2>\n"
    "<span class=\"status\" id=\"status\" role=\"status\"></span>\n"
    "</header>\n"
    "<div class=\"messages-wrap\" id=\"messages-wrap\">\n"
    "<button type=\"button\" class=\"load-older\" id=\"load-older\" hidden>Load older "
    "messages</button>\n"
    "<ol class=\"messages\" id=\"messages\" aria-live=\"polite\"></ol>\n"
    "<p class=\"empty\" id=\"empty\" hidden>No messages yet. Say hello!</p>\n"
    "</div>\n"
    "<p class=\"typing\" id=\"typing\" aria-live=\"polite\"></p>\n"
    "<form class=\"composer\" id=\"composer\" autocomplete=\"off\">\n"
    "<textarea id=\"text\" name=\"text\" rows=\"1\" maxlength=\"4000\" required "
    "placeholder=\"Write a message\" aria-label=\"Message\" disabled></textarea>\n"
    "<button type=\"submit\" id=\"send\" disabled>Send</button>\n"
    "</form>\n"
    "</main>\n"
    "</div>\n";

static const char page_scripts[] = "<script src=\"/static/vendor/socket.io.min.js\"></script>\n"
                                   "<script src=\"/static/chat.js\"></script>\n"
                                   "</body>\n"
                                   "</html>\n";

/* Writes the whole page to f. Returns 0 or -1 on a write error. */
static int page_write(FILE *f, const char *ns, json_t *data, bool offline) {
    json_t *rooms = json_object_get(data, "rooms");
    size_t i;
    json_t *room;

    if (fputs(page_head, f) < 0) return -1;
    if (fputs("<body data-namespace=\"", f) < 0 || page_html_escape(f, ns) < 0) return -1;
    if (fputs(offline ? "\" data-offline=\"true\">\n" : "\">\n", f) < 0) return -1;
    if (fputs(page_sidebar_head, f) < 0) return -1;
    json_array_foreach(rooms, i, room) {
        if (page_room_item(f, room) < 0) return -1;
    }
    if (fputs(page_sidebar_tail, f) < 0 || fputs(page_main, f) < 0) return -1;
    if (fputs("<script type=\"application/json\" id=\"chat-data\">", f) < 0) return -1;
    if (page_json_script(f, data) < 0) return -1;
    if (fputs("</script>\n", f) < 0 || fputs(page_scripts, f) < 0) return -1;
    return 0;
}

void page_chat(store *st, const char *ns, http_response *resp) {
    page_rooms r = {NULL, false};
    json_t *data = NULL;
    char *html = NULL;
    size_t len = 0;
    FILE *f = NULL;
    bool offline = st == NULL;
    int rc;

    if ((r.array = json_array()) == NULL) goto oom;
    if (st != NULL) {
        rc = store_rooms_list(st, ns, page_room_cb, &r);
        if (r.oom) goto oom;
        if (rc != STORE_OK) {
            fprintf(stderr, "chat-fcgi: %s: rooms of %s: status %d: %s\n", __func__, ns, rc,
                    store_errmsg(st));
            json_array_clear(r.array);
            offline = true;
        }
    }
    data = json_pack("{s:s,s:O,s:b}", "namespace", ns, "rooms", r.array, "offline", offline);
    if (data == NULL) goto oom;
    if ((f = open_memstream(&html, &len)) == NULL) goto oom;
    rc = page_write(f, ns, data, offline);
    if (fclose(f) != 0) rc = -1;
    f = NULL;
    if (rc != 0) goto oom;
    resp->status = 200;
    http_set_body(resp, html, len);
    html = NULL;
    http_set_header(resp, "Content-Type", "text/html; charset=utf-8");
    http_set_header(resp, "Content-Security-Policy", "%s", PAGE_CSP);
    http_set_header(resp, "Referrer-Policy", "no-referrer");
    http_set_header(resp, "X-Frame-Options", "DENY");
    goto out;
oom:
    http_reply_error(resp, 500, "out of memory");
out:
    free(html);
    json_decref(data);
    json_decref(r.array);
}
