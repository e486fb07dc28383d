/* pg_params.c -- text parameters and values for the pg adapters. */
#include "adapters/pg_params.h"

#include <stdlib.h>
#include <string.h>

const char *pg_int_param(oms_arena *a, int64_t v)
{
    return oms_arena_sprintf(a, "%lld", (long long)v);
}

const char *pg_text_array_param(oms_arena *a, const char *const *items, size_t n)
{
    size_t size = 3; /* braces and NUL */
    for (size_t i = 0; i < n; i++)
        size += 2 * strlen(items[i]) + 3; /* quotes, comma, every byte possibly escaped */
    char *out = oms_arena_alloc(a, size);
    if (!out)
        return NULL;
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        *w++ = '"';
        for (const char *s = items[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *w++ = '\\';
            *w++ = *s;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
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
