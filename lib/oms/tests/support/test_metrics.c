/* test_metrics.c -- see test_metrics.h. */
#include "test_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oms/metrics.h"

long test_metric_sum(oms_arena *a, const char *name)
{
    char *text = oms_metrics_render(a, NULL);
    assert_non_null(text);
    char series[128];
    snprintf(series, sizeof series, "\n%s{", name);
    long sum = 0;
    for (const char *line = strstr(text, series); line; line = strstr(line + 1, series))
        sum += atol(strchr(line, '}') + 1);
    return sum;
}
