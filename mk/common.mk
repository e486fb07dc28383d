# mk/common.mk -- compiler settings and the macros every module.mk uses.
#
#   $(eval $(call oms_library,NAME,SOURCES))        -> $(BUILD)/lib/NAME.a
#   $(eval $(call oms_program,NAME,SOURCES))        -> $(BUILD)/bin/NAME
#   $(eval $(call oms_test,KIND,NAME,SOURCES))      -> $(BUILD)/tests/KIND/NAME
#       KIND is unit (no I/O, always run), integration (needs PostgreSQL:
#       POSTGRES_* in the environment) or pulsar (needs a broker:
#       PULSAR_HOST/PULSAR_PORT).
#   $(eval $(call oms_pure_test,NAME,SOURCES[,LIBS])) -> $(BUILD)/tests/unit/NAME
#       a unit test linking only SOURCES, cmocka and LIBS (e.g. -luuid): no
#       liboms, no I/O library, so the build itself proves that the code under
#       test (a domain, an application over in-memory ports) needs none.
# Programs and oms_test tests link the shared libraries and every system
# library; the linker keeps only what is used. The libraries are layered, each
# using only those after it, so they link in this order without a group:
# liboms_service (a service's life and the bus factory, which names both
# transports), libpulsar (the pulsar transport), liboms (everything else).

SANITIZE ?= 0
COVERAGE ?= 0
ifeq ($(COVERAGE),1)
# gcov instrumentation for `make coverage` (scripts/coverage.sh): -O0 so that
# lines and branches map to the source one to one; no sanitizer, no hardening.
BUILD ?= build/coverage
OPT := -O0
SAN_FLAGS := --coverage
HARDEN_CPPFLAGS :=
# Without the optimiser's value ranges, gcc warns of truncations that bounded
# inputs rule out (token_claims.c's snprintf of a subject checked just before).
HARDEN_CFLAGS := -Wno-format-truncation
HARDEN_LDFLAGS :=
else ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HARDEN_CPPFLAGS :=
HARDEN_CFLAGS :=
HARDEN_LDFLAGS :=
else
BUILD ?= build/release
SAN_FLAGS :=
# Debian's hardening flags (dpkg-buildflags with hardening=+all), written out
# so that a build without dpkg-dev gets them too: checked string and memory
# functions, stack canaries and stack-clash probes, a position-independent
# executable, and the relocations made read-only before main (BIND_NOW).
# Release builds only: _FORTIFY_SOURCE hides overflows from ASan's
# interceptors. tests/deploy/test_deploy_hardening.py checks the binaries.
HARDEN_CPPFLAGS := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
HARDEN_CFLAGS := -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE -Wformat \
	-Werror=format-security
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
endif

CC ?= cc
OPT ?= -O2
CPPFLAGS += -Ilib -I$(BUILD)/gen $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql) -D_GNU_SOURCE -MMD -MP $(HARDEN_CPPFLAGS)
CFLAGS += -std=c17 $(OPT) -g -Wall -Wextra -Werror -pthread $(SAN_FLAGS) $(HARDEN_CFLAGS)
LDFLAGS += -pthread $(SAN_FLAGS) $(HARDEN_LDFLAGS)
LDLIBS += -lmicrohttpd -lgnutls -ljansson -lpq -lcurl -luuid -lprotobuf-c -lssl -lcrypto -lm
TEST_LDLIBS := -lcmocka

PROGRAMS :=
UNIT_TESTS :=
INTEGRATION_TESTS :=
PULSAR_TESTS :=
OMS_LIBS := $(BUILD)/lib/liboms_service.a $(BUILD)/lib/libpulsar.a $(BUILD)/lib/liboms.a

objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# An archive is made afresh, and also whenever its list of members changes:
# `ar` alone would keep the object of a source that was removed or renamed.
.PHONY: oms_force
define oms_library
$(BUILD)/lib/$(1).members: oms_force
	@mkdir -p $$(@D)
	@echo '$(call objs,$(2))' | cmp -s - $$@ || echo '$(call objs,$(2))' > $$@
$(BUILD)/lib/$(1).a: $(call objs,$(2)) $(BUILD)/lib/$(1).members
	@rm -f $$@
	$$(AR) rcs $$@ $(call objs,$(2))
endef

# The flags a build directory was made with: when they change (a new
# hardening flag, another OPT), every object is rebuilt instead of linking
# old objects made without them.
BUILD_FLAGS := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
ifneq ($(BUILD_FLAGS),$(file <$(BUILD)/flags))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/flags,$(BUILD_FLAGS))
endif

$(BUILD)/obj/%.o: %.c $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

define oms_program
PROGRAMS += $(BUILD)/bin/$(1)
$(BUILD)/bin/$(1): $(call objs,$(2)) $(OMS_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(2)) $(OMS_LIBS) $$(LDLIBS)
endef

define oms_test
$(if $(filter unit,$(1)),UNIT_TESTS,$(if $(filter pulsar,$(1)),PULSAR_TESTS,INTEGRATION_TESTS)) += $(BUILD)/tests/$(1)/$(2)
$(BUILD)/tests/$(1)/$(2): $(call objs,$(3)) $(OMS_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(3)) $(OMS_LIBS) $$(TEST_LDLIBS) $$(LDLIBS)
endef

define oms_pure_test
UNIT_TESTS += $(BUILD)/tests/unit/$(1)
$(BUILD)/tests/unit/$(1): $(call objs,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call objs,$(2)) $$(TEST_LDLIBS) $(3)
endef
