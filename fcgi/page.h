/* page.h -- the chat page, HTML rendered server-side with every user string escaped */
#ifndef PAGE_H
#define PAGE_H

#include <stdio.h>

#include "http.h"
#include "store.h"

/* The Content-Security-Policy of the page: no inline script or style, and
 * connections (fetch, WebSocket) to the page's own origin only: CSP 3's
 * 'self' also matches ws:/wss: to the same host and port (Chromium 80+,
 * Firefox, Safari 15.4+). */
#define PAGE_CSP                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "               \
    "frame-ancestors 'none'"

/* Fills resp with the chat page of namespace ns ("/" or a workspace): 200,
 * text/html, the CSP, the first contract_default(CONTRACT_ROOMS_PAGE) rooms of ns listed
 * server-side and the same data as JSON in a <script type="application/json" id="chat-data"> block
 * ({"namespace","rooms","offline","private"}). When st is NULL or the rooms
 * cannot be read the page still renders, with no rooms and data-offline on
 * <body>. A private workspace renders with no rooms and data-private: the
 * script asks for a token and reads them with it. */
void page_chat(store *st, const char *ns, http_response *resp);

/* Fills resp with the HTML 404 page (an invalid /w/<name>), same headers. */
void page_not_found(http_response *resp);

/* Writes s to f with & < > " ' replaced by character references. Returns 0,
 * or -1 on a write error. */
int page_html_escape(FILE *f, const char *s);

/* Writes the compact JSON of obj to f with < > & written as \u escapes, so it
 * cannot close a <script> element. Does not steal obj. Returns 0 or -1. */
int page_json_script(FILE *f, const json_t *obj);

#endif
