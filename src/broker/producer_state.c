/* Idempotent-producer state per partition. See producer_state_int.h. */
#include "producer_state_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

enum { KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45, KERR_INVALID_PRODUCER_EPOCH = 47 };

/* Kafka's ProducerSnapshot v1: version int16, crc uint32 (CRC-32C of what
 * follows it), entries array (int32 count) of 46-byte entries. */
#define SNAP_VERSION 1
#define SNAP_HEADER 10
#define SNAP_ENTRY 46

void kn_pstate_init(kn_pstate_t *s) { memset(s, 0, sizeof(*s)); }

void kn_pstate_free(kn_pstate_t *s) {
    kn_free(s->e);
    memset(s, 0, sizeof(*s));
}

/* Index of pid, or where it would go (*found false). */
static size_t locate(const kn_pstate_t *s, int64_t pid, bool *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].pid < pid) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < s->n && s->e[lo].pid == pid;
    return lo;
}

const kn_pstate_entry_t *kn_pstate_find(const kn_pstate_t *s, int64_t pid) {
    bool found;
    size_t i = locate(s, pid, &found);
    return found ? &s->e[i] : NULL;
}

static bool in_sequence(int32_t last, int32_t next) {
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

int kn_pstate_check(const kn_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                    kn_pstate_batch_t *dup, int16_t *kafka_err) {
    *kafka_err = 0;
    const kn_pstate_entry_t *e = kn_pstate_find(s, pid);
    if (!e) return KN_PSTATE_APPEND;
    if (epoch == e->epoch) {
        for (int32_t i = 0; i < e->nbatches; i++) {
            if (e->b[i].first_seq == first_seq && e->b[i].last_seq == last_seq) {
                *dup = e->b[i];
                return KN_PSTATE_DUPLICATE;
            }
        }
    }
    if (epoch < e->epoch) {
        *kafka_err = KERR_INVALID_PRODUCER_EPOCH;
        return -1;
    }
    if (epoch != e->epoch) {
        if (first_seq != 0) *kafka_err = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else if (e->nbatches > 0 && !in_sequence(e->b[e->nbatches - 1].last_seq, first_seq)) {
        *kafka_err = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    return *kafka_err ? -1 : KN_PSTATE_APPEND;
}

void kn_pstate_update(kn_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                      int64_t first_offset, int64_t last_offset, int64_t timestamp) {
    bool found;
    size_t i = locate(s, pid, &found);
    if (!found) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 8;
            s->e = kn_realloc(s->e, s->cap * sizeof(*s->e));
        }
        memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(*s->e));
        s->n++;
        memset(&s->e[i], 0, sizeof(s->e[i]));
        s->e[i].pid = pid;
        s->e[i].epoch = epoch;
    }
    kn_pstate_entry_t *e = &s->e[i];
    if (e->epoch != epoch) { /* new epoch: the old batches are no use for dedup */
        e->epoch = epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == KN_PSTATE_CACHED_BATCHES) {
        memmove(&e->b[0], &e->b[1], (KN_PSTATE_CACHED_BATCHES - 1) * sizeof(e->b[0]));
        e->nbatches--;
    }
    e->b[e->nbatches++] = (kn_pstate_batch_t){first_seq, last_seq, first_offset, last_offset, timestamp};
}

void kn_pstate_update_blob(kn_pstate_t *s, const uint8_t *p, size_t len) {
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *b;
    size_t sz;
    kn_batch_iter_init(&it, p, len);
    while (kn_batch_iter_next(&it, &h, &b, &sz) == 1) {
        if (h.producer_id < 0 || h.base_sequence < 0 || (h.attributes & KN_BATCH_ATTR_CONTROL)) continue;
        int32_t last_seq = (int32_t)(((int64_t)h.base_sequence + h.last_offset_delta) % ((int64_t)INT32_MAX + 1));
        kn_pstate_update(s, h.producer_id, h.producer_epoch, h.base_sequence, last_seq, h.base_offset,
                         kn_batch_last_offset(&h), h.max_timestamp);
    }
}

/* ---- snapshots ---- */

static bool parse_snapshot_name(const char *name, int64_t *off) {
    size_t n = strlen(name);
    if (n != 20 + 9 || strcmp(name + 20, ".snapshot") != 0) return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        v = v * 10 + (name[i] - '0');
    }
    *off = v;
    return true;
}

int kn_pstate_parse_snapshot(kn_pstate_t *s, const uint8_t *p, size_t len) {
    if (len < SNAP_HEADER || kn_be16(p) != SNAP_VERSION) return KN_ECORRUPT;
    if (kn_crc32c(0, p + 6, len - 6) != kn_be32(p + 2)) return KN_ECORRUPT;
    int32_t count = (int32_t)kn_be32(p + 6);
    if (count < 0 || (size_t)count != (len - SNAP_HEADER) / SNAP_ENTRY || (len - SNAP_HEADER) % SNAP_ENTRY)
        return KN_ECORRUPT;
    for (int32_t i = 0; i < count; i++) {
        const uint8_t *q = p + SNAP_HEADER + (size_t)i * SNAP_ENTRY;
        int64_t pid = (int64_t)kn_be64(q);
        int16_t epoch = (int16_t)kn_be16(q + 8);
        int32_t last_seq = (int32_t)kn_be32(q + 10);
        int64_t last_off = (int64_t)kn_be64(q + 14);
        int32_t delta = (int32_t)kn_be32(q + 22);
        int64_t ts = (int64_t)kn_be64(q + 26);
        if (delta < 0) return KN_ECORRUPT;
        kn_pstate_update(s, pid, epoch, (int32_t)((int64_t)last_seq - delta), last_seq, last_off - delta,
                         last_off, ts);
    }
    return 0;
}

int kn_pstate_write_snapshot(const kn_pstate_t *s, const char *dir, int64_t offset, const char *ctx) {
    size_t len = SNAP_HEADER + s->n * SNAP_ENTRY;
    uint8_t *buf = kn_malloc(len);
    kn_put_be16(buf, SNAP_VERSION);
    kn_put_be32(buf + 6, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++) {
        const kn_pstate_entry_t *e = &s->e[i];
        uint8_t *q = buf + SNAP_HEADER + i * SNAP_ENTRY;
        const kn_pstate_batch_t *last = e->nbatches ? &e->b[e->nbatches - 1] : NULL;
        kn_put_be64(q, (uint64_t)e->pid);
        kn_put_be16(q + 8, (uint16_t)e->epoch);
        kn_put_be32(q + 10, (uint32_t)(last ? last->last_seq : -1));
        kn_put_be64(q + 14, (uint64_t)(last ? last->last_offset : -1));
        kn_put_be32(q + 22, (uint32_t)(last ? (int32_t)(last->last_offset - last->first_offset) : 0));
        kn_put_be64(q + 26, (uint64_t)(last ? last->timestamp : -1));
        kn_put_be32(q + 34, (uint32_t)-1); /* coordinator epoch */
        kn_put_be64(q + 38, (uint64_t)-1); /* current txn first offset */
    }
    kn_put_be32(buf + 2, kn_crc32c(0, buf + 6, len - 6));
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".snapshot", dir, offset);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0) rc = KN_EIO;
    if (fd >= 0) close(fd);
    if (!rc && rename(tmp, path) < 0) rc = KN_EIO;
    kn_free(buf);
    if (rc) {
        unlink(tmp);
        kn_log(KN_LOG_ERROR, ctx, "cannot write producer snapshot %s", path);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    /* Keep this one and the newest older one. */
    DIR *d = opendir(dir);
    if (d) {
        int64_t prev = -1, o;
        struct dirent *de;
        while ((de = readdir(d)))
            if (parse_snapshot_name(de->d_name, &o) && o < offset && o > prev) prev = o;
        rewinddir(d);
        while ((de = readdir(d))) {
            if (parse_snapshot_name(de->d_name, &o) && o < prev) {
                char old[4200];
                snprintf(old, sizeof(old), "%s/%s", dir, de->d_name);
                unlink(old);
            }
        }
        closedir(d);
    }
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return KN_EIO;
    off_t sz = lseek(fd, 0, SEEK_END);
    if (sz < 0 || sz > (64 << 20)) {
        close(fd);
        return KN_ECORRUPT;
    }
    uint8_t *buf = kn_malloc((size_t)sz + 1);
    ssize_t n = pread(fd, buf, (size_t)sz, 0);
    close(fd);
    if (n != sz) {
        kn_free(buf);
        return KN_EIO;
    }
    *out = buf;
    *len = (size_t)sz;
    return 0;
}

/* Replay batches in [from, end) of the log into s. */
static int replay(kn_pstate_t *s, kn_plog_t *log, int64_t from, const char *ctx) {
    int64_t end = kn_plog_end_offset(log);
    int64_t off = from, nbatches = 0;
    while (off < end) {
        kn_plog_read_t rd;
        int rc = kn_plog_read(log, off, 1 << 20, end, &rd);
        if (rc < 0) return rc;
        if (rd.len <= 0) break;
        int32_t want = rd.len;
        uint8_t *buf = kn_malloc((size_t)want);
        ssize_t n = pread(rd.fd, buf, (size_t)want, rd.file_pos);
        kn_plog_read_release(&rd);
        if (n != want) {
            kn_free(buf);
            return KN_EIO;
        }
        kn_batch_iter_t it;
        kn_batch_hdr_t h;
        const uint8_t *b;
        size_t sz;
        int64_t next = off;
        kn_batch_iter_init(&it, buf, (size_t)n);
        while (kn_batch_iter_next(&it, &h, &b, &sz) == 1) {
            if (kn_batch_last_offset(&h) >= off) kn_pstate_update_blob(s, b, sz);
            next = kn_batch_last_offset(&h) + 1;
            nbatches++;
        }
        kn_free(buf);
        if (next <= off) break; /* no progress: stop rather than loop */
        off = next;
    }
    kn_dbg(KN_DBG_LOG, ctx, "producer state: replayed %" PRId64 " batches from offset %" PRId64, nbatches, from);
    return 0;
}

int kn_pstate_load(kn_pstate_t *s, const char *dir, kn_plog_t *log, const char *ctx) {
    int64_t end = kn_plog_end_offset(log), start = kn_plog_start_offset(log);
    int64_t best = -1, o;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!parse_snapshot_name(de->d_name, &o)) continue;
            if (o > end) { /* the log was truncated below it */
                char p[4200];
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                unlink(p);
            } else if (o > best) {
                best = o;
            }
        }
        closedir(d);
    }
    int64_t from = start;
    if (best >= 0) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%020" PRId64 ".snapshot", dir, best);
        uint8_t *buf;
        size_t len;
        int rc = read_file(p, &buf, &len);
        if (rc == 0) {
            rc = kn_pstate_parse_snapshot(s, buf, len);
            kn_free(buf);
        }
        if (rc == 0) {
            from = best > start ? best : start;
        } else {
            kn_log(KN_LOG_WARN, ctx, "ignoring producer snapshot %s: %s (rebuilding from the log)", p,
                   kn_strerror(rc));
            kn_pstate_free(s);
            kn_pstate_init(s);
        }
    }
    int rc = replay(s, log, from, ctx);
    if (s->n)
        kn_log(KN_LOG_INFO, ctx, "producer state: %zu producer(s) (snapshot at %" PRId64 ", replayed from %" PRId64 ")",
               s->n, best, from);
    s->nsegments_at_snapshot = kn_plog_segment_count(log);
    return rc;
}
