/* json.h -- helpers over jansson for the adapters (HTTP bodies, message
 * envelopes). Not for domain/: the domain never sees JSON.
 *
 * Every json_t handed out here can be tied to an arena so that it is released
 * when the request or message ends. */
#ifndef OMS_JSON_H
#define OMS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

/* Parses `len` bytes (not NUL-terminated) as one JSON value; the result is
 * released with the arena. OMS_EINVAL with a message naming the line/column on
 * bad JSON; OMS_ENOMEM when out of memory. Duplicate object keys are rejected. */
oms_err oms_json_parse(oms_arena *a, const char *text, size_t len, json_t **out, oms_error *err);

/* The same for an HTTP request body, which keeps what a client wrote:
 * - a real number (or an integer beyond 64 bits) is kept as its text, so
 *   that oms_json_money judges the amount the client wrote, not the nearest
 *   double; the readers below treat it as the number it is (a string reader
 *   refuses it, oms_json_integer says "whole number" or "from .. to ..");
 *   a caller reading such a member with jansson directly sees a string;
 * - NUL (\u0000) is allowed in string values (oms_json_string refuses it in
 *   the fields it reads), and in an object key it becomes U+FFFD, so that an
 *   extra property nobody reads cannot turn a valid body into a 400.
 * Errors name the line and column of the text as sent. */
oms_err oms_json_parse_request(oms_arena *a, const char *text, size_t len, json_t **out, oms_error *err);

/* Ties `v` (one reference) to the arena: json_decref at reset. Returns v, or
 * NULL when v is NULL or memory is exhausted (v is then released). */
json_t *oms_json_own(oms_arena *a, json_t *v);

/* Field readers for request validation. Each checks presence and type and
 * bounds, and on failure fills err with OMS_EINVAL and `field` set to `path`
 * (the caller's name for it, e.g. "items[3].quantity").
 *
 * oms_json_string: a string of 1..max_len bytes (after UTF-8 validation by
 * jansson) with no control characters. When `required` is false an absent or
 * null member yields *out = NULL and OMS_OK. */
oms_err oms_json_string(const json_t *obj, const char *key, const char *path, size_t max_len, bool required,
                        const char **out, oms_error *err);

/* A JSON integer (not a real such as 1.0) in [min, max]. */
oms_err oms_json_integer(const json_t *obj, const char *key, const char *path, int64_t min, int64_t max, int64_t *out,
                         oms_error *err);

/* Money: a JSON number that is a whole number of cents, in [min_cents,
 * max_cents], into cents. Judged on the number's text as the client wrote it
 * (a document from oms_json_parse_request): 10.0000000000000001 and 10.001
 * are refused; zeros past the second decimal are exact and accepted
 * (10.500 is 10.50), so are exponents that land on whole cents (1.05e1).
 * A real in a document from oms_json_parse has no text kept and is refused. */
oms_err oms_json_money(const json_t *obj, const char *key, const char *path, int64_t min_cents, int64_t max_cents,
                       int64_t *out, oms_error *err);

/* A JSON value that dumps as the exact decimal number of `cents` ("10.25"),
 * for money in responses. Use only with oms_json_dump. */
json_t *oms_json_money_value(int64_t cents);

/* Serialises `v` compactly into the arena, writing money values made by
 * oms_json_money_value as exact decimal numbers. NULL when memory is exhausted.
 * *len_out (optional) receives the length. */
char *oms_json_dump(oms_arena *a, const json_t *v, size_t *len_out);

#endif
