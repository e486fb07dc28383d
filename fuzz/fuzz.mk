# fuzz/fuzz.mk -- the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined).
#
#   make -f fuzz/fuzz.mk -j2            every target into build/fuzz/bin/
#   make -f fuzz/fuzz.mk print-FUZZ_TARGETS
#
# A standalone makefile, not part of the main build: the targets need clang
# (libFuzzer) while the project builds with cc. scripts/fuzz.sh builds and runs
# them (make fuzz; the short run is part of make test).
#
# Each target links only what it decodes with: the pure sources it exercises,
# lib/oms as an archive (the linker takes only the objects used) and the
# system libraries those objects need.  The HTTP targets drive the services'
# own route handlers with a fake request (fuzz/support/fake_http.c) over the
# services' in-memory adapters (their tests/unit/memory_adapters.c), so no
# database and no socket are involved.
.DEFAULT_GOAL := all
, := ,

FUZZ_CC ?= clang
FB := build/fuzz
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CPPFLAGS_F := -Ilib -I$(FB)/gen -Ifuzz/support $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql) \
	-D_GNU_SOURCE -MMD -MP
CFLAGS_F := -std=c17 -O1 -g -Wall -Wextra -Werror -pthread $(SAN) -fsanitize=fuzzer-no-link
LDFLAGS_F := -pthread $(SAN) -fsanitize=fuzzer

objs_f = $(patsubst %.c,$(FB)/obj/%.o,$(1))

$(FB)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS_F) $(CFLAGS_F) -c $< -o $@

# ---- shared libraries, rebuilt with coverage instrumentation ---------------
# lib/oms/http.c is compiled with its two request accessors renamed: the fake
# request of fuzz/support/fake_http.c answers oms_http_query/oms_http_header
# from the fuzz input instead of a libmicrohttpd connection.
# Only the modules the targets use (not the database or bus ones), so that a
# module in progress elsewhere in lib/oms does not stop the fuzz build.
OMS_SRCS_F := $(addprefix lib/oms/,arena.c err.c json.c money.c envelope.c util.c log.c metrics.c config.c tx_hooks.c \
	saga_messages.c principal.c service_auth.c sha256.c ident.c)
$(FB)/lib/liboms.a: $(call objs_f,$(OMS_SRCS_F))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

HTTP_FAKE_OBJS := $(FB)/obj/lib/oms/http_fake_accessors.o $(FB)/obj/lib/oms/http_query.o $(FB)/obj/lib/oms/http_doc.o \
	$(FB)/obj/fuzz/support/fake_http.o
$(FB)/obj/lib/oms/http_fake_accessors.o: lib/oms/http.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS_F) $(CFLAGS_F) -Doms_http_query=oms_http_query_mhd -Doms_http_header=oms_http_header_mhd \
		-c $< -o $@

PULSAR_GEN_C_F := $(FB)/gen/pulsar/pulsar_api.pb-c.c
PULSAR_GEN_H_F := $(FB)/gen/pulsar/pulsar_api.pb-c.h
$(PULSAR_GEN_C_F) $(PULSAR_GEN_H_F) &: lib/pulsar/pulsar_api.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(@D) --proto_path=lib/pulsar $<
$(call objs_f,lib/pulsar/frame.c fuzz/targets/pulsar_frame.c fuzz/targets/pulsar_batch.c): | $(PULSAR_GEN_H_F)

# Service sources include "domain/...", "application/...", "adapters/..." relative to src/.
$(FB)/obj/services/order-service/%.o: CPPFLAGS_F += -Iservices/order-service/src
$(FB)/obj/fuzz/targets/http_order.o: CPPFLAGS_F += -Iservices/order-service/src -Iservices/order-service/tests/unit
$(FB)/obj/fuzz/support/order_parked_routes.o: CPPFLAGS_F += -Iservices/order-service/src
$(FB)/obj/services/payment-service/%.o: CPPFLAGS_F += -Iservices/payment-service/src
$(FB)/obj/fuzz/targets/http_payment.o: CPPFLAGS_F += -Iservices/payment-service/src -Iservices/payment-service/tests/unit
$(FB)/obj/services/inventory-service/%.o: CPPFLAGS_F += -Iservices/inventory-service/src
$(FB)/obj/fuzz/targets/http_inventory.o: CPPFLAGS_F += -Iservices/inventory-service/src -Iservices/inventory-service/tests/unit

# ---- the targets -------------------------------------------------------------
FUZZ_TARGETS :=
# fuzz_target NAME, SOURCES, LIBS
define fuzz_target
FUZZ_TARGETS += $(FB)/bin/$(1)
$(FB)/bin/$(1): $(call objs_f,$(2)) $(FB)/lib/liboms.a
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(LDFLAGS_F) -o $$@ $(call objs_f,$(2)) $(FB)/lib/liboms.a $(3)
endef

$(eval $(call fuzz_target,json,fuzz/targets/json.c,-ljansson -luuid -lm))
$(eval $(call fuzz_target,money,fuzz/targets/money.c,))
$(eval $(call fuzz_target,envelope,fuzz/targets/envelope.c,-ljansson -luuid -lcrypto -lm))
$(eval $(call fuzz_target,dotenv,fuzz/targets/dotenv.c,-ljansson -luuid -lcrypto -lm))
$(eval $(call fuzz_target,pulsar_frame,fuzz/targets/pulsar_frame.c lib/pulsar/frame.c $(PULSAR_GEN_C_F),-lprotobuf-c))
$(eval $(call fuzz_target,pulsar_batch,fuzz/targets/pulsar_batch.c lib/pulsar/frame.c $(PULSAR_GEN_C_F),-lprotobuf-c))
$(eval $(call fuzz_target,gateway_config,fuzz/targets/gateway_config.c api-gateway/src/domain/api_keys.c \
	api-gateway/src/domain/principal.c api-gateway/src/domain/upstream_pool.c \
	api-gateway/src/domain/request_checks.c,))

# The in-memory transaction and reply helpers the services' memory adapters
# share (when present in this tree).
TEST_TX_F := $(wildcard lib/oms/tests/support/test_tx.c lib/oms/tests/support/test_replies.c lib/oms/tests/support/test_audit.c)
HTTP_LIBS := $(HTTP_FAKE_OBJS) $(FB)/lib/liboms.a -lmicrohttpd -ljansson -luuid -lcrypto -lm $(if $(TEST_TX_F),-lcmocka)
ORDER_SRCS_F := $(addprefix services/order-service/src/,domain/order.c domain/saga.c application/saga_runner.c \
	application/commands.c application/admission.c application/queries.c application/cursor.c adapters/http_api.c \
	adapters/order_json.c) \
	services/order-service/tests/unit/memory_adapters.c fuzz/support/order_parked_routes.c $(TEST_TX_F)
INVENTORY_SRCS_F := $(addprefix services/inventory-service/src/,domain/inventory.c application/commands.c \
	application/queries.c adapters/http_api.c) services/inventory-service/tests/unit/memory_adapters.c $(TEST_TX_F)
PAYMENT_SRCS_F := $(addprefix services/payment-service/src/,domain/payment.c application/commands.c \
	application/queries.c adapters/http_api.c) services/payment-service/tests/unit/memory_adapters.c $(TEST_TX_F)
$(eval $(call fuzz_target,http_order,fuzz/targets/http_order.c fuzz/support/http_driver.c $(ORDER_SRCS_F),$(HTTP_LIBS)))
$(eval $(call fuzz_target,http_inventory,fuzz/targets/http_inventory.c fuzz/support/http_driver.c \
	$(INVENTORY_SRCS_F),$(HTTP_LIBS)))
$(eval $(call fuzz_target,http_payment,fuzz/targets/http_payment.c fuzz/support/http_driver.c \
	$(PAYMENT_SRCS_F),$(HTTP_LIBS)))
$(foreach t,http_order http_inventory http_payment,$(eval $(FB)/bin/$(t): $(HTTP_FAKE_OBJS)))

.PHONY: all
all: $(FUZZ_TARGETS)

print-%:
	@echo $($*)

-include $(shell find $(FB)/obj -name '*.d' 2>/dev/null)
