#include "kanal/util/buf.h"

#include <string.h>

#include "kanal/util/err.h"
#include "kanal/util/mem.h"

int kn_rd_fail(kn_rd_t *rd, int err) {
    if (!rd->err) rd->err = err;
    return rd->err;
}

#define NEED(rd, n)                                                         \
    do {                                                                    \
        if ((rd)->err) return (rd)->err;                                    \
        if (kn_rd_remaining(rd) < (size_t)(n)) return kn_rd_fail(rd, KN_ETRUNC); \
    } while (0)

int kn_rd_i8(kn_rd_t *rd, int8_t *v) {
    NEED(rd, 1);
    *v = (int8_t)rd->p[rd->off++];
    return 0;
}

int kn_rd_u16(kn_rd_t *rd, uint16_t *v) {
    NEED(rd, 2);
    *v = kn_be16(rd->p + rd->off);
    rd->off += 2;
    return 0;
}

int kn_rd_i16(kn_rd_t *rd, int16_t *v) {
    uint16_t u = 0;
    int r = kn_rd_u16(rd, &u);
    *v = (int16_t)u;
    return r;
}

int kn_rd_u32(kn_rd_t *rd, uint32_t *v) {
    NEED(rd, 4);
    *v = kn_be32(rd->p + rd->off);
    rd->off += 4;
    return 0;
}

int kn_rd_i32(kn_rd_t *rd, int32_t *v) {
    uint32_t u = 0;
    int r = kn_rd_u32(rd, &u);
    *v = (int32_t)u;
    return r;
}

int kn_rd_i64(kn_rd_t *rd, int64_t *v) {
    NEED(rd, 8);
    *v = (int64_t)kn_be64(rd->p + rd->off);
    rd->off += 8;
    return 0;
}

int kn_rd_f64(kn_rd_t *rd, double *v) {
    int64_t i = 0;
    int r = kn_rd_i64(rd, &i);
    memcpy(v, &i, sizeof(*v));
    return r;
}

int kn_rd_uvarlong(kn_rd_t *rd, uint64_t *v) {
    uint64_t out = 0;
    *v = 0;
    if (rd->err) return rd->err;
    for (int i = 0; i < 10; i++) {
        if (rd->off >= rd->len) return kn_rd_fail(rd, KN_ETRUNC);
        uint8_t b = rd->p[rd->off++];
        if (i == 9 && b > 1) return kn_rd_fail(rd, KN_ECORRUPT);
        out |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = out;
            return 0;
        }
    }
    return kn_rd_fail(rd, KN_ECORRUPT);
}

int kn_rd_uvarint(kn_rd_t *rd, uint32_t *v) {
    uint32_t out = 0;
    *v = 0;
    if (rd->err) return rd->err;
    for (int i = 0; i < 5; i++) {
        if (rd->off >= rd->len) return kn_rd_fail(rd, KN_ETRUNC);
        uint8_t b = rd->p[rd->off++];
        if (i == 4 && b > 0x0f) return kn_rd_fail(rd, KN_ECORRUPT);
        out |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = out;
            return 0;
        }
    }
    return kn_rd_fail(rd, KN_ECORRUPT);
}

int kn_rd_varint(kn_rd_t *rd, int32_t *v) {
    uint32_t u = 0;
    int r = kn_rd_uvarint(rd, &u);
    *v = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return r;
}

int kn_rd_varlong(kn_rd_t *rd, int64_t *v) {
    uint64_t u = 0;
    int r = kn_rd_uvarlong(rd, &u);
    *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return r;
}

int kn_rd_raw(kn_rd_t *rd, size_t n, const uint8_t **out) {
    *out = NULL;
    NEED(rd, n);
    *out = rd->p + rd->off;
    rd->off += n;
    return 0;
}

int kn_rd_skip(kn_rd_t *rd, size_t n) {
    NEED(rd, n);
    rd->off += n;
    return 0;
}

int kn_rd_sub(kn_rd_t *rd, size_t n, kn_rd_t *sub) {
    kn_rd_init(sub, rd->p + rd->off, 0);
    NEED(rd, n);
    kn_rd_init(sub, rd->p + rd->off, n);
    rd->off += n;
    return 0;
}

static int rd_lenbytes(kn_rd_t *rd, int64_t n, const uint8_t **out, int32_t *len) {
    *out = NULL;
    *len = -1;
    if (rd->err) return rd->err;
    if (n < -1) return kn_rd_fail(rd, KN_ECORRUPT);
    if (n == -1) return 0;
    if (kn_rd_raw(rd, (size_t)n, out)) return rd->err;
    *len = (int32_t)n;
    return 0;
}

int kn_rd_str16(kn_rd_t *rd, const char **out, int32_t *len) {
    int16_t n = 0;
    if (kn_rd_i16(rd, &n)) {
        *out = NULL;
        *len = -1;
        return rd->err;
    }
    return rd_lenbytes(rd, n, (const uint8_t **)out, len);
}

int kn_rd_cstr(kn_rd_t *rd, const char **out, int32_t *len) {
    uint32_t n = 0;
    if (kn_rd_uvarint(rd, &n)) {
        *out = NULL;
        *len = -1;
        return rd->err;
    }
    if (n > 0x7fffffffu) return kn_rd_fail(rd, KN_ECORRUPT);
    return rd_lenbytes(rd, (int64_t)n - 1, (const uint8_t **)out, len);
}

int kn_rd_bytes32(kn_rd_t *rd, const uint8_t **out, int32_t *len) {
    int32_t n = 0;
    if (kn_rd_i32(rd, &n)) {
        *out = NULL;
        *len = -1;
        return rd->err;
    }
    return rd_lenbytes(rd, n, out, len);
}

int kn_rd_cbytes(kn_rd_t *rd, const uint8_t **out, int32_t *len) {
    return kn_rd_cstr(rd, (const char **)out, len);
}

int kn_rd_array_len(kn_rd_t *rd, bool compact, size_t min_elem_size, int32_t *count) {
    int64_t n;
    *count = -1;
    if (compact) {
        uint32_t u = 0;
        if (kn_rd_uvarint(rd, &u)) return rd->err;
        n = (int64_t)u - 1;
    } else {
        int32_t i = 0;
        if (kn_rd_i32(rd, &i)) return rd->err;
        n = i;
    }
    if (n < -1) return kn_rd_fail(rd, KN_ECORRUPT);
    if (n > 0 && (uint64_t)n * (min_elem_size ? min_elem_size : 1) > kn_rd_remaining(rd))
        return kn_rd_fail(rd, KN_ETRUNC);
    *count = (int32_t)n;
    return 0;
}

int kn_rd_skip_tags(kn_rd_t *rd) {
    uint32_t n = 0;
    if (kn_rd_uvarint(rd, &n)) return rd->err;
    if (n > kn_rd_remaining(rd)) return kn_rd_fail(rd, KN_ETRUNC);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag = 0, sz = 0;
        if (kn_rd_uvarint(rd, &tag) || kn_rd_uvarint(rd, &sz) || kn_rd_skip(rd, sz)) return rd->err;
    }
    return 0;
}

/* ---- writer ---- */

void kn_wbuf_init(kn_wbuf_t *w) { memset(w, 0, sizeof(*w)); }

void kn_wbuf_free(kn_wbuf_t *w) {
    kn_free(w->mem);
    kn_free(w->pieces);
    memset(w, 0, sizeof(*w));
}

void kn_wbuf_reset(kn_wbuf_t *w) {
    w->mem_len = 0;
    w->npieces = 0;
    w->total = 0;
    w->err = 0;
}

static void grow_mem(kn_wbuf_t *w, size_t n) {
    if (w->mem_cap - w->mem_len >= n) return;
    size_t cap = w->mem_cap ? w->mem_cap : 256;
    while (cap - w->mem_len < n) cap *= 2;
    w->mem = kn_realloc(w->mem, cap);
    w->mem_cap = cap;
}

static kn_wpiece_t *add_piece(kn_wbuf_t *w) {
    if (w->npieces == w->pieces_cap) {
        w->pieces_cap = w->pieces_cap ? w->pieces_cap * 2 : 8;
        w->pieces = kn_realloc(w->pieces, w->pieces_cap * sizeof(*w->pieces));
    }
    return &w->pieces[w->npieces++];
}

static uint8_t *mem_extend(kn_wbuf_t *w, size_t n) {
    grow_mem(w, n);
    uint8_t *p = w->mem + w->mem_len;
    kn_wpiece_t *last = w->npieces ? &w->pieces[w->npieces - 1] : NULL;
    if (last && last->kind == KN_WPIECE_MEM && last->off + last->len == w->mem_len) {
        last->len += n;
    } else {
        kn_wpiece_t *pc = add_piece(w);
        pc->kind = KN_WPIECE_MEM;
        pc->fd = -1;
        pc->off = w->mem_len;
        pc->len = n;
    }
    w->mem_len += n;
    w->total += n;
    return p;
}

void kn_wbuf_write(kn_wbuf_t *w, const void *p, size_t n) {
    if (n == 0) return;
    memcpy(mem_extend(w, n), p, n);
}

void kn_wbuf_file(kn_wbuf_t *w, int fd, uint64_t off, uint64_t len) {
    if (len == 0) return;
    kn_wpiece_t *pc = add_piece(w);
    pc->kind = KN_WPIECE_FILE;
    pc->fd = fd;
    pc->off = off;
    pc->len = len;
    w->total += len;
}

size_t kn_wbuf_reserve(kn_wbuf_t *w, size_t n) {
    size_t off = w->mem_len;
    memset(mem_extend(w, n), 0, n);
    return off;
}

void kn_wbuf_patch_i32(kn_wbuf_t *w, size_t mem_off, int32_t v) {
    kn_put_be32(w->mem + mem_off, (uint32_t)v);
}

void kn_wr_i8(kn_wbuf_t *w, int8_t v) { *mem_extend(w, 1) = (uint8_t)v; }
void kn_wr_u16(kn_wbuf_t *w, uint16_t v) { kn_put_be16(mem_extend(w, 2), v); }
void kn_wr_i16(kn_wbuf_t *w, int16_t v) { kn_put_be16(mem_extend(w, 2), (uint16_t)v); }
void kn_wr_u32(kn_wbuf_t *w, uint32_t v) { kn_put_be32(mem_extend(w, 4), v); }
void kn_wr_i32(kn_wbuf_t *w, int32_t v) { kn_put_be32(mem_extend(w, 4), (uint32_t)v); }
void kn_wr_i64(kn_wbuf_t *w, int64_t v) { kn_put_be64(mem_extend(w, 8), (uint64_t)v); }
void kn_wr_f64(kn_wbuf_t *w, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    kn_put_be64(mem_extend(w, 8), u);
}

void kn_wr_uvarlong(kn_wbuf_t *w, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    kn_wbuf_write(w, tmp, n);
}

void kn_wr_uvarint(kn_wbuf_t *w, uint32_t v) { kn_wr_uvarlong(w, v); }
void kn_wr_varint(kn_wbuf_t *w, int32_t v) {
    kn_wr_uvarlong(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}
void kn_wr_varlong(kn_wbuf_t *w, int64_t v) {
    kn_wr_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t kn_uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t kn_varlong_size(int64_t v) { return kn_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void kn_wr_str16(kn_wbuf_t *w, const char *s, int32_t len) {
    if (len < 0 || !s) {
        kn_wr_i16(w, -1);
        return;
    }
    kn_wr_i16(w, (int16_t)len);
    kn_wbuf_write(w, s, (size_t)len);
}

void kn_wr_cstr(kn_wbuf_t *w, const char *s, int32_t len) {
    if (len < 0 || !s) {
        kn_wr_uvarint(w, 0);
        return;
    }
    kn_wr_uvarint(w, (uint32_t)len + 1);
    kn_wbuf_write(w, s, (size_t)len);
}

void kn_wr_bytes32(kn_wbuf_t *w, const void *p, int32_t len) {
    if (len < 0 || !p) {
        kn_wr_i32(w, -1);
        return;
    }
    kn_wr_i32(w, len);
    kn_wbuf_write(w, p, (size_t)len);
}

void kn_wr_cbytes(kn_wbuf_t *w, const void *p, int32_t len) { kn_wr_cstr(w, p, len); }

void kn_wr_array_len(kn_wbuf_t *w, bool compact, int32_t count) {
    if (compact)
        kn_wr_uvarint(w, count < 0 ? 0 : (uint32_t)count + 1);
    else
        kn_wr_i32(w, count);
}

void kn_wr_empty_tags(kn_wbuf_t *w) { kn_wr_uvarint(w, 0); }
