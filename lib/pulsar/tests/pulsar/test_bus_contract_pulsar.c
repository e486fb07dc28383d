/* The bus contract (lib/oms/tests/support/bus_contract.h) against the
 * pulsar transport and a real broker (PULSAR_HOST/PULSAR_PORT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker_util.h"
#include "oms/bus.h"
#include "oms/log.h"
#include "oms/tests/support/bus_contract.h"
#include "pulsar/pulsar.h"

static char host[256], url[300];
static int port;
static oms_bus_pulsar_settings settings;

static oms_bus *create(const oms_bus_options *o, oms_error *err) { return oms_bus_pulsar_create(&settings, o, err); }

static void new_topic(const char *base, char *out, size_t len) { test_unique_topic(base, out, len); }

/* Reads <topic>-DLQ on a subscription of its own (from the earliest). */
static bool dead_lettered(const char *topic, const char *payload, int timeout_ms)
{
    char dlq[300], subscription[128];
    snprintf(dlq, sizeof dlq, "%s-DLQ", topic);
    test_unique_topic("contract-check", subscription, sizeof subscription);
    oms_error err;
    pulsar_client_options co = test_client_options();
    pulsar_client *client = pulsar_client_create(host, port, &co, &err);
    pulsar_consumer *c = client ? pulsar_consumer_create(client, dlq, subscription, NULL, &err) : NULL;
    bool found = false;
    int64_t give_up = test_now_ms() + timeout_ms;
    while (c && !found && test_now_ms() <= give_up) {
        pulsar_message *m = NULL;
        if (pulsar_consumer_receive(c, 100, &m) != OMS_OK)
            continue;
        found = strcmp(m->payload, payload) == 0;
        pulsar_consumer_ack(c, m);
        pulsar_message_free(m);
    }
    if (c)
        pulsar_consumer_close(c);
    pulsar_client_destroy(client);
    return found;
}

int main(void)
{
    oms_log_init("bus_contract_pulsar", OMS_LOG_ERROR);
    test_broker_address(host, sizeof host, &port);
    settings = test_bus_settings(host, port, url, sizeof url);
    const bus_contract_transport pulsar = {
        .name = "pulsar", .create = create, .new_topic = new_topic, .dead_lettered = dead_lettered};
    return bus_contract_run(&pulsar);
}
