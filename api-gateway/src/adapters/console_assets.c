/* console_assets.c -- see console_assets.h; the table itself is generated. */
#include "console_assets.h"

#include <string.h>

const console_asset *console_asset_find(const char *name)
{
    for (size_t i = 0; i < console_asset_count; i++)
        if (strcmp(console_assets[i].name, name) == 0)
            return &console_assets[i];
    return NULL;
}
