/* page.c -- the chat page, HTML rendered server-side with every user string escaped */
#include "page.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "chat_json.h"
#include "contract.h"
#include "log.h"

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

    if (json_array_append_new(r->array, chat_json_room(room)) != 0) {
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

/* The <head> up to the title, shared by the chat page and the 404 page. */
#define PAGE_HEAD_TO_TITLE                                                                         \
    "<!doctype html>\n"                                                                            \
    "<html lang=\"en\">\n"                                                                         \
    "<head>\n"                                                                                     \
    "<meta charset=\"utf-8\">\n"                                                                   \
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"                   \
    "<meta name=\"color-scheme\" content=\"light dark\">\n"                                        \
    "<link rel=\"icon\" href=\"data:,\">\n"                                                        \
    "<link rel=\"stylesheet\" href=\"/static/chat.css\">\n"                                        \
    "<link rel=\"stylesheet\" href=\"/static/moderation.css\">\n"                                  \
    "<title>"

/* The <head> up to the title, whose text the caller writes. */
static const char page_head[] = PAGE_HEAD_TO_TITLE;

static const char page_top[] =
    "<a class=\"skip-link\" href=\"#text\">Skip to the message box</a>\n"
    "<div class=\"banner\" id=\"banner\" role=\"status\" aria-live=\"polite\" hidden>"
    "<span class=\"banner-text\" id=\"banner-text\"></span>"
    "<button type=\"button\" class=\"banner-action\" id=\"banner-action\" hidden>Retry</button>"
    "</div>\n"
    "<div class=\"app\" id=\"app\">\n"
    "<aside class=\"sidebar\" id=\"sidebar\" aria-label=\"Rooms\">\n"
    "<header class=\"sidebar-head\">\n"
    "<h1 class=\"brand\"><span class=\"brand-mark\" aria-hidden=\"true\"></span>Chat";

static const char page_sidebar_head[] =
    "</h1>\n"
    "<button type=\"button\" class=\"icon-button only-narrow\" id=\"menu-close\" "
    "aria-label=\"Close the room list\">&times;</button>\n"
    "</header>\n"
    "<nav class=\"rooms\" aria-labelledby=\"rooms-title\">\n"
    "<h2 class=\"rooms-title\" id=\"rooms-title\">Rooms</h2>\n"
    "<ul class=\"room-list\" id=\"room-list\">\n";

/* page_sidebar_tail, page_main and page_dialogs are printf formats: their
 * maxlength attributes are the contract's (CONTRACT_*_MAX), as the server
 * counts: characters. */
static const char page_sidebar_tail[] =
    "</ul>\n"
    "</nav>\n"
    "<form class=\"room-form\" id=\"room-form\" autocomplete=\"off\">\n"
    "<input id=\"room-name\" name=\"room\" maxlength=\"%d\" placeholder=\"New room\" required "
    "aria-label=\"New room name\">\n"
    "<button type=\"submit\">Create</button>\n"
    "</form>\n"
    "<p class=\"form-error\" id=\"room-error\" role=\"alert\" hidden></p>\n"
    "<div class=\"me\" id=\"me\">\n"
    "<span class=\"avatar\" id=\"me-avatar\" aria-hidden=\"true\"></span>\n"
    "<span class=\"me-text\"><span class=\"me-name\" id=\"me-name\"></span>"
    "<span class=\"me-state\" id=\"me-state\">connecting…</span></span>\n"
    "<button type=\"button\" class=\"ghost\" id=\"change-name\" aria-label=\"Edit your name\">"
    "Edit</button>\n"
    "<button type=\"button\" class=\"ghost\" id=\"devices-open\" hidden>Devices</button>\n"
    "</div>\n"
    "</aside>\n";

static const char page_main[] =
    "<main class=\"main\" id=\"main\">\n"
    "<header class=\"room-head\">\n"
    "<button type=\"button\" class=\"icon-button only-narrow\" id=\"menu-open\" "
    "aria-label=\"Show the room list\" aria-controls=\"sidebar\" aria-expanded=\"false\">"
    "&#9776;</button>\n"
    "<div class=\"room-heading\">\n"
    "<h2 class=\"room-title\" id=\"room-title\">Pick a room</h2>\n"
    "<p class=\"room-sub\" id=\"room-sub\"></p>\n"
    "</div>\n"
    "<span class=\"status\" id=\"status\" role=\"status\"></span>\n"
    "<button type=\"button\" class=\"members-toggle\" id=\"members-toggle\" "
    "aria-controls=\"members\" aria-expanded=\"false\">Online</button>\n"
    "</header>\n"
    "<div class=\"room-body\">\n"
    "<div class=\"conversation\">\n"
    "<div class=\"messages-wrap\" id=\"messages-wrap\" tabindex=\"0\" aria-label=\"Messages\">\n"
    "<button type=\"button\" class=\"load-older\" id=\"load-older\" hidden>Load older "
    "messages</button>\n"
    "<ol class=\"messages\" id=\"messages\" aria-live=\"polite\"></ol>\n"
    "<p class=\"empty\" id=\"empty\" hidden>No messages yet. Say hello!</p>\n"
    "</div>\n"
    "<button type=\"button\" class=\"jump-latest\" id=\"jump-latest\" "
    "aria-label=\"Jump to the latest messages\" hidden>Latest "
    "<span class=\"jump-count\" id=\"jump-count\" hidden></span></button>\n"
    "<p class=\"typing\" id=\"typing\" aria-live=\"polite\"></p>\n"
    "<form class=\"composer\" id=\"composer\" autocomplete=\"off\">\n"
    "<textarea id=\"text\" name=\"text\" rows=\"1\" maxlength=\"%d\" required "
    "placeholder=\"Write a message\" aria-label=\"Message\" disabled></textarea>\n"
    "<button type=\"submit\" id=\"send\" disabled>Send</button>\n"
    "</form>\n"
    "</div>\n"
    "<aside class=\"members\" id=\"members\" aria-labelledby=\"members-title\">\n"
    "<div class=\"members-head\">\n"
    "<h3 class=\"members-title\" id=\"members-title\">Online</h3>\n"
    "<button type=\"button\" class=\"icon-button members-close\" id=\"members-close\" "
    "aria-label=\"Close the member list\">&times;</button>\n"
    "</div>\n"
    "<ul class=\"member-list\" id=\"member-list\"></ul>\n"
    "</aside>\n"
    "</div>\n"
    "</main>\n"
    "</div>\n";

/* The dialogs: the display name, and the token of a private workspace. */
static const char page_dialogs[] =
    "<div class=\"overlay\" id=\"welcome\" hidden>\n"
    "<div class=\"dialog\" role=\"dialog\" aria-modal=\"true\" aria-labelledby=\"welcome-title\">\n"
    "<form id=\"name-form\" autocomplete=\"off\">\n"
    "<h2 id=\"welcome-title\">Welcome to the chat</h2>\n"
    "<p>Choose the name the others will see. It is kept in this browser; add a "
    "password to use it on your other devices too.</p>\n"
    "<label for=\"name\">Display name</label>\n"
    "<input id=\"name\" name=\"name\" maxlength=\"%d\" required spellcheck=\"false\" "
    "autocomplete=\"username\">\n"
    "<label for=\"password\">Password <span class=\"hint\">(optional; signs in, or "
    "makes your account)</span></label>\n"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\">\n"
    "<p class=\"form-error\" id=\"name-error\" role=\"alert\" hidden></p>\n"
    "<button type=\"submit\">Start chatting</button>\n"
    "</form>\n"
    "<form id=\"code-form\" class=\"code-form\" autocomplete=\"off\">\n"
    "<label for=\"code\">Or sign in with a code from your other device</label>\n"
    "<input id=\"code\" name=\"code\" maxlength=\"9\" spellcheck=\"false\" "
    "placeholder=\"ABCD-EFGH\">\n"
    "<button type=\"submit\" class=\"ghost\">Use code</button>\n"
    "<p class=\"form-error\" id=\"code-error\" role=\"alert\" hidden></p>\n"
    "</form>\n"
    "</div>\n"
    "</div>\n"
    "<div class=\"overlay\" id=\"devices\" hidden>\n"
    "<div class=\"dialog\" role=\"dialog\" aria-modal=\"true\" aria-labelledby=\"devices-title\">\n"
    "<h2 id=\"devices-title\">Your devices</h2>\n"
    "<ul class=\"device-list\" id=\"device-list\"></ul>\n"
    "<p class=\"link-code\" id=\"link-code\" role=\"status\" hidden></p>\n"
    "<p class=\"form-error\" id=\"devices-error\" role=\"alert\" hidden></p>\n"
    "<div class=\"dialog-actions\">\n"
    "<button type=\"button\" id=\"link-device\">Link a device</button>\n"
    "<button type=\"button\" class=\"ghost\" id=\"sign-out-all\">Sign out everywhere</button>\n"
    "<button type=\"button\" class=\"ghost\" id=\"devices-close\">Close</button>\n"
    "</div>\n"
    "</div>\n"
    "</div>\n"
    "<div class=\"overlay\" id=\"gate\" hidden>\n"
    "<div class=\"dialog\" role=\"dialog\" aria-modal=\"true\" aria-labelledby=\"gate-title\">\n"
    "<form id=\"token-form\" autocomplete=\"off\">\n"
    "<h2 id=\"gate-title\">This workspace is private</h2>\n"
    "<p>Paste the access token an administrator gave you.</p>\n"
    "<label for=\"token\">Access token</label>\n"
    "<input id=\"token\" name=\"token\" type=\"password\" required spellcheck=\"false\" "
    "autocomplete=\"off\">\n"
    "<p class=\"form-error\" id=\"token-error\" role=\"alert\" hidden></p>\n"
    "<button type=\"submit\">Enter</button>\n"
    "</form>\n"
    "</div>\n"
    "</div>\n";

static const char page_scripts[] = "<script src=\"/static/vendor/socket.io.min.js\"></script>\n"
                                   "<script src=\"/static/render.js\"></script>\n"
                                   "<script src=\"/static/account.js\"></script>\n"
                                   "<script src=\"/static/chat.js\"></script>\n"
                                   "<script src=\"/static/moderation.js\"></script>\n"
                                   "</body>\n"
                                   "</html>\n";

/* The limits the page's script checks before the server does, as attributes
 * of <body> (inside its open data-namespace="..." value): data-room-name-max,
 * data-user-name-max, data-text-max, data-client-id-max,
 * data-messages-page-max, data-rooms-page-max, data-edit-window-max (ms).
 * Returns 0 or -1. */
static int page_limits(FILE *f) {
    static const contract_id shown[] = {
        CONTRACT_ROOM_NAME,     CONTRACT_USER_NAME,  CONTRACT_TEXT,       CONTRACT_CLIENT_ID,
        CONTRACT_MESSAGES_PAGE, CONTRACT_ROOMS_PAGE, CONTRACT_EDIT_WINDOW};

    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        const contract_limit *l = contract_get(shown[i]);
        if (fputs("\" data-", f) < 0) return -1;
        for (const char *p = l->name; *p; p++)
            if (fputc(*p == '_' ? '-' : *p, f) == EOF) return -1;
        if (fprintf(f, "-max=\"%lld", l->max) < 0) return -1;
    }
    return 0;
}

/* Writes the whole page to f. Returns 0 or -1 on a write error. */
static int page_write(FILE *f, const char *ns, json_t *data, bool offline, bool is_private) {
    json_t *rooms = json_object_get(data, "rooms");
    bool workspace = strcmp(ns, "/") != 0;
    size_t i;
    json_t *room;

    if (fputs(page_head, f) < 0) return -1;
    if (workspace && (page_html_escape(f, ns + 1) < 0 || fputs(" · ", f) < 0)) return -1;
    if (fputs("Chat</title>\n</head>\n<body data-namespace=\"", f) < 0) return -1;
    if (page_html_escape(f, ns) < 0) return -1;
    if (offline && fputs("\" data-offline=\"true", f) < 0) return -1;
    if (is_private && fputs("\" data-private=\"true", f) < 0) return -1;
    if (page_limits(f) < 0) return -1;
    if (fputs("\">\n", f) < 0 || fputs(page_top, f) < 0) return -1;
    if (workspace) {
        if (fputs(" <span class=\"workspace\" title=\"workspace\">", f) < 0) return -1;
        if (page_html_escape(f, ns + 1) < 0 || fputs("</span>", f) < 0) return -1;
    }
    if (fputs(page_sidebar_head, f) < 0) return -1;
    json_array_foreach(rooms, i, room) {
        if (page_room_item(f, room) < 0) return -1;
    }
    if (fprintf(f, page_sidebar_tail, CONTRACT_ROOM_NAME_MAX) < 0 ||
        fprintf(f, page_main, CONTRACT_TEXT_MAX) < 0)
        return -1;
    if (fprintf(f, page_dialogs, CONTRACT_USER_NAME_MAX) < 0) return -1;
    if (fputs("<script type=\"application/json\" id=\"chat-data\">", f) < 0) return -1;
    if (page_json_script(f, data) < 0) return -1;
    if (fputs("</script>\n", f) < 0 || fputs(page_scripts, f) < 0) return -1;
    return 0;
}

/* The headers of every HTML answer. */
static void page_headers(http_response *resp) {
    http_set_header(resp, "Content-Type", "text/html; charset=utf-8");
    http_set_header(resp, "Content-Security-Policy", "%s", PAGE_CSP);
    http_set_header(resp, "Referrer-Policy", "no-referrer");
    http_set_header(resp, "X-Frame-Options", "DENY");
}

static const char page_404[] = PAGE_HEAD_TO_TITLE
    "Not found · Chat</title>\n"
    "</head>\n"
    "<body class=\"page-error\">\n"
    "<main class=\"error-box\">\n"
    "<h1>No such workspace</h1>\n"
    "<p>Workspace names are 1 to 32 characters: lowercase letters, digits and dashes "
    "(<code>/w/my-team</code>).</p>\n"
    "<p><a href=\"/\">Go to the main chat</a></p>\n"
    "</main>\n"
    "</body>\n"
    "</html>\n";

void page_not_found(http_response *resp) {
    char *html = strdup(page_404);

    if (html == NULL) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    resp->status = 404;
    http_set_body(resp, html, sizeof page_404 - 1);
    page_headers(resp);
}

void page_chat(store *st, const char *ns, http_response *resp) {
    page_rooms r = {NULL, false};
    json_t *data = NULL;
    char *html = NULL;
    size_t len = 0;
    FILE *f = NULL;
    bool offline = st == NULL, is_private = false;
    int rc;

    if ((r.array = json_array()) == NULL) goto oom;
    if (st != NULL && strcmp(ns, "/") != 0) {
        rc = store_workspace_private(st, ns, &is_private);
        if (rc != STORE_OK) {
            log_event(LOG_LEVEL_WARN, "store error", "func", __func__, "nsp", ns, "status",
                      LOG_I(rc), "error", store_errmsg(st), NULL);
            is_private = true; /* unknown: show nothing a token would guard */
            offline = true;
        }
    }
    if (st != NULL && !is_private) {
        rc = store_rooms_list(st, ns, 0, contract_default(CONTRACT_ROOMS_PAGE), page_room_cb, &r);
        if (r.oom) goto oom;
        if (rc != STORE_OK) {
            log_event(LOG_LEVEL_WARN, "store error", "func", __func__, "nsp", ns, "status",
                      LOG_I(rc), "error", store_errmsg(st), NULL);
            json_array_clear(r.array);
            offline = true;
        }
    }
    data = json_pack("{s:s,s:O,s:b,s:b,s:I}", "namespace", ns, "rooms", r.array, "offline", offline,
                     "private", is_private, "rooms_page",
                     (json_int_t)contract_default(CONTRACT_ROOMS_PAGE));
    if (data == NULL) goto oom;
    if ((f = open_memstream(&html, &len)) == NULL) goto oom;
    rc = page_write(f, ns, data, offline, is_private);
    if (fclose(f) != 0) rc = -1;
    f = NULL;
    if (rc != 0) goto oom;
    resp->status = 200;
    http_set_body(resp, html, len);
    html = NULL;
    page_headers(resp);
    goto out;
oom:
    http_reply_error(resp, 500, "out of memory");
out:
    free(html);
    json_decref(data);
    json_decref(r.array);
}
