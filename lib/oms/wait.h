/* wait.h -- timed waits on the monotonic clock, for the threads of the
 * library (the pool's free-connection wait, the relay's sleep): a wall-clock
 * jump must neither stretch nor cut a timeout. */
#ifndef OMS_WAIT_H
#define OMS_WAIT_H

#include <pthread.h>
#include <time.h>

/* Initialises `c` so that pthread_cond_timedwait takes CLOCK_MONOTONIC times. */
void oms_cond_init_monotonic(pthread_cond_t *c);

/* CLOCK_MONOTONIC now + `ms` (negative counts as 0), for such a wait. */
struct timespec oms_deadline_in(int ms);

#endif
