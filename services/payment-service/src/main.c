/* main.c -- payment-service: reads its own setting, plugs the adapters into
 * the application's ports; the start/stop sequence around it is
 * lib/oms/service.h. The only file that knows every concrete adapter. */
#include <stdint.h>

#include "adapters/bus_consumers.h"
#include "adapters/http_api.h"
#include "adapters/pg_adapters.h"
#include "application/payment_app.h"
#include "oms/config.h"
#include "oms/audit_pg.h"
#include "oms/service.h"

typedef struct payment_service {
    int64_t default_credit_cents;
    const char *fail_refunds_file; /* PAYMENT_TEST_FAIL_REFUNDS_FILE: a local run's test switch */
    account_repo accounts;
    payment_repo payments;
    oms_reply_outbox replies;
    oms_audit_log audit;
    payment_app app; /* the HTTP handlers' ctx */
    oms_saga_consumer consumer;
} payment_service;

#define DEFAULT_CREDIT_UNSET (-1)
#define LOCAL_RUN_CREDIT_CENTS 100000 /* SPEC 7: 1000.00 in a local run, so the README's first order is paid */

/* No default in the table: unset, the credit depends on OMS_LOCAL_RUN
 * (resolved in wire, once every setting is loaded). */
static void add_settings(void *ctx, oms_settings *t)
{
    payment_service *pay = ctx;
    pay->default_credit_cents = DEFAULT_CREDIT_UNSET;
    const oms_setting credit = {.name = "DEFAULT_CREDIT",
                                .kind = OMS_SETTING_MONEY,
                                .target = &pay->default_credit_cents,
                                .doc = "Opening balance of an account opened by a payment request; unset: 1000.00 "
                                       "in a local run (OMS_LOCAL_RUN=1), else 0 (no free money)."};
    const oms_setting switch_file = {
        .name = "PAYMENT_TEST_FAIL_REFUNDS_FILE",
        .kind = OMS_SETTING_TEXT,
        .target = &pay->fail_refunds_file,
        .doc = "A test switch, honoured in a local run only (OMS_LOCAL_RUN=1; refused otherwise): while this file "
               "exists every refund fails, so a compensation keeps failing (issue 12 item 3)."};
    const oms_setting rows[] = {credit, switch_file};
    oms_settings_add(t, "payment-service", rows, sizeof rows / sizeof rows[0]);
}

static oms_err wire(void *ctx, oms_service *svc, oms_error *err)
{
    payment_service *pay = ctx;
    if (pay->default_credit_cents == DEFAULT_CREDIT_UNSET)
        pay->default_credit_cents = oms_service_settings_of(svc)->local_run ? LOCAL_RUN_CREDIT_CENTS : 0;
    if (pay->fail_refunds_file && !oms_service_settings_of(svc)->local_run)
        return oms_error_set(err, OMS_EINVAL, "PAYMENT_TEST_FAIL_REFUNDS_FILE",
                             "PAYMENT_TEST_FAIL_REFUNDS_FILE is a test switch: only in a local run (OMS_LOCAL_RUN=1)");
    oms_pg_pool *pool = oms_service_pool(svc);
    pay->accounts = pg_account_repo_with_refund_switch(pay->fail_refunds_file);
    pay->payments = pg_payment_repo();
    pay->replies = oms_saga_reply_outbox();
    pay->audit = oms_pg_audit_log();
    pay->app = (payment_app){.tx = oms_pg_tx_manager(pool),
                             .accounts = &pay->accounts,
                             .payments = &pay->payments,
                             .replies = &pay->replies,
                             .audit = &pay->audit,
                             .default_credit_cents = pay->default_credit_cents};
    pay->consumer = payment_consumer(pool, &pay->app);
    return OMS_OK;
}

static oms_err subscribe(void *ctx, oms_bus *bus, oms_error *err)
{
    payment_service *pay = ctx;
    return oms_saga_subscribe(bus, &pay->consumer, err);
}

int main(int argc, char **argv)
{
    static payment_service pay;
    const oms_service_def def = {.name = "payment-service",
                                 .port = 8003,
                                 .database = "payments",
                                 .routes = payment_http_routes,
                                 .reconcile_queries = payment_reconcile_queries,
                                 .reconcile_query_count = payment_reconcile_query_count,
                                 .route_count = payment_http_route_count,
                                 .http_ctx = &pay.app,
                                 .ctx = &pay,
                                 .add_settings = add_settings,
                                 .wire = wire,
                                 .subscribe = subscribe};
    return oms_service_main(&def, argc, argv);
}
