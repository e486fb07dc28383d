/* bus.c -- the transport factory: a process's bus settings, and the
 * transport they choose (Redis keeps its connection types' registry in
 * connection.c, apart from socket.c and tls.c). The transports themselves
 * (bus_pg.c, lib/pulsar/bus_pulsar.c) never name each other. */
#include "bus.h"

#include <string.h>

#include "pg.h"

#define TEXT_OF(x) #x
#define TEXT_OF_VALUE(x) TEXT_OF(x)

static const char *const transports[] = {"pg", "pulsar", NULL};

void oms_bus_settings_add(oms_settings *t, oms_bus_settings *s)
{
    /* One consumer thread per subscription by default: each handles whole
     * batches in one transaction, and two would lock hot rows (a product's
     * stock) in different orders and deadlock now and then. */
    const oms_setting rows[] = {
        {.name = "MESSAGE_BUS",
         .kind = OMS_SETTING_ENUM,
         .fallback = "pg",
         .allowed = transports,
         .target = &s->transport,
         .doc = "The message transport: pg (queues in PostgreSQL) or pulsar."},
        {.name = "BUS_POSTGRES_DB",
         .kind = OMS_SETTING_TEXT,
         .fallback = "bus",
         .target = &s->pg_database,
         .doc = "pg transport: the database of the queues, on the POSTGRES_* server."},
        {.name = "BUS_MAX_REDELIVERIES",
         .kind = OMS_SETTING_INT,
         .fallback = TEXT_OF_VALUE(OMS_BUS_DEFAULT_MAX_REDELIVERIES),
         .min = 1,
         .max = 1000,
         .target = &s->options.max_redeliveries,
         .doc = "Deliveries of a failing message before it goes to <topic>-DLQ."},
        {.name = "BUS_CONSUMER_THREADS",
         .kind = OMS_SETTING_INT,
         .fallback = TEXT_OF_VALUE(OMS_BUS_DEFAULT_CONSUMER_THREADS),
         .min = 1,
         .max = 64,
         .target = &s->options.consumer_threads,
         .doc = "Consumer threads per subscription, each handling whole batches."},
        {.name = "BUS_BATCH_SIZE",
         .kind = OMS_SETTING_INT,
         .fallback = TEXT_OF_VALUE(OMS_BUS_DEFAULT_BATCH_SIZE),
         .min = 1,
         .max = 1000,
         .target = &s->options.batch_size,
         .doc = "Messages claimed and handled in one transaction."},
        {.name = "BUS_RETRY_BASE_DELAY_MS",
         .kind = OMS_SETTING_INT,
         .fallback = TEXT_OF_VALUE(OMS_BUS_DEFAULT_RETRY_BASE_DELAY_MS),
         .min = 1,
         .max = 30000,
         .target = &s->options.retry_base_delay_ms,
         .doc = "First redelivery delay, doubling per redelivery, capped at 30 s."},
        {.name = "BUS_LEASE_S",
         .kind = OMS_SETTING_INT,
         .fallback = TEXT_OF_VALUE(OMS_BUS_DEFAULT_LEASE_S),
         .min = 5,
         .max = 3600,
         .target = &s->lease_s,
         .doc = "pg transport: how long a consumer holds a claimed message before another may take it."},
    };
    oms_settings_add(t, "bus", rows, sizeof rows / sizeof rows[0]);
    oms_bus_pulsar_settings_add(t, &s->pulsar);
}

oms_bus *oms_bus_create(const oms_bus_settings *s, const char *service_name, const oms_pg_settings *server,
                        oms_error *err)
{
    oms_bus_options o = s->options;
    o.service_name = service_name;
    o.lease_ms = s->lease_s * 1000;
    if (strcmp(s->transport, "pulsar") == 0)
        return oms_bus_pulsar_create(&s->pulsar, &o, err);
    oms_pg_settings pg = *server;
    pg.dbname = s->pg_database;
    return oms_bus_pg_create(&pg, &o, err);
}
