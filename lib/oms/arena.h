/* arena.h -- memory owned by a lifetime (PostgreSQL memory contexts, nginx pools).
 *
 * Every HTTP request and every handled message gets an arena; whatever the
 * handler allocates from it (strings, parsed values, query results copied out)
 * is freed at once when the arena is reset or destroyed. Not thread-safe: one
 * arena belongs to one request on one thread. */
#ifndef OMS_ARENA_H
#define OMS_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct oms_arena oms_arena;

/* A new arena whose first block has `first_block` bytes (0: 8 KiB); the
 * blocks it grows by have 8 KiB (or `first_block` if larger, or what one big
 * allocation needs). A small first block suits an arena that many idle
 * owners hold at once (an HTTP request waiting for its body). Returns NULL
 * when memory is exhausted. */
oms_arena *oms_arena_create(size_t first_block);

/* Frees every block. NULL is allowed. */
void oms_arena_destroy(oms_arena *a);

/* Forgets every allocation but keeps the first block for reuse. Registered
 * cleanups (oms_arena_on_reset) run first, newest first. */
void oms_arena_reset(oms_arena *a);

/* `n` bytes aligned to 16, or NULL when memory is exhausted or n is absurd
 * (over 1 GiB). Never returns memory that outlives the next reset. */
void *oms_arena_alloc(oms_arena *a, size_t n);

/* Zeroed variant of oms_arena_alloc. */
void *oms_arena_calloc(oms_arena *a, size_t count, size_t size);

/* Copies of a string into the arena; NULL when memory is exhausted
 * (oms_arena_strdup(a, NULL) returns NULL too). */
char *oms_arena_strdup(oms_arena *a, const char *s);
char *oms_arena_strndup(oms_arena *a, const char *s, size_t n);

/* printf into the arena; NULL on exhaustion. */
char *oms_arena_sprintf(oms_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *oms_arena_vsprintf(oms_arena *a, const char *fmt, va_list ap);

/* Runs fn(data) when the arena is next reset or destroyed: the way to tie a
 * foreign object (a jansson json_t, a PGresult) to the arena's lifetime.
 * Returns 0, or -1 when memory is exhausted (fn is then called at once). */
int oms_arena_on_reset(oms_arena *a, void (*fn)(void *data), void *data);

#endif
