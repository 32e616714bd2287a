/* Retention decisions and segment removal (see retention.h and
 * docs/retention.md). */
#include "kanal/log/retention.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "log_int.h"

static const char *const seg_exts[] = {".log", ".index", ".timeindex"};

void kn_retention_plan(const kn_plog_t *l, const kn_retention_config_t *c, int64_t now_ms,
                       int64_t high_watermark, kn_retention_plan_t *out) {
    size_t n;
    kn_segment_t *const *segs = kn_log__plog_segs(l, &n);
    int64_t start = kn_plog_start_offset(l), end = kn_plog_end_offset(l);
    int64_t hw = high_watermark < end ? high_watermark : end;
    size_t k_start = 0, k_time = 0, k_size = 0;
    *out = (kn_retention_plan_t){0};

    /* Candidates: segments wholly below the high watermark; the active one
     * only when non-empty. */
    size_t ncand = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t upper = i + 1 < n ? segs[i + 1]->seg_base : end;
        if (upper > hw) break;
        if (i + 1 == n && segs[i]->seg_size == 0) break;
        ncand++;
    }
    /* Log start offset breach: the successor starts at or below it. */
    while (k_start < ncand && k_start + 1 < n && segs[k_start + 1]->seg_base <= start) k_start++;

    if (c->delete_policy && c->retention_ms >= 0) {
        /* An empty closed segment (max_ts -1) counts as expired. */
        while (k_time < ncand && now_ms - segs[k_time]->seg_max_ts > c->retention_ms) k_time++;
    }
    if (c->delete_policy && c->retention_bytes >= 0) {
        int64_t diff = kn_plog_size(l) - c->retention_bytes;
        while (k_size < ncand && diff - segs[k_size]->seg_size >= 0) {
            diff -= segs[k_size]->seg_size;
            k_size++;
        }
    }
    size_t k = k_start;
    out->reason = "log start offset";
    if (k_time > k) {
        k = k_time;
        out->reason = "retention.ms";
    }
    if (k_size > k) {
        k = k_size;
        out->reason = "retention.bytes";
    }
    out->nsegs = k;
    out->roll_first = k > 0 && k == n;
    if (k == 0) out->reason = NULL;
}

int kn_retention_detach(kn_plog_t *l, size_t n, const char *reason, kn_deleted_seg_t **list) {
    size_t nsegs;
    kn_segment_t *const *segs = kn_log__plog_segs(l, &nsegs);
    const char *name = kn_log__plog_name(l);
    if (n == 0) return 0;
    if (n >= nsegs) return KN_EINVAL;
    kn_deleted_seg_t **tail = list;
    while (*tail) tail = &(*tail)->next;
    for (size_t i = 0; i < n; i++) {
        kn_segment_t *s = segs[i];
        kn_deleted_seg_t *d = kn_calloc(1, sizeof(*d));
        kn_segment_keep(s);
        d->seg = s;
        d->path = kn_strdup(s->seg_path);
        kn_log(KN_LOG_INFO, name,
               "deleting segment %020" PRId64 " (offsets %" PRId64 "..%" PRId64 ", %" PRId64 " bytes): %s",
               s->seg_base, s->seg_base, s->seg_next - 1, s->seg_size, reason ? reason : "retention");
        for (size_t e = 0; e < 3; e++) {
            char from[4200], to[4300];
            snprintf(from, sizeof(from), "%s%s", s->seg_path, seg_exts[e]);
            snprintf(to, sizeof(to), "%s.deleted", from);
            if (kn_log__ops->rename(from, to) < 0 && errno != ENOENT) {
                kn_log(KN_LOG_WARN, name, "cannot rename %s for deletion: %s; removing it now", from,
                       strerror(errno));
                kn_log__ops->unlink(from);
            }
        }
        *tail = d;
        tail = &d->next;
    }
    int64_t new_base = segs[n]->seg_base;
    kn_log__plog_splice(l, 0, n, NULL, 0);
    kn_plog_set_start_offset(l, new_base); /* no-op when already past it */
    return 0;
}

void kn_retention_unlink(kn_deleted_seg_t *list) {
    for (kn_deleted_seg_t *d = list; d; d = d->next) {
        for (size_t e = 0; e < 3; e++) {
            char p[4300];
            snprintf(p, sizeof(p), "%s%s.deleted", d->path, seg_exts[e]);
            if (kn_log__ops->unlink(p) < 0 && errno != ENOENT)
                kn_log(KN_LOG_WARN, NULL, "cannot remove %s: %s", p, strerror(errno));
        }
    }
}

void kn_retention_free(kn_deleted_seg_t *list) {
    while (list) {
        kn_deleted_seg_t *d = list;
        list = d->next;
        kn_segment_release(d->seg);
        kn_free(d->path);
        kn_free(d);
    }
}
