# services/inventory-service -- stock and reservations (SPEC section 2, Inventory).
INVENTORY_DIR := services/inventory-service
INVENTORY_DOMAIN := $(INVENTORY_DIR)/src/domain/inventory.c
INVENTORY_CORE := $(INVENTORY_DOMAIN) \
	$(INVENTORY_DIR)/src/application/commands.c \
	$(INVENTORY_DIR)/src/application/queries.c
INVENTORY_PG := $(INVENTORY_DIR)/src/adapters/pg_params.c \
	$(INVENTORY_DIR)/src/adapters/pg_product_repo.c \
	$(INVENTORY_DIR)/src/adapters/pg_reservation_repo.c \
	$(INVENTORY_DIR)/src/adapters/outbox_inventory_events.c \
	$(INVENTORY_DIR)/src/adapters/bus_consumers.c

$(eval $(call oms_program,inventory-service,$(INVENTORY_CORE) $(INVENTORY_PG) \
	$(INVENTORY_DIR)/src/adapters/http_api.c $(INVENTORY_DIR)/src/main.c))
# The domain test links only the domain and lib/oms/err.c: proof that the
# domain needs no I/O library.
INVENTORY_DOMAIN_TEST_SRCS := $(INVENTORY_DOMAIN) lib/oms/err.c $(INVENTORY_DIR)/tests/unit/test_inventory_domain.c
UNIT_TESTS += $(BUILD)/tests/unit/inventory_domain
$(BUILD)/tests/unit/inventory_domain: $(call objs,$(INVENTORY_DOMAIN_TEST_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)
$(eval $(call oms_test,integration,inventory_pg,$(INVENTORY_CORE) $(INVENTORY_PG) \
	$(INVENTORY_DIR)/tests/integration/test_inventory_pg.c))

# Application tests over in-memory ports: no I/O library either.
INVENTORY_APP_TEST_SRCS := $(INVENTORY_CORE) lib/oms/err.c lib/oms/arena.c \
	$(INVENTORY_DIR)/tests/unit/memory_adapters.c $(INVENTORY_DIR)/tests/unit/test_inventory_application.c
UNIT_TESTS += $(BUILD)/tests/unit/inventory_application
$(BUILD)/tests/unit/inventory_application: $(call objs,$(INVENTORY_APP_TEST_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)
