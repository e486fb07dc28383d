/* omsctl.c -- the operator's command line over the HTTP API (issue 12 item 9).
 *
 * It talks to the gateway only (OMS_URL, default http://localhost:8080) with
 * the key in OMS_API_KEY (sent as X-API-Key), prints a table for people or,
 * with --json, the API's own answer for scripts, and exits with a code a
 * script can trust:
 *   0  done (for reconcile: and the system is consistent)
 *   1  refused: the API answered 4xx (bad input, not allowed, not found, conflict)
 *   2  usage: omsctl was called wrongly (nothing was sent)
 *   3  unreachable, or the API answered 5xx
 *   4  this system does not serve that command's endpoint yet
 *   5  reconcile: the run found violations
 * Every command is one or a few requests of the public API (README,
 * "Operating it"); omsctl keeps no state. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_OK 0
#define CTL_REFUSED 1
#define CTL_USAGE 2
#define CTL_UNREACHABLE 3
#define CTL_MISSING 4
#define CTL_VIOLATIONS 5

#define CTL_URL_MAX 2048
#define CTL_BODY_MAX (8 * 1024 * 1024)
#define CTL_TIMEOUT_S 60L
#define CTL_FOLLOW_INTERVAL_US 1000000

typedef struct ctl {
    const char *base_url;
    const char *api_key;
    bool json; /* --json: the API's answer as it is */
    CURL *curl;
} ctl;

typedef struct ctl_answer {
    long status; /* 0: nothing came back */
    json_t *doc; /* NULL when the body is not JSON */
    char error[CURL_ERROR_SIZE];
} ctl_answer;

typedef struct ctl_buffer {
    char *data;
    size_t len;
} ctl_buffer;

/* ---- HTTP ---- */

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    ctl_buffer *b = userdata;
    size_t bytes = size * n;
    if (b->len + bytes > CTL_BODY_MAX)
        return 0;
    char *grown = realloc(b->data, b->len + bytes + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, data, bytes);
    b->data = grown;
    b->len += bytes;
    b->data[b->len] = '\0';
    return bytes;
}

/* One exchange: `method` `path` (with its query) and a JSON `body` (NULL:
 * none), with If-Match when `if_match` is set. */
static ctl_answer ctl_call(ctl *c, const char *method, const char *path, json_t *body, const char *if_match)
{
    ctl_answer a = {0};
    char url[CTL_URL_MAX];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    char line[512];
    if (c->api_key) {
        snprintf(line, sizeof line, "X-API-Key: %s", c->api_key);
        headers = curl_slist_append(headers, line);
    }
    if (text)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (if_match) {
        snprintf(line, sizeof line, "If-Match: %s", if_match);
        headers = curl_slist_append(headers, line);
    }
    ctl_buffer buf = {0};
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, CTL_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, a.error);
    if (text)
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
    if (curl_easy_perform(c->curl) == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a.status);
    if (buf.data)
        a.doc = json_loads(buf.data, JSON_DECODE_ANY, NULL);
    free(buf.data);
    free(text);
    curl_slist_free_all(headers);
    return a;
}

/* "?a=1&b=x" of the pairs whose value is set (NULL-terminated name, value
 * list), escaped. */
static void ctl_query(ctl *c, char *out, size_t size, const char *path, const char *const *pairs)
{
    size_t used = (size_t)snprintf(out, size, "%s", path);
    char sep = strchr(path, '?') ? '&' : '?';
    for (size_t i = 0; pairs[i] && used < size; i += 2) {
        if (!pairs[i + 1])
            continue;
        char *v = curl_easy_escape(c->curl, pairs[i + 1], 0);
        used += (size_t)snprintf(out + used, size - used, "%c%s=%s", sep, pairs[i], v ? v : "");
        curl_free(v);
        sep = '&';
    }
}

/* prefix + the id escaped for a path segment + suffix. */
static void ctl_path(ctl *c, char *out, size_t size, const char *prefix, const char *id, const char *suffix)
{
    char *e = curl_easy_escape(c->curl, id, 0);
    snprintf(out, size, "%s%s%s", prefix, e ? e : "", suffix);
    curl_free(e);
}

static const char *error_message(const ctl_answer *a)
{
    const char *m = json_string_value(json_object_get(json_object_get(a->doc, "error"), "message"));
    return m ? m : "(no error body)";
}

/* The exit code of an answer, after saying what went wrong on stderr;
 * `what` names the endpoint for a route this system does not serve. */
static int ctl_outcome(const ctl *c, const ctl_answer *a, const char *what)
{
    if (a->status == 0) {
        fprintf(stderr, "omsctl: %s unreachable: %s\n", c->base_url, a->error[0] ? a->error : "no answer");
        return CTL_UNREACHABLE;
    }
    if (a->status >= 200 && a->status < 300)
        return CTL_OK;
    bool no_route = a->status == 405 || (a->status == 404 && strcmp(error_message(a), "no such resource") == 0);
    if (no_route && what) {
        fprintf(stderr, "omsctl: this system does not serve %s yet\n", what);
        return CTL_MISSING;
    }
    fprintf(stderr, "omsctl: %ld: %s\n", a->status, error_message(a));
    return a->status >= 500 ? CTL_UNREACHABLE : CTL_REFUSED;
}

static void print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text)
        puts(text);
    free(text);
}

/* ---- tables ---- */

static const char *str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    /* A few buffers in turn: one printf may show several numbers. */
    static char numbers[8][64];
    static unsigned turn;
    char *number = numbers[turn++ % 8];
    if (json_is_integer(v)) {
        snprintf(number, 64, "%lld", (long long)json_integer_value(v));
        return number;
    }
    if (json_is_real(v)) {
        snprintf(number, 64, "%.2f", json_real_value(v));
        return number;
    }
    if (json_is_true(v))
        return "yes";
    if (json_is_false(v))
        return "no";
    return "-";
}

/* One row: each (key, width) pair of `cols` from `row`, or the headers when
 * row is NULL. */
typedef struct ctl_column {
    const char *key;
    const char *title;
    int width;
} ctl_column;

static void table_row(const ctl_column *cols, size_t n, json_t *row)
{
    for (size_t i = 0; i < n; i++) {
        const char *cell = row ? str(row, cols[i].key) : cols[i].title;
        if (i + 1 < n)
            printf("%-*.*s  ", cols[i].width, cols[i].width, cell);
        else
            printf("%s\n", cell); /* the last column whole: an error, a reason */
    }
}

static void table(const ctl_column *cols, size_t n, json_t *rows)
{
    table_row(cols, n, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) table_row(cols, n, row);
}

/* ---- arguments ---- */

typedef struct ctl_args {
    int argc;
    char **argv;
    int next;
} ctl_args;

/* The value of --name among the remaining arguments, or NULL. */
static const char *opt(ctl_args *a, const char *name)
{
    for (int i = a->next; i + 1 < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return a->argv[i + 1];
    return NULL;
}

static bool flag(ctl_args *a, const char *name)
{
    for (int i = a->next; i < a->argc; i++)
        if (strcmp(a->argv[i], name) == 0)
            return true;
    return false;
}

/* Options that take no value. */
static bool is_flag(const char *arg)
{
    static const char *const flags[] = {"--dry-run", "--follow", "--last", "--json"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(arg, flags[i]) == 0)
            return true;
    return false;
}

/* The nth remaining argument that is neither an option nor its value. */
static const char *positional(ctl_args *a, int nth)
{
    for (int i = a->next; i < a->argc; i++) {
        if (strncmp(a->argv[i], "--", 2) == 0) {
            bool has_value = !is_flag(a->argv[i]);
            i += has_value;
            continue;
        }
        if (nth-- == 0)
            return a->argv[i];
    }
    return NULL;
}

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "omsctl: %s\n", why);
    fputs("usage: omsctl [--json] [--url URL] COMMAND [ARGS]\n"
          "  orders [--status S] [--customer C] [--limit N]\n"
          "  order ORDER_ID [--follow]           the saga's timeline, then its status as it changes\n"
          "  stuck [--reason R] [--limit N]      sagas that are stuck, and why\n"
          "  retry|pause|resume|compensate ORDER_ID --reason TEXT\n"
          "  extend ORDER_ID --reason TEXT [--seconds N]\n"
          "  resolve ORDER_ID --obligation O --evidence E --reason TEXT\n"
          "  dlq list [--topic T] [--limit N]\n"
          "  dlq redrive (--topic T | ID...) --reason TEXT [--rate N] [--dry-run] [--follow]\n"
          "  dlq discard ID --reason TEXT\n"
          "  jobs [JOB_ID [--follow]]\n"
          "  reconcile [--last]\n"
          "  audit [--actor A] [--saga S] [--target T] [--since TIME] [--limit N]\n"
          "environment: OMS_URL (http://localhost:8080), OMS_API_KEY\n"
          "exit: 0 ok, 1 refused (4xx), 2 usage, 3 unreachable or 5xx, 4 not served yet, 5 violations\n",
          stderr);
    return CTL_USAGE;
}

/* GET `path`; the table of `rows_key` with `cols`, or the JSON. */
static int list(ctl *c, const char *path, const char *what, const char *rows_key, const ctl_column *cols, size_t n)
{
    ctl_answer a = ctl_call(c, "GET", path, NULL, NULL);
    int rc = ctl_outcome(c, &a, what);
    if (rc == CTL_OK) {
        if (c->json)
            print_json(a.doc);
        else
            table(cols, n, json_object_get(a.doc, rows_key));
    }
    json_decref(a.doc);
    return rc;
}

/* ---- commands ---- */

static int cmd_orders(ctl *c, ctl_args *a)
{
    char path[CTL_URL_MAX];
    const char *pairs[] = {"status", opt(a, "--status"), "customer_id", opt(a, "--customer"),
                           "limit",  opt(a, "--limit"),  NULL};
    ctl_query(c, path, sizeof path, "/orders", pairs);
    static const ctl_column cols[] = {{"id", "ORDER", 36},
                                      {"customer_id", "CUSTOMER", 20},
                                      {"status", "STATUS", 19},
                                      {"total_amount", "TOTAL", 10},
                                      {"created_at", "CREATED", 24}};
    return list(c, path, "GET /orders", "orders", cols, sizeof cols / sizeof cols[0]);
}

static int follow_order(ctl *c, const char *id);

/* The saga of an order, its timeline one step a line; --follow then shows
 * its status changes as they happen (GET /orders/{id}/events). */
static int cmd_order(ctl *c, ctl_args *a)
{
    const char *id = positional(a, 0);
    if (!id)
        return usage("order needs an ORDER_ID");
    char path[CTL_URL_MAX];
    ctl_path(c, path, sizeof path, "/orders/", id, "/saga");
    ctl_answer ans = ctl_call(c, "GET", path, NULL, NULL);
    int rc = ctl_outcome(c, &ans, "GET /orders/{id}/saga");
    if (rc == CTL_OK && c->json)
        print_json(ans.doc);
    else if (rc == CTL_OK) {
        json_t *s = ans.doc;
        printf("order %s  saga %s  customer %s\n", str(s, "order_id"), str(s, "saga_id"), str(s, "customer_id"));
        printf("state %s  step %s  attempts %s  version %s  stuck %s  paused %s\n", str(s, "state"),
               str(s, "current_step"), str(s, "attempts"), str(s, "version"), str(s, "stuck_reason"), str(s, "paused"));
        if (json_is_string(json_object_get(s, "last_error")))
            printf("last error: %s\n", str(s, "last_error"));
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(s, "steps"), i, step)
        {
            printf("%4s  %-24s  %-15s  %-10s  %s -> %s  %s\n", str(step, "seq"), str(step, "at"), str(step, "kind"),
                   str(step, "step"), str(step, "from_state"), str(step, "to_state"), str(step, "detail"));
        }
    }
    json_decref(ans.doc);
    if (rc == CTL_OK && flag(a, "--follow")) {
        if (!c->json)
            puts("following its status (until it settles):");
        fflush(stdout);
        rc = follow_order(c, id);
    }
    return rc;
}

/* ---- order ID --follow: the order's status changes as they happen ---- */

typedef struct ctl_stream {
    ctl *c;
    ctl_buffer pending; /* text of an event not yet complete */
    long last_id;       /* the last event's id: where a reconnect resumes */
    bool over;          /* settled (or ended): stop */
} ctl_stream;

/* One complete server-sent event: "id: N", "event: status|end", "data: {...}". */
static void stream_event(ctl_stream *st, char *text)
{
    const char *event = "message";
    json_t *data = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "id: ", 4) == 0)
            st->last_id = strtol(line + 4, NULL, 10);
        else if (strncmp(line, "event: ", 7) == 0)
            event = line + 7;
        else if (strncmp(line, "data: ", 6) == 0 && !data)
            data = json_loads(line + 6, 0, NULL);
    }
    if (data && strcmp(event, "status") == 0) {
        if (st->c->json)
            print_json(data);
        else
            printf("%s  %s -> %s\n", str(data, "at"), str(data, "previous_status"), str(data, "status"));
        fflush(stdout);
        const char *status = str(data, "status");
        st->over = st->over || strcmp(status, "INVENTORY_CONFIRMED") == 0 ||
                   json_is_true(json_object_get(data, "final"));
    }
    st->over = st->over || strcmp(event, "end") == 0;
    json_decref(data);
}

static size_t stream_collect(char *data, size_t size, size_t n, void *userdata)
{
    ctl_stream *st = userdata;
    size_t got = collect(data, size, n, &st->pending);
    if (got == 0)
        return 0;
    char *end;
    while (!st->over && st->pending.data && (end = strstr(st->pending.data, "\n\n"))) {
        *end = '\0';
        stream_event(st, st->pending.data);
        size_t rest = st->pending.len - (size_t)(end + 2 - st->pending.data);
        memmove(st->pending.data, end + 2, rest + 1);
        st->pending.len = rest;
    }
    return st->over ? 0 : got; /* 0 ends the transfer once the order settled */
}

/* Follows GET /orders/{id}/events until the order settles, resuming after
 * the last event when the stream closes (the gateway bounds how long one
 * waits). */
static int follow_order(ctl *c, const char *id)
{
    ctl_stream st = {.c = c, .last_id = -1};
    char base[CTL_URL_MAX], url[CTL_URL_MAX + 64];
    ctl_path(c, base, sizeof base, "/orders/", id, "/events");
    for (int attempt = 0; !st.over; attempt++) {
        snprintf(url, sizeof url, "%s%s", c->base_url, base);
        if (st.last_id >= 0)
            snprintf(url + strlen(url), sizeof url - strlen(url), "?last_event_id=%ld", st.last_id);
        struct curl_slist *headers = curl_slist_append(NULL, "Accept: text/event-stream");
        char key[512];
        if (c->api_key) {
            snprintf(key, sizeof key, "X-API-Key: %s", c->api_key);
            headers = curl_slist_append(headers, key);
        }
        char error[CURL_ERROR_SIZE] = "";
        long status = 0;
        curl_easy_reset(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_collect);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &st);
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, error);
        CURLcode rc = curl_easy_perform(c->curl);
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        free(st.pending.data);
        st.pending = (ctl_buffer){0};
        if (st.over)
            break;
        if (status != 200 || (rc != CURLE_OK && attempt > 0)) {
            fprintf(stderr, "omsctl: following %s: %s\n", id, status ? "the stream was refused" : error);
            return status >= 400 && status < 500 ? CTL_REFUSED : CTL_UNREACHABLE;
        }
    }
    return CTL_OK;
}

static int cmd_stuck(ctl *c, ctl_args *a)
{
    char path[CTL_URL_MAX];
    const char *pairs[] = {"stuck", "true", "stuck_reason", opt(a, "--reason"), "limit", opt(a, "--limit"), NULL};
    ctl_query(c, path, sizeof path, "/sagas", pairs);
    static const ctl_column cols[] = {{"order_id", "ORDER", 36},       {"state", "STATE", 19},
                                      {"current_step", "STEP", 10},    {"stuck_reason", "WHY", 22},
                                      {"attempts", "TRIES", 5},        {"next_attempt_at", "NEXT ATTEMPT", 24},
                                      {"last_error", "LAST ERROR", 60}};
    return list(c, path, "GET /sagas", "sagas", cols, sizeof cols / sizeof cols[0]);
}

/* A repair action on the saga of an order (issue 12 item 2): its version
 * from GET /orders/{id}/saga goes in If-Match, so an action on a saga that
 * moved on meanwhile is refused (412) rather than applied to what the
 * operator did not see. */
static int cmd_action(ctl *c, ctl_args *a, const char *action)
{
    const char *id = positional(a, 0);
    const char *reason = opt(a, "--reason");
    if (!id || !reason)
        return usage("an action needs an ORDER_ID and --reason");
    char path[CTL_URL_MAX];
    ctl_path(c, path, sizeof path, "/orders/", id, "/saga");
    ctl_answer saga = ctl_call(c, "GET", path, NULL, NULL);
    int rc = ctl_outcome(c, &saga, "GET /orders/{id}/saga");
    if (rc != CTL_OK) {
        json_decref(saga.doc);
        return rc;
    }
    char version[40]; /* the ETag GET /orders/{id}/saga gives: "<version>" */
    snprintf(version, sizeof version, "\"%s\"", str(saga.doc, "version"));
    snprintf(path, sizeof path, "/sagas/%s/actions", str(saga.doc, "saga_id"));
    json_decref(saga.doc);
    json_t *body = json_pack("{s:s, s:s}", "action", action, "reason", reason);
    if (strcmp(action, "extend_deadline") == 0 && opt(a, "--seconds"))
        json_object_set_new(body, "extend_s", json_integer(strtoll(opt(a, "--seconds"), NULL, 10)));
    if (strcmp(action, "resolve_manually") == 0) {
        json_object_set_new(body, "obligation", json_string(opt(a, "--obligation") ? opt(a, "--obligation") : ""));
        json_object_set_new(body, "evidence", json_string(opt(a, "--evidence") ? opt(a, "--evidence") : ""));
    }
    ctl_answer ans = ctl_call(c, "POST", path, body, version);
    json_decref(body);
    rc = ctl_outcome(c, &ans, "POST /sagas/{id}/actions (saga repair actions)");
    if (rc == CTL_OK && c->json)
        print_json(ans.doc);
    else if (rc == CTL_OK)
        printf("%s: saga %s is %s\n", action, str(ans.doc, "saga_id"), str(ans.doc, "state"));
    json_decref(ans.doc);
    return rc;
}

/* A job's progress line, rewritten in place until it ends (a terminal) or
 * one line per change (a pipe). */
static int follow_job(ctl *c, const char *job_id)
{
    char path[CTL_URL_MAX];
    snprintf(path, sizeof path, "/jobs/%s", job_id);
    bool tty = isatty(STDOUT_FILENO);
    for (;;) {
        ctl_answer a = ctl_call(c, "GET", path, NULL, NULL);
        int rc = ctl_outcome(c, &a, "GET /jobs/{id}");
        if (rc != CTL_OK) {
            json_decref(a.doc);
            return rc;
        }
        json_t *j = a.doc;
        printf("%sjob %s %s: %s/%s done, %s failed, %s skipped, %s pending%s", tty ? "\r" : "", str(j, "id"),
               str(j, "state"), str(j, "done"), str(j, "total"), str(j, "failed"), str(j, "skipped"), str(j, "pending"),
               tty ? "   " : "\n");
        fflush(stdout);
        bool over = strcmp(str(j, "state"), "running") != 0;
        json_decref(a.doc);
        if (over) {
            if (tty)
                putchar('\n');
            return CTL_OK;
        }
        usleep(CTL_FOLLOW_INTERVAL_US);
    }
}

static const ctl_column job_cols[] = {{"id", "JOB", 36},      {"kind", "KIND", 10},     {"state", "STATE", 8},
                                      {"total", "TOTAL", 6},  {"done", "DONE", 6},      {"failed", "FAILED", 6},
                                      {"skipped", "SKIP", 6}, {"created_by", "BY", 20}, {"reason", "REASON", 40}};

static int cmd_jobs(ctl *c, ctl_args *a)
{
    const char *id = positional(a, 0);
    if (!id)
        return list(c, "/jobs", "GET /jobs", "jobs", job_cols, sizeof job_cols / sizeof job_cols[0]);
    if (flag(a, "--follow") && !c->json)
        return follow_job(c, id);
    char path[CTL_URL_MAX];
    snprintf(path, sizeof path, "/jobs/%s", id);
    ctl_answer ans = ctl_call(c, "GET", path, NULL, NULL);
    int rc = ctl_outcome(c, &ans, "GET /jobs/{id}");
    if (rc == CTL_OK && c->json)
        print_json(ans.doc);
    else if (rc == CTL_OK) {
        json_t *one = json_pack("[O]", ans.doc);
        table(job_cols, sizeof job_cols / sizeof job_cols[0], one);
        json_decref(one);
        static const ctl_column item_cols[] = {
            {"seq", "#", 5}, {"target", "TARGET", 40}, {"outcome", "OUTCOME", 9}, {"reason", "REASON", 60}};
        table(item_cols, sizeof item_cols / sizeof item_cols[0], json_object_get(ans.doc, "items"));
    }
    json_decref(ans.doc);
    return rc;
}

static int dlq_list(ctl *c, ctl_args *a)
{
    char path[CTL_URL_MAX];
    const char *pairs[] = {"topic", opt(a, "--topic"), "limit", opt(a, "--limit"), NULL};
    ctl_query(c, path, sizeof path, "/dead-letters", pairs);
    static const ctl_column cols[] = {{"id", "ID", 8},           {"topic", "TOPIC", 22},   {"event_type", "TYPE", 22},
                                      {"order_id", "ORDER", 36}, {"status", "STATUS", 10}, {"attempts", "TRIES", 5},
                                      {"error", "ERROR", 60}};
    return list(c, path, "GET /dead-letters", "dead_letters", cols, sizeof cols / sizeof cols[0]);
}

static int dlq_redrive(ctl *c, ctl_args *a)
{
    const char *reason = opt(a, "--reason");
    const char *topic = opt(a, "--topic");
    json_t *ids = json_array();
    for (int i = 0; positional(a, i + 1); i++)
        json_array_append_new(ids, json_integer(strtoll(positional(a, i + 1), NULL, 10)));
    if (!reason || (!topic && json_array_size(ids) == 0)) {
        json_decref(ids);
        return usage("dlq redrive needs --topic or ids, and --reason");
    }
    json_t *body = json_pack("{s:s, s:b}", "reason", reason, "dry_run", flag(a, "--dry-run"));
    if (topic)
        json_object_set_new(body, "filter", json_pack("{s:s}", "topic", topic));
    if (json_array_size(ids))
        json_object_set(body, "ids", ids);
    if (opt(a, "--rate"))
        json_object_set_new(body, "rate_per_s", json_integer(strtoll(opt(a, "--rate"), NULL, 10)));
    json_decref(ids);
    ctl_answer ans = ctl_call(c, "POST", "/dead-letters/redrive", body, NULL);
    json_decref(body);
    int rc = ctl_outcome(c, &ans, "POST /dead-letters/redrive");
    if (rc == CTL_OK && c->json)
        print_json(ans.doc);
    else if (rc == CTL_OK && json_is_true(json_object_get(ans.doc, "dry_run")))
        printf("dry run: %s dead letters would be redriven\n", str(ans.doc, "count"));
    else if (rc == CTL_OK) {
        printf("redrive job %s: %s dead letters\n", str(ans.doc, "job_id"), str(ans.doc, "count"));
        if (flag(a, "--follow"))
            rc = follow_job(c, str(ans.doc, "job_id"));
    }
    json_decref(ans.doc);
    return rc;
}

static int dlq_discard(ctl *c, ctl_args *a)
{
    const char *id = positional(a, 1);
    const char *reason = opt(a, "--reason");
    if (!id || !reason)
        return usage("dlq discard needs an ID and --reason");
    char path[CTL_URL_MAX];
    ctl_path(c, path, sizeof path, "/dead-letters/", id, "/discard");
    json_t *body = json_pack("{s:s}", "reason", reason);
    ctl_answer ans = ctl_call(c, "POST", path, body, NULL);
    json_decref(body);
    int rc = ctl_outcome(c, &ans, "POST /dead-letters/{id}/discard");
    if (rc == CTL_OK && c->json)
        print_json(ans.doc);
    else if (rc == CTL_OK)
        printf("dead letter %s: %s\n", str(ans.doc, "id"), str(ans.doc, "status"));
    json_decref(ans.doc);
    return rc;
}

static int cmd_dlq(ctl *c, ctl_args *a)
{
    const char *sub = positional(a, 0);
    if (sub && strcmp(sub, "list") == 0)
        return dlq_list(c, a);
    if (sub && strcmp(sub, "redrive") == 0)
        return dlq_redrive(c, a);
    if (sub && strcmp(sub, "discard") == 0)
        return dlq_discard(c, a);
    return usage("dlq needs list, redrive or discard");
}

static int cmd_reconcile(ctl *c, ctl_args *a)
{
    bool last = flag(a, "--last");
    json_t *body = last ? NULL : json_object();
    ctl_answer ans = ctl_call(c, last ? "GET" : "POST", last ? "/reconciliation" : "/reconciliation/run", body, NULL);
    json_decref(body);
    int rc = ctl_outcome(c, &ans, last ? "GET /reconciliation" : "POST /reconciliation/run");
    if (rc == CTL_OK) {
        if (c->json)
            print_json(ans.doc);
        else {
            printf("run %s %s: %s (%s orders checked)\n", str(ans.doc, "run"), str(ans.doc, "finished_at"),
                   str(ans.doc, "status"), str(json_object_get(ans.doc, "checked"), "orders"));
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(ans.doc, "violations"), i, v)
            {
                char *ids = json_dumps(json_object_get(v, "order_ids"), JSON_COMPACT);
                printf("  %-8s %-36s %s; orders %s\n", str(v, "invariant"), str(v, "subject"), str(v, "detail"),
                       ids ? ids : "[]");
                free(ids);
            }
            json_array_foreach(json_object_get(ans.doc, "explained"), i, v)
                printf("  explained %-36s %s\n", str(v, "subject"), str(v, "detail"));
        }
        if (json_array_size(json_object_get(ans.doc, "violations")) > 0)
            rc = CTL_VIOLATIONS;
    }
    json_decref(ans.doc);
    return rc;
}

static int cmd_audit(ctl *c, ctl_args *a)
{
    char path[CTL_URL_MAX];
    const char *pairs[] = {"actor", opt(a, "--actor"), "saga_id", opt(a, "--saga"),  "target", opt(a, "--target"),
                           "since", opt(a, "--since"), "limit",   opt(a, "--limit"), "cursor", opt(a, "--cursor"),
                           NULL};
    ctl_query(c, path, sizeof path, "/audit", pairs);
    static const ctl_column cols[] = {{"at", "AT", 27},        {"service", "SERVICE", 17}, {"actor", "ACTOR", 22},
                                      {"role", "ROLE", 8},     {"action", "ACTION", 24},   {"target", "TARGET", 44},
                                      {"reason", "REASON", 40}};
    return list(c, path, "GET /audit", "entries", cols, sizeof cols / sizeof cols[0]);
}

/* ---- main ---- */

typedef struct ctl_command {
    const char *name;
    int (*run)(ctl *c, ctl_args *a);
    const char *action; /* saga actions: the API's action name */
} ctl_command;

static const ctl_command commands[] = {
    {"orders", cmd_orders, NULL},
    {"order", cmd_order, NULL},
    {"stuck", cmd_stuck, NULL},
    {"retry", NULL, "retry_now"},
    {"pause", NULL, "pause"},
    {"resume", NULL, "resume"},
    {"compensate", NULL, "compensate"},
    {"extend", NULL, "extend_deadline"},
    {"resolve", NULL, "resolve_manually"},
    {"dlq", cmd_dlq, NULL},
    {"jobs", cmd_jobs, NULL},
    {"reconcile", cmd_reconcile, NULL},
    {"audit", cmd_audit, NULL},
};

int main(int argc, char **argv)
{
    ctl c = {.base_url = getenv("OMS_URL"), .api_key = getenv("OMS_API_KEY")};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c.json = true;
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            c.base_url = argv[++i];
        else
            return usage(strcmp(argv[i], "--help") == 0 ? NULL : "unknown option");
    }
    if (i >= argc)
        return usage(NULL);
    if (!c.base_url || !*c.base_url)
        c.base_url = "http://localhost:8080";
    const ctl_command *cmd = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(commands[k].name, argv[i]) == 0)
            cmd = &commands[k];
    if (!cmd)
        return usage("unknown command");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c.curl = curl_easy_init())) {
        fputs("omsctl: libcurl could not start\n", stderr);
        return CTL_UNREACHABLE;
    }
    ctl_args args = {.argc = argc, .argv = argv, .next = i + 1};
    c.json = c.json || flag(&args, "--json"); /* after the command too */
    int rc = cmd->action ? cmd_action(&c, &args, cmd->action) : cmd->run(&c, &args);
    curl_easy_cleanup(c.curl);
    curl_global_cleanup();
    return rc;
}
