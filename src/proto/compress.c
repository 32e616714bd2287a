/* Kafka compression codecs with bounded output. See
 * include/kanal/proto/compress.h. Every decompressor grows its output buffer
 * geometrically up to cap + 1 bytes and fails with KN_ETOOBIG as soon as it
 * has produced more than cap, so a bomb never gets further than that. */
#include "kanal/proto/compress.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"
#include "kanal/util/mem.h"

/* Xerial snappy-java framing: magic, version 1, compatible version 1, then
 * blocks of [int32 BE compressed length][raw snappy]. Java writes 32 KiB blocks. */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER 16
#define XERIAL_BLOCK (32u * 1024u)
/* zstd: refuse frames asking for a window above 32 MiB (memory bound). */
#define ZSTD_WINDOW_LOG_MAX 25

const char *kn_compression_name(int codec) {
    switch (codec) {
    case KN_COMPRESSION_NONE: return "none";
    case KN_COMPRESSION_GZIP: return "gzip";
    case KN_COMPRESSION_SNAPPY: return "snappy";
    case KN_COMPRESSION_LZ4: return "lz4";
    case KN_COMPRESSION_ZSTD: return "zstd";
    default: return "?";
    }
}

int kn_compression_parse(const char *name, int *codec) {
    static const struct { const char *n; int c; } t[] = {
        {"producer", -1},           {"uncompressed", KN_COMPRESSION_NONE}, {"none", KN_COMPRESSION_NONE},
        {"gzip", KN_COMPRESSION_GZIP}, {"snappy", KN_COMPRESSION_SNAPPY},  {"lz4", KN_COMPRESSION_LZ4},
        {"zstd", KN_COMPRESSION_ZSTD},
    };
    if (!name) return KN_EINVAL;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(name, t[i].n) == 0) {
            *codec = t[i].c;
            return 0;
        }
    }
    return KN_EINVAL;
}

/* ---- bounded output buffer ---- */
typedef struct obuf_s {
    uint8_t *p;
    size_t len, size, limit; /* limit = cap + 1: reaching it proves "over cap" */
} obuf_t;

static int ob_init(obuf_t *o, size_t hint, size_t cap) {
    o->limit = cap < SIZE_MAX ? cap + 1 : cap;
    o->len = 0;
    o->size = hint < 4096 ? 4096 : hint;
    if (o->size > o->limit) o->size = o->limit;
    o->p = kn_trymalloc(o->size);
    return o->p ? 0 : KN_ENOMEM;
}

/* Make room for more output; KN_ETOOBIG once the cap is passed. */
static int ob_grow(obuf_t *o) {
    if (o->len > o->limit - 1) return KN_ETOOBIG;
    if (o->len < o->size) return 0;
    if (o->size >= o->limit) return KN_ETOOBIG;
    size_t n = o->size > o->limit / 2 ? o->limit : o->size * 2;
    uint8_t *np = kn_tryrealloc(o->p, n);
    if (!np) return KN_ENOMEM;
    o->p = np;
    o->size = n;
    return 0;
}

static int ob_finish(obuf_t *o, int rc, uint8_t **out, size_t *outlen) {
    if (rc == 0 && o->len > o->limit - 1) rc = KN_ETOOBIG;
    if (rc) {
        kn_free(o->p);
        return rc;
    }
    *out = o->p;
    *outlen = o->len;
    return 0;
}

/* ---- gzip ---- */
static int gzip_decompress(const uint8_t *in, size_t inlen, obuf_t *o) {
    if (inlen > UINT_MAX) return KN_ETOOBIG;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return KN_ENOMEM;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)inlen;
    int rc = 0;
    for (;;) {
        if ((rc = ob_grow(o))) break;
        size_t room = o->size - o->len;
        zs.next_out = o->p + o->len;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = zs.avail_out;
        int zr = inflate(&zs, Z_NO_FLUSH);
        o->len += before - zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0) break;
            /* Another gzip member follows (concatenated streams are legal). */
            if (inflateReset(&zs) != Z_OK) { rc = KN_ECORRUPT; break; }
            continue;
        }
        if (zr == Z_OK) continue;
        if (zr == Z_BUF_ERROR && zs.avail_out == 0) continue; /* needs more room */
        rc = zr == Z_MEM_ERROR ? KN_ENOMEM : KN_ECORRUPT;   /* bad data, or truncated */
        break;
    }
    inflateEnd(&zs);
    return rc;
}

static int gzip_compress(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
    if (inlen > UINT_MAX / 2) return KN_ETOOBIG;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return KN_ENOMEM;
    uLong bound = deflateBound(&zs, (uLong)inlen) + 32;
    uint8_t *buf = kn_trymalloc(bound);
    if (!buf) {
        deflateEnd(&zs);
        return KN_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)inlen;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = (size_t)zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        kn_free(buf);
        return KN_ENOMEM;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- snappy ---- */
static int snappy_block(const uint8_t *in, size_t inlen, obuf_t *o) {
    size_t n;
    if (snappy_uncompressed_length((const char *)in, inlen, &n) != SNAPPY_OK) return KN_ECORRUPT;
    if (n > o->limit - 1 - o->len) return KN_ETOOBIG;
    if (o->len + n > o->size) {
        uint8_t *np = kn_tryrealloc(o->p, o->len + n);
        if (!np) return KN_ENOMEM;
        o->p = np;
        o->size = o->len + n;
    }
    size_t got = n;
    if (snappy_uncompress((const char *)in, inlen, (char *)o->p + o->len, &got) != SNAPPY_OK || got != n)
        return KN_ECORRUPT;
    o->len += n;
    return 0;
}

static int snappy_decompress(const uint8_t *in, size_t inlen, obuf_t *o) {
    if (inlen < XERIAL_HEADER || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0)
        return snappy_block(in, inlen, o); /* raw (librdkafka) */
    kn_rd_t rd;
    kn_rd_init(&rd, in + XERIAL_HEADER, inlen - XERIAL_HEADER);
    while (kn_rd_remaining(&rd) > 0) {
        int32_t blen;
        const uint8_t *blk;
        if (kn_rd_i32(&rd, &blen) || blen < 0 || kn_rd_raw(&rd, (size_t)blen, &blk)) return KN_ECORRUPT;
        int rc = snappy_block(blk, (size_t)blen, o);
        if (rc) return rc;
    }
    return 0;
}

static int snappy_compress_xerial(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
    size_t nblocks = inlen / XERIAL_BLOCK + 1;
    size_t maxblk = snappy_max_compressed_length(XERIAL_BLOCK);
    if (nblocks > (SIZE_MAX - XERIAL_HEADER) / (maxblk + 4)) return KN_ETOOBIG;
    uint8_t *buf = kn_trymalloc(XERIAL_HEADER + nblocks * (maxblk + 4));
    if (!buf) return KN_ENOMEM;
    memcpy(buf, xerial_magic, sizeof(xerial_magic));
    kn_put_be32(buf + 8, 1);
    kn_put_be32(buf + 12, 1);
    size_t w = XERIAL_HEADER;
    for (size_t off = 0; off < inlen || (off == 0 && inlen == 0); off += XERIAL_BLOCK) {
        size_t n = inlen - off < XERIAL_BLOCK ? inlen - off : XERIAL_BLOCK;
        size_t clen = maxblk;
        if (snappy_compress((const char *)in + off, n, (char *)buf + w + 4, &clen) != SNAPPY_OK) {
            kn_free(buf);
            return KN_ENOMEM;
        }
        kn_put_be32(buf + w, (uint32_t)clen);
        w += 4 + clen;
        if (inlen == 0) break;
    }
    *out = buf;
    *outlen = w;
    return 0;
}

/* ---- lz4 (frame format) ---- */
static int lz4_decompress(const uint8_t *in, size_t inlen, obuf_t *o) {
    LZ4F_dctx *dc;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dc, LZ4F_VERSION))) return KN_ENOMEM;
    size_t pos = 0, hint = 1;
    int rc = 0;
    while (pos < inlen) {
        if ((rc = ob_grow(o))) break;
        size_t dst = o->size - o->len, src = inlen - pos;
        hint = LZ4F_decompress(dc, o->p + o->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) { rc = KN_ECORRUPT; break; }
        if (dst == 0 && src == 0) { rc = KN_ECORRUPT; break; } /* no progress */
        o->len += dst;
        pos += src;
    }
    /* Input used up: flush what the context still holds. */
    while (rc == 0 && hint != 0) {
        if ((rc = ob_grow(o))) break;
        size_t dst = o->size - o->len, src = 0;
        hint = LZ4F_decompress(dc, o->p + o->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint) || dst == 0) { rc = KN_ECORRUPT; break; } /* truncated frame */
        o->len += dst;
    }
    LZ4F_freeDecompressionContext(dc);
    return rc;
}

static int lz4_compress(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB; /* Kafka's KafkaLZ4BlockOutputStream default */
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(inlen, &prefs);
    uint8_t *buf = kn_trymalloc(bound);
    if (!buf) return KN_ENOMEM;
    size_t n = LZ4F_compressFrame(buf, bound, in, inlen, &prefs);
    if (LZ4F_isError(n)) {
        kn_free(buf);
        return KN_ENOMEM;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* ---- zstd ---- */
static int zstd_decompress(const uint8_t *in, size_t inlen, obuf_t *o) {
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!dc) return KN_ENOMEM;
    ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
    ZSTD_inBuffer ib = {in, inlen, 0};
    int rc = 0;
    size_t zr = 1;
    for (;;) {
        if ((rc = ob_grow(o))) break;
        ZSTD_outBuffer ob = {o->p + o->len, o->size - o->len, 0};
        size_t in_before = ib.pos;
        zr = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(zr)) {
            rc = ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ? KN_ENOMEM : KN_ECORRUPT;
            break;
        }
        o->len += ob.pos;
        if (zr == 0 && ib.pos == ib.size) break; /* last frame decoded and flushed */
        if (ob.pos == ob.size) continue;         /* output full: more may be buffered */
        if (ib.pos == ib.size) {                 /* frame not finished: truncated */
            rc = KN_ECORRUPT;
            break;
        }
        if (ob.pos == 0 && ib.pos == in_before && zr != 0) { /* no progress */
            rc = KN_ECORRUPT;
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    return rc;
}

static int zstd_compress(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
    size_t bound = ZSTD_compressBound(inlen);
    uint8_t *buf = kn_trymalloc(bound ? bound : 1);
    if (!buf) return KN_ENOMEM;
    size_t n = ZSTD_compress(buf, bound, in, inlen, 3);
    if (ZSTD_isError(n)) {
        kn_free(buf);
        return KN_ENOMEM;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int kn_decompress(int codec, const uint8_t *in, size_t inlen, size_t cap, uint8_t **out,
                  size_t *outlen) {
    if (codec <= KN_COMPRESSION_NONE || codec > KN_COMPRESSION_ZSTD) return KN_EUNSUPPORTED;
    obuf_t o;
    /* Start at 4x the input (typical ratios), never above the cap. */
    int rc = ob_init(&o, inlen <= SIZE_MAX / 4 ? inlen * 4 : inlen, cap);
    if (rc) return rc;
    switch (codec) {
    case KN_COMPRESSION_GZIP: rc = gzip_decompress(in, inlen, &o); break;
    case KN_COMPRESSION_SNAPPY: rc = snappy_decompress(in, inlen, &o); break;
    case KN_COMPRESSION_LZ4: rc = lz4_decompress(in, inlen, &o); break;
    default: rc = zstd_decompress(in, inlen, &o); break;
    }
    return ob_finish(&o, rc, out, outlen);
}

int kn_compress(int codec, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen) {
    switch (codec) {
    case KN_COMPRESSION_GZIP: return gzip_compress(in, inlen, out, outlen);
    case KN_COMPRESSION_SNAPPY: return snappy_compress_xerial(in, inlen, out, outlen);
    case KN_COMPRESSION_LZ4: return lz4_compress(in, inlen, out, outlen);
    case KN_COMPRESSION_ZSTD: return zstd_compress(in, inlen, out, outlen);
    default: return KN_EUNSUPPORTED;
    }
}

int kn_batch_records(const uint8_t *batch, size_t size, size_t cap, const uint8_t **records,
                     size_t *len, uint8_t **owned) {
    *owned = NULL;
    if (size < KN_BATCH_HEADER_SIZE) return KN_ECORRUPT;
    int codec = kn_be16(batch + KN_BATCH_OFF_ATTRIBUTES) & KN_BATCH_ATTR_COMPRESSION_MASK;
    if (codec == KN_COMPRESSION_NONE) {
        *records = batch + KN_BATCH_HEADER_SIZE;
        *len = size - KN_BATCH_HEADER_SIZE;
        return 0;
    }
    int rc = kn_decompress(codec, batch + KN_BATCH_HEADER_SIZE, size - KN_BATCH_HEADER_SIZE, cap, owned, len);
    if (rc) return rc;
    *records = *owned;
    return 0;
}

static void batch_fix_crc(uint8_t *batch, size_t size) {
    kn_put_be32(batch + KN_BATCH_OFF_CRC,
                kn_crc32c(0, batch + KN_BATCH_OFF_ATTRIBUTES, size - KN_BATCH_OFF_ATTRIBUTES));
}

void kn_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t now_ms) {
    uint16_t attrs = kn_be16(batch + KN_BATCH_OFF_ATTRIBUTES);
    kn_put_be16(batch + KN_BATCH_OFF_ATTRIBUTES, (uint16_t)(attrs | KN_BATCH_ATTR_TIMESTAMP_TYPE));
    kn_put_be64(batch + KN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)now_ms);
    batch_fix_crc(batch, size);
}

int kn_batch_rebuild(const uint8_t *batch, size_t size, const uint8_t *records, size_t rlen,
                     int codec, int64_t log_append_time, uint8_t **out, size_t *outlen) {
    if (size < KN_BATCH_HEADER_SIZE) return KN_EINVAL;
    uint8_t *comp = NULL;
    size_t clen = rlen;
    const uint8_t *body = records;
    if (codec != KN_COMPRESSION_NONE) {
        int rc = kn_compress(codec, records, rlen, &comp, &clen);
        if (rc) return rc;
        body = comp;
    }
    if (clen > (size_t)INT32_MAX - KN_BATCH_HEADER_SIZE) {
        kn_free(comp);
        return KN_ETOOBIG;
    }
    size_t total = KN_BATCH_HEADER_SIZE + clen;
    uint8_t *nb = kn_trymalloc(total);
    if (!nb) {
        kn_free(comp);
        return KN_ENOMEM;
    }
    memcpy(nb, batch, KN_BATCH_HEADER_SIZE);
    memcpy(nb + KN_BATCH_HEADER_SIZE, body, clen);
    kn_free(comp);
    kn_put_be32(nb + KN_BATCH_OFF_LENGTH, (uint32_t)(total - KN_BATCH_LOG_OVERHEAD));
    uint16_t attrs = kn_be16(nb + KN_BATCH_OFF_ATTRIBUTES);
    attrs = (uint16_t)((attrs & ~KN_BATCH_ATTR_COMPRESSION_MASK) | (unsigned)codec);
    kn_put_be16(nb + KN_BATCH_OFF_ATTRIBUTES, attrs);
    if (log_append_time >= 0) kn_batch_set_log_append_time(nb, total, log_append_time);
    else batch_fix_crc(nb, total);
    *out = nb;
    *outlen = total;
    return 0;
}
