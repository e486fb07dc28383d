/* main.c -- the api-gateway process: settings, start, wait for a signal, stop. */
#include <stdio.h>
#include <stdlib.h>

#include "gateway.h"
#include "oms/config.h"
#include "oms/log.h"
#include "oms/process.h"

int main(int argc, char **argv)
{
    static gateway_settings settings; /* large (API keys): not on the stack */
    static oms_settings table;
    oms_process_settings process;
    oms_settings_init(&table, "api-gateway");
    oms_process_settings_add(&table, &process);
    gateway_settings_add(&table, &settings);
    oms_settings_handle_args(&table, argc, argv);
    oms_settings_load(&table, ".env");
    gateway_settings_check(&settings);
    oms_process_init("api-gateway", &process);
    oms_error err;
    oms_error_clear(&err);
    gateway *g = gateway_start(&settings, &err);
    if (!g) {
        oms_log(OMS_LOG_ERROR, "start_failed", "message", err.message, NULL);
        fprintf(stderr, "api-gateway: %s\n", err.message);
        return 1;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", settings.port);
    oms_log(OMS_LOG_INFO, "started", "port", port, NULL);
    oms_process_wait(); /* logs the signal */
    gateway_stop(g);
    return 0;
}
