# services/payment-service -- accounts and payments (SPEC section 2, Payments).
PAYMENT_DIR := services/payment-service
PAYMENT_DOMAIN := $(PAYMENT_DIR)/src/domain/payment.c
PAYMENT_CORE := $(PAYMENT_DOMAIN) \
	$(PAYMENT_DIR)/src/application/commands.c \
	$(PAYMENT_DIR)/src/application/queries.c
PAYMENT_PG := $(PAYMENT_DIR)/src/adapters/pg_params.c \
	$(PAYMENT_DIR)/src/adapters/pg_account_repo.c \
	$(PAYMENT_DIR)/src/adapters/pg_payment_repo.c \
	$(PAYMENT_DIR)/src/adapters/outbox_payment_events.c \
	$(PAYMENT_DIR)/src/adapters/bus_consumers.c

$(eval $(call oms_program,payment-service,$(PAYMENT_CORE) $(PAYMENT_PG) \
	$(PAYMENT_DIR)/src/adapters/http_api.c $(PAYMENT_DIR)/src/main.c))
# The domain test links only the domain and lib/oms/err.c: proof that the
# domain needs no I/O library.
PAYMENT_DOMAIN_TEST_SRCS := $(PAYMENT_DOMAIN) lib/oms/err.c $(PAYMENT_DIR)/tests/unit/test_payment_domain.c
UNIT_TESTS += $(BUILD)/tests/unit/payment_domain
$(BUILD)/tests/unit/payment_domain: $(call objs,$(PAYMENT_DOMAIN_TEST_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS)
$(eval $(call oms_test,integration,payment_pg,$(PAYMENT_CORE) $(PAYMENT_PG) \
	$(PAYMENT_DIR)/tests/integration/test_payment_pg.c))

# Application tests over in-memory ports: no I/O library either (libuuid
# for payment ids).
PAYMENT_APP_TEST_SRCS := $(PAYMENT_CORE) lib/oms/err.c lib/oms/arena.c lib/oms/util.c \
	$(PAYMENT_DIR)/tests/unit/memory_adapters.c $(PAYMENT_DIR)/tests/unit/test_payment_application.c
UNIT_TESTS += $(BUILD)/tests/unit/payment_application
$(BUILD)/tests/unit/payment_application: $(call objs,$(PAYMENT_APP_TEST_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) -luuid
