/* fuzz_check.h -- CHECK(cond) for the fuzz targets: an invariant the target
 * asserts about the code under test. A broken one aborts, which libFuzzer
 * reports as a crash with the input that caused it. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s: check failed: %s (line %d)\n", __FILE__, #cond, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#endif
