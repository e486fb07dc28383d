/* Unit tests of oms/metrics.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oms/metrics.h"

static void registration_is_idempotent(void **state)
{
    (void)state;
    oms_counter *a = oms_metrics_counter("t_requests_total", "Requests.", "route=\"x\"");
    oms_counter *b = oms_metrics_counter("t_requests_total", "Requests.", "route=\"x\"");
    oms_counter *c = oms_metrics_counter("t_requests_total", "Requests.", "route=\"y\"");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
}

static void render_shows_counters_gauges_histograms_and_process_memory(void **state)
{
    (void)state;
    oms_counter_add(oms_metrics_counter("t_orders_total", "Orders.", "status=\"201\""), 3);
    oms_counter_add(oms_metrics_counter("t_orders_total", "Orders.", "status=\"201\""), 2);
    oms_counter_add(oms_metrics_counter("t_orders_total", "Orders.", "status=\"400\""), 1);
    oms_gauge_set(oms_metrics_gauge("t_pending", "Pending.", NULL), 7);
    oms_histogram *h = oms_metrics_histogram("t_latency_seconds", "Latency.", "route=\"r\"");
    oms_histogram_observe(h, 0.003);
    oms_histogram_observe(h, 20);
    oms_counter_add(NULL, 1); /* accepted, does nothing */

    oms_arena *a = oms_arena_create(0);
    size_t len = 0;
    char *text = oms_metrics_render(a, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "# TYPE t_orders_total counter\n"));
    assert_non_null(strstr(text, "t_orders_total{status=\"201\"} 5\n"));
    assert_non_null(strstr(text, "t_orders_total{status=\"400\"} 1\n"));
    assert_non_null(strstr(text, "t_pending 7\n"));
    assert_non_null(strstr(text, "t_latency_seconds_bucket{route=\"r\",le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(text, "t_latency_seconds_bucket{route=\"r\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(text, "t_latency_seconds_bucket{route=\"r\",le=\"10\"} 1\n"));
    assert_non_null(strstr(text, "t_latency_seconds_bucket{route=\"r\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "t_latency_seconds_count{route=\"r\"} 2\n"));
    assert_non_null(strstr(text, "process_resident_memory_bytes "));
    assert_null(strstr(text, "process_resident_memory_bytes 0\n"));
    assert_non_null(strstr(text, "process_start_time_seconds "));
    /* HELP/TYPE once per name. */
    char *first = strstr(text, "# TYPE t_orders_total");
    assert_null(strstr(first + 1, "# TYPE t_orders_total"));
    oms_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registration_is_idempotent),
        cmocka_unit_test(render_shows_counters_gauges_histograms_and_process_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
