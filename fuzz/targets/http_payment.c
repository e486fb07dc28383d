/* http_payment.c -- fuzz target: payment-service's route handlers
 * (POST /accounts, GET /accounts/{id}, GET /payments?order_id=) over the real
 * application and the service's in-memory adapters. See
 * fuzz/support/http_driver.h for the input layout. Account "cust-1"
 * (balance 100.00) exists before each input. */
#include <stdint.h>
#include <stdlib.h>

#include "adapters/http_api.h"
#include "memory_adapters.h"
#include "http_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static memory_world world;
    static oms_arena *seed_arena;
    if (!seed_arena && !(seed_arena = oms_arena_create(0)))
        abort();
    memory_world_init(&world, 100000);
    account acct = {.customer_id = "cust-1", .balance_cents = 10000};
    oms_error err;
    oms_error_clear(&err);
    if (payment_open_account(&world.app, seed_arena, oms_principal_local_admin(), &acct, &err) != OMS_OK)
        abort();
    oms_arena_reset(seed_arena);
    http_drive(payment_http_routes, payment_http_route_count, &world.app, data, size);
    return 0;
}
