/* envelope.c -- fuzz target: lib/oms/envelope.c, the decoder of every
 * message a consumer takes from the bus (SPEC section 4).
 *
 * Properties: an accepted envelope has UUIDs where the SPEC says so, a
 * non-empty event_type and an object payload; building an envelope from the
 * parsed fields (oms_envelope_build) gives text that parses back to the same
 * fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "oms/envelope.h"
#include "oms/util.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static oms_arena *a;
    if (!a && !(a = oms_arena_create(0)))
        abort();
    oms_envelope env;
    oms_error err;
    oms_error_clear(&err);
    oms_err rc = oms_envelope_parse(a, (const char *)data, size, &env, &err);
    if (rc != OMS_OK) {
        CHECK(rc == OMS_EINVAL || rc == OMS_ENOMEM);
        CHECK(err.message[0] != '\0');
        oms_arena_reset(a);
        return 0;
    }
    CHECK(oms_uuid_valid(env.event_id));
    bool about_an_order = env.order_id[0] != '\0';
    CHECK(about_an_order ? oms_uuid_valid(env.saga_id) && oms_uuid_valid(env.order_id) : env.saga_id[0] == '\0');
    CHECK(env.event_type && env.event_type[0] != '\0');
    CHECK(json_is_object(env.payload));
    CHECK(env.correlation_id != NULL);
    char event_id[OMS_UUID_LEN + 1];
    char *text = oms_envelope_build(a, env.event_type, about_an_order ? env.saga_id : NULL,
                                    about_an_order ? env.order_id : NULL, env.correlation_id, env.payload, event_id);
    CHECK(text != NULL);
    oms_envelope back;
    CHECK(oms_envelope_parse(a, text, strlen(text), &back, &err) == OMS_OK);
    CHECK(strcmp(back.event_id, event_id) == 0);
    CHECK(strcmp(back.event_type, env.event_type) == 0);
    CHECK(strcmp(back.saga_id, env.saga_id) == 0);
    CHECK(strcmp(back.order_id, env.order_id) == 0);
    CHECK(strcmp(back.correlation_id, env.correlation_id) == 0);
    CHECK(json_equal(back.payload, env.payload));
    oms_arena_reset(a);
    return 0;
}
