/* tx_hooks.c -- see tx_hooks.h. One allocation per hook, its copy inside. */
#include "tx_hooks.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct oms_tx_hook_entry {
    oms_tx_hook fn;
    void *ctx;
    bool copied; /* ctx points at `copy` */
    oms_tx_hook_entry *next;
    alignas(max_align_t) unsigned char copy[];
};

static bool already_added(const oms_tx_hooks *h, oms_tx_hook fn, const void *ctx)
{
    for (const oms_tx_hook_entry *e = h->first; e; e = e->next) {
        if (!e->copied && e->fn == fn && e->ctx == ctx)
            return true;
    }
    return false;
}

oms_err oms_tx_hooks_add(oms_tx_hooks *h, oms_tx_hook fn, void *ctx, size_t ctx_size, oms_error *err)
{
    if (ctx_size == 0 && already_added(h, fn, ctx))
        return OMS_OK;
    oms_tx_hook_entry *e = malloc(sizeof *e + ctx_size);
    if (!e)
        return oms_error_set(err, OMS_ENOMEM, NULL, "out of memory");
    e->fn = fn;
    e->copied = ctx_size > 0;
    e->ctx = e->copied ? memcpy(e->copy, ctx, ctx_size) : ctx;
    e->next = NULL;
    if (h->last)
        h->last->next = e;
    else
        h->first = e;
    h->last = e;
    return OMS_OK;
}

static void empty(oms_tx_hooks *h, bool run)
{
    oms_tx_hook_entry *e = h->first;
    h->first = h->last = NULL;
    while (e) {
        oms_tx_hook_entry *next = e->next;
        if (run)
            e->fn(e->ctx);
        free(e);
        e = next;
    }
}

void oms_tx_hooks_run(oms_tx_hooks *h) { empty(h, true); }

void oms_tx_hooks_drop(oms_tx_hooks *h) { empty(h, false); }
