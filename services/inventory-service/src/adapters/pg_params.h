/* pg_params.h -- small helpers the pg adapters share to pass values as text
 * parameters and read them back. */
#ifndef INVENTORY_PG_PARAMS_H
#define INVENTORY_PG_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "oms/arena.h"
#include "oms/err.h"
#include "oms/pg.h"

/* The decimal text of v in the arena; NULL when memory is exhausted. */
const char *pg_int_param(oms_arena *a, int64_t v);

/* A PostgreSQL text[] literal ({"a","b"}) of the n strings, each quoted and
 * escaped, for a `$1::text[]` parameter; NULL when memory is exhausted. */
const char *pg_text_array_param(oms_arena *a, const char *const *items, size_t n);

/* The integer at row/col (0 for SQL NULL or text that is not an integer). */
int64_t pg_int_value(const PGresult *r, int row, int col);

/* A copy in the arena of the text at row/col; NULL for SQL NULL or exhaustion. */
const char *pg_text_value(oms_arena *a, const PGresult *r, int row, int col);

/* Fills err with OMS_ENOMEM and returns it. */
oms_err pg_out_of_memory(oms_error *err);

#endif
