# Order management system -- one Makefile for every C component.
#
#   make            build the four services (build/release/bin)
#   make run        run the whole system in the foreground (Ctrl-C stops it)
#   make up/down    the same in the background / stop everything
#   make test       every test suite (unit, integration, Pulsar, black-box, ...)
#   make coverage   line and branch coverage of the unit, integration and black-box suites
#   make bench      benchmarks;  make chaos  fault injection;  make fuzz  fuzzers
#   make SANITIZE=1 ...   the ASan+UBSan build (build/asan), used by the tests
.DEFAULT_GOAL := all

include mk/common.mk
include lib/oms/module.mk
include lib/pulsar/module.mk
include services/order-service/module.mk
include services/inventory-service/module.mk
include services/payment-service/module.mk
include api-gateway/module.mk
include tools/loadgen/module.mk
include tools/omsctl/module.mk

.PHONY: all programs tests unit-tests clean run up down test coverage containers-test bench chaos fuzz deps
all: programs
programs: $(PROGRAMS)
tests: $(UNIT_TESTS) $(INTEGRATION_TESTS) $(PULSAR_TESTS)

# Runs the unit tests of the current build flavour (no I/O needed).
unit-tests: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# Lists of test binaries, for scripts/test.sh.
print-%:
	@echo $($*)

deps:
	@scripts/deps.sh

run: deps
	@scripts/oms.sh run
up: deps
	@scripts/oms.sh up
down:
	@scripts/oms.sh down
test:
	@scripts/test.sh
coverage:
	@scripts/coverage.sh
# The images and docker-compose.yml run with podman (as root; the suite
# `containers` of make test: infrastructure/containers/containers.sh test).
containers-test:
	@TEST_SUITES="python-env containers" scripts/test.sh
bench: deps
	@scripts/bench.sh
chaos: deps
	@scripts/chaos.sh
fuzz: deps
	@scripts/fuzz.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
