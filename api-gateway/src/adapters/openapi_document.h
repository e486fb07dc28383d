/* openapi_document.h -- api-gateway/openapi.yaml, embedded at build time
 * (module.mk generates the array), so the binary serves it with no files. */
#ifndef GATEWAY_OPENAPI_DOCUMENT_H
#define GATEWAY_OPENAPI_DOCUMENT_H

#include <stddef.h>

extern const unsigned char gateway_openapi_yaml[]; /* NUL-terminated */
extern const size_t gateway_openapi_yaml_len;      /* without the NUL */

#endif
