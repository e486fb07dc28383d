/* system_clock.c -- the real clock and UUID generator behind the ports. */
#include "adapters/pg_adapters.h"

static int64_t wall_now_ms(clock_port *c)
{
    (void)c;
    return oms_now_ms();
}

static void new_uuid(id_generator *g, char out[OMS_UUID_LEN + 1])
{
    (void)g;
    oms_uuid_new(out);
}

static const clock_port_ops clock_ops = {.now_ms = wall_now_ms};
static const id_generator_ops id_ops = {.new_id = new_uuid};

clock_port system_clock(void)
{
    return (clock_port){.ops = &clock_ops, .self = NULL};
}

id_generator uuid_generator(void)
{
    return (id_generator){.ops = &id_ops, .self = NULL};
}
