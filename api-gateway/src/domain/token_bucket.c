/* token_bucket.c -- see token_bucket.h. */
#include "token_bucket.h"

#define MILLI 1000

int64_t token_bucket_burst(int64_t rate_per_s) { return rate_per_s > 1 ? rate_per_s : 1; }

static int64_t capacity(int64_t rate_per_s) { return token_bucket_burst(rate_per_s) * MILLI; }

void token_bucket_init(token_bucket *b, int64_t rate_per_s, int64_t now_ms)
{
    b->milli_tokens = capacity(rate_per_s);
    b->updated_ms = now_ms;
}

/* `rate_per_s` tokens per second is `rate_per_s` thousandths per ms. The
 * elapsed time is compared against the time to fill up before multiplying,
 * so a long idle period cannot overflow. */
static void refill(token_bucket *b, int64_t rate_per_s, int64_t now_ms)
{
    if (now_ms <= b->updated_ms)
        return;
    int64_t elapsed = now_ms - b->updated_ms;
    int64_t missing = capacity(rate_per_s) - b->milli_tokens;
    if (elapsed >= missing / rate_per_s + 1)
        b->milli_tokens = capacity(rate_per_s);
    else
        b->milli_tokens += elapsed * rate_per_s;
    if (b->milli_tokens > capacity(rate_per_s))
        b->milli_tokens = capacity(rate_per_s);
    b->updated_ms = now_ms;
}

bool token_bucket_take(token_bucket *b, int64_t rate_per_s, int64_t now_ms, int64_t *retry_after_ms)
{
    refill(b, rate_per_s, now_ms);
    if (b->milli_tokens >= MILLI) {
        b->milli_tokens -= MILLI;
        return true;
    }
    if (retry_after_ms) {
        int64_t missing = MILLI - b->milli_tokens;
        *retry_after_ms = (missing + rate_per_s - 1) / rate_per_s;
    }
    return false;
}
