/* pg_params.c -- text parameters and values for the pg adapters. */
#include "adapters/pg_params.h"

#include <stdlib.h>

const char *pg_int_param(oms_arena *a, int64_t v)
{
    return oms_arena_sprintf(a, "%lld", (long long)v);
}

int64_t pg_int_value(const PGresult *r, int row, int col)
{
    const char *v = oms_pg_value(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

const char *pg_text_value(oms_arena *a, const PGresult *r, int row, int col)
{
    const char *v = oms_pg_value(r, row, col);
    return v ? oms_arena_strdup(a, v) : NULL;
}

oms_err pg_out_of_memory(oms_error *err)
{
    return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
}
