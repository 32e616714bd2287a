/* Test helper: encode valid RecordBatch v2 blobs (uncompressed). */
#ifndef KANAL_TEST_LOG_BATCHGEN_H
#define KANAL_TEST_LOG_BATCHGEN_H

#include <stddef.h>
#include <stdint.h>

/* Write one batch of nrec records (record i has key "k<i>", a value of
 * value_len bytes filled with 'a'+i, and one header on odd records) into out.
 * Timestamps: base_ts + i. Returns its size; aborts if cap is too small. */
size_t tb_batch(uint8_t *out, size_t cap, int nrec, int64_t base_ts, size_t value_len);
/* Recompute the CRC of the batch at b (after a test edits it). */
void tb_fix_crc(uint8_t *b);

#endif
