/* token_bucket.h -- the rate-limit arithmetic of one client, pure and exact.
 *
 * Tokens are counted in thousandths so that a refill of `rate` tokens per
 * second is exactly `rate` thousandths per millisecond: integer arithmetic,
 * no drift, testable with a fake clock (every call takes `now_ms`). */
#ifndef GATEWAY_TOKEN_BUCKET_H
#define GATEWAY_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#define TOKEN_BUCKET_MAX_RATE 1000000

typedef struct token_bucket {
    int64_t milli_tokens; /* current content, 0..capacity */
    int64_t updated_ms;   /* clock reading of the last refill */
} token_bucket;

/* The burst of a bucket refilled at `rate_per_s`: max(1, rate). */
int64_t token_bucket_burst(int64_t rate_per_s);

/* A full bucket at `now_ms` (a new client may send a whole burst at once). */
void token_bucket_init(token_bucket *b, int64_t rate_per_s, int64_t now_ms);

/* Takes one token when there is one and returns true; otherwise returns false
 * and sets *retry_after_ms (optional) to the wait until the next token.
 * `rate_per_s` is 1..TOKEN_BUCKET_MAX_RATE. A clock that goes backwards adds
 * nothing. */
bool token_bucket_take(token_bucket *b, int64_t rate_per_s, int64_t now_ms, int64_t *retry_after_ms);


#endif
