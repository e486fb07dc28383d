/* saga_codec.h -- a saga message's payload as JSON and back, by the field
 * rows of saga_messages.c: the table owns every member's name, type and
 * bounds, this module only walks it. Adapters only (jansson). */
#ifndef OMS_SAGA_CODEC_H
#define OMS_SAGA_CODEC_H

#include <jansson.h>

#include "arena.h"
#include "err.h"
#include "saga_messages.h"

/* The payload object of `m` into *out (one reference, the caller's).
 * OMS_EINVAL naming the member when a required string is NULL or a string
 * is not UTF-8; OMS_ENOMEM. */
oms_err oms_msg_encode(const oms_msg *m, json_t **out, oms_error *err);

/* Reads `payload` (an object) as a message of type `t` into *out. Strings
 * point into `payload`; the item array of InventoryRequested lives in `a`.
 * OMS_EINVAL with the field "payload.<member>" when a required member is
 * missing, or any member has the wrong type or breaks its bound; OMS_ENOMEM. */
oms_err oms_msg_decode(oms_arena *a, oms_msg_type t, const json_t *payload, oms_msg *out, oms_error *err);

#endif
