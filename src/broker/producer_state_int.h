/* Per-partition state of idempotent producers (KIP-98), Kafka 3.9's rules:
 * producer id -> epoch and its last 5 appended batches. Loop thread; the
 * check/update functions are pure (no I/O) so unit tests drive them directly.
 *
 * Snapshots use Kafka's producer snapshot file (version 1): <offset>.snapshot
 * (20 digits) in the partition directory, written on clean close and when a
 * segment rolls; at open the newest snapshot at or below the log end is read
 * and the batches after it are replayed from the log. A snapshot keeps only
 * each producer's last batch, as Kafka's does. */
#ifndef KANAL_BROKER_PRODUCER_STATE_INT_H
#define KANAL_BROKER_PRODUCER_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/log/log.h"

#define KN_PSTATE_CACHED_BATCHES 5

typedef struct kn_pstate_batch_s {
    int32_t first_seq, last_seq;
    int64_t first_offset, last_offset;
    int64_t timestamp; /* batch maxTimestamp */
} kn_pstate_batch_t;

typedef struct kn_pstate_entry_s {
    int64_t pid;
    int16_t epoch;
    int32_t nbatches;                             /* <= 5 */
    kn_pstate_batch_t b[KN_PSTATE_CACHED_BATCHES]; /* oldest first */
} kn_pstate_entry_t;

typedef struct kn_pstate_s {
    kn_pstate_entry_t *e; /* sorted by pid */
    size_t n, cap;
    int nsegments_at_snapshot; /* segment count when last written (roll detection) */
} kn_pstate_t;

void kn_pstate_init(kn_pstate_t *s);
void kn_pstate_free(kn_pstate_t *s);
const kn_pstate_entry_t *kn_pstate_find(const kn_pstate_t *s, int64_t pid);

enum { KN_PSTATE_APPEND = 0, KN_PSTATE_DUPLICATE = 1 };

/* Check one batch of producer pid before append. Returns KN_PSTATE_APPEND,
 * KN_PSTATE_DUPLICATE (a cached batch with the same epoch and sequence range:
 * *dup is it; answer NONE with its offsets, append nothing), or -1 with
 * *kafka_err = 47 INVALID_PRODUCER_EPOCH (epoch below the current one) or 45
 * OUT_OF_ORDER_SEQUENCE_NUMBER (gap, or a new epoch not starting at 0). A
 * producer with no state is accepted at any sequence (Kafka 3.x: its records
 * may have been deleted by retention). */
int kn_pstate_check(const kn_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                    kn_pstate_batch_t *dup, int16_t *kafka_err);

/* Record an appended batch without checks (leader after append, follower
 * replication, rebuild from the log). A new epoch drops the cached batches. */
void kn_pstate_update(kn_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                      int64_t first_offset, int64_t last_offset, int64_t timestamp);

/* kn_pstate_update for every idempotent batch (producerId >= 0, baseSequence
 * >= 0) of a blob of whole batches with offsets assigned. */
void kn_pstate_update_blob(kn_pstate_t *s, const uint8_t *p, size_t len);

/* Write <dir>/<offset>.snapshot (temp file, fsync, rename, dir fsync) and
 * delete older snapshots but the previous one. Blocks. 0 or KN_EIO. */
int kn_pstate_write_snapshot(const kn_pstate_t *s, const char *dir, int64_t offset, const char *ctx);

/* Load the newest valid snapshot at or below the log end (snapshots past the
 * end, e.g. after truncation, are deleted) and replay the log's batches from
 * there (from the log start if none). Blocks (reads). 0 or KN_E*. */
int kn_pstate_load(kn_pstate_t *s, const char *dir, kn_plog_t *log, const char *ctx);

/* Parse a snapshot file's bytes into s (replacing nothing: entries are
 * added). 0 or KN_ECORRUPT (bad version, CRC or size). */
int kn_pstate_parse_snapshot(kn_pstate_t *s, const uint8_t *p, size_t len);

#endif
