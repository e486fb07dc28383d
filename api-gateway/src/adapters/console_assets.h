/* console_assets.h -- the web console's static files (api-gateway/console/),
 * embedded at build time (module.mk generates the table), so the binary
 * serves /console with no files beside it, like the OpenAPI document. */
#ifndef GATEWAY_CONSOLE_ASSETS_H
#define GATEWAY_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct console_asset {
    const char *name;         /* file name: "index.html", "console.js" */
    const char *content_type; /* from the name's extension */
    const unsigned char *data;
    size_t len;
} console_asset;

extern const console_asset console_assets[];
extern const size_t console_asset_count;

/* The asset called `name` (a file name, no '/'), or NULL. */
const console_asset *console_asset_find(const char *name);

#endif
