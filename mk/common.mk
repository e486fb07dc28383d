# mk/common.mk -- compiler settings and the three macros every module.mk uses.
#
#   $(eval $(call oms_program,NAME,SOURCES))        -> $(BUILD)/bin/NAME
#   $(eval $(call oms_test,KIND,NAME,SOURCES))      -> $(BUILD)/tests/KIND/NAME
#       KIND is unit (no I/O, always run), integration (needs PostgreSQL:
#       POSTGRES_* in the environment) or pulsar (needs a broker:
#       PULSAR_HOST/PULSAR_PORT).
#   $(eval $(call oms_pure_test,NAME,SOURCES[,LIBS])) -> $(BUILD)/tests/unit/NAME
#       a unit test linking only SOURCES, cmocka and LIBS (e.g. -luuid): no
#       liboms, no I/O library, so the build itself proves that the code under
#       test (a domain, an application over in-memory ports) needs none.
# Programs and oms_test tests link the shared libraries (liboms, libpulsar)
# and every system library; the linker keeps only what is used.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build/release
SAN_FLAGS :=
endif

CC ?= cc
OPT ?= -O2
CPPFLAGS += -Ilib -I$(BUILD)/gen $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql) -D_GNU_SOURCE -MMD -MP
CFLAGS += -std=c17 $(OPT) -g -Wall -Wextra -Werror -pthread $(SAN_FLAGS)
LDFLAGS += -pthread $(SAN_FLAGS)
LDLIBS += -lmicrohttpd -ljansson -lpq -lcurl -luuid -lprotobuf-c -lm
TEST_LDLIBS := -lcmocka

PROGRAMS :=
UNIT_TESTS :=
INTEGRATION_TESTS :=
PULSAR_TESTS :=
OMS_LIBS := $(BUILD)/lib/libpulsar.a $(BUILD)/lib/liboms.a

objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

define oms_program
PROGRAMS += $(BUILD)/bin/$(1)
$(BUILD)/bin/$(1): $(call objs,$(2)) $(OMS_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(2)) -Wl,--start-group $(OMS_LIBS) -Wl,--end-group $$(LDLIBS)
endef

define oms_test
$(if $(filter unit,$(1)),UNIT_TESTS,$(if $(filter pulsar,$(1)),PULSAR_TESTS,INTEGRATION_TESTS)) += $(BUILD)/tests/$(1)/$(2)
$(BUILD)/tests/$(1)/$(2): $(call objs,$(3)) $(OMS_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(3)) -Wl,--start-group $(OMS_LIBS) -Wl,--end-group $$(TEST_LDLIBS) $$(LDLIBS)
endef

define oms_pure_test
UNIT_TESTS += $(BUILD)/tests/unit/$(1)
$(BUILD)/tests/unit/$(1): $(call objs,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(2)) $$(TEST_LDLIBS) $(3)
endef
