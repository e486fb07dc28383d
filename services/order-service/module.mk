# services/order-service -- the order API and the saga orchestrator.
ORDER_DIR := services/order-service
ORDER_DOMAIN_SRCS := $(ORDER_DIR)/src/domain/order.c $(ORDER_DIR)/src/domain/saga.c $(ORDER_DIR)/src/domain/job.c
ORDER_APP_SRCS := $(ORDER_DIR)/src/application/saga_runner.c $(ORDER_DIR)/src/application/commands.c \
	$(ORDER_DIR)/src/application/queries.c $(ORDER_DIR)/src/application/cursor.c \
	$(ORDER_DIR)/src/application/admission.c
ORDER_PG_SRCS := $(ORDER_DIR)/src/adapters/pg_order_repo.c $(ORDER_DIR)/src/adapters/pg_saga_repo.c \
	$(ORDER_DIR)/src/adapters/pg_catalog.c \
	$(ORDER_DIR)/src/adapters/pg_read_model.c $(ORDER_DIR)/src/adapters/pg_order_outbox.c \
	$(ORDER_DIR)/src/adapters/order_json.c $(ORDER_DIR)/src/adapters/pg_job_repo.c \
	$(ORDER_DIR)/src/adapters/pg_reconciliation.c
# Dead letters and bulk jobs: the application's jobs over the bus port.
ORDER_JOB_SRCS := $(ORDER_DIR)/src/application/jobs.c $(ORDER_DIR)/src/adapters/http_ops.c
ORDER_ADAPTER_SRCS := $(ORDER_PG_SRCS) $(ORDER_DIR)/src/adapters/uuid_generator.c $(ORDER_DIR)/src/adapters/http_api.c \
	$(ORDER_DIR)/src/adapters/order_waits.c $(ORDER_DIR)/src/adapters/order_timeline.c \
	$(ORDER_DIR)/src/adapters/bus_consumers.c $(ORDER_DIR)/src/adapters/deadline_scanner.c \
	$(ORDER_DIR)/src/adapters/saga_metrics.c $(ORDER_DIR)/src/adapters/admission_resync.c

# Sources of this service include "domain/...", "application/...".
$(BUILD)/obj/$(ORDER_DIR)/%.o: CPPFLAGS += -I$(ORDER_DIR)/src

$(eval $(call oms_program,order-service,$(ORDER_DOMAIN_SRCS) $(ORDER_APP_SRCS) $(ORDER_ADAPTER_SRCS) $(ORDER_JOB_SRCS) \
	$(ORDER_DIR)/src/main.c))

# The domain needs no I/O library: the test links only the domain and the
# pure lib modules it uses.
$(eval $(call oms_pure_test,order_domain,$(ORDER_DOMAIN_SRCS) lib/oms/err.c lib/oms/ident.c lib/oms/money.c \
	$(ORDER_DIR)/tests/unit/test_order_domain.c))

# The bulk jobs' names, pace and time check (domain/job.c).
$(eval $(call oms_pure_test,order_job_domain,$(ORDER_DIR)/src/domain/job.c $(ORDER_DIR)/tests/unit/test_job_domain.c))

# The application over in-memory adapters needs no I/O library either: the
# pure lib modules it uses (its log lines and metrics are plain C; libuuid
# for util.c's ids, libcrypto for sha256.c's digest).
$(eval $(call oms_pure_test,order_application,$(ORDER_DOMAIN_SRCS) $(ORDER_APP_SRCS) lib/oms/err.c lib/oms/ident.c lib/oms/money.c \
	lib/oms/principal.c lib/oms/sha256.c \
	lib/oms/arena.c lib/oms/util.c lib/oms/log.c lib/oms/metrics.c lib/oms/tx_hooks.c lib/oms/saga_messages.c \
	lib/oms/tests/support/test_metrics.c lib/oms/tests/support/test_audit.c $(ORDER_DIR)/tests/unit/memory_adapters.c \
	$(ORDER_DIR)/tests/unit/test_order_application.c,-luuid -lcrypto))

# Against a real PostgreSQL (POSTGRES_*; database TEST_DB, default it_orders).
$(eval $(call oms_test,integration,order_pg,$(ORDER_DOMAIN_SRCS) $(ORDER_APP_SRCS) $(ORDER_PG_SRCS) \
	$(ORDER_DIR)/src/adapters/deadline_scanner.c $(ORDER_DIR)/src/adapters/bus_consumers.c \
	$(ORDER_DIR)/src/adapters/saga_metrics.c \
	$(ORDER_DIR)/src/adapters/http_api.c $(ORDER_DIR)/src/adapters/order_waits.c $(ORDER_DIR)/src/adapters/order_timeline.c \
	$(ORDER_DIR)/src/adapters/uuid_generator.c $(ORDER_JOB_SRCS) \
	lib/oms/tests/support/test_metrics.c \
	$(ORDER_DIR)/tests/integration/test_order_pg.c))
