/* chat_json.c -- the JSON of a room and a message, one shape for REST and sockets */
#include "chat_json.h"

#include "contract.h"

json_t *chat_json_room(const store_room *room) {
    return json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)room->id, "name", room->name,
                     "namespace", room->ns, "created_at", (json_int_t)room->created_at, "online",
                     (json_int_t)room->online, "last_message_id",
                     (json_int_t)room->last_message_id);
}

json_t *chat_json_message(const store_message *msg) {
    json_t *obj = json_pack("{s:I,s:s,s:I,s:s,s:s,s:I}", "id", (json_int_t)msg->id, "room",
                            msg->room != NULL ? msg->room : "", "room_id", (json_int_t)msg->room_id,
                            "user", msg->user != NULL ? msg->user : "", "text",
                            msg->text != NULL ? msg->text : "", "ts", (json_int_t)msg->ts);

    if (obj != NULL && msg->client_id != NULL &&
        json_object_set_new(obj, "client_id", json_string(msg->client_id)) != 0) {
        json_decref(obj);
        return NULL;
    }
    if (obj != NULL && msg->edited_at > 0 &&
        json_object_set_new(obj, "edited_at", json_integer(msg->edited_at)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *chat_json_event(const store_message *msg, const char **event) {
    const char *room = msg->room != NULL ? msg->room : "";
    const char *user = msg->user != NULL ? msg->user : "";
    switch (msg->kind) {
    case STORE_EVENT_EDIT:
        *event = "message edited";
        return json_pack("{s:I,s:s,s:I,s:s,s:s,s:I}", "id", (json_int_t)msg->target, "room", room,
                         "room_id", (json_int_t)msg->room_id, "user", user, "text",
                         msg->text != NULL ? msg->text : "", "edited_at", (json_int_t)msg->ts);
    case STORE_EVENT_DELETE:
        *event = "message deleted";
        return json_pack("{s:I,s:s,s:I,s:s,s:I}", "id", (json_int_t)msg->target, "room", room,
                         "room_id", (json_int_t)msg->room_id, "by", user, "ts",
                         (json_int_t)msg->ts);
    default:
        *event = "chat message";
        return chat_json_message(msg);
    }
}

json_t *chat_json_sanction(const char *ns, const char *kind, const char *user, const char *address,
                           int64_t until, bool with_address) {
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:b}", "namespace", ns, "kind", kind, "user", user,
                     "address", address != NULL ? address : "", "until", (json_int_t)until,
                     "with_address", with_address);
}

int chat_json_sanction_duration(const json_t *body, int64_t *ms) {
    json_t *minutes = json_object_get(body, "minutes"), *seconds = json_object_get(body, "seconds");
    const contract_limit *l = contract_get(CONTRACT_SANCTION_MINUTES);
    *ms = -1;
    if (minutes != NULL && !json_is_null(minutes)) {
        if (!json_is_integer(minutes) || json_integer_value(minutes) < l->min ||
            json_integer_value(minutes) > l->max)
            return -1;
        *ms = json_integer_value(minutes) * 60000;
    } else if (seconds != NULL && !json_is_null(seconds)) {
        if (!json_is_integer(seconds) || json_integer_value(seconds) < 1 ||
            json_integer_value(seconds) > l->max * 60)
            return -1;
        *ms = json_integer_value(seconds) * 1000;
    }
    return 0;
}
