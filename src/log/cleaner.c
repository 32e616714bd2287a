/* Log compaction: plan on the owner thread, clean and swap on a work thread,
 * install on the owner thread. See cleaner.h and docs/retention.md. */
#include "kanal/log/cleaner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kanal/proto/compress.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "kanal/util/time.h"
#include "log_int.h"

#define DEFAULT_MAP_BYTES (64LL * 1024 * 1024)
#define MAP_ENTRY_BYTES 24
#define IO_CHUNK (1u << 20)

static const char *const seg_exts[] = {".log", ".index", ".timeindex"};

/* ---- key -> latest offset map (128-bit key hashes, as Kafka's SkimpyOffsetMap
 * keeps 16-byte MD5 digests: a collision is ~2^-128 per pair) ---- */
typedef struct map_entry_s {
    uint64_t h1, h2;
    int64_t offset; /* -1 = free slot */
} map_entry_t;

typedef struct offset_map_s {
    map_entry_t *e;
    size_t cap, n, max_n; /* cap: power of two; max_n: 3/4 of cap */
} offset_map_t;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void key_hash(const uint8_t *k, size_t n, uint64_t *h1, uint64_t *h2) {
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n, b = 0xc2b2ae3d27d4eb4fULL + (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        a = mix64(a ^ w) * 31 + 0x165667b19e3779f9ULL;
        b = mix64(b + w * 0x87c37b91114253d5ULL) ^ (b >> 29);
    }
    uint64_t w = 0;
    memcpy(&w, k + i, n - i);
    a = mix64(a ^ w ^ ((uint64_t)(n - i) << 56));
    b = mix64(b + (w + 1) * 0x4cf5ad432745937fULL);
    *h1 = a;
    *h2 = mix64(b ^ a);
}

static int map_init(offset_map_t *m, int64_t max_bytes) {
    size_t want = (size_t)((max_bytes > 0 ? max_bytes : DEFAULT_MAP_BYTES) / MAP_ENTRY_BYTES);
    size_t cap = 1024;
    while (cap * 2 <= want) cap *= 2;
    m->e = kn_trymalloc(cap * sizeof(*m->e));
    if (!m->e) return KN_ENOMEM;
    memset(m->e, 0xff, cap * sizeof(*m->e));
    m->cap = cap;
    m->n = 0;
    m->max_n = cap / 4 * 3;
    return 0;
}

static map_entry_t *map_slot(const offset_map_t *m, uint64_t h1, uint64_t h2) {
    size_t i = (size_t)h1 & (m->cap - 1);
    for (;;) {
        map_entry_t *e = &m->e[i];
        if (e->offset < 0 || (e->h1 == h1 && e->h2 == h2)) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

/* -1 when the key is not in the map. */
static int64_t map_get(const offset_map_t *m, const uint8_t *k, size_t n) {
    uint64_t h1, h2;
    key_hash(k, n, &h1, &h2);
    return map_slot(m, h1, h2)->offset;
}

static void map_put(offset_map_t *m, const uint8_t *k, size_t n, int64_t offset) {
    uint64_t h1, h2;
    key_hash(k, n, &h1, &h2);
    map_entry_t *e = map_slot(m, h1, h2);
    if (e->offset < 0) m->n++;
    e->h1 = h1;
    e->h2 = h2;
    e->offset = offset;
}

/* ---- producer id -> base offset of its last batch ---- */
typedef struct pid_map_s {
    int64_t *pid, *off; /* pid -1 = free */
    size_t cap, n;
} pid_map_t;

static void pid_put(pid_map_t *m, int64_t pid, int64_t off) {
    if ((m->n + 1) * 2 > m->cap) {
        pid_map_t nm = {.cap = m->cap ? m->cap * 2 : 64};
        nm.pid = kn_malloc(nm.cap * sizeof(int64_t));
        nm.off = kn_malloc(nm.cap * sizeof(int64_t));
        memset(nm.pid, 0xff, nm.cap * sizeof(int64_t));
        for (size_t i = 0; i < m->cap; i++)
            if (m->pid[i] >= 0) pid_put(&nm, m->pid[i], m->off[i]);
        kn_free(m->pid);
        kn_free(m->off);
        *m = nm;
    }
    size_t i = (size_t)mix64((uint64_t)pid) & (m->cap - 1);
    while (m->pid[i] >= 0 && m->pid[i] != pid) i = (i + 1) & (m->cap - 1);
    if (m->pid[i] < 0) m->n++;
    m->pid[i] = pid;
    m->off[i] = off;
}

static int64_t pid_get(const pid_map_t *m, int64_t pid) {
    if (!m->cap) return -1;
    size_t i = (size_t)mix64((uint64_t)pid) & (m->cap - 1);
    while (m->pid[i] >= 0) {
        if (m->pid[i] == pid) return m->off[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- the job ---- */
enum { G_PLANNED, G_WRITTEN, G_COMMITTED, G_DONE };

typedef struct group_s {
    size_t from, n;     /* source segments in job->segs */
    kn_segment_t *out;  /* cleaned segment (files under <base>.*.cleaned until swapped) */
    int state;
} group_t;

struct kn_clean_job_s {
    char *dir, *name;
    kn_log_config_t lcfg;
    kn_cleaner_config_t cfg;
    int64_t now_ms;
    kn_segment_t **segs; /* every segment at plan time, referenced */
    int64_t *sizes;      /* their sizes then (the active one keeps growing) */
    size_t nsegs, nclean, first_dirty_idx;
    int64_t first_dirty;
    size_t map_end_idx;  /* segments [0, map_end_idx) get cleaned */
    group_t *groups;
    size_t ngroups;
    atomic_bool cancel;
    int64_t t0_ns, io_bytes;
    kn_cleaner_stats_t st;
};

int kn_cleaner_plan(kn_plog_t *l, const kn_cleaner_config_t *c, int64_t first_dirty,
                    int64_t high_watermark, int64_t now_ms, bool force, kn_clean_job_t **out) {
    size_t n;
    kn_segment_t *const *segs = kn_log__plog_segs(l, &n);
    *out = NULL;
    size_t nclean = 0;
    /* Closed segments wholly below the high watermark (truncation never
     * reaches them), older than min.compaction.lag.ms. */
    while (nclean + 1 < n && segs[nclean]->seg_next <= high_watermark &&
           (c->min_compaction_lag_ms <= 0 || segs[nclean]->seg_max_ts <= now_ms - c->min_compaction_lag_ms))
        nclean++;
    if (nclean == 0) return 0;
    size_t fdi = 0;
    while (fdi < nclean && segs[fdi]->seg_next <= first_dirty) fdi++;
    if (fdi == nclean) return 0;
    int64_t dirty = 0, total = 0;
    for (size_t i = 0; i < nclean; i++) {
        total += segs[i]->seg_size;
        if (i >= fdi) dirty += segs[i]->seg_size;
    }
    double ratio = total > 0 ? (double)dirty / (double)total : 0.0;
    if (total == 0 || (!force && ratio < c->min_cleanable_dirty_ratio)) return 0;

    kn_clean_job_t *j = kn_calloc(1, sizeof(*j));
    j->dir = kn_strdup(kn_log__plog_dir(l));
    j->name = kn_strdup(kn_log__plog_name(l));
    j->lcfg = *kn_log__plog_config(l);
    j->cfg = *c;
    j->now_ms = now_ms;
    j->nsegs = n;
    j->segs = kn_calloc(n, sizeof(*j->segs));
    j->sizes = kn_calloc(n, sizeof(*j->sizes));
    for (size_t i = 0; i < n; i++) {
        kn_segment_keep(segs[i]);
        j->segs[i] = segs[i];
        j->sizes[i] = segs[i]->seg_size;
    }
    j->nclean = nclean;
    j->first_dirty_idx = fdi;
    j->first_dirty = first_dirty;
    j->st.dirty_ratio = ratio;
    atomic_init(&j->cancel, false);
    *out = j;
    return 0;
}

void kn_cleaner_cancel(kn_clean_job_t *j) { atomic_store(&j->cancel, true); }
const kn_cleaner_stats_t *kn_cleaner_job_stats(const kn_clean_job_t *j) { return &j->st; }

/* Keep reads + writes under io_bytes_per_sec, sleeping the difference. */
static void throttle(kn_clean_job_t *j, int64_t bytes) {
    j->io_bytes += bytes;
    if (j->cfg.io_bytes_per_sec <= 0) return;
    int64_t elapsed = kn_mono_ns() - j->t0_ns;
    int64_t due = (int64_t)((double)j->io_bytes * 1e9 / (double)j->cfg.io_bytes_per_sec);
    if (due > elapsed) {
        int64_t ns = due - elapsed;
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        nanosleep(&ts, NULL);
        j->st.throttled_ms += ns / 1000000;
    }
}

/* Sequential reader of whole, CRC-checked batches of one segment file. */
typedef struct seg_reader_s {
    int fd;
    int64_t pos, size;
    uint8_t *buf;
    size_t cap, len, off; /* buf holds file bytes [pos - off, pos - off + len) */
} seg_reader_t;

/* 1 with the batch, 0 at the end, or KN_E*. */
static int reader_next(kn_clean_job_t *j, seg_reader_t *r, kn_batch_hdr_t *h, const uint8_t **b,
                       int64_t *pos) {
    if (r->pos >= r->size) return 0;
    if (atomic_load(&j->cancel)) return KN_ECLOSED;
    for (int pass = 0; pass < 2; pass++) {
        size_t avail = r->len - r->off;
        if (avail >= KN_BATCH_HEADER_SIZE) {
            kn_batch_parse_header(r->buf + r->off, avail, h);
            if (h->batch_length < KN_BATCH_MIN_LENGTH || r->pos + kn_batch_size(h) > r->size)
                return KN_ECORRUPT;
            if ((int64_t)avail >= kn_batch_size(h)) {
                *b = r->buf + r->off;
                *pos = r->pos;
                if (!kn_batch_crc_ok(*b, (size_t)kn_batch_size(h))) return KN_ECORRUPT;
                r->off += (size_t)kn_batch_size(h);
                r->pos += kn_batch_size(h);
                return 1;
            }
        }
        if (pass) return KN_ECORRUPT;
        /* Refill from pos: at least the whole next batch. */
        size_t want = IO_CHUNK;
        if (avail >= KN_BATCH_HEADER_SIZE && (size_t)kn_batch_size(h) > want) want = (size_t)kn_batch_size(h);
        if (want > (size_t)(r->size - r->pos)) want = (size_t)(r->size - r->pos);
        if (want > r->cap) {
            uint8_t *nb = kn_tryrealloc(r->buf, want);
            if (!nb) return KN_ENOMEM;
            r->buf = nb;
            r->cap = want;
        }
        size_t got;
        int rc = kn_log__pread_full(r->fd, r->buf, want, r->pos, &got);
        if (rc) return rc;
        if (got < want) return KN_ECORRUPT;
        r->len = got;
        r->off = 0;
        throttle(j, (int64_t)got);
        j->st.bytes_read += (int64_t)got;
    }
    return KN_ECORRUPT;
}

/* Transactional and control batches are kept whole (no transactions yet, so
 * no markers to decide on); every other batch, compressed or not, is cleaned
 * record by record. */
static bool batch_cleanable(const kn_batch_hdr_t *h) {
    return !(h->attributes & (KN_BATCH_ATTR_TRANSACTIONAL | KN_BATCH_ATTR_CONTROL));
}

/* The uncompressed records section of a cleanable batch: borrowed from the
 * batch when uncompressed, else a decompressed copy in *owned (caller frees),
 * bounded by KN_DECOMPRESS_CAP_DEFAULT like Produce. A stored batch that does
 * not decompress (it passed validation once, so the disk changed under us)
 * is reported and then kept whole: KN_ECORRUPT here means "keep as is". */
static int batch_records(kn_clean_job_t *j, const uint8_t *b, const kn_batch_hdr_t *h, const uint8_t **recs,
                         size_t *rlen, uint8_t **owned) {
    *owned = NULL;
    if (!(h->attributes & KN_BATCH_ATTR_COMPRESSION_MASK)) {
        *recs = b + KN_BATCH_HEADER_SIZE;
        *rlen = (size_t)kn_batch_size(h) - KN_BATCH_HEADER_SIZE;
        return 0;
    }
    int rc = kn_batch_records(b, (size_t)kn_batch_size(h), KN_DECOMPRESS_CAP_DEFAULT, recs, rlen, owned);
    if (rc == KN_ENOMEM) return rc;
    if (rc) {
        kn_log(KN_LOG_WARN, j->name, "cleaner: %s batch at offset %" PRId64 " does not decompress (%s); kept whole",
               kn_compression_name(h->attributes & KN_BATCH_ATTR_COMPRESSION_MASK), h->base_offset,
               kn_strerror(rc));
        return KN_ECORRUPT;
    }
    return 0;
}

/* One record of a batch's uncompressed records section; key/value borrow
 * from it. */
typedef struct rec_s {
    const uint8_t *start;
    size_t len; /* whole record, length varint included */
    int64_t offset, ts;
    const uint8_t *key;
    int32_t key_len;
    int32_t value_len;
} rec_t;

static int rec_next(kn_rd_t *rd, const kn_batch_hdr_t *h, rec_t *r) {
    const uint8_t *start = kn_rd_cur(rd);
    int32_t len, klen, vlen, od;
    int8_t attr;
    int64_t tsd;
    kn_rd_t body;
    if (kn_rd_varint(rd, &len) || len < 0 || kn_rd_sub(rd, (size_t)len, &body)) return KN_ECORRUPT;
    if (kn_rd_i8(&body, &attr) || kn_rd_varlong(&body, &tsd) || kn_rd_varint(&body, &od) ||
        kn_rd_varint(&body, &klen) || klen < -1)
        return KN_ECORRUPT;
    const uint8_t *key = NULL, *val;
    if (klen >= 0 && kn_rd_raw(&body, (size_t)klen, &key)) return KN_ECORRUPT;
    if (kn_rd_varint(&body, &vlen) || vlen < -1) return KN_ECORRUPT;
    if (vlen >= 0 && kn_rd_raw(&body, (size_t)vlen, &val)) return KN_ECORRUPT;
    r->start = start;
    r->len = (size_t)(kn_rd_cur(rd) - start);
    r->offset = h->base_offset + od;
    r->ts = (h->attributes & KN_BATCH_ATTR_TIMESTAMP_TYPE) ? h->max_timestamp : h->base_timestamp + tsd;
    r->key = key;
    r->key_len = klen;
    r->value_len = vlen;
    return 0;
}

/* Pass 1: every producer's last batch, over all segments. */
static int scan_producers(kn_clean_job_t *j, pid_map_t *pids) {
    for (size_t i = 0; i < j->nsegs; i++) {
        seg_reader_t r = {.fd = j->segs[i]->seg_log_fd, .size = j->sizes[i]};
        kn_batch_hdr_t h;
        const uint8_t *b;
        int64_t pos;
        int rc;
        while ((rc = reader_next(j, &r, &h, &b, &pos)) == 1)
            if (h.producer_id >= 0) pid_put(pids, h.producer_id, h.base_offset);
        kn_free(r.buf);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Pass 2: key -> latest offset over the dirty segments, stopping at a segment
 * boundary when the map is full (Kafka does the same). */
static int build_map(kn_clean_job_t *j, offset_map_t *m) {
    j->map_end_idx = j->first_dirty_idx;
    for (size_t i = j->first_dirty_idx; i < j->nclean; i++) {
        seg_reader_t r = {.fd = j->segs[i]->seg_log_fd, .size = j->sizes[i]};
        kn_batch_hdr_t h;
        const uint8_t *b;
        int64_t pos;
        int rc;
        /* A segment that might not fit: stop before it (it stays dirty). */
        if (m->n + (size_t)(j->sizes[i] / 8) > m->max_n && i > j->first_dirty_idx) break;
        while ((rc = reader_next(j, &r, &h, &b, &pos)) == 1) {
            if (!batch_cleanable(&h)) continue;
            const uint8_t *recs;
            size_t rlen;
            uint8_t *owned;
            rc = batch_records(j, b, &h, &recs, &rlen, &owned);
            if (rc == KN_ECORRUPT) { /* kept whole; its keys stay out of the map */
                rc = 1;
                continue;
            }
            if (rc < 0) break;
            kn_rd_t rd;
            kn_rd_init(&rd, recs, rlen);
            for (int32_t k = 0; k < h.records_count; k++) {
                rec_t rec;
                if (rec_next(&rd, &h, &rec)) {
                    rc = KN_ECORRUPT;
                    break;
                }
                if (rec.key_len < 0) continue;
                if (m->n >= m->max_n) {
                    rc = KN_ETOOBIG;
                    break;
                }
                map_put(m, rec.key, (size_t)rec.key_len, rec.offset);
            }
            kn_free(owned);
            if (rc < 0) break;
        }
        kn_free(r.buf);
        if (rc == KN_ETOOBIG) {
            kn_log(KN_LOG_WARN, j->name, "cleaner: key map full in segment %020" PRId64 "%s",
                   j->segs[i]->seg_base, i == j->first_dirty_idx ? "; raise the map size" : "; cleaning up to it");
            if (i == j->first_dirty_idx) return rc;
            break;
        }
        if (rc < 0) return rc;
        j->map_end_idx = i + 1;
    }
    return 0;
}

/* Group segments [0, map_end_idx) so each cleaned segment stays under
 * segment.bytes and relative offsets fit in int32. */
static void make_groups(kn_clean_job_t *j) {
    j->groups = kn_calloc(j->map_end_idx ? j->map_end_idx : 1, sizeof(*j->groups));
    for (size_t i = 0; i < j->map_end_idx;) {
        group_t *g = &j->groups[j->ngroups++];
        int64_t bytes = j->sizes[i];
        g->from = i++;
        g->n = 1;
        while (i < j->map_end_idx && bytes + j->sizes[i] <= j->lcfg.segment_bytes &&
               bytes + j->sizes[i] <= INT32_MAX &&
               j->segs[i]->seg_next - 1 - j->segs[g->from]->seg_base <= INT32_MAX) {
            bytes += j->sizes[i++];
            g->n++;
        }
    }
}

static void path_ext(char *out, size_t n, const char *base_path, const char *ext, const char *suffix) {
    /* Paths come from the log dir (bounded by PATH_MAX); a truncated
     * result would only fail the open that follows. */
    int w = snprintf(out, n, "%s%s%s", base_path, ext, suffix);
    if (w < 0 || (size_t)w >= n) out[0] = '\0';
}

static int open_cleaned(kn_clean_job_t *j, group_t *g) {
    kn_segment_t *s = kn_calloc(1, sizeof(*s));
    char p[4200];
    s->seg_base = s->seg_next = j->segs[g->from]->seg_base;
    s->seg_max_ts = s->seg_max_ts_offset = s->seg_created_ms = -1;
    s->seg_refcnt = 1;
    s->seg_log_fd = s->seg_idx_fd = s->seg_tidx_fd = -1;
    snprintf(p, sizeof(p), "%s/%020" PRId64, j->dir, s->seg_base);
    s->seg_path = kn_strdup(p);
    g->out = s;
    int *fds[3] = {&s->seg_log_fd, &s->seg_idx_fd, &s->seg_tidx_fd};
    for (size_t e = 0; e < 3; e++) {
        path_ext(p, sizeof(p), s->seg_path, seg_exts[e], ".cleaned");
        *fds[e] = kn_log__ops->open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (*fds[e] < 0) return kn_log__errno();
    }
    return 0;
}

typedef struct out_buf_s {
    uint8_t *p;
    size_t len, cap;
    int64_t file_pos; /* where p[0] goes */
} out_buf_t;

static int out_flush(kn_clean_job_t *j, kn_segment_t *s, out_buf_t *o) {
    if (!o->len) return 0;
    int rc = kn_log__pwrite_all(s->seg_log_fd, o->p, o->len, o->file_pos);
    if (rc) return rc;
    throttle(j, (int64_t)o->len);
    j->st.bytes_written += (int64_t)o->len;
    o->file_pos += (int64_t)o->len;
    o->len = 0;
    return 0;
}

/* Append a batch (size bytes) to the cleaned segment and index it. */
static int out_batch(kn_clean_job_t *j, kn_segment_t *s, out_buf_t *o, const uint8_t *b, size_t size) {
    if (o->len + size > o->cap) {
        int rc = out_flush(j, s, o);
        if (rc) return rc;
        if (size > o->cap) {
            uint8_t *np = kn_tryrealloc(o->p, size);
            if (!np) return KN_ENOMEM;
            o->p = np;
            o->cap = size;
        }
    }
    int64_t pos = o->file_pos + (int64_t)o->len;
    memcpy(o->p + o->len, b, size);
    o->len += size;
    kn_batch_hdr_t h;
    kn_batch_parse_header(b, size, &h);
    kn_log__seg_note_batch(s, &j->lcfg, &h, pos);
    return 0;
}

/* Header + kept records as a new batch in scratch: same base offset,
 * lastOffsetDelta and producer fields; fresh length, count, max timestamp and
 * CRC. An empty batch (kept 0) is a bare header, as Kafka writes to retain
 * producer state. */
static void set_count_ts_crc(uint8_t *o, size_t size, int32_t count, int64_t max_ts) {
    kn_put_be64(o + KN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    kn_put_be32(o + 57, (uint32_t)count);
    kn_put_be32(o + KN_BATCH_OFF_CRC, kn_crc32c(0, o + KN_BATCH_OFF_ATTRIBUTES, size - KN_BATCH_OFF_ATTRIBUTES));
}

/* recs is uncompressed: the result is an uncompressed batch (compression bits
 * cleared). */
static const uint8_t *rebuild(const uint8_t *b, const uint8_t *recs, size_t rlen, int32_t count,
                              int64_t max_ts, uint8_t **scratch, size_t *scap, size_t *outlen) {
    size_t size = KN_BATCH_HEADER_SIZE + rlen;
    if (size > *scap) {
        uint8_t *np = kn_tryrealloc(*scratch, size);
        if (!np) return NULL;
        *scratch = np;
        *scap = size;
    }
    uint8_t *o = *scratch;
    memcpy(o, b, KN_BATCH_HEADER_SIZE);
    if (rlen) memmove(o + KN_BATCH_HEADER_SIZE, recs, rlen);
    kn_put_be32(o + KN_BATCH_OFF_LENGTH, (uint32_t)(size - KN_BATCH_LOG_OVERHEAD));
    kn_put_be16(o + KN_BATCH_OFF_ATTRIBUTES,
                (uint16_t)(kn_be16(o + KN_BATCH_OFF_ATTRIBUTES) & ~KN_BATCH_ATTR_COMPRESSION_MASK));
    set_count_ts_crc(o, size, count, max_ts);
    *outlen = size;
    return o;
}

/* Pass 3 for one group: write <base>.*.cleaned and fsync them. */
static int write_group(kn_clean_job_t *j, group_t *g, const offset_map_t *m, const pid_map_t *pids) {
    int rc = open_cleaned(j, g);
    if (rc) return rc;
    kn_segment_t *s = g->out;
    out_buf_t o = {.cap = IO_CHUNK};
    o.p = kn_trymalloc(o.cap);
    uint8_t *kept = NULL, *scratch = NULL;
    size_t kcap = 0, scap = 0;
    if (!o.p) return KN_ENOMEM;
    int64_t tomb_horizon = j->now_ms - j->cfg.delete_retention_ms;
    for (size_t i = g->from; i < g->from + g->n && rc == 0; i++) {
        seg_reader_t r = {.fd = j->segs[i]->seg_log_fd, .size = j->sizes[i]};
        kn_batch_hdr_t h;
        const uint8_t *b;
        int64_t pos;
        int more;
        bool last_seg = i + 1 == g->from + g->n;
        while ((more = reader_next(j, &r, &h, &b, &pos)) == 1) {
            size_t bsize = (size_t)kn_batch_size(&h);
            bool group_last = last_seg && r.pos >= r.size;
            j->st.records_read += h.records_count;
            const uint8_t *recs = NULL;
            size_t rlen = 0;
            uint8_t *owned = NULL;
            int brc = batch_cleanable(&h) ? batch_records(j, b, &h, &recs, &rlen, &owned) : KN_ECORRUPT;
            if (brc == KN_ENOMEM) {
                rc = brc;
                break;
            }
            if (brc) { /* kept whole */
                j->st.records_kept += h.records_count;
                rc = out_batch(j, s, &o, b, bsize);
                if (rc) break;
                continue;
            }
            if (rlen > kcap) {
                uint8_t *np = kn_tryrealloc(kept, rlen);
                if (!np) {
                    kn_free(owned);
                    rc = KN_ENOMEM;
                    break;
                }
                kept = np;
                kcap = rlen;
            }
            kn_rd_t rd;
            kn_rd_init(&rd, recs, rlen);
            size_t klen = 0;
            int32_t nkept = 0;
            int64_t max_ts = -1;
            for (int32_t k = 0; k < h.records_count; k++) {
                rec_t rec;
                if (rec_next(&rd, &h, &rec)) {
                    rc = KN_ECORRUPT;
                    break;
                }
                bool keep = rec.key_len >= 0;
                if (keep) {
                    int64_t latest = map_get(m, rec.key, (size_t)rec.key_len);
                    keep = latest < 0 || rec.offset >= latest;
                }
                if (keep && rec.value_len < 0 && rec.ts < tomb_horizon) keep = false;
                if (!keep) continue;
                memcpy(kept + klen, rec.start, rec.len);
                klen += rec.len;
                nkept++;
                if (rec.ts > max_ts) max_ts = rec.ts;
            }
            kn_free(owned);
            if (rc) break;
            j->st.records_kept += nkept;
            int codec = h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK;
            if (nkept == h.records_count) {
                rc = out_batch(j, s, &o, b, bsize);
            } else if (nkept > 0 || group_last ||
                       (h.producer_id >= 0 && pid_get(pids, h.producer_id) == h.base_offset)) {
                size_t nlen;
                if (nkept == 0 || (h.attributes & KN_BATCH_ATTR_TIMESTAMP_TYPE)) max_ts = h.max_timestamp;
                if (nkept > 0 && codec != KN_COMPRESSION_NONE) {
                    /* Kept records recompressed with the batch's own codec, as
                     * Kafka's cleaner does; an empty batch is a bare header. */
                    uint8_t *nb = NULL;
                    rc = kn_batch_rebuild(b, bsize, kept, klen, codec, -1, &nb, &nlen);
                    if (!rc) {
                        set_count_ts_crc(nb, nlen, nkept, max_ts);
                        rc = out_batch(j, s, &o, nb, nlen);
                    }
                    kn_free(nb);
                } else {
                    const uint8_t *nb = rebuild(b, kept, klen, nkept, max_ts, &scratch, &scap, &nlen);
                    rc = nb ? out_batch(j, s, &o, nb, nlen) : KN_ENOMEM;
                }
            }
            if (rc) break;
        }
        kn_free(r.buf);
        if (!rc && more < 0) rc = more;
    }
    if (!rc) rc = out_flush(j, s, &o);
    kn_free(o.p);
    kn_free(kept);
    kn_free(scratch);
    if (!rc) rc = kn_log__seg_write_index(s, 0, 0);
    if (!rc) rc = kn_log__seg_seal(s);
    if (!rc) {
        s->seg_dirty = true;
        rc = kn_log__seg_fsync(s);
    }
    if (!rc) g->state = G_WRITTEN;
    return rc;
}

static int rename_ext(const char *base_path, const char *ext, const char *from_sfx, const char *to_sfx) {
    char a[4300], b[4300];
    path_ext(a, sizeof(a), base_path, ext, from_sfx);
    path_ext(b, sizeof(b), base_path, ext, to_sfx);
    if (kn_log__ops->rename(a, b) < 0) return errno == ENOENT ? KN_ENOTFOUND : kn_log__errno();
    return 0;
}

/* The swap, in the order recovery relies on:
 *   1. <base>.index/.timeindex.cleaned -> .swap, <base>.log.cleaned -> .swap,
 *      directory fsync: the swap is committed (the .cleaned data was fsynced).
 *   2. every old segment's files -> *.deleted.
 *   3. <base>.index/.timeindex.swap -> final, <base>.log.swap -> final,
 *      directory fsync. */
static int swap_group(kn_clean_job_t *j, group_t *g) {
    const char *np = g->out->seg_path;
    int rc;
    for (size_t e = 3; e-- > 0;) /* indexes first, the log (commit point) last */
        if ((rc = rename_ext(np, seg_exts[e], ".cleaned", ".swap"))) return rc;
    if ((rc = kn_log__fsync_dir(j->dir))) return rc;
    g->state = G_COMMITTED;
    for (size_t i = g->from; i < g->from + g->n; i++)
        for (size_t e = 0; e < 3; e++) {
            rc = rename_ext(j->segs[i]->seg_path, seg_exts[e], "", ".deleted");
            if (rc && rc != KN_ENOTFOUND) return rc;
        }
    for (size_t e = 3; e-- > 0;)
        if ((rc = rename_ext(np, seg_exts[e], ".swap", ""))) return rc;
    if ((rc = kn_log__fsync_dir(j->dir))) return rc;
    g->state = G_DONE;
    return 0;
}

int kn_cleaner_run(kn_clean_job_t *j) {
    offset_map_t m = {0};
    pid_map_t pids = {0};
    int64_t t0 = kn_mono_ms();
    j->t0_ns = kn_mono_ns();
    int rc = map_init(&m, j->cfg.max_map_bytes);
    if (!rc) rc = scan_producers(j, &pids);
    if (!rc) rc = build_map(j, &m);
    if (!rc) make_groups(j);
    for (size_t gi = 0; !rc && gi < j->ngroups; gi++) {
        group_t *g = &j->groups[gi];
        rc = write_group(j, g, &m, &pids);
        if (!rc && atomic_load(&j->cancel)) rc = KN_ECLOSED;
        if (!rc) rc = swap_group(j, g);
        if (!rc) {
            j->st.segments_in += (int32_t)g->n;
            j->st.segments_out++;
        }
    }
    kn_free(m.e);
    kn_free(pids.pid);
    kn_free(pids.off);
    j->st.elapsed_ms = kn_mono_ms() - t0;
    if (rc && rc != KN_ECLOSED)
        kn_log(KN_LOG_ERROR, j->name, "cleaner failed: %s (old segments kept)", kn_strerror(rc));
    return rc;
}

int kn_cleaner_commit(kn_plog_t *l, kn_clean_job_t *j, int64_t *first_dirty, kn_deleted_seg_t **deleted) {
    size_t ndone = 0;
    while (ndone < j->ngroups && j->groups[ndone].state == G_DONE) ndone++;
    /* Check first that every finished group is still in the log as planned. */
    for (size_t gi = 0; gi < ndone; gi++) {
        group_t *g = &j->groups[gi];
        size_t n, at = 0;
        kn_segment_t *const *segs = kn_log__plog_segs(l, &n);
        while (at < n && segs[at] != j->segs[g->from]) at++;
        if (at + g->n >= n) return KN_ESTATE; /* gone, or would take the active segment */
        for (size_t k = 0; k < g->n; k++)
            if (segs[at + k] != j->segs[g->from + k]) return KN_ESTATE;
    }
    kn_deleted_seg_t **tail = deleted;
    while (*tail) tail = &(*tail)->next;
    for (size_t gi = 0; gi < ndone; gi++) {
        group_t *g = &j->groups[gi];
        size_t n, at = 0;
        kn_segment_t *const *segs = kn_log__plog_segs(l, &n);
        while (segs[at] != j->segs[g->from]) at++;
        for (size_t k = 0; k < g->n; k++) {
            kn_deleted_seg_t *d = kn_calloc(1, sizeof(*d));
            d->seg = j->segs[g->from + k];
            kn_segment_keep(d->seg);
            d->path = kn_strdup(d->seg->seg_path);
            *tail = d;
            tail = &d->next;
        }
        kn_log__plog_splice(l, at, g->n, &g->out, 1);
    }
    if (ndone == j->ngroups)
        *first_dirty = j->map_end_idx < j->nsegs ? j->segs[j->map_end_idx]->seg_base : j->first_dirty;
    else if (ndone > 0)
        *first_dirty = j->segs[j->groups[ndone - 1].from + j->groups[ndone - 1].n]->seg_base;
    else
        *first_dirty = j->first_dirty;
    if (ndone)
        kn_log(KN_LOG_INFO, j->name,
               "cleaned %d segment(s) into %d: %" PRId64 " -> %" PRId64 " records, read %" PRId64
               " written %" PRId64 " bytes in %" PRId64 " ms (throttled %" PRId64 " ms), dirty ratio %.2f",
               j->st.segments_in, j->st.segments_out, j->st.records_read, j->st.records_kept, j->st.bytes_read,
               j->st.bytes_written, j->st.elapsed_ms, j->st.throttled_ms, j->st.dirty_ratio);
    return 0;
}

void kn_cleaner_job_free(kn_clean_job_t *j) {
    if (!j) return;
    for (size_t gi = 0; gi < j->ngroups; gi++) {
        group_t *g = &j->groups[gi];
        if (!g->out) continue;
        if (g->state < G_COMMITTED) /* never committed: the .cleaned files are garbage */
            for (size_t e = 0; e < 3; e++) {
                char p[4300];
                path_ext(p, sizeof(p), g->out->seg_path, seg_exts[e], ".cleaned");
                kn_log__ops->unlink(p);
            }
        kn_segment_release(g->out);
    }
    for (size_t i = 0; i < j->nsegs; i++) kn_segment_release(j->segs[i]);
    kn_free(j->groups);
    kn_free(j->segs);
    kn_free(j->sizes);
    kn_free(j->dir);
    kn_free(j->name);
    kn_free(j);
}

/* ---- recovery of an interrupted swap (called by kn_plog_open) ---- */

static bool parse_base(const char *nm, const char *ext, int64_t *base) {
    size_t el = strlen(ext);
    if (strlen(nm) != KN_SEG_NAME_DIGITS + el || strcmp(nm + KN_SEG_NAME_DIGITS, ext)) return false;
    int64_t v = 0;
    for (int i = 0; i < KN_SEG_NAME_DIGITS; i++) {
        if (nm[i] < '0' || nm[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (nm[i] - '0');
    }
    *base = v;
    return true;
}

/* Offset after the last whole batch of a .swap file (fsynced before it was
 * renamed, so whole; stop at anything odd all the same). */
static int64_t swap_next_offset(const char *path, int64_t base) {
    int fd = kn_log__ops->open(path, O_RDONLY, 0);
    if (fd < 0) return base;
    int64_t size = 0, pos = 0, next = base;
    kn_log__file_size(fd, &size);
    while (pos + KN_BATCH_HEADER_SIZE <= size) {
        uint8_t hb[KN_BATCH_HEADER_SIZE];
        size_t got;
        kn_batch_hdr_t h;
        if (kn_log__pread_full(fd, hb, sizeof(hb), pos, &got) || got < sizeof(hb)) break;
        kn_batch_parse_header(hb, sizeof(hb), &h);
        if (h.batch_length < KN_BATCH_MIN_LENGTH || pos + kn_batch_size(&h) > size) break;
        next = kn_batch_last_offset(&h) + 1;
        pos += kn_batch_size(&h);
    }
    kn_log__ops->close(fd);
    return next;
}

int kn_log__cleaner_recover(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : kn_err_from_errno(errno);
    int64_t *swaps = NULL, *logs = NULL;
    size_t nsw = 0, nlog = 0, csw = 0, clog = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t b;
        if (parse_base(de->d_name, ".log.swap", &b)) {
            if (nsw == csw) swaps = kn_realloc(swaps, (csw = csw ? csw * 2 : 4) * sizeof(*swaps));
            swaps[nsw++] = b;
        } else if (parse_base(de->d_name, ".log", &b)) {
            if (nlog == clog) logs = kn_realloc(logs, (clog = clog ? clog * 2 : 16) * sizeof(*logs));
            logs[nlog++] = b;
        }
    }
    closedir(d);
    int rc = 0;
    for (size_t i = 0; i < nsw && !rc; i++) {
        char p[4200], base_path[4200];
        snprintf(base_path, sizeof(base_path), "%s/%020" PRId64, dir, swaps[i]);
        path_ext(p, sizeof(p), base_path, ".log", ".swap");
        int64_t next = swap_next_offset(p, swaps[i]);
        /* Committed: the old segments it replaces go, then it takes its name. */
        for (size_t k = 0; k < nlog; k++) {
            if (logs[k] < swaps[i] || logs[k] >= next) continue;
            char op[4200];
            snprintf(op, sizeof(op), "%s/%020" PRId64, dir, logs[k]);
            for (size_t e = 0; e < 3; e++) {
                char f[4300];
                path_ext(f, sizeof(f), op, seg_exts[e], "");
                if (kn_log__ops->unlink(f) < 0 && errno != ENOENT) rc = kn_log__errno();
            }
        }
        for (size_t e = 3; e-- > 0 && !rc;) {
            rc = rename_ext(base_path, seg_exts[e], ".swap", "");
            if (rc == KN_ENOTFOUND && e > 0) rc = 0; /* indexes are rebuilt if missing */
        }
        kn_log(rc ? KN_LOG_ERROR : KN_LOG_WARN, name,
               "recovery: %s an interrupted cleaner swap of %020" PRId64 " (offsets up to %" PRId64 ")%s%s",
               rc ? "could not finish" : "finished", swaps[i], next, rc ? ": " : "", rc ? kn_strerror(rc) : "");
    }
    if (nsw && !rc) rc = kn_log__fsync_dir(dir);
    kn_free(swaps);
    kn_free(logs);
    return rc;
}
