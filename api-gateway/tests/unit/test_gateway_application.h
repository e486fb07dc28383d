/* test_gateway_application.h -- the application group of gateway_domain. */
#ifndef GATEWAY_TEST_APPLICATION_H
#define GATEWAY_TEST_APPLICATION_H

/* Runs the proxy and admission tests; returns the number that failed. */
int run_application_tests(void);

#endif
