# api-gateway -- the HTTP entry point of SPEC section 2: routes to the three
# services with keep-alive, balancing and failover; principals and roles
# (API keys, JWTs: SPEC 7); rate limits.
#
#   build/<flavour>/bin/api-gateway
#   build/<flavour>/tests/unit/gateway_domain   domain and application, no I/O
#   build/<flavour>/tests/unit/gateway_proxy    the gateway in-process against
#                                               fake services on loopback
#   build/<flavour>/tests/unit/gateway_auth     credentials end to end: keys and
#                                               tokens the test makes (libjwt,
#                                               OpenSSL), a capturing service

GATEWAY_DOMAIN_SRCS := \
	api-gateway/src/domain/token_bucket.c \
	api-gateway/src/domain/rate_limiter.c \
	api-gateway/src/domain/upstream_pool.c \
	api-gateway/src/domain/gateway_routes.c \
	api-gateway/src/domain/principal.c \
	api-gateway/src/domain/api_keys.c \
	api-gateway/src/domain/token_claims.c \
	api-gateway/src/domain/request_checks.c \
	api-gateway/src/domain/reconcile_rules.c

GATEWAY_OPENAPI_C := $(BUILD)/gen/api-gateway/openapi_document.c
GATEWAY_CONSOLE_C := $(BUILD)/gen/api-gateway/console_assets_data.c
GATEWAY_CONSOLE_FILES := $(sort $(wildcard api-gateway/console/*.html api-gateway/console/*.css \
	api-gateway/console/*.js))

GATEWAY_APPLICATION_SRCS := \
	api-gateway/src/application/proxy.c \
	api-gateway/src/application/admission.c

GATEWAY_SRCS := $(GATEWAY_DOMAIN_SRCS) $(GATEWAY_APPLICATION_SRCS) \
	api-gateway/src/adapters/curl_upstream.c \
	api-gateway/src/adapters/system_clock.c \
	api-gateway/src/adapters/http_api.c \
	api-gateway/src/adapters/reconciler.c \
	api-gateway/src/adapters/timeline.c \
	api-gateway/src/adapters/jwt_verifier.c \
	api-gateway/src/adapters/sha256_fingerprint.c \
	api-gateway/src/adapters/console_assets.c \
	api-gateway/src/gateway.c \
	$(GATEWAY_OPENAPI_C) \
	$(GATEWAY_CONSOLE_C)

# The OpenAPI document as a C array, so that the binary serves it without
# the repository (od and sed are in every base image).
$(GATEWAY_OPENAPI_C): api-gateway/openapi.yaml
	@mkdir -p $(@D)
	{ echo '/* generated from api-gateway/openapi.yaml by api-gateway/module.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char gateway_openapi_yaml[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; \
	  echo 'const size_t gateway_openapi_yaml_len = sizeof gateway_openapi_yaml - 1;'; \
	} > $@.tmp && mv $@.tmp $@

# The console's files (api-gateway/console/) as one table of C arrays, for
# the same reason; the content type follows the extension.
$(GATEWAY_CONSOLE_C): $(GATEWAY_CONSOLE_FILES) api-gateway/module.mk
	@mkdir -p $(@D)
	{ echo '/* generated from api-gateway/console/ by api-gateway/module.mk */'; \
	  echo '#include "console_assets.h"'; \
	  i=0; for f in $(GATEWAY_CONSOLE_FILES); do \
	    echo "static const unsigned char asset_$$i[] = {"; \
	    od -An -v -tx1 $$f | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '0x00};'; i=$$((i + 1)); \
	  done; \
	  echo 'const console_asset console_assets[] = {'; \
	  i=0; for f in $(GATEWAY_CONSOLE_FILES); do \
	    case $$f in *.html) t=text/html;; *.css) t=text/css;; *.js) t=text/javascript;; esac; \
	    echo "    {\"$${f##*/}\", \"$$t; charset=utf-8\", asset_$$i, sizeof asset_$$i - 1},"; \
	    i=$$((i + 1)); \
	  done; \
	  echo '};'; \
	  echo 'const size_t console_asset_count = sizeof console_assets / sizeof console_assets[0];'; \
	} > $@.tmp && mv $@.tmp $@
$(call objs,$(GATEWAY_CONSOLE_C)): CPPFLAGS += -Iapi-gateway/src/adapters

# JWT signatures (libjwt) and key fingerprints (OpenSSL's libcrypto).
GATEWAY_LDLIBS := -ljwt -lcrypto
$(BUILD)/bin/api-gateway $(BUILD)/tests/unit/gateway_proxy $(BUILD)/tests/unit/gateway_auth: LDLIBS += $(GATEWAY_LDLIBS)

$(eval $(call oms_program,api-gateway,$(GATEWAY_SRCS) api-gateway/src/main.c))
$(eval $(call oms_test,unit,gateway_domain,$(GATEWAY_DOMAIN_SRCS) $(GATEWAY_APPLICATION_SRCS) \
	api-gateway/tests/unit/test_gateway_domain.c api-gateway/tests/unit/test_gateway_application.c))
GATEWAY_HARNESS := api-gateway/tests/support/gateway_harness.c
$(eval $(call oms_test,unit,gateway_proxy,$(GATEWAY_SRCS) $(GATEWAY_HARNESS) \
	api-gateway/tests/integration/test_gateway_proxy.c))
$(eval $(call oms_test,unit,gateway_auth,$(GATEWAY_SRCS) $(GATEWAY_HARNESS) \
	api-gateway/tests/integration/test_gateway_auth.c))
