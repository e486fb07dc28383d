/* pg_internal.h -- lib/oms only: migrations embedded in the library (the
 * outbox/inbox tables, the pg bus tables), applied by the same machinery as
 * a service's migration files. Not for services. */
#ifndef OMS_PG_INTERNAL_H
#define OMS_PG_INTERNAL_H

#include <stddef.h>

#include "pg.h"

typedef struct oms_pg_migration {
    const char *name; /* recorded in schema_migrations, e.g. "000_oms_outbox_inbox" */
    const char *sql;
} oms_pg_migration;

/* oms_pg_migrate with `builtins` applied first (in the given order), then the
 * files of `dirs` (NULL allowed). */
oms_err oms_pg_migrate_with(const oms_pg_settings *s, const oms_pg_migration *builtins, size_t builtin_count,
                            const char *const *dirs, oms_error *err);

/* The outbox/inbox migration (outbox.c). */
extern const oms_pg_migration oms_outbox_migration;

#endif
