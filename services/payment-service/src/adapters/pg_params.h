/* pg_params.h -- small helpers the pg adapters share to pass values as text
 * parameters and read them back. */
#ifndef PAYMENT_PG_PARAMS_H
#define PAYMENT_PG_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "oms/arena.h"
#include "oms/err.h"
#include "oms/pg.h"

/* The decimal text of v in the arena; NULL when memory is exhausted. */
const char *pg_int_param(oms_arena *a, int64_t v);

/* The integer at row/col (0 for SQL NULL or text that is not an integer). */
int64_t pg_int_value(const PGresult *r, int row, int col);

/* A copy in the arena of the text at row/col; NULL for SQL NULL or exhaustion. */
const char *pg_text_value(oms_arena *a, const PGresult *r, int row, int col);

/* Fills err with OMS_ENOMEM and returns it. */
oms_err pg_out_of_memory(oms_error *err);

#endif
