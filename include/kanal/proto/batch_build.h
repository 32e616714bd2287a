/* Building RecordBatch v2 blobs (uncompressed) and walking the records of
 * an uncompressed batch. Used for the broker's own writes (the
 * __consumer_offsets records of the group coordinator) and to read them back.
 *
 * Record layout inside a v2 batch (varints are zigzag):
 *   length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
 *   keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
 *   headerCount varint, headers.
 * Pure functions over memory: no I/O, any thread. */
#ifndef KANAL_PROTO_BATCH_BUILD_H
#define KANAL_PROTO_BATCH_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "kanal/util/buf.h"

typedef struct kn_batch_builder_s {
    kn_wbuf_t w;          /* header (61 bytes) + records, contiguous memory */
    kn_wbuf_t rec;        /* scratch for one record body */
    int32_t count;
    int64_t base_ts, max_ts;
} kn_batch_builder_t;

/* Start a batch whose records carry CreateTime timestamp_ms. */
void kn_batch_builder_init(kn_batch_builder_t *b, int64_t timestamp_ms);
/* Append a record without headers; len -1 = null key / null value (a
 * tombstone). */
void kn_batch_builder_add(kn_batch_builder_t *b, const void *key, int32_t key_len, const void *value,
                          int32_t value_len);
/* Fill the header (baseOffset 0, lengths, producer id/epoch/sequence -1,
 * lastOffsetDelta, timestamps) and the CRC-32C. *out points into the builder
 * (valid until kn_batch_builder_free). Returns 0, KN_EINVAL when no record
 * was added, KN_ENOMEM if a buffer could not grow. */
int kn_batch_builder_finish(kn_batch_builder_t *b, uint8_t **out, size_t *len);
void kn_batch_builder_free(kn_batch_builder_t *b);

/* One record of a batch; key/value borrow from the batch bytes. */
typedef struct kn_record_s {
    int64_t offset;    /* baseOffset + offsetDelta */
    int64_t timestamp; /* baseTimestamp + timestampDelta */
    const uint8_t *key;
    int32_t key_len;   /* -1 = null */
    const uint8_t *value;
    int32_t value_len; /* -1 = null */
} kn_record_t;

typedef struct kn_record_iter_s {
    kn_rd_t rd;
    int64_t base_offset, base_ts;
    int32_t left;
} kn_record_iter_t;

/* Walk the records of one whole batch (size bytes, as kn_batch_iter_next
 * gives it). Returns 0, KN_EUNSUPPORTED for a compressed batch, KN_ETRUNC /
 * KN_ECORRUPT for a malformed header. Control batches are walked too: the
 * caller checks the attributes. */
int kn_record_iter_init(kn_record_iter_t *it, const uint8_t *batch, size_t size);
/* 1 with *rec filled, 0 at the end, or a negative KN_E* (bounded reads: a
 * record never reaches outside its own length). */
int kn_record_iter_next(kn_record_iter_t *it, kn_record_t *rec);

#endif
