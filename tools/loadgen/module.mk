# tools/loadgen -- the load generator of make bench / make chaos.
$(eval $(call oms_program,loadgen,tools/loadgen/loadgen.c))
