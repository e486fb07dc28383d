/* uuid_generator.c -- see uuid_generator.h. */
#include "adapters/uuid_generator.h"

static void new_uuid(id_generator *g, char out[OMS_UUID_LEN + 1])
{
    (void)g;
    oms_uuid_new(out);
}

static const id_generator_ops ops = {.new_id = new_uuid};

id_generator uuid_generator(void) { return (id_generator){.ops = &ops, .self = NULL}; }
