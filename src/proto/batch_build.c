/* RecordBatch v2 builder (uncompressed, no headers) and a bounded record
 * walker. See include/kanal/proto/batch_build.h. */
#include "kanal/proto/batch_build.h"

#include <string.h>

#include "kanal/proto/batch.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"

void kn_batch_builder_init(kn_batch_builder_t *b, int64_t timestamp_ms) {
    memset(b, 0, sizeof(*b));
    kn_wbuf_init(&b->w);
    kn_wbuf_init(&b->rec);
    kn_wbuf_reserve(&b->w, KN_BATCH_HEADER_SIZE);
    b->base_ts = b->max_ts = timestamp_ms;
}

void kn_batch_builder_add(kn_batch_builder_t *b, const void *key, int32_t key_len, const void *value,
                          int32_t value_len) {
    kn_wbuf_t *r = &b->rec;
    kn_wbuf_reset(r);
    kn_wr_i8(r, 0);                    /* attributes */
    kn_wr_varlong(r, 0);               /* timestampDelta: every record at base_ts */
    kn_wr_varint(r, b->count);         /* offsetDelta */
    if (key_len < 0 || !key) {
        kn_wr_varint(r, -1);
    } else {
        kn_wr_varint(r, key_len);
        kn_wbuf_write(r, key, (size_t)key_len);
    }
    if (value_len < 0 || !value) {
        kn_wr_varint(r, -1);
    } else {
        kn_wr_varint(r, value_len);
        kn_wbuf_write(r, value, (size_t)value_len);
    }
    kn_wr_varint(r, 0); /* headers */
    kn_wr_varint(&b->w, (int32_t)r->mem_len);
    kn_wbuf_write(&b->w, r->mem, r->mem_len);
    b->count++;
}

int kn_batch_builder_finish(kn_batch_builder_t *b, uint8_t **out, size_t *len) {
    if (b->count == 0) return KN_EINVAL;
    if (b->w.err) return KN_ENOMEM;
    uint8_t *p = b->w.mem;
    size_t n = b->w.mem_len;
    kn_put_be64(p, 0);                                            /* baseOffset: the log assigns it */
    kn_put_be32(p + 8, (uint32_t)(n - KN_BATCH_LOG_OVERHEAD));    /* batchLength */
    kn_put_be32(p + 12, (uint32_t)-1);                            /* partitionLeaderEpoch */
    p[16] = KN_BATCH_MAGIC_V2;
    kn_put_be16(p + 21, 0);                                       /* attributes: none, CreateTime */
    kn_put_be32(p + 23, (uint32_t)(b->count - 1));                /* lastOffsetDelta */
    kn_put_be64(p + 27, (uint64_t)b->base_ts);
    kn_put_be64(p + 35, (uint64_t)b->max_ts);
    kn_put_be64(p + 43, (uint64_t)(int64_t)-1);                   /* producerId */
    kn_put_be16(p + 51, (uint16_t)(int16_t)-1);                   /* producerEpoch */
    kn_put_be32(p + 53, (uint32_t)-1);                            /* baseSequence */
    kn_put_be32(p + 57, (uint32_t)b->count);
    kn_put_be32(p + KN_BATCH_OFF_CRC, kn_crc32c(0, p + KN_BATCH_OFF_ATTRIBUTES, n - KN_BATCH_OFF_ATTRIBUTES));
    *out = p;
    *len = n;
    return 0;
}

void kn_batch_builder_free(kn_batch_builder_t *b) {
    kn_wbuf_free(&b->w);
    kn_wbuf_free(&b->rec);
}

int kn_record_iter_init(kn_record_iter_t *it, const uint8_t *batch, size_t size) {
    kn_batch_hdr_t h;
    memset(it, 0, sizeof(*it));
    if (kn_batch_parse_header(batch, size, &h) < 0) return KN_ETRUNC;
    if (h.magic != KN_BATCH_MAGIC_V2 || h.batch_length < KN_BATCH_MIN_LENGTH ||
        (size_t)h.batch_length + KN_BATCH_LOG_OVERHEAD != size || h.records_count < 0)
        return KN_ECORRUPT;
    if (h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK) return KN_EUNSUPPORTED;
    kn_rd_init(&it->rd, batch + KN_BATCH_HEADER_SIZE, size - KN_BATCH_HEADER_SIZE);
    it->base_offset = h.base_offset;
    it->base_ts = h.base_timestamp;
    it->left = h.records_count;
    return 0;
}

static int rd_varbytes(kn_rd_t *rd, const uint8_t **p, int32_t *len) {
    int32_t n = 0;
    if (kn_rd_varint(rd, &n)) return rd->err;
    if (n < -1) return kn_rd_fail(rd, KN_ECORRUPT);
    *len = n;
    *p = NULL;
    if (n >= 0) return kn_rd_raw(rd, (size_t)n, p);
    return 0;
}

int kn_record_iter_next(kn_record_iter_t *it, kn_record_t *rec) {
    if (it->left <= 0) return 0;
    int32_t rlen = 0;
    if (kn_rd_varint(&it->rd, &rlen)) return it->rd.err;
    if (rlen < 0) return KN_ECORRUPT;
    kn_rd_t r;
    if (kn_rd_sub(&it->rd, (size_t)rlen, &r)) return it->rd.err;
    int8_t attrs = 0;
    int64_t tsd = 0;
    int32_t od = 0, nh = 0;
    kn_rd_i8(&r, &attrs);
    kn_rd_varlong(&r, &tsd);
    kn_rd_varint(&r, &od);
    rd_varbytes(&r, &rec->key, &rec->key_len);
    rd_varbytes(&r, &rec->value, &rec->value_len);
    kn_rd_varint(&r, &nh);
    if (r.err) return r.err;
    if (nh < 0) return KN_ECORRUPT;
    for (int32_t i = 0; i < nh; i++) {
        const uint8_t *hp;
        int32_t hl;
        if (rd_varbytes(&r, &hp, &hl) || rd_varbytes(&r, &hp, &hl)) return r.err;
    }
    rec->offset = it->base_offset + od;
    rec->timestamp = it->base_ts + tsd;
    it->left--;
    return 1;
}
