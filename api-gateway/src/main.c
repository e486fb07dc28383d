/* main.c -- the api-gateway process: settings, start, wait for a signal, stop. */
#include <stdio.h>
#include <stdlib.h>

#include "gateway.h"
#include "oms/log.h"
#include "oms/process.h"

int main(void)
{
    oms_process_init("api-gateway");
    static gateway_settings settings; /* large (API keys): not on the stack */
    gateway_settings_from_env(&settings);
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
