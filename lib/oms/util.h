/* util.h -- ids and time, shared by every layer. Pure C (libuuid is linked by
 * the library; the header exposes only plain types). */
#ifndef OMS_UTIL_H
#define OMS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OMS_UUID_LEN 36 /* text form without the NUL */

/* A new random (v4) UUID in lowercase text form into out[37]. */
void oms_uuid_new(char out[OMS_UUID_LEN + 1]);

/* Whether s is a UUID in canonical text form (any case). */
bool oms_uuid_valid(const char *s);

/* Milliseconds since the Unix epoch (wall clock) and on a monotonic clock. */
int64_t oms_now_ms(void);
int64_t oms_monotonic_ms(void);

/* RFC 3339 UTC with milliseconds, "2026-11-28T03:29:38.123Z", into
 * out (at least 32 bytes). Returns out. */
char *oms_time_format(int64_t epoch_ms, char *out, size_t out_len);

/* Ends s (NUL-terminated) before a UTF-8 sequence that a cut left
 * incomplete at its end, so that text cut to a byte length (snprintf into a
 * bounded buffer) stays valid for PostgreSQL and JSON (review L9). Bytes
 * before the end are not checked. Returns s. */
char *oms_utf8_trim_cut(char *s);

#endif
