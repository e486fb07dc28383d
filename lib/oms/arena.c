/* arena.c -- a chain of blocks; allocation bumps a pointer, reset frees all
 * but the first block. Large requests get a block of their own. */
#include "arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_BLOCK (8 * 1024)
#define ARENA_MAX_ALLOC ((size_t)1 << 30)
#define ARENA_ALIGN 16

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

static size_t align_block(size_t n) { return n > ARENA_MAX_ALLOC ? ARENA_MAX_ALLOC : align_up(n); }

typedef struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
} arena_block;

typedef struct arena_cleanup {
    void (*fn)(void *data);
    void *data;
    struct arena_cleanup *next;
} arena_cleanup;

struct oms_arena {
    size_t block_size;
    arena_block *first;   /* kept across resets */
    arena_block *current; /* where small allocations go */
    arena_block *extra;   /* every other block, freed at reset */
    arena_cleanup *cleanups;
};

static arena_block *block_new(size_t size)
{
    arena_block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

oms_arena *oms_arena_create(size_t first_block)
{
    oms_arena *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    size_t first = first_block ? align_block(first_block) : ARENA_DEFAULT_BLOCK;
    a->block_size = first > ARENA_DEFAULT_BLOCK ? first : ARENA_DEFAULT_BLOCK;
    a->cleanups = NULL;
    a->extra = NULL;
    a->first = block_new(first);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->current = a->first;
    return a;
}

static void run_cleanups(oms_arena *a)
{
    while (a->cleanups) {
        arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
        free(c);
    }
}

static void free_extra_blocks(oms_arena *a)
{
    while (a->extra) {
        arena_block *b = a->extra;
        a->extra = b->next;
        free(b);
    }
    a->current = a->first;
    a->first->used = 0;
}

void oms_arena_destroy(oms_arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    free_extra_blocks(a);
    free(a->first);
    free(a);
}

void oms_arena_reset(oms_arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    free_extra_blocks(a);
}

void *oms_arena_alloc(oms_arena *a, size_t n)
{
    if (!a || n > ARENA_MAX_ALLOC)
        return NULL;
    size_t need = align_up(n ? n : 1);
    arena_block *cur = a->current;
    if (cur->size - cur->used >= need) {
        void *p = cur->data + cur->used;
        cur->used += need;
        return p;
    }
    bool big = need > a->block_size / 2;
    arena_block *b = block_new(big ? need : a->block_size);
    if (!b)
        return NULL;
    b->used = need;
    b->next = a->extra;
    a->extra = b;
    /* A big allocation gets a block of its own; small ones go on in a fresh block. */
    if (!big)
        a->current = b;
    return b->data;
}

void *oms_arena_calloc(oms_arena *a, size_t count, size_t size)
{
    if (size && count > ARENA_MAX_ALLOC / size)
        return NULL;
    void *p = oms_arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *oms_arena_strndup(oms_arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = oms_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *oms_arena_strdup(oms_arena *a, const char *s)
{
    if (!s)
        return NULL;
    return oms_arena_strndup(a, s, strlen(s));
}

char *oms_arena_vsprintf(oms_arena *a, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *p = oms_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *oms_arena_sprintf(oms_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = oms_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

int oms_arena_on_reset(oms_arena *a, void (*fn)(void *data), void *data)
{
    /* Kept in malloc memory, not in the arena, so a reset that frees blocks
     * does not free the list it walks. */
    arena_cleanup *c = a ? malloc(sizeof *c) : NULL;
    if (!c) {
        fn(data);
        return -1;
    }
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
