/* Retention: which of a partition's oldest segments are due for deletion
 * (time, size, log start offset), and their removal in two steps — rename to
 * *.deleted now, unlink after file.delete.delay.ms — as Kafka does.
 *
 * Threading: kn_retention_plan, kn_retention_detach and kn_retention_free on
 * the thread that owns the log (the broker's loop thread);
 * kn_retention_unlink on any thread (a work thread: it only removes names). */
#ifndef KANAL_LOG_RETENTION_H
#define KANAL_LOG_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/log/log.h"

typedef struct kn_retention_config_s {
    int64_t retention_ms;    /* retention.ms; < 0 = no time limit */
    int64_t retention_bytes; /* retention.bytes; < 0 = no size limit */
    bool delete_policy;      /* cleanup.policy contains "delete" */
} kn_retention_config_t;

typedef struct kn_retention_plan_s {
    size_t nsegs;       /* oldest segments to delete (0 = none) */
    bool roll_first;    /* includes the (non-empty) active segment: roll it first */
    const char *reason; /* "retention.ms", "retention.bytes" or "log start offset" */
} kn_retention_plan_t;

/* Kafka's rules (UnifiedLog.deleteOldSegments), from the oldest segment:
 *  - any policy: a segment whose successor starts at or below the log start
 *    offset (DeleteRecords, or a start offset loaded from the checkpoint);
 *  - delete policy, retention.ms: now_ms - largest timestamp > retention.ms,
 *    stopping at the first segment that is not expired;
 *  - delete policy, retention.bytes: while the log minus the segment is
 *    still at least retention.bytes.
 * A segment is a candidate only if every offset in it is below
 * high_watermark, and an empty active segment never is. In memory only. */
void kn_retention_plan(const kn_plog_t *l, const kn_retention_config_t *c, int64_t now_ms,
                       int64_t high_watermark, kn_retention_plan_t *out);

/* A segment taken out of its log, its files renamed to <base>.<ext>.deleted. */
typedef struct kn_deleted_seg_s {
    struct kn_deleted_seg_s *next;
    kn_segment_t *seg; /* our reference: in-flight reads keep the fd usable */
    char *path;        /* "<dir>/<20 digits>" (no extension) */
    int64_t due_ms;    /* set by the caller: when to unlink */
} kn_deleted_seg_t;

/* Take the n oldest segments out of l (n < segment count: roll first when
 * the plan says so), rename their files to *.deleted and append them to
 * *list. The log start offset becomes at least the new first segment's base.
 * Renames only (no fsync): after a crash, open removes *.deleted leftovers.
 * Returns 0 or KN_EINVAL (n too large); a failed rename is logged and the
 * segment is still taken out (its files are unlinked under their old names). */
int kn_retention_detach(kn_plog_t *l, size_t n, const char *reason, kn_deleted_seg_t **list);

/* Unlink the files of every entry (any thread; the segments are untouched). */
void kn_retention_unlink(kn_deleted_seg_t *list);
/* Release the segments and free the entries (owning thread). */
void kn_retention_free(kn_deleted_seg_t *list);

#endif
