/* Bytes in and bytes out.
 *
 * kn_rd_t is a bounded read cursor over untrusted bytes. Every read checks the
 * bytes left; on underflow or a malformed value it records a sticky error
 * (rd->err) and returns it, and later reads return the same error, so a
 * decoder may check once at the end. Integers are big-endian (Kafka's wire
 * order); varints are capped at their maximum width.
 *
 * kn_wbuf_t is an output buffer: a contiguous, growable memory area plus a list
 * of pieces that can also be file ranges, so a Fetch reply can carry segment
 * bytes to sendfile() without copying them through user space. */
#ifndef KANAL_UTIL_BUF_H
#define KANAL_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kn_rd_s {
    const uint8_t *p; /* start of the window */
    size_t len;       /* window length */
    size_t off;       /* cursor */
    int err;          /* sticky: first error seen, 0 if none */
} kn_rd_t;

static inline void kn_rd_init(kn_rd_t *rd, const void *p, size_t len) {
    rd->p = (const uint8_t *)p;
    rd->len = len;
    rd->off = 0;
    rd->err = 0;
}
static inline size_t kn_rd_remaining(const kn_rd_t *rd) { return rd->len - rd->off; }
static inline const uint8_t *kn_rd_cur(const kn_rd_t *rd) { return rd->p + rd->off; }

int kn_rd_fail(kn_rd_t *rd, int err); /* sets err if not set; returns rd->err */
int kn_rd_i8(kn_rd_t *rd, int8_t *v);
int kn_rd_i16(kn_rd_t *rd, int16_t *v);
int kn_rd_u16(kn_rd_t *rd, uint16_t *v);
int kn_rd_i32(kn_rd_t *rd, int32_t *v);
int kn_rd_u32(kn_rd_t *rd, uint32_t *v);
int kn_rd_i64(kn_rd_t *rd, int64_t *v);
int kn_rd_f64(kn_rd_t *rd, double *v);
int kn_rd_uvarint(kn_rd_t *rd, uint32_t *v);  /* max 5 bytes */
int kn_rd_varint(kn_rd_t *rd, int32_t *v);    /* zigzag, max 5 bytes */
int kn_rd_uvarlong(kn_rd_t *rd, uint64_t *v); /* max 10 bytes */
int kn_rd_varlong(kn_rd_t *rd, int64_t *v);   /* zigzag, max 10 bytes */
/* Borrow n bytes from the window (no copy). */
int kn_rd_raw(kn_rd_t *rd, size_t n, const uint8_t **out);
int kn_rd_skip(kn_rd_t *rd, size_t n);
/* A sub-reader over the next n bytes; the parent cursor moves past them. */
int kn_rd_sub(kn_rd_t *rd, size_t n, kn_rd_t *sub);

/* Kafka length-prefixed values. A length of -1 (classic) or 0 (compact) means
 * null: *out = NULL, *len = -1. Only accept null where the schema allows;
 * the caller checks. */
int kn_rd_str16(kn_rd_t *rd, const char **out, int32_t *len);      /* int16 len */
int kn_rd_cstr(kn_rd_t *rd, const char **out, int32_t *len);       /* uvarint len+1 */
int kn_rd_bytes32(kn_rd_t *rd, const uint8_t **out, int32_t *len); /* int32 len */
int kn_rd_cbytes(kn_rd_t *rd, const uint8_t **out, int32_t *len);  /* uvarint len+1 */
/* Array count: int32 (classic) or uvarint count+1 (compact). -1 = null.
 * min_elem_size bounds the count by the bytes left (count*min <= remaining). */
int kn_rd_array_len(kn_rd_t *rd, bool compact, size_t min_elem_size, int32_t *count);
/* Skip a tagged-field section (flexible versions). */
int kn_rd_skip_tags(kn_rd_t *rd);

/* ---- writer ---- */
typedef enum { KN_WPIECE_MEM = 0, KN_WPIECE_FILE = 1 } kn_wpiece_kind_t;

typedef struct kn_wpiece_s {
    kn_wpiece_kind_t kind;
    int fd;          /* FILE: borrowed fd; the owner keeps it open until sent */
    uint64_t off;    /* MEM: offset into wbuf->mem; FILE: file offset */
    uint64_t len;
} kn_wpiece_t;

typedef struct kn_wbuf_s {
    uint8_t *mem;
    size_t mem_len, mem_cap;
    kn_wpiece_t *pieces;
    size_t npieces, pieces_cap;
    uint64_t total; /* bytes in all pieces */
    int err;        /* sticky KN_ENOMEM when a client-sized growth failed */
} kn_wbuf_t;

void kn_wbuf_init(kn_wbuf_t *w);
void kn_wbuf_free(kn_wbuf_t *w);
void kn_wbuf_reset(kn_wbuf_t *w);
/* Append raw bytes (memory piece). */
void kn_wbuf_write(kn_wbuf_t *w, const void *p, size_t n);
/* Append a file range; the fd is borrowed. */
void kn_wbuf_file(kn_wbuf_t *w, int fd, uint64_t off, uint64_t len);
/* Reserve n bytes in memory and return their offset in w->mem (for patching). */
size_t kn_wbuf_reserve(kn_wbuf_t *w, size_t n);
void kn_wbuf_patch_i32(kn_wbuf_t *w, size_t mem_off, int32_t v);
/* Contiguous memory of the whole buffer, only valid when it has no file piece. */
static inline const uint8_t *kn_wbuf_data(const kn_wbuf_t *w) { return w->mem; }
static inline uint64_t kn_wbuf_len(const kn_wbuf_t *w) { return w->total; }

void kn_wr_i8(kn_wbuf_t *w, int8_t v);
void kn_wr_i16(kn_wbuf_t *w, int16_t v);
void kn_wr_u16(kn_wbuf_t *w, uint16_t v);
void kn_wr_i32(kn_wbuf_t *w, int32_t v);
void kn_wr_u32(kn_wbuf_t *w, uint32_t v);
void kn_wr_i64(kn_wbuf_t *w, int64_t v);
void kn_wr_f64(kn_wbuf_t *w, double v);
void kn_wr_uvarint(kn_wbuf_t *w, uint32_t v);
void kn_wr_varint(kn_wbuf_t *w, int32_t v);
void kn_wr_uvarlong(kn_wbuf_t *w, uint64_t v);
void kn_wr_varlong(kn_wbuf_t *w, int64_t v);
/* Strings/bytes: len -1 writes null. */
void kn_wr_str16(kn_wbuf_t *w, const char *s, int32_t len);
void kn_wr_cstr(kn_wbuf_t *w, const char *s, int32_t len);
void kn_wr_bytes32(kn_wbuf_t *w, const void *p, int32_t len);
void kn_wr_cbytes(kn_wbuf_t *w, const void *p, int32_t len);
void kn_wr_array_len(kn_wbuf_t *w, bool compact, int32_t count); /* -1 = null */
void kn_wr_empty_tags(kn_wbuf_t *w); /* uvarint 0 */

/* Encoded sizes, for length prefixes computed up front. */
size_t kn_uvarint_size(uint64_t v);
size_t kn_varlong_size(int64_t v);

/* Big-endian helpers over raw memory (no bounds check: caller checked). */
static inline uint32_t kn_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t kn_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint64_t kn_be64(const uint8_t *p) {
    return ((uint64_t)kn_be32(p) << 32) | kn_be32(p + 4);
}
static inline void kn_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void kn_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void kn_put_be64(uint8_t *p, uint64_t v) {
    kn_put_be32(p, (uint32_t)(v >> 32)); kn_put_be32(p + 4, (uint32_t)v);
}

#endif
