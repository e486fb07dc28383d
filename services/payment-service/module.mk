# services/payment-service -- accounts and payments (SPEC section 2, Payments).
PAYMENT_DIR := services/payment-service
PAYMENT_DOMAIN := $(PAYMENT_DIR)/src/domain/payment.c
PAYMENT_CORE := $(PAYMENT_DOMAIN) \
	$(PAYMENT_DIR)/src/application/commands.c \
	$(PAYMENT_DIR)/src/application/queries.c
PAYMENT_PG := $(PAYMENT_DIR)/src/adapters/pg_account_repo.c \
	$(PAYMENT_DIR)/src/adapters/pg_payment_repo.c \
	$(PAYMENT_DIR)/src/adapters/pg_reconciliation.c \
	$(PAYMENT_DIR)/src/adapters/bus_consumers.c

# Sources of this service include "domain/...", "application/...", "adapters/...".
$(BUILD)/obj/$(PAYMENT_DIR)/%.o: CPPFLAGS += -I$(PAYMENT_DIR)/src

$(eval $(call oms_program,payment-service,$(PAYMENT_CORE) $(PAYMENT_PG) \
	$(PAYMENT_DIR)/src/adapters/http_api.c $(PAYMENT_DIR)/src/main.c))

# The domain needs no I/O library; the application neither, over in-memory
# ports (libuuid for payment ids).
$(eval $(call oms_pure_test,payment_domain,$(PAYMENT_DOMAIN) lib/oms/err.c lib/oms/ident.c \
	$(PAYMENT_DIR)/tests/unit/test_payment_domain.c))
$(eval $(call oms_pure_test,payment_application,$(PAYMENT_CORE) lib/oms/err.c lib/oms/ident.c lib/oms/arena.c lib/oms/util.c \
	lib/oms/principal.c \
	lib/oms/tx_hooks.c lib/oms/tests/support/test_tx.c lib/oms/tests/support/test_replies.c \
	lib/oms/tests/support/test_audit.c \
	$(PAYMENT_DIR)/tests/unit/memory_adapters.c \
	$(PAYMENT_DIR)/tests/unit/test_payment_application.c,-luuid))

$(eval $(call oms_test,integration,payment_pg,$(PAYMENT_CORE) $(PAYMENT_PG) \
	lib/oms/tests/support/test_tx.c lib/oms/tests/support/test_pg.c \
	$(PAYMENT_DIR)/tests/integration/test_payment_pg.c))
