/* The broker's per-topic permissions (infrastructure/pulsar/permissions.txt,
 * read by pulsar.sh and by the containers' broker) follow from the saga's message table
 * (lib/oms/saga_messages.c): the sender of a message produces its topic, the
 * consuming subscription (the service of that name) consumes it and
 * produces its dead letters to <topic>-DLQ, and nothing else is granted.
 * A topic added to the saga without its permissions would be refused by
 * the broker at the service's start. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oms/saga_messages.h"

#define PERMISSIONS_FILE "infrastructure/pulsar/permissions.txt"
#define GRANTS_MAX 64

typedef struct grant {
    char topic[64];
    char action[16];
    char role[64];
} grant;

static bool has(const grant *grants, size_t n, const grant *g)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(grants[i].topic, g->topic) == 0 && strcmp(grants[i].action, g->action) == 0 &&
            strcmp(grants[i].role, g->role) == 0)
            return true;
    }
    return false;
}

static void add(grant *grants, size_t *n, const char *topic, const char *suffix, const char *action, const char *role)
{
    grant g;
    snprintf(g.topic, sizeof g.topic, "%s%s", topic, suffix);
    snprintf(g.action, sizeof g.action, "%s", action);
    snprintf(g.role, sizeof g.role, "%s", role);
    if (!has(grants, *n, &g) && *n < GRANTS_MAX)
        grants[(*n)++] = g;
}

/* The file's "topic action role" rows; '#' starts a comment. */
static size_t scripted_grants(grant *grants)
{
    FILE *f = fopen(PERMISSIONS_FILE, "r");
    if (!f)
        fail_msg("cannot open %s (run the test from the repository root)", PERMISSIONS_FILE);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        char *comment = strchr(line, '#');
        if (comment)
            *comment = '\0';
        grant g;
        int fields = sscanf(line, "%63s %15s %63s", g.topic, g.action, g.role);
        if (fields == 3 && n < GRANTS_MAX)
            grants[n++] = g;
        else if (fields > 0)
            fail_msg("%s: a row needs topic, action and role: %s", PERMISSIONS_FILE, line);
    }
    fclose(f);
    return n;
}

static void the_brokers_permissions_follow_from_the_message_table(void **state)
{
    (void)state;
    static grant expected[GRANTS_MAX], scripted[GRANTS_MAX];
    size_t n_expected = 0;
    for (int t = 0; t < OMS_MSG_TYPE_COUNT; t++) {
        const oms_msg_def *def = oms_msg_def_of((oms_msg_type)t);
        add(expected, &n_expected, def->topic, "", "produce", def->producer);
        if (def->consumer) {
            add(expected, &n_expected, def->topic, "", "consume", def->consumer);
            add(expected, &n_expected, def->topic, "-DLQ", "produce", def->consumer);
        }
    }
    size_t n_scripted = scripted_grants(scripted);
    bool same = n_scripted == n_expected;
    for (size_t i = 0; i < n_expected; i++)
        same = same && has(scripted, n_scripted, &expected[i]);
    if (same)
        return;
    fprintf(stderr, "%s should hold these rows (in any order):\n", PERMISSIONS_FILE);
    for (size_t i = 0; i < n_expected; i++)
        fprintf(stderr, "%-25s %-8s %s\n", expected[i].topic, expected[i].action, expected[i].role);
    fail_msg("%s does not follow lib/oms/saga_messages.c", PERMISSIONS_FILE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_brokers_permissions_follow_from_the_message_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
