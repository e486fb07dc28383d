# lib/oms -- the shared modules, as one static library.
# libpq's header lives in /usr/include/postgresql on Debian; every module that
# includes oms/pg.h needs it, so the flag is added for the whole build here.

# liboms_service: a service process's life (service.c) and the bus factory
# (bus.c), the one place that names both transports; above libpulsar and
# liboms (see mk/common.mk).
OMS_SERVICE_SRCS := lib/oms/service.c lib/oms/bus.c
OMS_SRCS := $(filter-out $(OMS_SERVICE_SRCS),$(wildcard lib/oms/*.c))
$(eval $(call oms_library,liboms,$(OMS_SRCS)))
$(eval $(call oms_library,liboms_service,$(OMS_SERVICE_SRCS)))

# Tests: unit (no external service; oms_http uses a loopback port of its own)
# and integration (a real PostgreSQL from POSTGRES_*).
$(eval $(call oms_test,unit,oms_arena,lib/oms/tests/unit/test_arena.c))
$(eval $(call oms_test,unit,oms_money,lib/oms/tests/unit/test_money.c))
$(eval $(call oms_test,unit,oms_json,lib/oms/tests/unit/test_json.c))
$(eval $(call oms_test,unit,oms_config,lib/oms/tests/unit/test_config.c))
$(eval $(call oms_test,unit,oms_envelope,lib/oms/tests/unit/test_envelope.c))
$(eval $(call oms_test,unit,oms_metrics,lib/oms/tests/unit/test_metrics.c))
$(eval $(call oms_test,unit,oms_http,lib/oms/tests/unit/test_http.c))
$(eval $(call oms_test,unit,oms_http_tls,lib/oms/tests/unit/test_http_tls.c))
$(eval $(call oms_test,unit,oms_log,lib/oms/tests/unit/test_log.c))
$(eval $(call oms_test,unit,oms_saga_messages,lib/oms/tests/unit/test_saga_messages.c))
$(eval $(call oms_test,unit,oms_service_auth,lib/oms/tests/unit/test_service_auth.c))
$(eval $(call oms_test,unit,oms_sha256,lib/oms/tests/unit/test_sha256.c))
$(eval $(call oms_test,unit,oms_dead_letter,lib/oms/tests/unit/test_dead_letter.c))
$(eval $(call oms_test,unit,oms_ident,lib/oms/tests/unit/test_ident.c))
$(eval $(call oms_test,integration,oms_pg,lib/oms/tests/integration/test_pg.c))
$(eval $(call oms_test,integration,oms_bus_pg,lib/oms/tests/integration/test_bus_pg.c lib/oms/tests/support/test_bus.c))
$(eval $(call oms_test,integration,oms_bus_contract_pg,lib/oms/tests/integration/test_bus_contract_pg.c \
	lib/oms/tests/support/bus_contract.c lib/oms/tests/support/test_bus.c))
$(eval $(call oms_test,integration,oms_outbox,lib/oms/tests/integration/test_outbox.c lib/oms/tests/support/test_bus.c))
$(eval $(call oms_test,integration,oms_service,lib/oms/tests/integration/test_service.c))
$(eval $(call oms_test,integration,oms_bus_roles,lib/oms/tests/integration/test_bus_roles.c))
$(eval $(call oms_test,integration,oms_pg_tls,lib/oms/tests/integration/test_pg_tls.c))
