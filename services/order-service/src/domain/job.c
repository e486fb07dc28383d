/* job.c -- names and the pace of a bulk job (job.h). */
#include "domain/job.h"

#include <ctype.h>
#include <string.h>

static const char *const kind_names[JOB_KIND_COUNT] = {
    [JOB_REDRIVE] = "redrive",  [JOB_SAGA_COMPENSATE] = "compensate", [JOB_SAGA_RETRY_NOW] = "retry_now",
    [JOB_SAGA_PAUSE] = "pause", [JOB_SAGA_RESUME] = "resume",         [JOB_SAGA_EXTEND_DEADLINE] = "extend_deadline"};
static const char *const state_names[JOB_STATE_COUNT] = {
    [JOB_RUNNING] = "running", [JOB_STOPPED] = "stopped", [JOB_DONE] = "done"};
static const char *const outcome_names[JOB_ITEM_OUTCOME_COUNT] = {[JOB_ITEM_PENDING] = "pending",
                                                                  [JOB_ITEM_DONE] = "done",
                                                                  [JOB_ITEM_FAILED] = "failed",
                                                                  [JOB_ITEM_SKIPPED] = "skipped"};

static const char *name_of(const char *const *names, int count, int v) { return v >= 0 && v < count ? names[v] : NULL; }

static bool parse_name(const char *const *names, int count, const char *name, int *out)
{
    for (int i = 0; name && i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

const char *job_kind_name(job_kind k) { return name_of(kind_names, JOB_KIND_COUNT, (int)k); }
const char *job_state_name(job_state s) { return name_of(state_names, JOB_STATE_COUNT, (int)s); }
const char *job_item_outcome_name(job_item_outcome o) { return name_of(outcome_names, JOB_ITEM_OUTCOME_COUNT, (int)o); }

bool job_kind_parse(const char *name, job_kind *out)
{
    int v = 0;
    bool ok = parse_name(kind_names, JOB_KIND_COUNT, name, &v);
    if (ok)
        *out = (job_kind)v;
    return ok;
}

bool job_state_parse(const char *name, job_state *out)
{
    int v = 0;
    bool ok = parse_name(state_names, JOB_STATE_COUNT, name, &v);
    if (ok)
        *out = (job_state)v;
    return ok;
}

bool job_item_outcome_parse(const char *name, job_item_outcome *out)
{
    int v = 0;
    bool ok = parse_name(outcome_names, JOB_ITEM_OUTCOME_COUNT, name, &v);
    if (ok)
        *out = (job_item_outcome)v;
    return ok;
}

bool job_kind_is_saga_action(job_kind k) { return k > JOB_REDRIVE && k < JOB_KIND_COUNT; }

int64_t job_next_due_ms(int64_t due_ms, int64_t now_ms, int rate_per_s)
{
    if (rate_per_s < 1)
        rate_per_s = 1;
    int64_t next = due_ms + 1000 / rate_per_s;
    return next > now_ms ? next : now_ms;
}

/* `n` digits at *p, advancing it; their value into *v. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool job_time_valid(const char *text)
{
    const char *p = text;
    int y, mo, d, h, mi, s, oh, om;
    if (!p || !digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') || !digits(&p, 2, &d) ||
        !(expect(&p, 'T') || expect(&p, 't')) || !digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) ||
        !expect(&p, ':') || !digits(&p, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p != '+' && *p != '-')
        return false;
    p++;
    return digits(&p, 2, &oh) && expect(&p, ':') && digits(&p, 2, &om) && *p == '\0' && oh <= 23 && om <= 59;
}
