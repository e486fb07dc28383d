/* dead_letter.c -- what both transports say of a dead letter: its status
 * names, the fingerprint that groups the same failure, and the envelope
 * fields read from its payload (bus.h). */
#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "bus.h"
#include "sha256.h"

/* The digest input is cut here: two errors that agree this far are one
 * failure for grouping's sake. */
#define FINGERPRINT_INPUT_MAX 1024

static const char *const status_names[] = {
    [OMS_DEAD_LETTER_DEAD] = "dead",
    [OMS_DEAD_LETTER_REDRIVEN] = "redriven",
    [OMS_DEAD_LETTER_DISCARDED] = "discarded",
};

const char *oms_dead_letter_status_name(oms_dead_letter_status s)
{
    if ((unsigned)s >= sizeof status_names / sizeof status_names[0])
        return NULL;
    return status_names[s];
}

bool oms_dead_letter_status_parse(const char *name, oms_dead_letter_status *out)
{
    for (size_t i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (oms_dead_letter_status)i;
            return true;
        }
    }
    return false;
}

static bool word_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == ':'; }

/* Appends `s` to buf (at *len, bounded) with each word that holds a digit
 * replaced by '#': "saga 5f0c... has no payment of 12.50" and the same with
 * other ids and amounts are one failure. */
static void append_normalized(char *buf, size_t *len, const char *s)
{
    while (s && *s && *len + 1 < FINGERPRINT_INPUT_MAX) {
        if (!word_char(*s)) {
            buf[(*len)++] = *s++;
            continue;
        }
        const char *end = s;
        bool digit = false;
        while (*end && word_char(*end))
            digit |= isdigit((unsigned char)*end++) != 0;
        if (digit) {
            buf[(*len)++] = '#';
        } else {
            for (; s < end && *len + 1 < FINGERPRINT_INPUT_MAX; s++)
                buf[(*len)++] = *s;
        }
        s = end;
    }
    buf[*len] = '\0';
}

static void append_raw(char *buf, size_t *len, const char *s)
{
    for (; s && *s && *len + 1 < FINGERPRINT_INPUT_MAX; s++)
        buf[(*len)++] = *s;
    if (*len + 1 < FINGERPRINT_INPUT_MAX)
        buf[(*len)++] = '\n'; /* a separator no topic or type holds */
    buf[*len] = '\0';
}

void oms_dead_letter_fingerprint(const char *topic, const char *subscription, const char *event_type, const char *error,
                                 char out[OMS_DEAD_LETTER_FINGERPRINT_LEN + 1])
{
    char buf[FINGERPRINT_INPUT_MAX];
    size_t len = 0;
    buf[0] = '\0';
    append_raw(buf, &len, topic);
    append_raw(buf, &len, subscription);
    append_raw(buf, &len, event_type ? event_type : "?");
    append_normalized(buf, &len, error);
    char hex[OMS_SHA256_HEX_LEN + 1];
    if (!oms_sha256_hex(buf, len, hex))
        memset(hex, '0', sizeof hex - 1);
    memcpy(out, hex, OMS_DEAD_LETTER_FINGERPRINT_LEN);
    out[OMS_DEAD_LETTER_FINGERPRINT_LEN] = '\0';
}

/* The string member `name` of `doc` copied into `a`; NULL when absent. */
static const char *member(const json_t *doc, const char *name, oms_arena *a)
{
    const char *v = json_string_value(json_object_get(doc, name));
    return v ? oms_arena_strdup(a, v) : NULL;
}

void oms_dead_letter_describe(oms_dead_letter *d, oms_arena *a)
{
    /* Leniently: a poison message is what it is; whatever of the envelope
     * it has helps the operator. */
    json_t *doc = d->payload ? json_loadb(d->payload, d->payload_len, 0, NULL) : NULL;
    d->event_id = member(doc, "event_id", a);
    d->event_type = member(doc, "event_type", a);
    d->saga_id = member(doc, "saga_id", a);
    d->order_id = member(doc, "order_id", a);
    json_decref(doc);
    oms_dead_letter_fingerprint(d->topic, d->subscription, d->event_type, d->error, d->fingerprint);
}
