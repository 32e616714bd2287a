/* Allocation: kn_malloc & co abort with a log line on OOM (for sizes we
 * control); kn_trymalloc returns NULL and is the only allocator for sizes a
 * client controls. Tests can make allocation N fail (kn_mem_fail_at). */
#ifndef KANAL_UTIL_MEM_H
#define KANAL_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>

void *kn_malloc(size_t n);
void *kn_calloc(size_t nmemb, size_t size);
void *kn_realloc(void *p, size_t n);
char *kn_strdup(const char *s);
char *kn_strndup(const char *s, size_t n);
void kn_free(void *p);

void *kn_trymalloc(size_t n);
void *kn_tryrealloc(void *p, size_t n);

/* Test hook: the n-th kn_try* call from now fails (0 = never). */
void kn_mem_fail_at(uint64_t n);

/* Per-request arena: bump allocation out of chunks, freed all at once. */
typedef struct kn_arena_chunk_s kn_arena_chunk_t;
typedef struct kn_arena_s {
    kn_arena_chunk_t *head;
    size_t total; /* bytes handed out, for limits/metrics */
} kn_arena_t;

void kn_arena_init(kn_arena_t *a);
/* 8-byte aligned, zeroed memory, or NULL on failure (uses kn_trymalloc). */
void *kn_arena_alloc(kn_arena_t *a, size_t n);
char *kn_arena_strndup(kn_arena_t *a, const char *s, size_t n);
/* Free every chunk; the arena may be reused afterwards. */
void kn_arena_reset(kn_arena_t *a);

#endif
