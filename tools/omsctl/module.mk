# tools/omsctl -- the operator's command line over the HTTP API (issue 12
# item 9): libcurl and jansson, nothing of lib/oms but the build.
$(eval $(call oms_program,omsctl,tools/omsctl/omsctl.c))
