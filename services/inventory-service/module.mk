# services/inventory-service -- stock and reservations (SPEC section 2, Inventory).
INVENTORY_DIR := services/inventory-service
INVENTORY_DOMAIN := $(INVENTORY_DIR)/src/domain/inventory.c
INVENTORY_CORE := $(INVENTORY_DOMAIN) \
	$(INVENTORY_DIR)/src/application/commands.c \
	$(INVENTORY_DIR)/src/application/queries.c
INVENTORY_PG := $(INVENTORY_DIR)/src/adapters/pg_product_repo.c \
	$(INVENTORY_DIR)/src/adapters/pg_reservation_repo.c \
	$(INVENTORY_DIR)/src/adapters/pg_reconciliation.c \
	$(INVENTORY_DIR)/src/adapters/bus_consumers.c

# Sources of this service include "domain/...", "application/...", "adapters/...".
$(BUILD)/obj/$(INVENTORY_DIR)/%.o: CPPFLAGS += -I$(INVENTORY_DIR)/src

$(eval $(call oms_program,inventory-service,$(INVENTORY_CORE) $(INVENTORY_PG) \
	$(INVENTORY_DIR)/src/adapters/http_api.c $(INVENTORY_DIR)/src/main.c))

# The domain needs no I/O library; the application neither, over in-memory ports.
$(eval $(call oms_pure_test,inventory_domain,$(INVENTORY_DOMAIN) lib/oms/err.c lib/oms/ident.c \
	$(INVENTORY_DIR)/tests/unit/test_inventory_domain.c))
$(eval $(call oms_pure_test,inventory_application,$(INVENTORY_CORE) lib/oms/err.c lib/oms/ident.c lib/oms/arena.c \
	lib/oms/tx_hooks.c lib/oms/tests/support/test_tx.c lib/oms/tests/support/test_replies.c \
	lib/oms/tests/support/test_audit.c lib/oms/principal.c \
	$(INVENTORY_DIR)/tests/unit/memory_adapters.c \
	$(INVENTORY_DIR)/tests/unit/test_inventory_application.c))

$(eval $(call oms_test,integration,inventory_pg,$(INVENTORY_CORE) $(INVENTORY_PG) \
	lib/oms/tests/support/test_tx.c lib/oms/tests/support/test_pg.c \
	$(INVENTORY_DIR)/tests/integration/test_inventory_pg.c))
