/* config_print.c -- --print-settings: a process's settings table as text
 * for people and as JSON for tools (tests/deploy compares it with the
 * deployment files and the documentation). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const kind_names[] = {
    [OMS_SETTING_TEXT] = "text",        [OMS_SETTING_INT] = "integer", [OMS_SETTING_LONG] = "integer",
    [OMS_SETTING_INT_TEXT] = "integer", [OMS_SETTING_ENUM] = "enum",   [OMS_SETTING_MONEY] = "money",
    [OMS_SETTING_PARSED] = "text",
};

static bool is_integer_kind(oms_setting_kind k)
{
    return k == OMS_SETTING_INT || k == OMS_SETTING_LONG || k == OMS_SETTING_INT_TEXT;
}

/* What the row accepts, in words. */
static void bounds_of(const oms_setting *row, char *out, size_t len)
{
    out[0] = '\0';
    if (is_integer_kind(row->kind)) {
        snprintf(out, len, "%ld..%ld", row->min, row->max);
    } else if (row->kind == OMS_SETTING_ENUM) {
        size_t used = 0;
        for (const char *const *a = row->allowed; *a && used < len; a++)
            used += (size_t)snprintf(out + used, len - used, "%s%s", a == row->allowed ? "" : "|", *a);
    } else if (row->kind == OMS_SETTING_MONEY) {
        snprintf(out, len, ">= 0.00, at most two decimals");
    } else if (row->bounds) {
        snprintf(out, len, "%s", row->bounds);
    }
}

static void print_text_row(FILE *out, const oms_setting *row, const char *module)
{
    char bounds[256];
    bounds_of(row, bounds, sizeof bounds);
    char fallback[160];
    if (row->same_as)
        snprintf(fallback, sizeof fallback, "%s's value%s%s", row->same_as, row->fallback ? ", else " : "",
                 row->fallback ? row->fallback : "");
    else
        snprintf(fallback, sizeof fallback, "%s", row->fallback ? row->fallback : "none");
    fprintf(out, "%s\n    default: %s%s\n    %s%s%s (%s)\n    %s\n", row->name, fallback,
            row->flags & OMS_SETTING_REQUIRED ? " (required)" : "", kind_names[row->kind], bounds[0] ? ": " : "",
            bounds, module, row->doc ? row->doc : "");
    if (row->flags & OMS_SETTING_FILE)
        fprintf(out, "    or the contents of the file named by %s_FILE\n", row->name);
}

static json_t *row_json(const oms_setting *row, const char *module)
{
    char bounds[256];
    bounds_of(row, bounds, sizeof bounds);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:b, s:b, s:s}", "name", row->name, "module", module,
                          "kind", kind_names[row->kind], "default", row->fallback, "same_as", row->same_as, "bounds",
                          bounds, "required", (row->flags & OMS_SETTING_REQUIRED) != 0, "secret",
                          (row->flags & OMS_SETTING_SECRET) != 0, "doc", row->doc ? row->doc : "");
    if (o)
        json_object_set_new(o, "file", json_boolean((row->flags & OMS_SETTING_FILE) != 0));
    if (o && is_integer_kind(row->kind)) {
        json_object_set_new(o, "min", json_integer(row->min));
        json_object_set_new(o, "max", json_integer(row->max));
    }
    if (o && row->kind == OMS_SETTING_ENUM) {
        json_t *allowed = json_array();
        for (const char *const *a = row->allowed; allowed && *a; a++)
            json_array_append_new(allowed, json_string(*a));
        json_object_set_new(o, "allowed", allowed);
    }
    return o;
}

static void print_json(const oms_settings *t, FILE *out)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < t->count; i++)
        json_array_append_new(rows, row_json(&t->rows[i], t->module[i]));
    json_t *doc = json_pack("{s:s, s:o?}", "process", t->process ? t->process : "", "settings", rows);
    if (!doc || json_dumpf(doc, out, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "config: cannot print the settings (out of memory)\n");
        exit(1);
    }
    fputc('\n', out);
    json_decref(doc);
}

void oms_settings_print(const oms_settings *t, FILE *out, bool json)
{
    if (json) {
        print_json(t, out);
        return;
    }
    fprintf(out, "Settings of %s (from the environment; a .env file in the working directory is read too):\n\n",
            t->process ? t->process : "this process");
    for (size_t i = 0; i < t->count; i++)
        print_text_row(out, &t->rows[i], t->module[i]);
}

void oms_settings_handle_args(const oms_settings *t, int argc, char **argv)
{
    if (argc < 2)
        return;
    bool text = strcmp(argv[1], "--print-settings") == 0 || strcmp(argv[1], "--print-settings=text") == 0;
    bool json = strcmp(argv[1], "--print-settings=json") == 0;
    if (argc == 2 && (text || json)) {
        oms_settings_print(t, stdout, json);
        exit(fflush(stdout) == 0 ? 0 : 1);
    }
    fprintf(stderr, "usage: %s [--print-settings[=text|json]]\n", argv[0]);
    exit(2);
}
