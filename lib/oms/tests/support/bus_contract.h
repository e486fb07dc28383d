/* bus_contract.h -- what every oms_bus transport must do (the semantics at
 * the top of oms/bus.h), as one suite of cases run against each transport:
 * the pg bus in the integration suite, the Pulsar bus against a real broker
 * in the pulsar suite (the model: libgit2's tests/libgit2/odb/backend/).
 * A transport's driver fills a bus_contract_transport and calls
 * bus_contract_run. */
#ifndef OMS_BUS_CONTRACT_H
#define OMS_BUS_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "oms/bus.h"

/* A case the transport is known to fail today: it still runs (in a child
 * process, so that its failure stops nothing else) and its outcome is
 * printed with `why`, but it does not fail the suite. */
typedef struct bus_contract_known_failure {
    const char *name; /* the case, as bus_contract_run prints it */
    const char *why;  /* where it is tracked, e.g. "issue 11 (review M8): ..." */
} bus_contract_known_failure;

typedef struct bus_contract_transport {
    const char *name; /* "pg", "pulsar" */
    /* A new bus over the transport with these options, not started; NULL
     * with err when it cannot be made. */
    oms_bus *(*create)(const oms_bus_options *o, oms_error *err);
    /* A topic name never used before (the transport may keep its topics). */
    void (*new_topic)(const char *base, char *out, size_t len);
    /* Whether a message of `topic` with exactly `payload` reaches the dead
     * letters, "<topic>-DLQ", within timeout_ms (pg: rows of the table
     * bus_dead_letter under that topic; pulsar: the topic itself). */
    bool (*dead_lettered)(const char *topic, const char *payload, int timeout_ms);
    const bus_contract_known_failure *known_failures; /* ends with {NULL, NULL}; NULL: none */
} bus_contract_transport;

/* Runs every case against `t`; returns the number of cases that failed
 * (known failures not counted), for main's exit status. */
int bus_contract_run(const bus_contract_transport *t);

#endif
