/* Partition storage in Kafka's on-disk layout.
 *
 * A partition lives in <logdir>/<topic>-<partition>/ as segments named by
 * their base offset (20 digits): NNN.log (record batches, as on the wire),
 * NNN.index (8-byte entries: relative offset int32, file position int32, BE)
 * and NNN.timeindex (12-byte entries: timestamp int64, relative offset int32).
 * See docs/storage.md.
 *
 * Threading: single-threaded; the caller serialises all calls on one
 * partition (the event-loop thread, or a work thread for the blocking ones).
 * Calls that may fsync (block on the disk) say so: open (recovery), append
 * (flush policy, roll), flush, roll_if_due, truncate_to, close, delete. */
#ifndef KANAL_LOG_LOG_H
#define KANAL_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kn_log_config_s {
    int64_t segment_bytes;           /* segment.bytes: roll before exceeding */
    int64_t segment_ms;              /* segment.ms: roll when the active segment is older */
    int32_t index_interval_bytes;    /* index.interval.bytes: log bytes between index entries */
    int32_t segment_index_bytes;     /* segment.index.bytes: max size of an index file */
    int64_t flush_interval_messages; /* flush.messages: fsync after this many (INT64_MAX = never) */
    int64_t flush_interval_ms;       /* flush.ms: fsync when unflushed data is older (INT64_MAX = never) */
} kn_log_config_t;

/* Kafka's defaults: 1 GiB, 7 days, 4096, 10 MiB, never, never. */
void kn_log_config_default(kn_log_config_t *c);

typedef struct kn_segment_s kn_segment_t;
typedef struct kn_plog_s kn_plog_t;

/* Segment references: a read result holds one so that a segment deleted
 * (retention, truncation, partition delete) while a reply is in flight keeps
 * its fd open until released. */
void kn_segment_keep(kn_segment_t *s);
void kn_segment_release(kn_segment_t *s);
int64_t kn_segment_base_offset(const kn_segment_t *s);

/* Open (creating the directory if missing) the partition log in dir. name
 * ("topic-0") is the log context. If !clean_shutdown, every segment holding
 * offsets at or past recovery_point is recovered: batches are scanned from
 * the start (header, length, magic, CRC, offsets increasing), the file is
 * truncated after the last valid batch, indexes are rebuilt, and segments
 * after a damaged one are deleted. If clean_shutdown, files are trusted but
 * index sizes/entries and the tail of each segment are sanity-checked (any
 * failure falls back to recovering that segment). Blocks (reads, fsync). */
int kn_plog_open(const char *dir, const char *name, const kn_log_config_t *cfg,
                 int64_t recovery_point, bool clean_shutdown, kn_plog_t **out);

/* Append batches that passed kn_batches_validate (len bytes, whole batches).
 * Offsets are assigned from the log end offset by rewriting each baseOffset
 * in place. Rolls first if the active segment would exceed segment.bytes, is
 * older than segment.ms, or its index is full. One write; on failure the
 * segment is truncated back, nothing is indexed, and KN_ENOSPC / KN_EIO is
 * returned (the log stays as it was). May fsync per the flush policy.
 * now_ms: wall clock, for segment.ms and flush.ms. */
int kn_plog_append(kn_plog_t *l, uint8_t *batches, size_t len, int64_t now_ms,
                   int64_t *base_offset_out, int64_t *last_offset_out);

/* Append batches fetched from the leader, keeping their offsets: the first
 * base offset must be >= the log end offset and batches must be in order
 * (KN_ERANGE otherwise). Same failure rules as kn_plog_append. */
int kn_plog_append_replica(kn_plog_t *l, uint8_t *batches, size_t len, int64_t now_ms,
                           int64_t *base_offset_out, int64_t *last_offset_out);

/* A range of whole batches in a segment file, for sendfile. */
typedef struct kn_plog_read_s {
    int fd;            /* segment .log fd, valid while seg is held */
    int64_t file_pos;  /* start of the first batch */
    int32_t len;       /* bytes; 0 = nothing to send */
    kn_segment_t *seg; /* kept; release with kn_plog_read_release (NULL if len 0) */
    int64_t first_offset; /* base offset of the first batch returned */
} kn_plog_read_t;

/* Whole batches starting with the one containing `offset`, all with last
 * offset < max_offset_exclusive (e.g. the high watermark), at most max_bytes
 * but always at least one whole batch when one is available (Kafka's rule,
 * so a consumer progresses past a big batch). Never spans segments.
 * Returns 0 (len may be 0) or KN_ERANGE when offset < start or > end offset,
 * or KN_EIO/KN_ECORRUPT. */
int kn_plog_read(kn_plog_t *l, int64_t offset, int32_t max_bytes, int64_t max_offset_exclusive,
                 kn_plog_read_t *out);
void kn_plog_read_release(kn_plog_read_t *r);

/* Kafka's log start offset: the first segment's base unless retention or
 * DeleteRecords moved it further (kn_plog_set_start_offset); never past the
 * end offset. */
int64_t kn_plog_start_offset(const kn_plog_t *l);
/* Move the log start offset up (never down) to offset <= end offset
 * (KN_ERANGE above it). In memory only: segments wholly below it are
 * deleted by retention (kn_retention_*), and the broker persists it in
 * log-start-offset-checkpoint. */
int kn_plog_set_start_offset(kn_plog_t *l, int64_t offset);
/* Replace the settings (per-topic overrides changed); applies from the next
 * append/roll. */
void kn_plog_set_config(kn_plog_t *l, const kn_log_config_t *cfg);
/* Roll a non-empty active segment now (retention deleting it). Blocks. */
int kn_plog_roll(kn_plog_t *l, const char *reason);
/* Offset the next appended record gets (log end offset). */
int64_t kn_plog_end_offset(const kn_plog_t *l);
/* Largest batch maxTimestamp in the log (-1 if empty). */
int64_t kn_plog_max_timestamp(const kn_plog_t *l);
/* Size of all segment files' batches, bytes. */
int64_t kn_plog_size(const kn_plog_t *l);
int kn_plog_segment_count(const kn_plog_t *l);

/* First batch whose maxTimestamp >= ts: *offset = the first record in it with
 * timestamp >= ts (uncompressed batches; else the batch's base offset),
 * *found_ts = that timestamp (batch maxTimestamp for compressed batches).
 * KN_ENOTFOUND if no batch qualifies. Reads the disk. */
int kn_plog_offset_for_time(kn_plog_t *l, int64_t ts, int64_t *offset, int64_t *found_ts);

/* fsync the log and index files of every segment with unflushed data, then
 * the directory if segments were created; advances the recovery point to the
 * end offset. Blocks. */
int kn_plog_flush(kn_plog_t *l);
/* Offset up to which (exclusive) data is known to be on disk. */
int64_t kn_plog_recovery_point(const kn_plog_t *l);
/* Roll the active segment if non-empty and older than segment.ms, for idle
 * partitions. Blocks (fsync of the old segment). */
int kn_plog_roll_if_due(kn_plog_t *l, int64_t now_ms);
/* Drop every batch at and after `offset` (the whole batch containing it, so
 * the end offset may become lower than offset). offset <= start empties the
 * log and restarts it at `offset`. Blocks (rebuilds the truncated segment's
 * indexes, fsyncs). */
int kn_plog_truncate_to(kn_plog_t *l, int64_t offset);
/* Flush and free. In-flight reads keep their segments' fds until released. */
void kn_plog_close(kn_plog_t *l);
/* Close and remove the partition: rename the directory to
 * <dir>.<uuid>-delete (as Kafka does), then remove its files. l is freed. */
int kn_plog_delete(kn_plog_t *l);

#endif
