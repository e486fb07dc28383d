/* http_inventory.c -- fuzz target: inventory-service's route handlers
 * (POST /products, POST /products/{id}/stock, GET /products?limit=,
 * GET /reservations?order_id=) over the real application and the service's
 * in-memory adapters. See fuzz/support/http_driver.h for the input layout.
 * Product "sku-1" (stock 10) exists before each input. */
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
    memory_world_init(&world);
    product p = {.product_id = "sku-1", .name = "Seed product", .stock = 10};
    product created;
    oms_error err;
    oms_error_clear(&err);
    if (inventory_create_product(&world.app, seed_arena, oms_principal_local_admin(), &p, &created, &err) != OMS_OK)
        abort();
    oms_arena_reset(seed_arena);
    http_drive(inventory_http_routes, inventory_http_route_count, &world.app, data, size);
    return 0;
}
