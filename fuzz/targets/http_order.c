/* http_order.c -- fuzz target: order-service's route handlers (request
 * decoding and validation of POST /orders, POST /orders/{id}/cancel and the
 * query parameters of GET /orders, /sagas, ...) over the real application
 * and the service's in-memory adapters. See fuzz/support/http_driver.h for
 * the input layout. One order exists before each input: its id is
 * 00000000-0000-4000-8000-000000000001 (the in-memory id generator's first),
 * so that cancel and get can reach their success paths. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http_api.h"
#include "http_driver.h"
#include "memory_adapters.h"

static const saga_settings cfg = {.step_timeout_s = 30, .max_attempts = 3};

static void seed_order(mem_store *m, oms_arena *a)
{
    order_item item = {.product_id = "sku-1", .quantity = 2, .unit_price_cents = 1050};
    order_create_request create = {.customer_id = "cust-1", .items = &item, .item_count = 1};
    order created;
    order_create_outcome outcome;
    oms_error err;
    oms_error_clear(&err);
    mem_set_price(m, "sku-1", 1050); /* the catalog's price of the seed's product */
    if (order_create(&m->app, a, oms_principal_local_admin(), &create, "seed-key", "seed", &created, &outcome, &err) !=
        OMS_OK)
        abort();
}

/* The store as it is after seed_order: restored after each input that may
 * have changed it (a POST) by one copy -- the ports inside point at the store
 * itself, so a byte copy is a faithful restore -- which is much faster than a
 * new store every time. */
static mem_store *store, *pristine;
static bool dirty;

static void restore_store(void)
{
    if (!store) {
        oms_arena *a = oms_arena_create(0);
        store = mem_store_create(&cfg);
        pristine = malloc(sizeof *pristine);
        if (!a || !store || !pristine)
            abort();
        seed_order(store, a);
        oms_arena_destroy(a);
        memcpy(pristine, store, sizeof *store);
        return;
    }
    if (dirty)
        memcpy(store, pristine, sizeof *store);
    dirty = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    restore_store();
    http_api api = {.app = &store->app, .queries = &store->queries};
    size_t count = 0;
    const oms_http_route *routes = http_api_routes(&count);
    dirty = size > 0 && strcmp(routes[data[0] % count].method, "GET") != 0;
    http_drive(routes, count, &api, data, size);
    return 0;
}
