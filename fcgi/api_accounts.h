/* api_accounts.h -- the REST side of accounts: sign-up and sign-in with a
 * password (argon2id), the page's cookie session, API access and refresh
 * tokens, listing and revoking credentials, device-link codes, sign-in
 * vouched for by nginx's auth_request, and name claims (README "Accounts").
 *
 * Credentials: the page holds "chat_session=<id>.<secret>" in an HttpOnly,
 * SameSite=Strict cookie (Secure when the request came over https); API
 * clients a refresh token "<id>.<secret>" and short access tokens (HS256
 * JWTs with "sub" and "sess": <id>). The store keeps a hash of each secret
 * (sql/account.h); revoking a credential ends its access tokens and, through
 * the control log, its live sockets on every process and node. A request
 * authenticated by the cookie is refused when its Origin is another site. */
#ifndef API_ACCOUNTS_H
#define API_ACCOUNTS_H

#include <stdbool.h>

#include "api.h"

#define API_ACCOUNTS_ACCESS_TTL_S 900            /* an access token's life */
#define API_ACCOUNTS_SESSION_TTL_S (30L * 86400) /* a cookie session or refresh token */
#define API_ACCOUNTS_LINK_TTL_S 300              /* a device-link code */
#define API_ACCOUNTS_PASSWORD_MIN 8              /* bytes */
#define API_ACCOUNTS_PASSWORD_MAX 1024           /* bytes */
/* Sign-in attempts per API_ACCOUNTS_SIGNIN_WINDOW_S: per account and per
 * client address (CHAT_SIGNIN_RATE "account/address" changes them); device
 * codes tried per address and minute. */
#define API_ACCOUNTS_SIGNIN_WINDOW_S 900
#define API_ACCOUNTS_SIGNIN_ACCOUNT 10
#define API_ACCOUNTS_SIGNIN_ADDRESS 30
#define API_ACCOUNTS_CODES_MINUTE 10
#define API_ACCOUNTS_COOKIE "chat_session"

/* Whether path is one of this module's (/api/accounts, /api/sessions...,
 * /api/link-codes). */
bool api_accounts_route(const char *path);

/* The Allow header of such a path. */
const char *api_accounts_allow(const char *path);

/* Handles a request to such a path (decoded; method GET/HEAD already folded
 * into get). Returns false when the path does not answer method (the
 * router's 405). The calls:
 *   POST /api/accounts {"name","password","cookie"?} -> 201: sign up (or set
 *     the password of a name claimed earlier, with its token as bearer);
 *     then as POST /api/sessions. 409 taken; 429 over the claim rate.
 *   POST /api/sessions {"name","password"} | {"code"}, "cookie"?: true ->
 *     200: with cookie, Set-Cookie and {"name","session"}; else
 *     {"name","session","access_token","token_type","expires_in",
 *     "refresh_token"}. 401 wrong; 429 + Retry-After over the rates.
 *   POST /api/sessions/refresh {"refresh_token"} -> 200 new tokens (the old
 *     refresh token is spent; presenting a spent one revokes the session).
 *   POST /api/sessions/access (cookie) [{"workspace_token"}] -> 200
 *     {"signed_in":true,"name","session","access_token","expires_in"}: the
 *     page's token for its socket (with a private workspace's token folded in
 *     when given); {"signed_in":false} when no credential came at all.
 *   POST /api/sessions/sso -> as POST /api/sessions, for the user nginx's
 *     auth_request vouched for (CHAT_AUTH_REQUEST=1 only; else 404).
 *   GET /api/sessions[?user=] -> 200 {"sessions":[{"id","kind","label",
 *     "created_at","used_at","expires_at","current"}]} (user: admin only).
 *   DELETE /api/sessions[?user=] -> 204: every credential of the caller (or
 *     of user, admin) is revoked; DELETE /api/sessions/{id} -> 204 one.
 *   POST /api/link-codes -> 201 {"code","expires_in"}: a one-time code that
 *     signs another device in as the caller. */
bool api_accounts_handle(const api_env *env, const http_request *req, const char *path,
                         const char *method, http_response *resp);

/* POST /api/users {"name"} -> 201 {"name","token"}: the first claim of a
 * name, with its credential (a token naming the claim's credential row,
 * valid TOKEN_USER_TTL_S); 409 claimed; 400 invalid; 429 + Retry-After over
 * the address's claim rate (sql/account.h); 503 without a server secret. A
 * claim whose token is never used is forgotten after a day. With "cookie":
 * true (the page) the credential is a cookie session instead (as POST
 * /api/sessions answers), and a bearer token that owns the name trades
 * for one (200): the page's credentials kept in localStorage before
 * accounts move into the cookie. */
void api_accounts_claim(const api_env *env, const http_request *req, http_response *resp);

#endif
