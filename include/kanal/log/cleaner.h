/* Log compaction (cleanup.policy=compact): keep the latest record per key.
 *
 * One cleaning is a job in three steps:
 *   kn_cleaner_plan    owner thread: is the log due (dirty ratio), and which
 *                      segments; holds references on them.
 *   kn_cleaner_run     a work thread: builds the key -> latest offset map over
 *                      the dirty segments, writes cleaned segments as
 *                      <base>.log.cleaned (+ indexes), fsyncs, and swaps them
 *                      in on disk: .cleaned -> .swap (commit point), old
 *                      segment files -> .deleted, .swap -> final names. It
 *                      touches no in-memory log state and only files of the
 *                      planned segments.
 *   kn_cleaner_commit  owner thread: replaces the planned segments in the log
 *                      with the cleaned ones and hands back the replaced
 *                      segments (files already *.deleted) for delayed removal.
 * Rules (Kafka's LogCleaner): records keep their offsets (gaps appear); a
 * record is dropped when a later record has the same key, when it has no key,
 * or when it is a tombstone (null value) older than delete.retention.ms; each
 * producer's last batch is kept (empty if all its records go) so idempotent
 * producer state survives (KIP-98); the last batch of every cleaned segment is
 * kept (empty if need be) so the segment ends where it did — recovery relies
 * on it. Compressed, transactional and control batches are kept as they are
 * (their keys do not enter the map). Only closed segments wholly below the
 * high watermark and older than min.compaction.lag.ms are cleaned.
 * Crash safety: see docs/retention.md. */
#ifndef KANAL_LOG_CLEANER_H
#define KANAL_LOG_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/log/log.h"
#include "kanal/log/retention.h"

typedef struct kn_cleaner_config_s {
    int64_t delete_retention_ms;      /* delete.retention.ms: tombstones live this long */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms */
    int64_t max_map_bytes;            /* offset map memory cap (24 bytes per key); <= 0: 64 MiB */
    int64_t io_bytes_per_sec;         /* throttle on bytes read + written; <= 0: none */
} kn_cleaner_config_t;

typedef struct kn_clean_job_s kn_clean_job_t;

typedef struct kn_cleaner_stats_s {
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept;
    int32_t segments_in, segments_out;
    int64_t elapsed_ms, throttled_ms;
    double dirty_ratio;
} kn_cleaner_stats_t;

/* Owner thread. first_dirty: offset below which the log is already clean
 * (the cleaner checkpoint; 0 if unknown). Returns 0 with *out = NULL when the
 * log is not due (or force is false and the dirty ratio is below
 * min.cleanable.dirty.ratio), else 0 with a job. */
int kn_cleaner_plan(kn_plog_t *l, const kn_cleaner_config_t *c, int64_t first_dirty,
                    int64_t high_watermark, int64_t now_ms, bool force, kn_clean_job_t **out);

/* Work thread. Returns 0 (the disk now holds the cleaned log), or a negative
 * KN_E* with the old segments untouched (KN_ECLOSED if cancelled). */
int kn_cleaner_run(kn_clean_job_t *j);
/* Any thread: make a running job stop at its next batch. */
void kn_cleaner_cancel(kn_clean_job_t *j);

/* Owner thread, after a successful run: install the cleaned segments in l.
 * *first_dirty = the new cleaner checkpoint. Replaced segments are appended to
 * *deleted (their files are already *.deleted; the caller unlinks them after
 * file.delete.delay.ms). KN_ESTATE if l no longer holds the planned segments
 * (nothing changed in memory; a restart picks up the disk state). */
int kn_cleaner_commit(kn_plog_t *l, kn_clean_job_t *j, int64_t *first_dirty,
                      kn_deleted_seg_t **deleted);
const kn_cleaner_stats_t *kn_cleaner_job_stats(const kn_clean_job_t *j);
/* Owner thread: release references, remove unused *.cleaned files. */
void kn_cleaner_job_free(kn_clean_job_t *j);

#endif
