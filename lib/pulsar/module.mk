# lib/pulsar -- the Pulsar client and the pulsar bus transport.
#
# pulsar_api.proto is compiled by protoc-c into $(BUILD)/gen/pulsar/; the
# sources include "pulsar/pulsar_api.pb-c.h" (-I$(BUILD)/gen is in CPPFLAGS).
PULSAR_GEN_DIR := $(BUILD)/gen/pulsar
PULSAR_GEN_C := $(PULSAR_GEN_DIR)/pulsar_api.pb-c.c
PULSAR_GEN_H := $(PULSAR_GEN_DIR)/pulsar_api.pb-c.h

$(PULSAR_GEN_C) $(PULSAR_GEN_H) &: lib/pulsar/pulsar_api.proto
	@mkdir -p $(PULSAR_GEN_DIR)
	protoc-c --c_out=$(PULSAR_GEN_DIR) --proto_path=lib/pulsar $<

PULSAR_SRCS := $(wildcard lib/pulsar/*.c)
PULSAR_TOOL_SRCS := lib/pulsar/tools/pulsar_tool.c
PULSAR_TEST_SRCS := $(wildcard lib/pulsar/tests/unit/*.c lib/pulsar/tests/pulsar/*.c)

# Every object of this module needs the generated header before it compiles
# (after the first build, the .d files track it precisely).
$(call objs,$(PULSAR_SRCS) $(PULSAR_TOOL_SRCS) $(PULSAR_TEST_SRCS)): | $(PULSAR_GEN_H)

$(eval $(call oms_library,libpulsar,$(PULSAR_SRCS) $(PULSAR_GEN_C)))

$(eval $(call oms_program,oms-pulsar,$(PULSAR_TOOL_SRCS)))

$(eval $(call oms_test,unit,pulsar_frame,lib/pulsar/tests/unit/test_pulsar_frame.c))
$(eval $(call oms_pure_test,pulsar_url,lib/pulsar/tests/unit/test_pulsar_url.c lib/pulsar/url.c))
$(eval $(call oms_test,unit,pulsar_permissions,lib/pulsar/tests/unit/test_pulsar_permissions.c))
$(eval $(call oms_pure_test,pulsar_key_order,lib/pulsar/tests/unit/test_key_order.c lib/pulsar/key_order.c))
# consumer.c alone, its connection and client replaced by the test's doubles,
# malloc wrapped so that the test can make one allocation fail.
PULSAR_WRAP_MALLOC := -Wl,--wrap=malloc
$(eval $(call oms_pure_test,pulsar_consumer,lib/pulsar/tests/unit/test_pulsar_consumer.c lib/pulsar/consumer.c \
	lib/pulsar/frame.c lib/oms/err.c $(PULSAR_GEN_C),-lprotobuf-c $(PULSAR_WRAP_MALLOC)))
$(eval $(call oms_test,pulsar,pulsar_broker,lib/pulsar/tests/pulsar/test_pulsar_broker.c \
	lib/pulsar/tests/pulsar/broker_util.c))
$(eval $(call oms_test,pulsar,pulsar_bus_contract,lib/pulsar/tests/pulsar/test_bus_contract_pulsar.c \
	lib/pulsar/tests/pulsar/broker_util.c lib/oms/tests/support/bus_contract.c lib/oms/tests/support/test_bus.c))
$(eval $(call oms_test,pulsar,pulsar_bus,lib/pulsar/tests/pulsar/test_pulsar_bus.c \
	lib/pulsar/tests/pulsar/broker_util.c lib/oms/tests/support/test_bus.c))
$(eval $(call oms_test,pulsar,pulsar_security,lib/pulsar/tests/pulsar/test_pulsar_security.c \
	lib/pulsar/tests/pulsar/broker_util.c))
