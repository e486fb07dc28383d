/* request_checks.h -- what the gateway refuses before it forwards anything.
 * Pure C. */
#ifndef GATEWAY_REQUEST_CHECKS_H
#define GATEWAY_REQUEST_CHECKS_H

#include <stdbool.h>

/* Whether the decoded `path` is the one the services will see: it starts
 * with '/', and no segment is empty ("//", a trailing '/'), "." or "..".
 * The gateway matches a route on this path and forwards it byte for byte,
 * so a path that a URL library would normalise into another route never
 * gets that far. "/" alone is canonical. */
bool request_path_is_canonical(const char *path);

/* Whether a header value may be forwarded: no CR, LF or other control
 * character but horizontal tab, so that nothing between the gateway and a
 * service can read a second header into it. */
bool request_header_value_is_safe(const char *value);

#endif
