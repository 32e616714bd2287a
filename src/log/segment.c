/* One segment: NNN.log plus its offset and time indexes. The indexes are
 * kept in memory (arrays, binary search) and appended to their files; the
 * files are a cache that recovery can always rebuild from the .log. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kanal/util/buf.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "log_int.h"

/* ---- read-ahead over a segment file, for scans ---- */
typedef struct rabuf_s {
    int fd;
    uint8_t *buf;
    size_t cap;
    int64_t start; /* file position of buf[0] */
    size_t len;
} rabuf_t;

#define RABUF_SIZE (1u << 20)

/* Point *p at n bytes at pos; KN_ETRUNC if the file ends first, KN_ENOMEM
 * when a batch is too large to buffer. */
static int rabuf_get(rabuf_t *r, int64_t pos, size_t n, const uint8_t **p) {
    if (pos >= r->start && pos + (int64_t)n <= r->start + (int64_t)r->len) {
        *p = r->buf + (pos - r->start);
        return 0;
    }
    size_t want = n > RABUF_SIZE ? n : RABUF_SIZE;
    if (want > r->cap) {
        /* batch sizes come from the file: do not abort on a garbage length */
        uint8_t *nb = kn_tryrealloc(r->buf, want);
        if (!nb) return KN_ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    size_t got;
    int rc = kn_log__pread_full(r->fd, r->buf, want, pos, &got);
    r->start = pos;
    r->len = got;
    if (rc) return rc;
    if (got < n) return KN_ETRUNC;
    *p = r->buf;
    return 0;
}

static void seg_path_of(char *out, size_t outsz, const kn_segment_t *s, const char *ext) {
    snprintf(out, outsz, "%s%s", s->seg_path, ext);
}

static kn_segment_t *seg_new(const char *dir, int64_t base) {
    kn_segment_t *s = kn_calloc(1, sizeof(*s));
    char p[4096];
    snprintf(p, sizeof(p), "%s/%020" PRId64, dir, base);
    s->seg_path = kn_strdup(p);
    s->seg_base = base;
    s->seg_next = base;
    s->seg_max_ts = -1;
    s->seg_max_ts_offset = -1;
    s->seg_created_ms = -1;
    s->seg_log_fd = s->seg_idx_fd = s->seg_tidx_fd = -1;
    s->seg_refcnt = 1;
    return s;
}

void kn_segment_keep(kn_segment_t *s) { s->seg_refcnt++; }

void kn_segment_release(kn_segment_t *s) {
    if (!s || --s->seg_refcnt > 0) return;
    if (s->seg_log_fd >= 0) kn_log__ops->close(s->seg_log_fd);
    if (s->seg_idx_fd >= 0) kn_log__ops->close(s->seg_idx_fd);
    if (s->seg_tidx_fd >= 0) kn_log__ops->close(s->seg_tidx_fd);
    kn_free(s->seg_idx);
    kn_free(s->seg_tidx);
    kn_free(s->seg_path);
    kn_free(s);
}

int64_t kn_segment_base_offset(const kn_segment_t *s) { return s->seg_base; }

static int seg_open_files(kn_segment_t *s, int extra_flags) {
    char p[4200];
    seg_path_of(p, sizeof(p), s, ".log");
    s->seg_log_fd = kn_log__ops->open(p, O_RDWR | O_CREAT | extra_flags, 0644);
    if (s->seg_log_fd < 0) return kn_log__errno();
    seg_path_of(p, sizeof(p), s, ".index");
    s->seg_idx_fd = kn_log__ops->open(p, O_RDWR | O_CREAT | extra_flags, 0644);
    if (s->seg_idx_fd < 0) return kn_log__errno();
    seg_path_of(p, sizeof(p), s, ".timeindex");
    s->seg_tidx_fd = kn_log__ops->open(p, O_RDWR | O_CREAT | extra_flags, 0644);
    if (s->seg_tidx_fd < 0) return kn_log__errno();
    return 0;
}

int kn_log__seg_create(const char *dir, int64_t base, kn_segment_t **out) {
    kn_segment_t *s = seg_new(dir, base);
    /* O_TRUNC: a leftover file with this name (from a truncation that
     * crashed mid-way) holds nothing we still want. */
    int rc = seg_open_files(s, O_TRUNC);
    if (rc) {
        kn_log__seg_unlink(s);
        kn_segment_release(s);
        return rc;
    }
    s->seg_dirty = true;
    *out = s;
    return 0;
}

static void idx_push(kn_segment_t *s, int32_t rel, int32_t pos) {
    if (s->seg_nidx == s->seg_idx_cap) {
        s->seg_idx_cap = s->seg_idx_cap ? s->seg_idx_cap * 2 : 64;
        s->seg_idx = kn_realloc(s->seg_idx, s->seg_idx_cap * sizeof(*s->seg_idx));
    }
    s->seg_idx[s->seg_nidx++] = (kn_idx_entry_t){rel, pos};
}

static void tidx_push(kn_segment_t *s, int64_t ts, int32_t rel) {
    if (s->seg_ntidx == s->seg_tidx_cap) {
        s->seg_tidx_cap = s->seg_tidx_cap ? s->seg_tidx_cap * 2 : 64;
        s->seg_tidx = kn_realloc(s->seg_tidx, s->seg_tidx_cap * sizeof(*s->seg_tidx));
    }
    s->seg_tidx[s->seg_ntidx++] = (kn_tidx_entry_t){ts, rel};
}

/* Kafka's rule (LogSegment.append): an entry for a batch when more than
 * index.interval.bytes were appended since the last entry; offset entries
 * carry the batch's last offset; time entries the max timestamp so far, only
 * when it grew. */
bool kn_log__seg_note_batch(kn_segment_t *s, const kn_log_config_t *cfg, const kn_batch_hdr_t *h,
                            int64_t pos) {
    bool added = false;
    int64_t last = kn_batch_last_offset(h);
    if (s->seg_max_ts_offset < 0 || h->max_timestamp > s->seg_max_ts) {
        s->seg_max_ts = h->max_timestamp;
        s->seg_max_ts_offset = last;
    }
    if (s->seg_bytes_since_index > cfg->index_interval_bytes) {
        idx_push(s, (int32_t)(last - s->seg_base), (int32_t)pos);
        if (s->seg_ntidx == 0 || s->seg_max_ts > s->seg_tidx[s->seg_ntidx - 1].ts)
            tidx_push(s, s->seg_max_ts, (int32_t)(s->seg_max_ts_offset - s->seg_base));
        s->seg_bytes_since_index = 0;
        added = true;
    }
    s->seg_bytes_since_index += kn_batch_size(h);
    s->seg_next = last + 1;
    s->seg_size = pos + kn_batch_size(h);
    return added;
}

int kn_log__seg_write_index(kn_segment_t *s, size_t from_idx, size_t from_tidx) {
    uint8_t buf[4096];
    int rc;
    size_t i = from_idx;
    while (i < s->seg_nidx) {
        size_t n = 0, first = i;
        for (; i < s->seg_nidx && n + KN_IDX_ENTRY_SIZE <= sizeof(buf); i++, n += KN_IDX_ENTRY_SIZE) {
            kn_put_be32(buf + n, (uint32_t)s->seg_idx[i].rel);
            kn_put_be32(buf + n + 4, (uint32_t)s->seg_idx[i].pos);
        }
        rc = kn_log__pwrite_all(s->seg_idx_fd, buf, n, (int64_t)first * KN_IDX_ENTRY_SIZE);
        if (rc) return rc;
    }
    i = from_tidx;
    while (i < s->seg_ntidx) {
        size_t n = 0, first = i;
        for (; i < s->seg_ntidx && n + KN_TIDX_ENTRY_SIZE <= sizeof(buf);
             i++, n += KN_TIDX_ENTRY_SIZE) {
            kn_put_be64(buf + n, (uint64_t)s->seg_tidx[i].ts);
            kn_put_be32(buf + n + 8, (uint32_t)s->seg_tidx[i].rel);
        }
        rc = kn_log__pwrite_all(s->seg_tidx_fd, buf, n, (int64_t)first * KN_TIDX_ENTRY_SIZE);
        if (rc) return rc;
    }
    return 0;
}

int kn_log__seg_seal(kn_segment_t *s) {
    if (s->seg_max_ts_offset < 0) return 0;
    if (s->seg_ntidx > 0 && s->seg_max_ts <= s->seg_tidx[s->seg_ntidx - 1].ts) return 0;
    size_t from = s->seg_ntidx;
    tidx_push(s, s->seg_max_ts, (int32_t)(s->seg_max_ts_offset - s->seg_base));
    int rc = kn_log__seg_write_index(s, s->seg_nidx, from);
    if (rc) s->seg_ntidx = from;
    else s->seg_dirty = true;
    return rc;
}

int64_t kn_log__seg_lookup(const kn_segment_t *s, int64_t offset) {
    int64_t rel = offset - s->seg_base;
    size_t lo = 0, hi = s->seg_nidx; /* first entry with rel > target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->seg_idx[mid].rel <= rel) lo = mid + 1;
        else hi = mid;
    }
    return lo == 0 ? 0 : s->seg_idx[lo - 1].pos;
}

int64_t kn_log__seg_lookup_time(const kn_segment_t *s, int64_t ts) {
    size_t lo = 0, hi = s->seg_ntidx; /* first entry with ts >= target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->seg_tidx[mid].ts < ts) lo = mid + 1;
        else hi = mid;
    }
    /* Every batch up to the one at entry lo-1 has maxTimestamp < ts. */
    return lo == 0 ? 0 : kn_log__seg_lookup(s, s->seg_base + s->seg_tidx[lo - 1].rel);
}

int kn_log__seg_read_hdr(const kn_segment_t *s, int64_t pos, kn_batch_hdr_t *h) {
    uint8_t b[KN_BATCH_HEADER_SIZE];
    size_t got;
    int rc = kn_log__pread_full(s->seg_log_fd, b, sizeof(b), pos, &got);
    if (rc) return rc;
    if (got < sizeof(b)) return KN_ECORRUPT;
    kn_batch_parse_header(b, sizeof(b), h);
    if (h->batch_length < KN_BATCH_MIN_LENGTH || pos + kn_batch_size(h) > s->seg_size)
        return KN_ECORRUPT;
    return 0;
}

static void seg_reset_state(kn_segment_t *s) {
    s->seg_nidx = s->seg_ntidx = 0;
    s->seg_next = s->seg_base;
    s->seg_size = 0;
    s->seg_bytes_since_index = 0;
    s->seg_max_ts = -1;
    s->seg_max_ts_offset = -1;
}

/* Scan batches from pos to the end of the file, folding each into the
 * segment's state. check_crc: verify every batch. no_new_entries: stop (why
 * = "index missing entries") if the index rule would add an entry, which
 * means the on-disk index is behind the log. */
static int seg_scan(kn_segment_t *s, const kn_log_config_t *cfg, int64_t pos, bool check_crc,
                    bool no_new_entries, kn_seg_scan_t *sc) {
    rabuf_t ra = {.fd = s->seg_log_fd};
    int rc = 0;
    sc->why = NULL;
    sc->bad_offset = -1;
    rc = kn_log__file_size(s->seg_log_fd, &sc->file_size);
    if (rc) return rc;
    while (pos < sc->file_size) {
        const uint8_t *b;
        kn_batch_hdr_t h;
        int64_t left = sc->file_size - pos;
        if (left < KN_BATCH_HEADER_SIZE) {
            sc->why = "partial batch header";
            break;
        }
        rc = rabuf_get(&ra, pos, KN_BATCH_HEADER_SIZE, &b);
        if (rc) break;
        kn_batch_parse_header(b, KN_BATCH_HEADER_SIZE, &h);
        sc->bad_offset = h.base_offset;
        if (h.magic != KN_BATCH_MAGIC_V2) {
            sc->why = "bad magic";
            break;
        }
        if (h.batch_length < KN_BATCH_MIN_LENGTH) {
            sc->why = "bad batch length";
            break;
        }
        if (kn_batch_size(&h) > left) {
            sc->why = "torn batch";
            break;
        }
        if (pos + kn_batch_size(&h) > INT32_MAX) {
            sc->why = "segment over 2 GiB";
            break;
        }
        if (h.base_offset < s->seg_next || h.last_offset_delta < 0 ||
            kn_batch_last_offset(&h) - s->seg_base > INT32_MAX) {
            sc->why = "offsets out of order";
            break;
        }
        if (check_crc) {
            rc = rabuf_get(&ra, pos, (size_t)kn_batch_size(&h), &b);
            if (rc == KN_ENOMEM) break;
            if (rc) {
                sc->why = "torn batch";
                rc = 0;
                break;
            }
            if (!kn_batch_crc_ok(b, (size_t)kn_batch_size(&h))) {
                sc->why = "CRC mismatch";
                break;
            }
        }
        int64_t since = s->seg_bytes_since_index;
        size_t nidx = s->seg_nidx, ntidx = s->seg_ntidx;
        kn_log__seg_note_batch(s, cfg, &h, pos);
        if (no_new_entries && s->seg_nidx != nidx) {
            s->seg_nidx = nidx;
            s->seg_ntidx = ntidx;
            s->seg_bytes_since_index = since;
            sc->why = "index missing entries";
            break;
        }
        sc->bad_offset = -1;
        pos += kn_batch_size(&h);
    }
    sc->valid_end = pos;
    kn_free(ra.buf);
    return rc;
}

/* Full recovery of one segment: CRC scan from 0, truncate the torn tail,
 * rewrite both indexes. */
static int seg_recover(kn_segment_t *s, const char *name, const kn_log_config_t *cfg,
                       kn_seg_scan_t *sc) {
    seg_reset_state(s);
    int rc = seg_scan(s, cfg, 0, true, false, sc);
    if (rc) return rc;
    if (sc->why) {
        const char *f = strrchr(s->seg_path, '/');
        f = f ? f + 1 : s->seg_path;
        if (sc->bad_offset >= 0)
            kn_log(KN_LOG_WARN, name,
                   "recovery: truncated %s.log from %" PRId64 " to %" PRId64
                   " bytes (%s at offset %" PRId64 ")",
                   f, sc->file_size, sc->valid_end, sc->why, sc->bad_offset);
        else
            kn_log(KN_LOG_WARN, name,
                   "recovery: truncated %s.log from %" PRId64 " to %" PRId64 " bytes (%s)", f,
                   sc->file_size, sc->valid_end, sc->why);
        if (kn_log__ops->ftruncate(s->seg_log_fd, (off_t)sc->valid_end) < 0) return KN_EIO;
    }
    if (kn_log__ops->ftruncate(s->seg_idx_fd, 0) < 0 || kn_log__ops->ftruncate(s->seg_tidx_fd, 0) < 0)
        return KN_EIO;
    rc = kn_log__seg_write_index(s, 0, 0);
    if (rc) return rc;
    s->seg_dirty = true;
    return 0;
}

/* Load an index file into memory; false if its size or entries are not
 * plausible for a log of log_size bytes. */
static bool seg_load_indexes(kn_segment_t *s, const kn_log_config_t *cfg, int64_t log_size,
                             const char **why) {
    int64_t isz, tsz;
    if (kn_log__file_size(s->seg_idx_fd, &isz) || kn_log__file_size(s->seg_tidx_fd, &tsz)) {
        *why = "cannot stat index";
        return false;
    }
    if (isz % KN_IDX_ENTRY_SIZE || tsz % KN_TIDX_ENTRY_SIZE) {
        *why = "index size not a multiple of the entry size";
        return false;
    }
    if (isz > cfg->segment_index_bytes || tsz > cfg->segment_index_bytes) {
        *why = "index larger than segment.index.bytes";
        return false;
    }
    uint8_t *buf = kn_malloc((size_t)(isz > tsz ? isz : tsz) + 1);
    size_t got;
    bool ok = true;
    if (kn_log__pread_full(s->seg_idx_fd, buf, (size_t)isz, 0, &got) || got != (size_t)isz) {
        *why = "short index read";
        ok = false;
    }
    for (int64_t i = 0; ok && i < isz; i += KN_IDX_ENTRY_SIZE) {
        int32_t rel = (int32_t)kn_be32(buf + i), pos = (int32_t)kn_be32(buf + i + 4);
        const kn_idx_entry_t *prev = s->seg_nidx ? &s->seg_idx[s->seg_nidx - 1] : NULL;
        if (rel < 0 || pos < 0 || pos >= log_size || (prev && (rel <= prev->rel || pos <= prev->pos))) {
            *why = "offset index entries inconsistent";
            ok = false;
            break;
        }
        idx_push(s, rel, pos);
    }
    if (ok && (kn_log__pread_full(s->seg_tidx_fd, buf, (size_t)tsz, 0, &got) || got != (size_t)tsz)) {
        *why = "short time index read";
        ok = false;
    }
    for (int64_t i = 0; ok && i < tsz; i += KN_TIDX_ENTRY_SIZE) {
        int64_t ts = (int64_t)kn_be64(buf + i);
        int32_t rel = (int32_t)kn_be32(buf + i + 8);
        const kn_tidx_entry_t *prev = s->seg_ntidx ? &s->seg_tidx[s->seg_ntidx - 1] : NULL;
        if (rel < 0 || (prev && (ts <= prev->ts || rel < prev->rel))) {
            *why = "time index entries inconsistent";
            ok = false;
            break;
        }
        tidx_push(s, ts, rel);
    }
    if (ok && s->seg_nidx > 0 && s->seg_ntidx == 0) {
        *why = "time index behind offset index";
        ok = false;
    }
    kn_free(buf);
    return ok;
}

/* Clean-shutdown load: trust the indexes after checking them, and scan only
 * the batches after the last offset-index entry (with CRC), which must end
 * exactly at the end of the file. */
static bool seg_quick_load(kn_segment_t *s, const kn_log_config_t *cfg, const char **why) {
    int64_t log_size;
    kn_seg_scan_t sc;
    if (kn_log__file_size(s->seg_log_fd, &log_size)) {
        *why = "cannot stat log";
        return false;
    }
    if (!seg_load_indexes(s, cfg, log_size, why)) return false;
    int64_t pos = 0;
    if (s->seg_nidx > 0) {
        /* Resume the index rule as it stood right after the last entry. */
        const kn_idx_entry_t *e = &s->seg_idx[s->seg_nidx - 1];
        const kn_tidx_entry_t *t = &s->seg_tidx[s->seg_ntidx - 1];
        kn_batch_hdr_t h;
        pos = e->pos;
        s->seg_size = log_size;
        if (kn_log__seg_read_hdr(s, pos, &h) || kn_batch_last_offset(&h) != s->seg_base + e->rel) {
            *why = "offset index entry does not match its batch";
            return false;
        }
        s->seg_next = s->seg_base + e->rel - h.last_offset_delta; /* scan re-checks order */
        s->seg_max_ts = t->ts;
        s->seg_max_ts_offset = s->seg_base + t->rel;
        s->seg_bytes_since_index = 0;
    }
    if (seg_scan(s, cfg, pos, true, true, &sc) || sc.why) {
        *why = sc.why ? sc.why : "read error";
        return false;
    }
    if (s->seg_ntidx > 0 && s->seg_base + s->seg_tidx[s->seg_ntidx - 1].rel >= s->seg_next) {
        *why = "time index points past the log end";
        return false;
    }
    return true;
}

int kn_log__seg_load(const char *dir, const char *name, int64_t base, const kn_log_config_t *cfg,
                     bool recover, kn_segment_t **out, kn_seg_scan_t *scan) {
    kn_segment_t *s = seg_new(dir, base);
    int rc = seg_open_files(s, 0);
    memset(scan, 0, sizeof(*scan));
    if (rc) goto fail;
    const char *why = NULL;
    if (!recover && !seg_quick_load(s, cfg, &why)) {
        kn_log(KN_LOG_WARN, name, "segment %020" PRId64 ": %s; rebuilding its indexes", base, why);
        recover = true;
    }
    if (recover) {
        rc = seg_recover(s, name, cfg, scan);
        if (rc) goto fail;
    }
    if (s->seg_size > 0) {
        kn_batch_hdr_t h;
        rc = kn_log__seg_read_hdr(s, 0, &h);
        if (rc) goto fail;
        /* segment.ms after a restart counts from the first batch's timestamp,
         * as Kafka does; in-process it is the append time. */
        s->seg_created_ms = h.max_timestamp;
    }
    *out = s;
    return 0;
fail:
    kn_segment_release(s);
    return rc;
}

int kn_log__seg_truncate(kn_segment_t *s, const kn_log_config_t *cfg, int64_t pos) {
    kn_seg_scan_t sc;
    if (kn_log__ops->ftruncate(s->seg_log_fd, (off_t)pos) < 0) return KN_EIO;
    seg_reset_state(s);
    int rc = seg_scan(s, cfg, 0, false, false, &sc);
    if (rc) return rc;
    if (sc.why) return KN_ECORRUPT;
    if (kn_log__ops->ftruncate(s->seg_idx_fd, 0) < 0 || kn_log__ops->ftruncate(s->seg_tidx_fd, 0) < 0)
        return KN_EIO;
    rc = kn_log__seg_write_index(s, 0, 0);
    if (rc) return rc;
    if (s->seg_size == 0) s->seg_created_ms = -1;
    s->seg_dirty = true;
    return kn_log__seg_fsync(s);
}

int kn_log__seg_fsync(kn_segment_t *s) {
    if (!s->seg_dirty) return 0;
    if (kn_log__ops->fsync(s->seg_log_fd) < 0 || kn_log__ops->fsync(s->seg_idx_fd) < 0 ||
        kn_log__ops->fsync(s->seg_tidx_fd) < 0)
        return KN_EIO;
    s->seg_dirty = false;
    return 0;
}

void kn_log__seg_unlink(kn_segment_t *s) {
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    char p[4200];
    for (size_t i = 0; i < 3; i++) {
        seg_path_of(p, sizeof(p), s, exts[i]);
        if (kn_log__ops->unlink(p) < 0 && errno != ENOENT)
            kn_log(KN_LOG_WARN, NULL, "cannot remove %s: %s", p, strerror(errno));
    }
}
