/* ident.h -- the identifiers clients choose: customer and product ids and
 * an Idempotency-Key (review L2). Such an id goes into URL paths, Location
 * headers, log lines and message keys, so it is plain: 1 to max characters
 * of A-Z a-z 0-9 '.' '_' ':' '-', and neither "." nor ".." (no '/', '?',
 * '#', space, control, non-ASCII or bidi character). Pure C. */
#ifndef OMS_IDENT_H
#define OMS_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The charset as the documents state it (OpenAPI's pattern is
 * ^[A-Za-z0-9._:-]+$ with the length bounds). */
#define OMS_IDENT_CHARS "letters, digits, '.', '_', ':' and '-'"

/* Whether `value` (NUL-terminated; NULL is not) is such an id of at most
 * `max` bytes. */
bool oms_ident_valid(const char *value, size_t max);

/* OMS_OK, or OMS_EINVAL naming `field` ("field must be 1 to max of ...
 * characters") in err. */
oms_err oms_ident_check(const char *value, size_t max, const char *field, oms_error *err);

#endif
