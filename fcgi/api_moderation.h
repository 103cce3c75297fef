/* api_moderation.h -- REST for editing and deleting messages, roles, mutes,
 * bans and the audit log */
#ifndef API_MODERATION_H
#define API_MODERATION_H

#include "api.h"

/* Who acts: an admin token may do everything; a user token ("sub") acts with
 * its user's role in the namespace (README "Moderation"). 401 without a
 * valid token, 403 for a role that may not.
 *
 * PATCH /api/rooms/{id}/messages/{mid} {"text"} -> 200 the message (edited_at
 *   set); only its author, within the edit window; 403 muted or too late.
 * DELETE /api/rooms/{id}/messages/{mid} -> 204; its author, a moderator or
 *   owner of the namespace, or an admin. The text is gone from the store.
 * Both are log events: the room hears `message edited` / `message deleted`.
 * 404 unknown message (or of another room). */
void api_message_edit(const api_env *env, const http_request *req, int64_t room_id, int64_t mid,
                      http_response *resp);
void api_message_delete(const api_env *env, const http_request *req, int64_t room_id, int64_t mid,
                        http_response *resp);

/* Whether user may post in ns: false after a 403 when muted or banned
 * there (or the store's error). */
bool api_moderation_may_post(const api_env *env, const char *ns, const char *user,
                             http_response *resp);

/* /api/moderation/<what> (what: the rest of the path, e.g. "mute"):
 *   POST mute | unmute | ban | unban {"namespace"?, "user", "minutes"?,
 *     "reason"?, "address"?: bool} -> 200 {"ok","user","until"?}
 *     (moderators, owners, admins)
 *   GET  sanctions?namespace= -> {"sanctions":[...]} (moderators, owners, admins)
 *   GET  roles?namespace= -> {"roles":[{user, role, by, at}]} (anyone who may
 *     read the namespace)
 *   PUT  roles {"namespace"?, "user", "role"} -> 200 (owners, admins)
 *   GET  audit?namespace=&after=&limit= -> {"entries":[...],"more"} (admins)
 * Answers false when no such call exists (the router's 404/405). */
bool api_moderation(const api_env *env, const http_request *req, const char *method,
                    const char *what, http_response *resp);

#endif
