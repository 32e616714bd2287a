#include "kanal/util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fail_countdown;

static void oom(size_t n) {
    fprintf(stderr, "FATAL: out of memory allocating %zu bytes\n", n);
    abort();
}

void *kn_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *kn_calloc(size_t nmemb, size_t size) {
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) oom(nmemb * size);
    return p;
}

void *kn_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *kn_strdup(const char *s) { return kn_strndup(s, strlen(s)); }

char *kn_strndup(const char *s, size_t n) {
    char *d = kn_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void kn_free(void *p) { free(p); }

static int should_fail(void) {
    if (fail_countdown == 0) return 0;
    if (--fail_countdown == 0) return 1;
    return 0;
}

void *kn_trymalloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *kn_tryrealloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void kn_mem_fail_at(uint64_t n) { fail_countdown = n; }

/* ---- arena ---- */
struct kn_arena_chunk_s {
    kn_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define KN_ARENA_CHUNK 8192

void kn_arena_init(kn_arena_t *a) {
    a->head = NULL;
    a->total = 0;
}

void *kn_arena_alloc(kn_arena_t *a, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL; /* overflow */
    kn_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > KN_ARENA_CHUNK ? need : KN_ARENA_CHUNK;
        c = kn_trymalloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, n);
    return p;
}

char *kn_arena_strndup(kn_arena_t *a, const char *s, size_t n) {
    char *d = kn_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void kn_arena_reset(kn_arena_t *a) {
    kn_arena_chunk_t *c = a->head;
    while (c) {
        kn_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}
