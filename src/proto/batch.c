/* RecordBatch v2 validation and walking. See include/kanal/proto/batch.h for
 * the layout. Everything here reads untrusted bytes through length checks or
 * the bounded reader; nothing allocates. */
#include "kanal/proto/batch.h"

#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"

/* Kafka wire error codes answered by the validator (values from Kafka's
 * protocol error table). Kept private: the shared table lives in kerr. */
enum {
    KERR_NONE = 0,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_INVALID_RECORD = 87,
};

int kn_batch_parse_header(const uint8_t *p, size_t len, kn_batch_hdr_t *h) {
    if (len < KN_BATCH_HEADER_SIZE) return KN_ETRUNC;
    h->base_offset = (int64_t)kn_be64(p);
    h->batch_length = (int32_t)kn_be32(p + 8);
    h->leader_epoch = (int32_t)kn_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = kn_be32(p + 17);
    h->attributes = (int16_t)kn_be16(p + 21);
    h->last_offset_delta = (int32_t)kn_be32(p + 23);
    h->base_timestamp = (int64_t)kn_be64(p + 27);
    h->max_timestamp = (int64_t)kn_be64(p + 35);
    h->producer_id = (int64_t)kn_be64(p + 43);
    h->producer_epoch = (int16_t)kn_be16(p + 51);
    h->base_sequence = (int32_t)kn_be32(p + 53);
    h->records_count = (int32_t)kn_be32(p + 57);
    return 0;
}

bool kn_batch_crc_ok(const uint8_t *batch, size_t size) {
    if (size < KN_BATCH_HEADER_SIZE) return false;
    uint32_t want = kn_be32(batch + KN_BATCH_OFF_CRC);
    return kn_crc32c(0, batch + KN_BATCH_OFF_ATTRIBUTES, size - KN_BATCH_OFF_ATTRIBUTES) == want;
}

int kn_batch_iter_next(kn_batch_iter_t *it, kn_batch_hdr_t *h, const uint8_t **batch,
                       size_t *size) {
    size_t left = it->len - it->off;
    const uint8_t *b = it->p + it->off;
    if (left == 0) return 0;
    if (left < KN_BATCH_LOG_OVERHEAD) return KN_ETRUNC;
    int32_t blen = (int32_t)kn_be32(b + KN_BATCH_OFF_LENGTH);
    if (blen < KN_BATCH_MIN_LENGTH) return KN_ECORRUPT;
    size_t sz = (size_t)blen + KN_BATCH_LOG_OVERHEAD;
    if (sz > left) return KN_ETRUNC;
    kn_batch_parse_header(b, sz, h);
    *batch = b;
    *size = sz;
    it->off += sz;
    return 1;
}

/* Walk the records of an uncompressed batch body. Returns 0 when exactly
 * `count` well-formed records fill the body, else KN_ECORRUPT. */
static int walk_records(const uint8_t *body, size_t len, int32_t count) {
    kn_rd_t rd;
    kn_rd_init(&rd, body, len);
    int32_t n = 0;
    while (kn_rd_remaining(&rd) > 0) {
        if (n >= count) return KN_ECORRUPT; /* more records than declared */
        int32_t rlen;
        if (kn_rd_varint(&rd, &rlen) || rlen <= 0 || (size_t)rlen > kn_rd_remaining(&rd))
            return KN_ECORRUPT;
        kn_rd_t r;
        kn_rd_sub(&rd, (size_t)rlen, &r);
        int8_t attrs;
        int64_t ts_delta;
        int32_t off_delta, klen, vlen, nhdr;
        kn_rd_i8(&r, &attrs);
        kn_rd_varlong(&r, &ts_delta);
        kn_rd_varint(&r, &off_delta);
        if (r.err || off_delta != n) return KN_ECORRUPT;
        if (kn_rd_varint(&r, &klen) || klen < -1 || (klen > 0 && kn_rd_skip(&r, (size_t)klen)))
            return KN_ECORRUPT;
        if (kn_rd_varint(&r, &vlen) || vlen < -1 || (vlen > 0 && kn_rd_skip(&r, (size_t)vlen)))
            return KN_ECORRUPT;
        /* Each header takes at least 2 bytes (two varint lengths). */
        if (kn_rd_varint(&r, &nhdr) || nhdr < 0 || (size_t)nhdr > kn_rd_remaining(&r) / 2)
            return KN_ECORRUPT;
        for (int32_t i = 0; i < nhdr; i++) {
            int32_t hk, hv;
            if (kn_rd_varint(&r, &hk) || hk < 0 || kn_rd_skip(&r, (size_t)hk)) return KN_ECORRUPT;
            if (kn_rd_varint(&r, &hv) || hv < -1 || (hv > 0 && kn_rd_skip(&r, (size_t)hv)))
                return KN_ECORRUPT;
        }
        if (kn_rd_remaining(&r) != 0) return KN_ECORRUPT; /* record length lies */
        n++;
    }
    return n == count ? 0 : KN_ECORRUPT;
}

int kn_batch_walk_records(const uint8_t *records, size_t len, int32_t count) {
    return walk_records(records, len, count);
}

int kn_batch_first_record_at(const uint8_t *batch, size_t size, int64_t ts, int64_t *offset,
                             int64_t *ts_out) {
    kn_batch_hdr_t h;
    if (kn_batch_parse_header(batch, size, &h)) return KN_ECORRUPT;
    if (h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK) return KN_EUNSUPPORTED;
    kn_rd_t rd;
    kn_rd_init(&rd, batch + KN_BATCH_HEADER_SIZE, size - KN_BATCH_HEADER_SIZE);
    while (kn_rd_remaining(&rd) > 0) {
        int32_t rlen, off_delta;
        int8_t attrs;
        int64_t ts_delta;
        kn_rd_t r;
        if (kn_rd_varint(&rd, &rlen) || rlen <= 0 || kn_rd_sub(&rd, (size_t)rlen, &r))
            return KN_ECORRUPT;
        kn_rd_i8(&r, &attrs);
        kn_rd_varlong(&r, &ts_delta);
        kn_rd_varint(&r, &off_delta);
        if (r.err) return KN_ECORRUPT;
        int64_t t = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)ts_delta);
        if (t >= ts) {
            *offset = h.base_offset + off_delta;
            *ts_out = t;
            return 0;
        }
    }
    return KN_ENOTFOUND;
}

static int fail(int16_t *kafka_err, int16_t kerr, int err) {
    *kafka_err = kerr;
    return err;
}

int kn_batches_validate(const uint8_t *p, size_t len, int32_t max_batch_bytes,
                        kn_batches_info_t *info, int16_t *kafka_err) {
    kn_batches_info_t tmp;
    if (!info) info = &tmp;
    *info = (kn_batches_info_t){.max_timestamp = -1, .first_timestamp = -1, .producer_id = -1};
    *kafka_err = KERR_NONE;
    if (p == NULL || len == 0) return fail(kafka_err, KERR_CORRUPT_MESSAGE, KN_ETRUNC);

    size_t off = 0;
    while (off < len) {
        const uint8_t *b = p + off;
        size_t left = len - off;
        if (left < KN_BATCH_LOG_OVERHEAD) return fail(kafka_err, KERR_CORRUPT_MESSAGE, KN_ETRUNC);
        int32_t blen = (int32_t)kn_be32(b + KN_BATCH_OFF_LENGTH);
        if (blen < 0 || (size_t)blen > left - KN_BATCH_LOG_OVERHEAD)
            return fail(kafka_err, KERR_CORRUPT_MESSAGE, KN_ETRUNC);
        size_t sz = (size_t)blen + KN_BATCH_LOG_OVERHEAD;
        /* Magic sits at the same place in every format, so old formats are
         * recognised (and refused) even when shorter than a v2 header. */
        if (sz > KN_BATCH_OFF_MAGIC && b[KN_BATCH_OFF_MAGIC] != KN_BATCH_MAGIC_V2)
            return fail(kafka_err, KERR_INVALID_RECORD, KN_EUNSUPPORTED);
        if (blen < KN_BATCH_MIN_LENGTH) return fail(kafka_err, KERR_CORRUPT_MESSAGE, KN_ECORRUPT);
        if (max_batch_bytes >= 0 && sz > (size_t)max_batch_bytes)
            return fail(kafka_err, KERR_MESSAGE_TOO_LARGE, KN_ETOOBIG);
        if (!kn_batch_crc_ok(b, sz)) return fail(kafka_err, KERR_CORRUPT_MESSAGE, KN_ECORRUPT);

        kn_batch_hdr_t h;
        kn_batch_parse_header(b, sz, &h);
        int comp = h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK;
        if (comp > KN_COMPRESSION_ZSTD || (h.attributes & KN_BATCH_ATTR_CONTROL))
            return fail(kafka_err, KERR_INVALID_RECORD, KN_ECORRUPT);
        if (h.records_count < 1 || h.last_offset_delta != h.records_count - 1)
            return fail(kafka_err, KERR_INVALID_RECORD, KN_ECORRUPT);
        if (comp == KN_COMPRESSION_NONE &&
            walk_records(b + KN_BATCH_HEADER_SIZE, sz - KN_BATCH_HEADER_SIZE, h.records_count))
            return fail(kafka_err, KERR_INVALID_RECORD, KN_ECORRUPT);

        if (info->nbatches == 0) {
            info->first_timestamp = h.base_timestamp;
            info->compression = (int16_t)comp;
            info->producer_id = h.producer_id;
        }
        info->nbatches++;
        info->nrecords += h.records_count;
        info->noffsets += (int64_t)h.last_offset_delta + 1;
        if (h.max_timestamp > info->max_timestamp) info->max_timestamp = h.max_timestamp;
        if (h.attributes & KN_BATCH_ATTR_TRANSACTIONAL) info->transactional = true;
        off += sz;
    }
    return 0;
}

void kn_batches_assign_offsets(uint8_t *p, size_t len, int64_t first_offset) {
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *b;
    size_t sz;
    int64_t next = first_offset;
    kn_batch_iter_init(&it, p, len);
    while (kn_batch_iter_next(&it, &h, &b, &sz) == 1) {
        kn_put_be64(p + (b - p), (uint64_t)next);
        next += (int64_t)h.last_offset_delta + 1;
    }
}
