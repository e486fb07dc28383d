/* money.h -- money as integer minor units (cents). Pure C, no I/O.
 *
 * Outside, money is a decimal with at most two fraction digits ("10", "10.5",
 * "10.25"); inside it is an int64_t count of cents, never floating point. */
#ifndef OMS_MONEY_H
#define OMS_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OMS_MONEY_TEXT_MAX 32 /* enough for any int64 cents plus sign, dot, NUL */

/* Parses a plain decimal ("0", "12", "12.3", "12.30", "-4.05"; no exponent, no
 * leading '+', no spaces) into cents. OMS_EINVAL for more than two fraction
 * digits (trailing zeros beyond two, as in "1.250", are accepted: the value is
 * exact), for anything that is not a decimal, or for overflow. */
oms_err oms_money_parse(const char *text, int64_t *cents);

/* Parses the text of a JSON number (`len` bytes: "10.25", "1.025e1",
 * "1025E-2", "10.500") exactly, never through a double, into cents.
 * OMS_EINVAL when it is not a number or not a whole number of cents (a
 * non-zero digit below the second decimal, as in "10.0000000000000001";
 * zeros there are exact and accepted); OMS_ETOOLARGE when it does not fit in
 * int64 cents. */
oms_err oms_money_parse_number(const char *text, size_t len, int64_t *cents);

/* Writes cents as a decimal with exactly two fraction digits ("10.25", "0.05",
 * "-3.00") into buf (at least OMS_MONEY_TEXT_MAX bytes). Returns buf. */
char *oms_money_format(int64_t cents, char *buf);

/* a * b with overflow detection: OMS_EINVAL on overflow. */
oms_err oms_money_mul(int64_t cents, int64_t quantity, int64_t *out);

/* a + b with overflow detection: OMS_EINVAL on overflow. */
oms_err oms_money_add(int64_t a, int64_t b, int64_t *out);

#endif
