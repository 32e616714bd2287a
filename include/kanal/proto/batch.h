/* Kafka RecordBatch (magic v2): header parsing, validation of a Produce
 * request's records blob, offset assignment and a walker over whole batches.
 *
 * Layout (big-endian), offsets in bytes from the batch start:
 *    0 baseOffset int64          -- not covered by the CRC
 *    8 batchLength int32         -- bytes after this field
 *   12 partitionLeaderEpoch int32
 *   16 magic int8                -- at 16 in every message format version
 *   17 crc uint32                -- CRC-32C over bytes [21, end)
 *   21 attributes int16          -- bits 0-2 compression, 3 timestampType,
 *                                   4 transactional, 5 control
 *   23 lastOffsetDelta int32
 *   27 baseTimestamp int64
 *   35 maxTimestamp int64
 *   43 producerId int64
 *   51 producerEpoch int16
 *   53 baseSequence int32
 *   57 recordsCount int32
 *   61 records...
 * Pure functions over memory: no I/O, any thread. */
#ifndef KANAL_PROTO_BATCH_H
#define KANAL_PROTO_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KN_BATCH_HEADER_SIZE 61
/* baseOffset + batchLength: the part not counted in batchLength. */
#define KN_BATCH_LOG_OVERHEAD 12
/* Smallest legal batchLength (an empty-records header). */
#define KN_BATCH_MIN_LENGTH (KN_BATCH_HEADER_SIZE - KN_BATCH_LOG_OVERHEAD)
#define KN_BATCH_OFF_LENGTH 8
#define KN_BATCH_OFF_MAGIC 16
#define KN_BATCH_OFF_CRC 17
#define KN_BATCH_OFF_ATTRIBUTES 21
#define KN_BATCH_OFF_LAST_OFFSET_DELTA 23
#define KN_BATCH_OFF_MAX_TIMESTAMP 35
#define KN_BATCH_MAGIC_V2 2

#define KN_BATCH_ATTR_COMPRESSION_MASK 0x07
#define KN_BATCH_ATTR_TIMESTAMP_TYPE 0x08 /* 1 = LogAppendTime */
#define KN_BATCH_ATTR_TRANSACTIONAL 0x10
#define KN_BATCH_ATTR_CONTROL 0x20

enum {
    KN_COMPRESSION_NONE = 0,
    KN_COMPRESSION_GZIP = 1,
    KN_COMPRESSION_SNAPPY = 2,
    KN_COMPRESSION_LZ4 = 3,
    KN_COMPRESSION_ZSTD = 4,
};

typedef struct kn_batch_hdr_s {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp, max_timestamp, producer_id;
    int16_t producer_epoch;
    int32_t base_sequence, records_count;
} kn_batch_hdr_t;

/* Whole size of the batch on disk/wire (batchLength + 12). */
static inline int64_t kn_batch_size(const kn_batch_hdr_t *h) {
    return (int64_t)h->batch_length + KN_BATCH_LOG_OVERHEAD;
}
static inline int64_t kn_batch_last_offset(const kn_batch_hdr_t *h) {
    return h->base_offset + h->last_offset_delta;
}

/* Decode the 61-byte v2 header at p. Checks only that len >= 61: returns 0 or
 * KN_ETRUNC. Field sanity (magic, lengths) is the caller's business. */
int kn_batch_parse_header(const uint8_t *p, size_t len, kn_batch_hdr_t *h);

/* CRC-32C of a whole batch (size bytes, size >= 61) matches its crc field. */
bool kn_batch_crc_ok(const uint8_t *batch, size_t size);

/* Summary of a validated records blob. */
typedef struct kn_batches_info_s {
    int32_t nbatches;
    int64_t nrecords;        /* sum of recordsCount */
    int64_t noffsets;        /* sum of lastOffsetDelta + 1 (offsets to assign) */
    int64_t max_timestamp;   /* max over batches' maxTimestamp */
    int64_t first_timestamp; /* baseTimestamp of the first batch */
    int16_t compression;     /* of the first batch */
    bool transactional;      /* any batch has the transactional bit */
    int64_t producer_id;     /* of the first batch */
} kn_batches_info_t;

/* Validate the records blob of a Produce request: one or more whole v2
 * batches covering exactly len bytes. Checks, per batch: length field
 * (>= 49, within the blob; a partial trailing batch is CORRUPT_MESSAGE),
 * size <= max_batch_bytes (MESSAGE_TOO_LARGE; negative = no limit), magic == 2
 * (INVALID_RECORD),
 * CRC-32C (CORRUPT_MESSAGE), known compression codec, no control bit,
 * recordsCount >= 1 and lastOffsetDelta == recordsCount - 1 (INVALID_RECORD),
 * and for uncompressed batches every record, bounded by the batch: varint
 * length, attributes, timestampDelta, sequential offsetDelta, key/value
 * (-1 = null), headers (non-null keys), record count (INVALID_RECORD).
 * Compressed batches: header and CRC only (decompression is not done yet).
 * Returns 0 with *kafka_err = 0, or a negative KN_E* with *kafka_err set to the
 * Kafka error code to answer (2, 10 or 87). info may be NULL. */
int kn_batches_validate(const uint8_t *p, size_t len, int32_t max_batch_bytes,
                        kn_batches_info_t *info, int16_t *kafka_err);

/* Set each batch's baseOffset so offsets run contiguously from first_offset
 * (baseOffset is outside the CRC, so the CRC stays valid). The blob must have
 * passed kn_batches_validate; the walk stops at anything malformed. */
void kn_batches_assign_offsets(uint8_t *p, size_t len, int64_t first_offset);

/* Check the uncompressed records section of a batch (len bytes, e.g. from
 * kn_batch_records) holds exactly count well-formed records, as
 * kn_batches_validate does for uncompressed batches: 0 or KN_ECORRUPT. */
int kn_batch_walk_records(const uint8_t *records, size_t len, int32_t count);

/* In an uncompressed CreateTime batch of size bytes, the first record whose
 * timestamp (baseTimestamp + timestampDelta) is >= ts: *offset and *ts_out.
 * KN_ENOTFOUND if none, KN_EUNSUPPORTED if compressed, KN_ECORRUPT if the
 * records do not parse. */
int kn_batch_first_record_at(const uint8_t *batch, size_t size, int64_t ts, int64_t *offset,
                             int64_t *ts_out);

/* Walker over whole batches in memory (a validated blob, or bytes read from a
 * segment file). */
typedef struct kn_batch_iter_s {
    const uint8_t *p;
    size_t len;
    size_t off; /* start of the next batch */
} kn_batch_iter_t;

static inline void kn_batch_iter_init(kn_batch_iter_t *it, const void *p, size_t len) {
    it->p = (const uint8_t *)p;
    it->len = len;
    it->off = 0;
}

/* Next batch: returns 1 with *h decoded and *batch and *size spanning the whole
 * batch; 0 at the exact end; KN_ETRUNC when the bytes left hold only part of
 * a batch (header or body); KN_ECORRUPT when batchLength < 49. Checks neither
 * magic nor CRC (see kn_batch_crc_ok). On error the iterator does not move. */
int kn_batch_iter_next(kn_batch_iter_t *it, kn_batch_hdr_t *h, const uint8_t **batch,
                       size_t *size);

#endif
