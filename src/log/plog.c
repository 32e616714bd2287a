/* One partition's log: an ordered array of segments, the last one active.
 * Single-threaded: the caller serialises calls (see log.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "log_int.h"

struct kn_plog_s {
    char *pl_dir;
    char *pl_name;
    kn_log_config_t pl_cfg;
    kn_segment_t **pl_segs;
    size_t pl_nsegs, pl_cap;
    int64_t pl_recovery_point;
    int64_t pl_unflushed;          /* records appended since the last flush */
    int64_t pl_first_unflushed_ms; /* append time of the oldest unflushed, -1 */
    bool pl_dir_dirty;             /* names created/removed since the last dir fsync */
    int64_t pl_start;              /* log start offset set by retention/DeleteRecords (0 = first segment) */
};

void kn_log_config_default(kn_log_config_t *c) {
    c->segment_bytes = 1024 * 1024 * 1024;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->segment_index_bytes = 10 * 1024 * 1024;
    c->flush_interval_messages = INT64_MAX;
    c->flush_interval_ms = INT64_MAX;
}

static kn_segment_t *active(const kn_plog_t *l) { return l->pl_segs[l->pl_nsegs - 1]; }

static void segs_push(kn_plog_t *l, kn_segment_t *s) {
    if (l->pl_nsegs == l->pl_cap) {
        l->pl_cap = l->pl_cap ? l->pl_cap * 2 : 8;
        l->pl_segs = kn_realloc(l->pl_segs, l->pl_cap * sizeof(*l->pl_segs));
    }
    l->pl_segs[l->pl_nsegs++] = s;
}

/* Remove segments [from, nsegs): unlink files, drop our reference. */
static void segs_drop_from(kn_plog_t *l, size_t from) {
    while (l->pl_nsegs > from) {
        kn_segment_t *s = l->pl_segs[--l->pl_nsegs];
        kn_log__seg_unlink(s);
        kn_segment_release(s);
        l->pl_dir_dirty = true;
    }
}

/* Kafka's logStartOffset: at least the first segment's base, at most the end. */
int64_t kn_plog_start_offset(const kn_plog_t *l) {
    int64_t b = l->pl_segs[0]->seg_base, s = l->pl_start > b ? l->pl_start : b;
    return s < active(l)->seg_next ? s : active(l)->seg_next;
}
int64_t kn_plog_end_offset(const kn_plog_t *l) { return active(l)->seg_next; }
int64_t kn_plog_recovery_point(const kn_plog_t *l) { return l->pl_recovery_point; }
int kn_plog_segment_count(const kn_plog_t *l) { return (int)l->pl_nsegs; }

int64_t kn_plog_max_timestamp(const kn_plog_t *l) {
    int64_t m = -1;
    for (size_t i = 0; i < l->pl_nsegs; i++)
        if (l->pl_segs[i]->seg_max_ts > m) m = l->pl_segs[i]->seg_max_ts;
    return m;
}

int64_t kn_plog_size(const kn_plog_t *l) {
    int64_t n = 0;
    for (size_t i = 0; i < l->pl_nsegs; i++) n += l->pl_segs[i]->seg_size;
    return n;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "<20 digits><ext>" -> base offset. */
static bool parse_seg_name(const char *n, const char *ext, int64_t *base) {
    size_t el = strlen(ext);
    if (strlen(n) != KN_SEG_NAME_DIGITS + el || strcmp(n + KN_SEG_NAME_DIGITS, ext)) return false;
    int64_t v = 0;
    for (int i = 0; i < KN_SEG_NAME_DIGITS; i++) {
        if (n[i] < '0' || n[i] > '9') return false;
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (n[i] - '0');
    }
    *base = v;
    return true;
}

static bool has_suffix(const char *n, const char *suf) {
    size_t a = strlen(n), b = strlen(suf);
    return a >= b && !strcmp(n + a - b, suf);
}

/* List segment base offsets in dir (sorted); remove leftovers of interrupted
 * operations (*.deleted, *.cleaned, *.swap) and index files without a log. */
static int list_segments(kn_plog_t *l, int64_t **bases_out, size_t *n_out) {
    DIR *d = opendir(l->pl_dir);
    if (!d) return kn_err_from_errno(errno);
    int64_t *bases = NULL;
    size_t n = 0, cap = 0;
    char **orphans = NULL;
    size_t norph = 0, ocap = 0;
    struct dirent *de;
    char p[4200];
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        int64_t b;
        if (parse_seg_name(nm, ".log", &b)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                bases = kn_realloc(bases, cap * sizeof(*bases));
            }
            bases[n++] = b;
        } else if (has_suffix(nm, ".deleted") || has_suffix(nm, ".cleaned") ||
                   has_suffix(nm, ".swap")) {
            snprintf(p, sizeof(p), "%s/%s", l->pl_dir, nm);
            kn_log(KN_LOG_INFO, l->pl_name, "removing leftover file %s", nm);
            kn_log__ops->unlink(p);
        } else if (parse_seg_name(nm, ".index", &b) || parse_seg_name(nm, ".timeindex", &b)) {
            if (norph == ocap) {
                ocap = ocap ? ocap * 2 : 16;
                orphans = kn_realloc(orphans, ocap * sizeof(*orphans));
            }
            orphans[norph++] = kn_strdup(nm);
        }
    }
    closedir(d);
    if (n > 1) qsort(bases, n, sizeof(*bases), cmp_i64);
    for (size_t i = 0; i < norph; i++) {
        int64_t b = 0;
        if (!parse_seg_name(orphans[i], ".index", &b)) parse_seg_name(orphans[i], ".timeindex", &b);
        if (n == 0 || !bsearch(&b, bases, n, sizeof(*bases), cmp_i64)) {
            snprintf(p, sizeof(p), "%s/%s", l->pl_dir, orphans[i]);
            kn_log(KN_LOG_WARN, l->pl_name, "removing index without a log: %s", orphans[i]);
            kn_log__ops->unlink(p);
        }
        kn_free(orphans[i]);
    }
    kn_free(orphans);
    *bases_out = bases;
    *n_out = n;
    return 0;
}

static void plog_free(kn_plog_t *l) {
    for (size_t i = 0; i < l->pl_nsegs; i++) kn_segment_release(l->pl_segs[i]);
    kn_free(l->pl_segs);
    kn_free(l->pl_dir);
    kn_free(l->pl_name);
    kn_free(l);
}

int kn_plog_open(const char *dir, const char *name, const kn_log_config_t *cfg,
                 int64_t recovery_point, bool clean_shutdown, kn_plog_t **out) {
    kn_plog_t *l = kn_calloc(1, sizeof(*l));
    l->pl_dir = kn_strdup(dir);
    l->pl_name = kn_strdup(name);
    l->pl_cfg = *cfg;
    l->pl_first_unflushed_ms = -1;
    int64_t *bases = NULL;
    size_t nb = 0;
    int rc = 0;
    bool recovered = false;

    if (kn_log__ops->mkdir(dir, 0755) < 0) {
        if (errno != EEXIST) {
            rc = kn_log__errno();
            kn_log(KN_LOG_ERROR, name, "cannot create %s: %s", dir, strerror(errno));
            goto fail;
        }
    } else {
        l->pl_dir_dirty = true;
    }
    rc = kn_log__cleaner_recover(dir, name); /* finish an interrupted cleaner swap */
    if (rc) goto fail;
    rc = list_segments(l, &bases, &nb);
    if (rc) goto fail;

    for (size_t i = 0; i < nb; i++) {
        /* Segments holding offsets at or past the recovery point may have
         * lost unsynced writes. */
        bool recover = !clean_shutdown && (i + 1 == nb || bases[i + 1] > recovery_point);
        kn_segment_t *s;
        kn_seg_scan_t sc;
        if (l->pl_nsegs > 0 && bases[i] < active(l)->seg_next) {
            kn_log(KN_LOG_ERROR, name,
                   "segment %020" PRId64 " overlaps the previous one (ends at %" PRId64 ")",
                   bases[i], active(l)->seg_next);
            rc = KN_ECORRUPT;
            goto fail;
        }
        rc = kn_log__seg_load(dir, name, bases[i], cfg, recover, &s, &sc);
        if (rc) {
            kn_log(KN_LOG_ERROR, name, "cannot load segment %020" PRId64 ": %s", bases[i],
                   kn_strerror(rc));
            goto fail;
        }
        segs_push(l, s);
        recovered |= recover || sc.why != NULL;
        if (sc.why && i + 1 < nb) {
            /* Nothing after a damaged batch can be trusted to follow it. */
            kn_log(KN_LOG_WARN, name, "recovery: deleting %zu segment(s) after %020" PRId64,
                   nb - i - 1, bases[i]);
            for (size_t j = i + 1; j < nb; j++) {
                kn_segment_t tmp = {0};
                char p[4200];
                snprintf(p, sizeof(p), "%s/%020" PRId64, dir, bases[j]);
                tmp.seg_path = p;
                kn_log__seg_unlink(&tmp);
            }
            l->pl_dir_dirty = true;
            break;
        }
    }
    if (l->pl_nsegs == 0) {
        kn_segment_t *s;
        rc = kn_log__seg_create(dir, 0, &s);
        if (rc) goto fail;
        segs_push(l, s);
        l->pl_dir_dirty = true;
    }
    kn_free(bases);
    bases = NULL;
    l->pl_recovery_point = clean_shutdown ? kn_plog_end_offset(l) : recovery_point;
    if (recovered || l->pl_dir_dirty) {
        rc = kn_plog_flush(l);
        if (rc) goto fail;
    }
    if (l->pl_recovery_point > kn_plog_end_offset(l)) l->pl_recovery_point = kn_plog_end_offset(l);
    kn_log(KN_LOG_INFO, name, "loaded %zu segment(s), offsets %" PRId64 "..%" PRId64 "%s",
           l->pl_nsegs, kn_plog_start_offset(l), kn_plog_end_offset(l),
           recovered ? " (recovered)" : "");
    *out = l;
    return 0;
fail:
    kn_free(bases);
    plog_free(l);
    return rc;
}

int kn_plog_flush(kn_plog_t *l) {
    for (size_t i = 0; i < l->pl_nsegs; i++) {
        int rc = kn_log__seg_fsync(l->pl_segs[i]);
        if (rc) {
            kn_log(KN_LOG_ERROR, l->pl_name, "fsync of segment %020" PRId64 " failed: %s",
                   l->pl_segs[i]->seg_base, kn_strerror(rc));
            return rc;
        }
    }
    if (l->pl_dir_dirty) {
        int rc = kn_log__fsync_dir(l->pl_dir);
        if (rc) {
            kn_log(KN_LOG_ERROR, l->pl_name, "fsync of %s failed: %s", l->pl_dir, kn_strerror(rc));
            return rc;
        }
        l->pl_dir_dirty = false;
    }
    l->pl_recovery_point = kn_plog_end_offset(l);
    l->pl_unflushed = 0;
    l->pl_first_unflushed_ms = -1;
    return 0;
}

/* Seal the active segment (final time index entry, fsync) and start a new one
 * at the end offset. Blocks on fsync. */
static int plog_roll(kn_plog_t *l, const char *reason) {
    kn_segment_t *old = active(l), *s;
    int rc = kn_log__seg_seal(old);
    if (rc) return rc;
    rc = kn_log__seg_create(l->pl_dir, old->seg_next, &s);
    if (rc) {
        kn_log(KN_LOG_ERROR, l->pl_name, "cannot roll to segment %020" PRId64 ": %s", old->seg_next,
               kn_strerror(rc));
        return rc;
    }
    segs_push(l, s);
    l->pl_dir_dirty = true;
    kn_log(KN_LOG_INFO, l->pl_name, "rolled segment %020" PRId64 " -> %020" PRId64 " (%s)",
           old->seg_base, s->seg_base, reason);
    /* Kafka flushes the old segment on roll; that also moves the recovery
     * point so a crash only rescans the new segment. */
    return kn_plog_flush(l);
}

int kn_plog_roll_if_due(kn_plog_t *l, int64_t now_ms) {
    kn_segment_t *s = active(l);
    if (s->seg_size == 0 || s->seg_created_ms < 0 || now_ms - s->seg_created_ms <= l->pl_cfg.segment_ms)
        return 0;
    return plog_roll(l, "segment.ms");
}

static int plog_append(kn_plog_t *l, uint8_t *batches, size_t len, int64_t now_ms, bool keep_offsets,
                       int64_t *base_offset_out, int64_t *last_offset_out) {
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *b;
    size_t sz;
    int64_t noff = 0;
    size_t nbatches = 0;
    int r;
    if (len == 0 || len > INT32_MAX) return KN_EINVAL;
    kn_batch_iter_init(&it, batches, len);
    int64_t expect = active(l)->seg_next;
    while ((r = kn_batch_iter_next(&it, &h, &b, &sz)) == 1) {
        if (h.last_offset_delta < 0) return KN_EINVAL;
        if (keep_offsets) {
            /* Replicated batches keep the leader's offsets: they must
             * follow the log end, in order (gaps allowed after compaction). */
            if (h.base_offset < expect) return KN_ERANGE;
            expect = kn_batch_last_offset(&h) + 1;
            noff = expect - active(l)->seg_next;
        } else {
            noff += (int64_t)h.last_offset_delta + 1;
        }
        nbatches++;
    }
    if (r < 0) return KN_EINVAL;

    kn_segment_t *s = active(l);
    const kn_log_config_t *c = &l->pl_cfg;
    const char *why = NULL;
    if (s->seg_size > 0) {
        if (s->seg_size + (int64_t)len > c->segment_bytes || s->seg_size + (int64_t)len > INT32_MAX)
            why = "segment.bytes";
        else if (s->seg_created_ms >= 0 && now_ms - s->seg_created_ms > c->segment_ms)
            why = "segment.ms";
        else if ((int64_t)(s->seg_nidx + nbatches) * KN_IDX_ENTRY_SIZE > c->segment_index_bytes ||
                 (int64_t)(s->seg_ntidx + nbatches + 1) * KN_TIDX_ENTRY_SIZE > c->segment_index_bytes)
            why = "index full";
        else if (s->seg_next + noff - 1 - s->seg_base > INT32_MAX)
            why = "relative offset overflow";
    }
    if (why) {
        int rc = plog_roll(l, why);
        if (rc) return rc;
        s = active(l);
    }

    int64_t base = s->seg_next;
    if (keep_offsets) {
        kn_batch_parse_header(batches, len, &h);
        base = h.base_offset;
        noff = expect - base;
    } else {
        kn_batches_assign_offsets(batches, len, base);
    }
    int64_t pos0 = s->seg_size;
    int rc = kn_log__pwrite_all(s->seg_log_fd, batches, len, pos0);
    if (rc) goto undo_log;

    /* Index the new batches: in memory first, then append to the files. */
    kn_segment_t saved = *s;
    kn_batch_iter_init(&it, batches, len);
    while (kn_batch_iter_next(&it, &h, &b, &sz) == 1)
        kn_log__seg_note_batch(s, c, &h, pos0 + (b - batches));
    rc = kn_log__seg_write_index(s, saved.seg_nidx, saved.seg_ntidx);
    if (rc) {
        s->seg_nidx = saved.seg_nidx;
        s->seg_ntidx = saved.seg_ntidx;
        s->seg_next = saved.seg_next;
        s->seg_size = saved.seg_size;
        s->seg_bytes_since_index = saved.seg_bytes_since_index;
        s->seg_max_ts = saved.seg_max_ts;
        s->seg_max_ts_offset = saved.seg_max_ts_offset;
        kn_log__ops->ftruncate(s->seg_idx_fd, (off_t)(saved.seg_nidx * KN_IDX_ENTRY_SIZE));
        kn_log__ops->ftruncate(s->seg_tidx_fd, (off_t)(saved.seg_ntidx * KN_TIDX_ENTRY_SIZE));
        goto undo_log;
    }
    if (s->seg_created_ms < 0) s->seg_created_ms = now_ms;
    s->seg_dirty = true;
    *base_offset_out = base;
    *last_offset_out = base + noff - 1;

    l->pl_unflushed += noff;
    if (l->pl_first_unflushed_ms < 0) l->pl_first_unflushed_ms = now_ms;
    if (l->pl_unflushed >= c->flush_interval_messages ||
        now_ms - l->pl_first_unflushed_ms >= c->flush_interval_ms) {
        /* The data is written and readable; a failed fsync is reported as
         * a disk failure (Kafka takes the log dir offline). */
        rc = kn_plog_flush(l);
        if (rc) return rc;
    }
    return 0;

undo_log:
    /* Nothing past pos0 was accounted for, so reads never see it; truncate
     * so the file matches (if this fails too, the next write overwrites). */
    kn_log(KN_LOG_ERROR, l->pl_name, "append of %zu bytes at offset %" PRId64 " failed: %s", len,
           base, kn_strerror(rc));
    if (kn_log__ops->ftruncate(s->seg_log_fd, (off_t)pos0) < 0)
        kn_log(KN_LOG_ERROR, l->pl_name, "cannot truncate back to %" PRId64 ": %s", pos0,
               strerror(errno));
    return rc == KN_ENOSPC ? KN_ENOSPC : KN_EIO;
}

int kn_plog_append(kn_plog_t *l, uint8_t *batches, size_t len, int64_t now_ms, int64_t *base_offset_out,
                   int64_t *last_offset_out) {
    return plog_append(l, batches, len, now_ms, false, base_offset_out, last_offset_out);
}

int kn_plog_append_replica(kn_plog_t *l, uint8_t *batches, size_t len, int64_t now_ms, int64_t *base_offset_out,
                           int64_t *last_offset_out) {
    return plog_append(l, batches, len, now_ms, true, base_offset_out, last_offset_out);
}

/* Index of the segment that holds offset (last with base <= offset). */
static size_t find_segment(const kn_plog_t *l, int64_t offset) {
    size_t lo = 0, hi = l->pl_nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->pl_segs[mid]->seg_base <= offset) lo = mid + 1;
        else hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* Position of the first batch in s whose last offset >= offset, or -1. */
static int find_batch(const kn_segment_t *s, int64_t offset, int64_t *pos_out,
                      kn_batch_hdr_t *h) {
    int64_t pos = kn_log__seg_lookup(s, offset);
    while (pos < s->seg_size) {
        int rc = kn_log__seg_read_hdr(s, pos, h);
        if (rc) return rc;
        if (kn_batch_last_offset(h) >= offset) {
            *pos_out = pos;
            return 0;
        }
        pos += kn_batch_size(h);
    }
    *pos_out = -1;
    return 0;
}

void kn_plog_read_release(kn_plog_read_t *r) {
    if (r->seg) kn_segment_release(r->seg);
    r->seg = NULL;
    r->len = 0;
    r->fd = -1;
}

int kn_plog_read(kn_plog_t *l, int64_t offset, int32_t max_bytes, int64_t max_offset_exclusive,
                 kn_plog_read_t *out) {
    *out = (kn_plog_read_t){.fd = -1, .first_offset = -1};
    if (offset < kn_plog_start_offset(l) || offset > kn_plog_end_offset(l)) return KN_ERANGE;
    if (offset >= max_offset_exclusive) return 0;
    for (size_t i = find_segment(l, offset); i < l->pl_nsegs; i++) {
        kn_segment_t *s = l->pl_segs[i];
        kn_batch_hdr_t h;
        int64_t start;
        if (offset >= s->seg_next) continue;
        int rc = find_batch(s, offset, &start, &h);
        if (rc) return rc;
        if (start < 0) continue;
        if (kn_batch_last_offset(&h) >= max_offset_exclusive) return 0;
        int64_t total = kn_batch_size(&h); /* the first batch always goes */
        if (s->seg_next <= max_offset_exclusive && s->seg_size - start <= (int64_t)max_bytes) {
            total = s->seg_size - start; /* the common tail read: no scan */
        } else {
            int64_t pos = start + total;
            while (pos < s->seg_size) {
                rc = kn_log__seg_read_hdr(s, pos, &h);
                if (rc) return rc;
                if (kn_batch_last_offset(&h) >= max_offset_exclusive ||
                    total + kn_batch_size(&h) > (int64_t)max_bytes)
                    break;
                total += kn_batch_size(&h);
                pos += kn_batch_size(&h);
            }
        }
        kn_segment_keep(s);
        out->seg = s;
        out->fd = s->seg_log_fd;
        out->file_pos = start;
        out->len = (int32_t)total;
        out->first_offset = offset; /* refined below */
        kn_batch_hdr_t fh;
        if (kn_log__seg_read_hdr(s, start, &fh) == 0) out->first_offset = fh.base_offset;
        return 0;
    }
    return 0;
}

int kn_plog_offset_for_time(kn_plog_t *l, int64_t ts, int64_t *offset, int64_t *found_ts) {
    for (size_t i = 0; i < l->pl_nsegs; i++) {
        kn_segment_t *s = l->pl_segs[i];
        if (s->seg_size == 0 || s->seg_max_ts < ts) continue;
        int64_t pos = kn_log__seg_lookup_time(s, ts);
        kn_batch_hdr_t h;
        while (pos < s->seg_size) {
            int rc = kn_log__seg_read_hdr(s, pos, &h);
            if (rc) return rc;
            if (h.max_timestamp >= ts) break;
            pos += kn_batch_size(&h);
        }
        if (pos >= s->seg_size) continue;
        *offset = h.base_offset;
        *found_ts = h.max_timestamp;
        /* Uncompressed CreateTime batches: refine to the first record. */
        if ((h.attributes & (KN_BATCH_ATTR_COMPRESSION_MASK | KN_BATCH_ATTR_TIMESTAMP_TYPE)) == 0) {
            size_t bsz = (size_t)kn_batch_size(&h), got;
            uint8_t *buf = kn_trymalloc(bsz);
            if (buf && kn_log__pread_full(s->seg_log_fd, buf, bsz, pos, &got) == 0 && got == bsz) {
                int64_t o, t;
                if (kn_batch_first_record_at(buf, bsz, ts, &o, &t) == 0) {
                    *offset = o;
                    *found_ts = t;
                }
            }
            kn_free(buf);
        }
        return 0;
    }
    return KN_ENOTFOUND;
}

int kn_plog_truncate_to(kn_plog_t *l, int64_t offset) {
    int rc;
    if (offset >= kn_plog_end_offset(l)) return 0;
    kn_log(KN_LOG_INFO, l->pl_name, "truncating to offset %" PRId64 " (end offset %" PRId64 ")",
           offset, kn_plog_end_offset(l));
    if (offset <= kn_plog_start_offset(l)) {
        kn_segment_t *s;
        segs_drop_from(l, 0);
        l->pl_start = offset;
        rc = kn_log__seg_create(l->pl_dir, offset, &s);
        if (rc) return rc; /* no segment: the partition is unusable */
        segs_push(l, s);
    } else {
        size_t i = find_segment(l, offset);
        kn_segment_t *s = l->pl_segs[i];
        segs_drop_from(l, s->seg_base == offset ? i : i + 1);
        s = active(l);
        int64_t pos;
        kn_batch_hdr_t h;
        rc = find_batch(s, offset, &pos, &h);
        if (rc) return rc;
        if (pos >= 0) {
            rc = kn_log__seg_truncate(s, &l->pl_cfg, pos);
            if (rc) return rc;
        }
    }
    rc = kn_plog_flush(l);
    if (l->pl_recovery_point > kn_plog_end_offset(l)) l->pl_recovery_point = kn_plog_end_offset(l);
    return rc;
}

void kn_plog_close(kn_plog_t *l) {
    if (!l) return;
    int rc = kn_plog_flush(l);
    if (rc) kn_log(KN_LOG_ERROR, l->pl_name, "flush on close failed: %s", kn_strerror(rc));
    plog_free(l);
}

int kn_plog_delete(kn_plog_t *l) {
    uint8_t u[16];
    char hex[33], moved[4200];
    int rc = 0;
    if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u)) {
        for (size_t i = 0; i < sizeof(u); i++) u[i] = (uint8_t)rand();
    }
    for (size_t i = 0; i < sizeof(u); i++) snprintf(hex + 2 * i, 3, "%02x", u[i]);
    snprintf(moved, sizeof(moved), "%s.%s-delete", l->pl_dir, hex);
    if (kn_log__ops->rename(l->pl_dir, moved) < 0) {
        rc = kn_log__errno();
        kn_log(KN_LOG_ERROR, l->pl_name, "cannot rename %s for deletion: %s", l->pl_dir,
               strerror(errno));
        return rc;
    }
    /* The rename is the commit point: a restart finds no partition here. */
    const char *slash = strrchr(l->pl_dir, '/');
    if (slash) {
        char parent[4200];
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - l->pl_dir), l->pl_dir);
        kn_log__fsync_dir(parent[0] ? parent : "/");
    }
    DIR *d = opendir(moved);
    if (d) {
        struct dirent *de;
        char p[8400];
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(p, sizeof(p), "%s/%s", moved, de->d_name);
            if (kn_log__ops->unlink(p) < 0) rc = kn_log__errno();
        }
        closedir(d);
    }
    if (kn_log__ops->rmdir(moved) < 0 && !rc) rc = kn_log__errno();
    kn_log(KN_LOG_INFO, l->pl_name, "deleted log %s", l->pl_dir);
    plog_free(l); /* in-flight reads keep their segment fds */
    return rc;
}

/* ---- log start offset, live config, and the splice retention and the
 * cleaner use (src/log/retention.c, cleaner.c) ---- */

void kn_plog_set_config(kn_plog_t *l, const kn_log_config_t *cfg) { l->pl_cfg = *cfg; }

int kn_plog_set_start_offset(kn_plog_t *l, int64_t offset) {
    int64_t old = kn_plog_start_offset(l);
    if (offset > kn_plog_end_offset(l)) return KN_ERANGE;
    if (offset <= old) return 0;
    l->pl_start = offset;
    kn_log(KN_LOG_INFO, l->pl_name, "log start offset %" PRId64 " -> %" PRId64, old, offset);
    return 0;
}

int kn_plog_roll(kn_plog_t *l, const char *reason) {
    if (active(l)->seg_size == 0) return 0;
    return plog_roll(l, reason);
}

kn_segment_t *const *kn_log__plog_segs(const kn_plog_t *l, size_t *n) {
    *n = l->pl_nsegs;
    return l->pl_segs;
}

const char *kn_log__plog_dir(const kn_plog_t *l) { return l->pl_dir; }
const char *kn_log__plog_name(const kn_plog_t *l) { return l->pl_name; }
const kn_log_config_t *kn_log__plog_config(const kn_plog_t *l) { return &l->pl_cfg; }

void kn_log__plog_splice(kn_plog_t *l, size_t from, size_t nold, kn_segment_t *const *news, size_t nnew) {
    size_t tail = l->pl_nsegs - from - nold;
    for (size_t i = 0; i < nold; i++) kn_segment_release(l->pl_segs[from + i]);
    if (l->pl_nsegs - nold + nnew > l->pl_cap) {
        l->pl_cap = l->pl_nsegs - nold + nnew;
        l->pl_segs = kn_realloc(l->pl_segs, l->pl_cap * sizeof(*l->pl_segs));
    }
    memmove(l->pl_segs + from + nnew, l->pl_segs + from + nold, tail * sizeof(*l->pl_segs));
    for (size_t i = 0; i < nnew; i++) {
        kn_segment_keep(news[i]);
        l->pl_segs[from + i] = news[i];
    }
    l->pl_nsegs = l->pl_nsegs - nold + nnew;
    l->pl_dir_dirty = true;
}
