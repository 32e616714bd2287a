/* The cleaner: latest record per key at its original offset, tombstones
 * kept until delete.retention.ms, keyless records dropped, each producer's
 * last batch kept, the dirty-ratio trigger, the uncleanable active segment,
 * and a crash at every file operation of a cleaning leaving a valid log. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kanal/log/cleaner.h"
#include "kanal/log/fileops.h"
#include "kanal/log/log.h"
#include "kanal/log/retention.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"
#include "lifecycle_gen.h"

static char tmpdir[256], pdir[300];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kn-test-clean-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(pdir, sizeof(pdir), "%s/t-0", tmpdir);
    kn_log_min_level = (kn_log_level_t)(KN_LOG_ERROR + 1);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kn_log_set_fileops(NULL);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static kn_log_config_t cfg_small(void) {
    kn_log_config_t c;
    kn_log_config_default(&c);
    c.segment_bytes = 400;
    c.index_interval_bytes = 100;
    return c;
}

static kn_cleaner_config_t ccfg(void) {
    return (kn_cleaner_config_t){
        .delete_retention_ms = 1000,
        .min_cleanable_dirty_ratio = 0.5,
        .min_compaction_lag_ms = 0,
        .max_map_bytes = 1 << 20,
        .io_bytes_per_sec = 0,
    };
}

static int64_t append(kn_plog_t *l, const lg_rec_t *r, int n, int64_t ts, int64_t pid, int32_t seq) {
    uint8_t b[16384];
    size_t sz = lg_batch(b, r, n, ts, pid, pid >= 0 ? 0 : -1, pid >= 0 ? seq : -1);
    int64_t base, last;
    assert_int_equal(kn_plog_append(l, b, sz, ts, &base, &last), 0);
    return base;
}

/* What a consumer sees: every record (offset, key, value) from the start. */
typedef struct seen_s {
    int64_t offset;
    char key[16], value[32];
    bool has_key, tombstone;
} seen_t;

typedef struct view_s {
    seen_t r[512];
    int n;
    int empty_batches;
    int64_t pid_batches[8]; /* base offsets of batches with producer 7 */
    int npid;
} view_t;

static int rdvarint(const uint8_t **p, int64_t *v) {
    uint64_t z = 0;
    int s = 0;
    for (;;) {
        uint8_t c = *(*p)++;
        z |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) break;
        s += 7;
    }
    *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return 0;
}

static void read_all(kn_plog_t *l, view_t *v) {
    memset(v, 0, sizeof(*v));
    int64_t off = kn_plog_start_offset(l), prev = -1;
    while (off < kn_plog_end_offset(l)) {
        kn_plog_read_t rd;
        assert_int_equal(kn_plog_read(l, off, 1 << 20, INT64_MAX, &rd), 0);
        assert_true(rd.len > 0);
        uint8_t *buf = malloc((size_t)rd.len);
        assert_int_equal(pread(rd.fd, buf, (size_t)rd.len, rd.file_pos), rd.len);
        kn_batch_iter_t it;
        kn_batch_hdr_t h;
        const uint8_t *b;
        size_t sz;
        kn_batch_iter_init(&it, buf, (size_t)rd.len);
        while (kn_batch_iter_next(&it, &h, &b, &sz) == 1) {
            assert_true(kn_batch_crc_ok(b, sz));
            if (h.records_count == 0) v->empty_batches++;
            if (h.producer_id == 7 && v->npid < 8) v->pid_batches[v->npid++] = h.base_offset;
            const uint8_t *p = b + KN_BATCH_HEADER_SIZE;
            for (int32_t i = 0; i < h.records_count; i++) {
                int64_t len, tsd, od, kl, vl;
                rdvarint(&p, &len);
                const uint8_t *end = p + len;
                p++; /* attributes */
                rdvarint(&p, &tsd);
                rdvarint(&p, &od);
                seen_t *s = &v->r[v->n++];
                s->offset = h.base_offset + od;
                assert_true(s->offset > prev); /* offsets only grow */
                assert_true(s->offset <= kn_batch_last_offset(&h));
                prev = s->offset;
                rdvarint(&p, &kl);
                s->has_key = kl >= 0;
                if (kl > 0) memcpy(s->key, p, (size_t)kl);
                if (kl > 0) p += kl;
                rdvarint(&p, &vl);
                s->tombstone = vl < 0;
                if (vl > 0) memcpy(s->value, p, (size_t)vl);
                p = end;
            }
            off = kn_batch_last_offset(&h) + 1;
        }
        free(buf);
        kn_plog_read_release(&rd);
    }
}

/* key k<i> gets values v<i>-<round> for rounds 0..3, one batch of 5 keys per
 * append; k3 ends with a recent tombstone, k4 with an old one; one keyless
 * record. Returns the log; the active segment holds the last append. */
static kn_plog_t *make_keyed_log(int64_t now) {
    kn_log_config_t c = cfg_small();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    char keys[10][8], vals[10][4][16];
    for (int round = 0; round < 4; round++)
        for (int half = 0; half < 2; half++) {
            lg_rec_t r[5];
            for (int i = 0; i < 5; i++) {
                int k = half * 5 + i;
                snprintf(keys[k], sizeof(keys[k]), "k%d", k);
                snprintf(vals[k][round], sizeof(vals[k][round]), "v%d-%d", k, round);
                r[i] = (lg_rec_t){keys[k], vals[k][round]};
            }
            append(l, r, 5, now - 5000, -1, 0);
        }
    lg_rec_t old_tomb = {"k4", NULL}, keyless = {NULL, "nokey"};
    append(l, &old_tomb, 1, now - 5000, -1, 0); /* older than delete.retention.ms */
    append(l, &keyless, 1, now - 5000, -1, 0);
    lg_rec_t new_tomb = {"k3", NULL};
    append(l, &new_tomb, 1, now - 10, -1, 0); /* recent: kept */
    lg_rec_t tail = {"k9", "v9-last"};
    append(l, &tail, 1, now, -1, 0);
    assert_int_equal(kn_plog_roll(l, "test"), 0); /* the active segment is never cleaned */
    lg_rec_t z = {"z", "active"};
    append(l, &z, 1, now, -1, 0);
    assert_true(kn_plog_segment_count(l) > 3);
    return l;
}

static int run_clean(kn_plog_t *l, int64_t now, kn_deleted_seg_t **del) {
    kn_cleaner_config_t cc = ccfg();
    kn_clean_job_t *j = NULL;
    assert_int_equal(kn_cleaner_plan(l, &cc, 0, kn_plog_end_offset(l), now, false, &j), 0);
    assert_non_null(j);
    int rc = kn_cleaner_run(j);
    int64_t fd = 0;
    if (rc == 0) assert_int_equal(kn_cleaner_commit(l, j, &fd, del), 0);
    kn_cleaner_job_free(j);
    return rc;
}

/* The latest state per key in the view (last record wins). */
static const seen_t *latest(const view_t *v, const char *key) {
    const seen_t *s = NULL;
    for (int i = 0; i < v->n; i++)
        if (v->r[i].has_key && !strcmp(v->r[i].key, key)) s = &v->r[i];
    return s;
}

static void test_keeps_latest_per_key(void **state) {
    (void)state;
    int64_t now = 1000000;
    kn_plog_t *l = make_keyed_log(now);
    view_t before, after;
    read_all(l, &before);
    int64_t end = kn_plog_end_offset(l);
    kn_deleted_seg_t *del = NULL;
    assert_int_equal(run_clean(l, now, &del), 0);
    read_all(l, &after);
    assert_int_equal(kn_plog_end_offset(l), end);
    assert_int_equal(kn_plog_start_offset(l), 0);
    /* every key appears once (at most), at the offset it had before */
    for (int k = 0; k < 10; k++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", k);
        const seen_t *b = latest(&before, key), *a = latest(&after, key);
        int count = 0;
        for (int i = 0; i < after.n; i++)
            if (after.r[i].has_key && !strcmp(after.r[i].key, key)) count++;
        if (k == 4) { /* old tombstone: gone, and so is every value of k4 */
            assert_int_equal(count, 0);
            continue;
        }
        assert_non_null(a);
        assert_int_equal(count, 1);
        assert_int_equal(a->offset, b->offset);
        assert_string_equal(a->value, b->value);
        assert_int_equal(a->tombstone, b->tombstone);
    }
    assert_true(latest(&after, "k3")->tombstone); /* recent tombstone kept */
    for (int i = 0; i < after.n; i++) assert_true(after.r[i].has_key); /* keyless dropped */
    assert_string_equal(latest(&after, "k9")->value, "v9-last");
    assert_string_equal(latest(&after, "z")->value, "active"); /* active segment untouched */
    assert_true(after.n < before.n);
    /* old segment files are *.deleted until unlinked */
    kn_retention_unlink(del);
    kn_retention_free(del);
    /* reopen: the cleaned log loads as it is */
    kn_plog_close(l);
    kn_log_config_t c = cfg_small();
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    view_t again;
    read_all(l, &again);
    assert_int_equal(again.n, after.n);
    kn_plog_close(l);
}

static void test_dirty_ratio_and_second_pass(void **state) {
    (void)state;
    int64_t now = 1000000;
    kn_plog_t *l = make_keyed_log(now);
    kn_deleted_seg_t *del = NULL;
    assert_int_equal(run_clean(l, now, &del), 0);
    /* Everything below the active segment is clean now: nothing due. */
    kn_cleaner_config_t cc = ccfg();
    kn_clean_job_t *j = NULL;
    size_t n;
    (void)n;
    int64_t first_dirty = kn_plog_end_offset(l) - 1; /* the active segment's base or later */
    assert_int_equal(kn_cleaner_plan(l, &cc, first_dirty, kn_plog_end_offset(l), now, false, &j), 0);
    assert_null(j);
    /* A high watermark at the start: nothing is cleanable. */
    assert_int_equal(kn_cleaner_plan(l, &cc, 0, 0, now, true, &j), 0);
    assert_null(j);
    /* min.compaction.lag.ms keeps young segments out. */
    cc.min_compaction_lag_ms = 1000000;
    assert_int_equal(kn_cleaner_plan(l, &cc, 0, kn_plog_end_offset(l), now, true, &j), 0);
    assert_null(j);
    kn_retention_unlink(del);
    kn_retention_free(del);
    kn_plog_close(l);
}

static void test_producer_last_batch_kept(void **state) {
    (void)state;
    int64_t now = 1000000;
    kn_log_config_t c = cfg_small();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    lg_rec_t a = {"a", "1"}, b = {"b", "1"};
    append(l, &a, 1, now - 100, 7, 0); /* producer 7, seq 0 */
    append(l, &b, 1, now - 100, 7, 1); /* producer 7, seq 1: its last batch */
    lg_rec_t r[6];
    char vals[6][8];
    for (int i = 0; i < 6; i++) {
        snprintf(vals[i], sizeof(vals[i]), "x%d", i);
        r[i] = (lg_rec_t){i % 2 ? "b" : "a", vals[i]};
    }
    for (int i = 0; i < 6; i++) append(l, &r[i], 1, now - 100, -1, 0); /* supersede a and b */
    assert_int_equal(kn_plog_roll(l, "test"), 0);
    view_t v;
    kn_deleted_seg_t *del = NULL;
    assert_int_equal(run_clean(l, now, &del), 0);
    read_all(l, &v);
    /* producer 7's first batch went; its last stays, empty */
    assert_int_equal(v.npid, 1);
    assert_int_equal(v.pid_batches[0], 1);
    assert_true(v.empty_batches >= 1);
    assert_string_equal(latest(&v, "a")->value, "x4");
    assert_string_equal(latest(&v, "b")->value, "x5");
    kn_retention_unlink(del);
    kn_retention_free(del);
    kn_plog_close(l);
}

/* ---- crash injection: every mutating file operation after the Nth fails,
 * as if the process died there; then the log is reopened with POSIX ops. */
static int ops_left;
static bool dead;

static bool step(void) {
    if (dead) return false;
    if (ops_left-- <= 0) {
        dead = true;
        return false;
    }
    return true;
}

static ssize_t c_pwrite(int fd, const void *p, size_t n, off_t off) {
    if (!step()) return errno = EIO, -1;
    return pwrite(fd, p, n, off);
}
static int c_fsync(int fd) {
    if (!step()) return errno = EIO, -1;
    return fsync(fd);
}
static int c_ftruncate(int fd, off_t len) {
    if (!step()) return errno = EIO, -1;
    return ftruncate(fd, len);
}
static int c_rename(const char *a, const char *b) {
    if (!step()) return errno = EIO, -1;
    return rename(a, b);
}
static int c_unlink(const char *p) {
    if (!step()) return errno = EIO, -1;
    return unlink(p);
}
static int c_open(const char *p, int flags, mode_t mode) {
    if ((flags & (O_CREAT | O_TRUNC)) && !step()) return errno = EIO, -1;
    return kn_log_posix_fileops()->open(p, flags, mode);
}

static kn_fileops_t crash_ops;

static void test_crash_at_every_step(void **state) {
    (void)state;
    int64_t now = 1000000;
    crash_ops = *kn_log_posix_fileops();
    crash_ops.pwrite = c_pwrite;
    crash_ops.fsync = c_fsync;
    crash_ops.ftruncate = c_ftruncate;
    crash_ops.rename = c_rename;
    crash_ops.unlink = c_unlink;
    crash_ops.open = c_open;
    /* Reference: the log before and after a full cleaning. */
    kn_plog_t *l = make_keyed_log(now);
    view_t before, cleaned;
    read_all(l, &before);
    int64_t end = kn_plog_end_offset(l);
    kn_deleted_seg_t *del = NULL;
    assert_int_equal(run_clean(l, now, &del), 0);
    read_all(l, &cleaned);
    kn_retention_free(del);
    kn_plog_close(l);
    int crashes = 0;
    for (int n = 0;; n++) {
        nftw(pdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        l = make_keyed_log(now);
        kn_plog_flush(l);
        kn_cleaner_config_t cc = ccfg();
        kn_clean_job_t *j = NULL;
        assert_int_equal(kn_cleaner_plan(l, &cc, 0, kn_plog_end_offset(l), now, false, &j), 0);
        ops_left = n;
        dead = false;
        kn_log_set_fileops(&crash_ops);
        int rc = kn_cleaner_run(j);
        bool finished = rc == 0 && !dead;
        /* The process dies: nothing more reaches the disk. */
        dead = true;
        kn_cleaner_job_free(j);
        kn_plog_close(l);
        kn_log_set_fileops(NULL);
        /* Restart. */
        kn_log_config_t c = cfg_small();
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
        assert_int_equal(kn_plog_end_offset(l), end);
        view_t v;
        read_all(l, &v);
        /* Either the old log or the cleaned one, segment by segment: every
         * key's latest state and offset as before, nothing lost. */
        for (int k = 0; k < 10; k++) {
            char key[8];
            snprintf(key, sizeof(key), "k%d", k);
            const seen_t *b = latest(&before, key), *a = latest(&v, key);
            if (k == 4 && !a) continue; /* old tombstone cleaned away */
            assert_non_null(a);
            assert_int_equal(a->offset, b->offset);
            assert_string_equal(a->value, b->value);
        }
        assert_true(v.n >= cleaned.n && v.n <= before.n);
        kn_plog_close(l);
        if (finished) break;
        crashes++;
        assert_true(n < 500);
    }
    assert_true(crashes > 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keeps_latest_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_ratio_and_second_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_last_batch_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_at_every_step, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
