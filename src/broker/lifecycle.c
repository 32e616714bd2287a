/* Log lifecycle on the broker: retention checks every
 * log.retention.check.interval.ms, the cleaner (one job at a time on the
 * libuv pool, every log.cleaner.backoff.ms when idle), delayed removal of
 * *.deleted segment files after file.delete.delay.ms (on the pool), and the
 * log-start-offset-checkpoint / cleaner-offset-checkpoint files (written on
 * the pool after changes, synchronously at shutdown). Decisions and all
 * in-memory log changes happen here on the loop thread; the pool threads
 * only read segment files they hold references on, write new files and
 * rename/unlink names. See docs/retention.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/log/checkpoint.h"
#include "kanal/log/cleaner.h"
#include "kanal/log/retention.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#define LC_TICK_MS 200
#define KN_CHECKPOINT_CLEANER "cleaner-offset-checkpoint"
/* Kafka's log.cleaner.io.max.bytes.per.second is unlimited by default; we
 * keep the cleaner to this many bytes/s (reads + writes) so it cannot starve
 * produce and fetch of disk bandwidth. */
#define KN_CLEANER_IO_BYTES_PER_SEC (32LL * 1024 * 1024)
#define KN_CLEANER_MAP_BYTES (64LL * 1024 * 1024)

typedef struct ckpt_work_s {
    uv_work_t w;
    struct kn_lifecycle_s *lc;
    char *start_path, *clean_path;
    kn_checkpoint_entry_t *start, *clean; /* topics owned (copied) */
    size_t nstart, nclean;
} ckpt_work_t;

typedef struct unlink_work_s {
    uv_work_t w;
    struct kn_lifecycle_s *lc;
    kn_deleted_seg_t *list;
} unlink_work_t;

struct kn_lifecycle_s {
    kn_broker_t *b;
    uv_timer_t timer;
    int64_t last_retention_ms, last_clean_ms;
    kn_deleted_seg_t *pending; /* renamed to *.deleted, waiting for due_ms */
    int unlinks_inflight;
    /* cleaner: one job */
    uv_work_t clean_w;
    kn_clean_job_t *job;
    kn_partition_t *job_part; /* checked against the partition list on completion */
    char *job_name;
    int job_rc;
    size_t clean_rr; /* round-robin start */
    /* checkpoints */
    bool ckpt_dirty;
    ckpt_work_t *ckpt_inflight;
    bool stopping;
};

static bool partition_alive(kn_broker_t *b, const kn_partition_t *p) {
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i] == p) return true;
    return false;
}

/* ---- checkpoints ---- */

static void ckpt_fill(kn_broker_t *b, ckpt_work_t *cw) {
    size_t n = b->nparts;
    cw->start = kn_calloc(n ? n : 1, sizeof(*cw->start));
    cw->clean = kn_calloc(n ? n : 1, sizeof(*cw->clean));
    for (size_t i = 0; i < n; i++) {
        kn_partition_t *p = b->parts[i];
        cw->start[cw->nstart++] =
            (kn_checkpoint_entry_t){kn_strdup(p->topic), p->partition, kn_plog_start_offset(p->log)};
        if (p->clean_first_dirty > 0)
            cw->clean[cw->nclean++] = (kn_checkpoint_entry_t){kn_strdup(p->topic), p->partition, p->clean_first_dirty};
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_LOG_START);
    cw->start_path = kn_strdup(path);
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_CLEANER);
    cw->clean_path = kn_strdup(path);
}

static void ckpt_write(ckpt_work_t *cw) {
    int rc = kn_checkpoint_write(cw->start_path, cw->start, cw->nstart);
    if (rc < 0) kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", cw->start_path, kn_strerror(rc));
    rc = kn_checkpoint_write(cw->clean_path, cw->clean, cw->nclean);
    if (rc < 0) kn_log(KN_LOG_ERROR, NULL, "cannot write %s: %s", cw->clean_path, kn_strerror(rc));
}

static void ckpt_free(ckpt_work_t *cw) {
    for (size_t i = 0; i < cw->nstart; i++) kn_free(cw->start[i].topic);
    for (size_t i = 0; i < cw->nclean; i++) kn_free(cw->clean[i].topic);
    kn_free(cw->start);
    kn_free(cw->clean);
    kn_free(cw->start_path);
    kn_free(cw->clean_path);
    kn_free(cw);
}

static void ckpt_work_cb(uv_work_t *w) { ckpt_write((ckpt_work_t *)w->data); }

static void ckpt_after_cb(uv_work_t *w, int status) {
    (void)status;
    ckpt_work_t *cw = w->data;
    cw->lc->ckpt_inflight = NULL;
    ckpt_free(cw);
}

static void ckpt_kick(struct kn_lifecycle_s *lc) {
    if (!lc->ckpt_dirty || lc->ckpt_inflight || lc->stopping) return;
    ckpt_work_t *cw = kn_calloc(1, sizeof(*cw));
    cw->lc = lc;
    ckpt_fill(lc->b, cw);
    cw->w.data = cw;
    lc->ckpt_dirty = false;
    lc->ckpt_inflight = cw;
    if (uv_queue_work(lc->b->loop, &cw->w, ckpt_work_cb, ckpt_after_cb) != 0) {
        lc->ckpt_inflight = NULL;
        lc->ckpt_dirty = true;
        ckpt_free(cw);
    }
}

static void load_checkpoints(kn_broker_t *b) {
    char path[4200];
    kn_checkpoint_entry_t *e;
    size_t n;
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_LOG_START);
    if (kn_checkpoint_read(path, &e, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            kn_partition_t *p = kn_broker__partition(b, e[i].topic, strlen(e[i].topic), e[i].partition);
            if (!p) continue;
            if (kn_plog_set_start_offset(p->log, e[i].offset) == KN_ERANGE) {
                kn_log(KN_LOG_WARN, p->name, "checkpointed log start offset %" PRId64 " is past the end %" PRId64,
                       e[i].offset, kn_plog_end_offset(p->log));
                kn_plog_set_start_offset(p->log, kn_plog_end_offset(p->log));
            }
        }
        kn_checkpoint_free(e, n);
    }
    snprintf(path, sizeof(path), "%s/%s", b->log_dir, KN_CHECKPOINT_CLEANER);
    if (kn_checkpoint_read(path, &e, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            kn_partition_t *p = kn_broker__partition(b, e[i].topic, strlen(e[i].topic), e[i].partition);
            if (p) p->clean_first_dirty = e[i].offset;
        }
        kn_checkpoint_free(e, n);
    }
}

/* ---- delayed removal of *.deleted ---- */

static void unlink_work_cb(uv_work_t *w) { kn_retention_unlink(((unlink_work_t *)w->data)->list); }

static void unlink_after_cb(uv_work_t *w, int status) {
    (void)status;
    unlink_work_t *uw = w->data;
    uw->lc->unlinks_inflight--;
    kn_retention_free(uw->list); /* closes fds no in-flight read holds */
    kn_free(uw);
}

static void sweep_deleted(struct kn_lifecycle_s *lc, int64_t now, bool all) {
    kn_deleted_seg_t *due = NULL, **dt = &due, **pp = &lc->pending;
    while (*pp) {
        kn_deleted_seg_t *d = *pp;
        if (all || d->due_ms <= now) {
            *pp = d->next;
            d->next = NULL;
            *dt = d;
            dt = &d->next;
        } else {
            pp = &d->next;
        }
    }
    if (!due) return;
    if (all) { /* shutdown: no pool any more */
        kn_retention_unlink(due);
        kn_retention_free(due);
        return;
    }
    unlink_work_t *uw = kn_calloc(1, sizeof(*uw));
    uw->lc = lc;
    uw->list = due;
    uw->w.data = uw;
    lc->unlinks_inflight++;
    if (uv_queue_work(lc->b->loop, &uw->w, unlink_work_cb, unlink_after_cb) != 0) {
        lc->unlinks_inflight--;
        kn_retention_unlink(due);
        kn_retention_free(due);
        kn_free(uw);
    }
}

static void add_pending(struct kn_lifecycle_s *lc, kn_deleted_seg_t *list, int64_t due_ms) {
    kn_deleted_seg_t **pp = &lc->pending;
    while (*pp) pp = &(*pp)->next;
    *pp = list;
    for (kn_deleted_seg_t *d = list; d; d = d->next) d->due_ms = due_ms;
}

/* ---- retention ---- */

static void retention_one(struct kn_lifecycle_s *lc, kn_partition_t *p, int64_t now) {
    if (p->cleaning) return; /* the cleaner holds these files; next round */
    kn_retention_config_t rc = {
        .retention_ms = p->tcfg.retention_ms,
        .retention_bytes = p->tcfg.retention_bytes,
        .delete_policy = p->tcfg.cleanup_delete,
    };
    kn_retention_plan_t plan;
    kn_retention_plan(p->log, &rc, now, p->high_watermark, &plan);
    if (!plan.nsegs) return;
    if (plan.roll_first) {
        int err = kn_plog_roll(p->log, plan.reason);
        if (err < 0) {
            kn_log(KN_LOG_ERROR, p->name, "cannot roll before retention: %s", kn_strerror(err));
            return;
        }
    }
    kn_deleted_seg_t *list = NULL;
    if (kn_retention_detach(p->log, plan.nsegs, plan.reason, &list) == 0) {
        add_pending(lc, list, now + (p->tcfg.file_delete_delay_ms > 0 ? p->tcfg.file_delete_delay_ms : 0));
        lc->ckpt_dirty = true;
    }
}

void kn_lifecycle__start_offset_moved(kn_broker_t *b, kn_partition_t *p) {
    struct kn_lifecycle_s *lc = b->lc;
    if (!lc) return;
    lc->ckpt_dirty = true;
    retention_one(lc, p, kn_now_ms());
    ckpt_kick(lc);
}

/* ---- cleaner ---- */

static void clean_work_cb(uv_work_t *w) {
    struct kn_lifecycle_s *lc = w->data;
    lc->job_rc = kn_cleaner_run(lc->job);
}

static void clean_after_cb(uv_work_t *w, int status) {
    (void)status;
    struct kn_lifecycle_s *lc = w->data;
    kn_broker_t *b = lc->b;
    kn_partition_t *p = lc->job_part;
    if (partition_alive(b, p)) {
        p->cleaning = false;
        int64_t fd = p->clean_first_dirty;
        kn_deleted_seg_t *list = NULL;
        int rc = kn_cleaner_commit(p->log, lc->job, &fd, &list);
        if (rc < 0) {
            kn_log(KN_LOG_WARN, p->name, "cleaned segments not installed: %s (the log changed meanwhile)",
                   kn_strerror(rc));
        } else {
            p->clean_first_dirty = fd;
            add_pending(lc, list, kn_now_ms() + (p->tcfg.file_delete_delay_ms > 0 ? p->tcfg.file_delete_delay_ms : 0));
            lc->ckpt_dirty = true;
        }
    } else {
        kn_log(KN_LOG_INFO, lc->job_name, "partition went away while being cleaned");
    }
    kn_cleaner_job_free(lc->job);
    lc->job = NULL;
    lc->job_part = NULL;
    kn_free(lc->job_name);
    lc->job_name = NULL;
    lc->last_clean_ms = kn_now_ms();
}

static void cleaner_pick(struct kn_lifecycle_s *lc, int64_t now) {
    kn_broker_t *b = lc->b;
    if (lc->job || !b->cfg->log_cleaner_enable || lc->stopping || !b->nparts) return;
    for (size_t k = 0; k < b->nparts; k++) {
        kn_partition_t *p = b->parts[(lc->clean_rr + k) % b->nparts];
        if (!p->tcfg.cleanup_compact) continue;
        kn_cleaner_config_t cc = {
            .delete_retention_ms = p->tcfg.delete_retention_ms,
            .min_cleanable_dirty_ratio = p->tcfg.min_cleanable_dirty_ratio,
            .min_compaction_lag_ms = p->tcfg.min_compaction_lag_ms,
            .max_map_bytes = KN_CLEANER_MAP_BYTES,
            .io_bytes_per_sec = KN_CLEANER_IO_BYTES_PER_SEC,
        };
        kn_clean_job_t *j = NULL;
        kn_cleaner_plan(p->log, &cc, p->clean_first_dirty, p->high_watermark, now, false, &j);
        if (!j) continue;
        lc->clean_rr = (lc->clean_rr + k + 1) % b->nparts;
        lc->job = j;
        lc->job_part = p;
        lc->job_name = kn_strdup(p->name);
        lc->clean_w.data = lc;
        p->cleaning = true;
        kn_log(KN_LOG_INFO, p->name, "cleaner: starting (dirty ratio %.2f >= %.2f)",
               kn_cleaner_job_stats(j)->dirty_ratio, cc.min_cleanable_dirty_ratio);
        if (uv_queue_work(b->loop, &lc->clean_w, clean_work_cb, clean_after_cb) != 0) {
            p->cleaning = false;
            kn_cleaner_job_free(j);
            lc->job = NULL;
            kn_free(lc->job_name);
            lc->job_name = NULL;
        }
        return;
    }
    lc->last_clean_ms = now;
}

/* ---- timer ---- */

static void lc_tick(uv_timer_t *t) {
    struct kn_lifecycle_s *lc = t->data;
    kn_broker_t *b = lc->b;
    int64_t now = kn_now_ms();
    if (now - lc->last_retention_ms >= b->cfg->log_retention_check_interval_ms) {
        lc->last_retention_ms = now;
        for (size_t i = 0; i < b->nparts; i++) retention_one(lc, b->parts[i], now);
    }
    if (!lc->job && now - lc->last_clean_ms >= b->cfg->log_cleaner_backoff_ms) cleaner_pick(lc, now);
    sweep_deleted(lc, now, false);
    ckpt_kick(lc);
}

void kn_lifecycle__start(kn_broker_t *b) {
    struct kn_lifecycle_s *lc = kn_calloc(1, sizeof(*lc));
    lc->b = b;
    b->lc = lc;
    load_checkpoints(b);
    lc->last_retention_ms = lc->last_clean_ms = kn_now_ms();
    uv_timer_init(b->loop, &lc->timer);
    lc->timer.data = lc;
    uint64_t tick = LC_TICK_MS;
    if (b->cfg->log_retention_check_interval_ms > 0 && (uint64_t)b->cfg->log_retention_check_interval_ms < tick)
        tick = (uint64_t)b->cfg->log_retention_check_interval_ms;
    uv_timer_start(&lc->timer, lc_tick, tick, tick);
}

void kn_lifecycle__stop(kn_broker_t *b) {
    struct kn_lifecycle_s *lc = b->lc;
    if (!lc || lc->stopping) return;
    lc->stopping = true;
    uv_timer_stop(&lc->timer);
    if (lc->job) kn_cleaner_cancel(lc->job);
}

void kn_lifecycle__free(kn_broker_t *b) {
    struct kn_lifecycle_s *lc = b->lc;
    if (!lc) return;
    /* The loop has run dry: no pool work is pending. Final checkpoint with
     * the partitions still open, then the files whose delay has not run out
     * go now (open would remove them anyway). */
    ckpt_work_t *cw = kn_calloc(1, sizeof(*cw));
    ckpt_fill(b, cw);
    ckpt_write(cw);
    ckpt_free(cw);
    sweep_deleted(lc, 0, true);
    b->lc = NULL;
    kn_free(lc);
}
