/* Internals shared by the log module's files. */
#ifndef KANAL_LOG_LOG_INT_H
#define KANAL_LOG_LOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/log/fileops.h"
#include "kanal/log/log.h"
#include "kanal/proto/batch.h"

#define KN_IDX_ENTRY_SIZE 8
#define KN_TIDX_ENTRY_SIZE 12
#define KN_SEG_NAME_DIGITS 20

extern const kn_fileops_t *kn_log__ops;

/* Write all n bytes at off, retrying short writes; 0 or KN_ENOSPC/KN_EIO. */
int kn_log__pwrite_all(int fd, const void *p, size_t n, int64_t off);
/* Read up to n bytes at off (fewer only at end of file); *got = bytes read. */
int kn_log__pread_full(int fd, void *p, size_t n, int64_t off, size_t *got);
int kn_log__file_size(int fd, int64_t *size);
/* fsync a directory so created/renamed/removed names are durable. */
int kn_log__fsync_dir(const char *dir);
/* Map the errno of a failed call to KN_E*. */
int kn_log__errno(void);

typedef struct kn_idx_entry_s {
    int32_t rel; /* offset - segment base (last offset of the indexed batch) */
    int32_t pos; /* file position of that batch */
} kn_idx_entry_t;

typedef struct kn_tidx_entry_s {
    int64_t ts;  /* max timestamp so far in the segment */
    int32_t rel; /* offset (relative) of the batch holding it */
} kn_tidx_entry_t;

struct kn_segment_s {
    int64_t seg_base;
    int64_t seg_next;    /* offset after the last batch (== base when empty) */
    int64_t seg_size;    /* bytes of whole batches in .log */
    int seg_log_fd, seg_idx_fd, seg_tidx_fd;
    kn_idx_entry_t *seg_idx;
    size_t seg_nidx, seg_idx_cap;
    kn_tidx_entry_t *seg_tidx;
    size_t seg_ntidx, seg_tidx_cap;
    int64_t seg_bytes_since_index;
    int64_t seg_max_ts;        /* -1 when empty */
    int64_t seg_max_ts_offset; /* absolute offset of the batch holding it */
    int64_t seg_created_ms;    /* for segment.ms; -1 when empty */
    int seg_refcnt;
    bool seg_dirty;            /* written since the last fsync */
    char *seg_path;            /* "<dir>/<20 digits>" without extension */
};

/* Why a scan stopped before the end of the file. */
typedef struct kn_seg_scan_s {
    int64_t valid_end;   /* end of the last good batch */
    int64_t file_size;
    int64_t bad_offset;  /* baseOffset of the first bad batch, -1 if unreadable */
    const char *why;     /* NULL when the scan reached the end cleanly */
} kn_seg_scan_t;

int kn_log__seg_create(const char *dir, int64_t base, kn_segment_t **out);
/* Open an existing segment. recover: full CRC scan and index rebuild; else
 * trust but sanity-check (falls back to recovery). *scan tells what the
 * recovery found (why != NULL: the file was truncated). */
int kn_log__seg_load(const char *dir, const char *name, int64_t base, const kn_log_config_t *cfg,
                     bool recover, kn_segment_t **out, kn_seg_scan_t *scan);
/* Fold a batch written at pos into the in-memory state and index arrays.
 * Returns true if it added index entries. */
bool kn_log__seg_note_batch(kn_segment_t *s, const kn_log_config_t *cfg, const kn_batch_hdr_t *h,
                            int64_t pos);
/* Write index entries [from_idx, nidx) and [from_tidx, ntidx) to the files. */
int kn_log__seg_write_index(kn_segment_t *s, size_t from_idx, size_t from_tidx);
/* Add the final time index entry on roll (Kafka does the same). */
int kn_log__seg_seal(kn_segment_t *s);
/* Largest index entry with rel <= offset - base: file position to scan from. */
int64_t kn_log__seg_lookup(const kn_segment_t *s, int64_t offset);
/* Position to scan from for the first batch with maxTimestamp >= ts. */
int64_t kn_log__seg_lookup_time(const kn_segment_t *s, int64_t ts);
/* Read the header of the batch at pos (pos < seg_size). */
int kn_log__seg_read_hdr(const kn_segment_t *s, int64_t pos, kn_batch_hdr_t *h);
/* Truncate the segment at pos (a batch boundary) and rebuild its indexes. */
int kn_log__seg_truncate(kn_segment_t *s, const kn_log_config_t *cfg, int64_t pos);
int kn_log__seg_fsync(kn_segment_t *s);
/* Remove the segment's files (fds stay open until the last release). */
void kn_log__seg_unlink(kn_segment_t *s);

/* plog.c, for retention.c and cleaner.c (same thread rules as the log). */
kn_segment_t *const *kn_log__plog_segs(const kn_plog_t *l, size_t *n);
const char *kn_log__plog_dir(const kn_plog_t *l);
const char *kn_log__plog_name(const kn_plog_t *l);
const kn_log_config_t *kn_log__plog_config(const kn_plog_t *l);
/* Replace segments [from, from+nold) by news[0..nnew) (the log takes its
 * own reference on each; drops its reference on the old ones). */
void kn_log__plog_splice(kn_plog_t *l, size_t from, size_t nold, kn_segment_t *const *news, size_t nnew);

/* cleaner.c: on open, before segments are listed, finish a swap that a
 * crash interrupted (see docs/retention.md). Blocks. */
int kn_log__cleaner_recover(const char *dir, const char *name);

#endif
