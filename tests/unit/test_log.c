/* Partition storage: append/read, indexes, rolls, recovery from crafted
 * damage, fault injection through the file-ops table, checkpoint files. */
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

#include "kanal/log/checkpoint.h"
#include "kanal/log/fileops.h"
#include "kanal/log/log.h"
#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "test_log_batchgen.h"

static char tmpdir[256];
static char pdir[300];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kn-test-log-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(pdir, sizeof(pdir), "%s/t-0", tmpdir);
    kn_log_min_level = (kn_log_level_t)(KN_LOG_ERROR + 1); /* failures are provoked here */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kn_log_set_fileops(NULL);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static kn_log_config_t small_cfg(void) {
    kn_log_config_t c;
    kn_log_config_default(&c);
    c.segment_bytes = 2000;
    c.index_interval_bytes = 150;
    return c;
}

static uint8_t bbuf[1 << 20];

/* Append one batch of nrec records; returns its base offset. */
static int64_t append1(kn_plog_t *l, int nrec, int64_t ts, size_t vlen) {
    size_t n = tb_batch(bbuf, sizeof(bbuf), nrec, ts, vlen);
    int64_t base = -1, last = -1;
    int16_t ke;
    assert_int_equal(kn_batches_validate(bbuf, n, 1 << 20, NULL, &ke), 0);
    assert_int_equal(kn_plog_append(l, bbuf, n, ts, &base, &last), 0);
    assert_int_equal(last - base + 1, nrec);
    return base;
}

static void fpath(char *out, size_t sz, int64_t base, const char *ext) {
    snprintf(out, sz, "%s/%020" PRId64 "%s", pdir, base, ext);
}

static int64_t file_size(const char *p) {
    struct stat st;
    if (stat(p, &st) < 0) return -1;
    return st.st_size;
}

/* Consume the whole log with reads of max_bytes, checking every batch
 * (CRC, contiguous offsets). Returns the number of offsets seen. */
static int64_t consume_all(kn_plog_t *l, int32_t max_bytes) {
    int64_t next = kn_plog_start_offset(l), end = kn_plog_end_offset(l);
    static uint8_t rb[1 << 20];
    while (next < end) {
        kn_plog_read_t r;
        assert_int_equal(kn_plog_read(l, next, max_bytes, INT64_MAX, &r), 0);
        assert_true(r.len > 0);
        assert_true((size_t)r.len <= sizeof(rb));
        assert_int_equal(pread(r.fd, rb, (size_t)r.len, r.file_pos), r.len);
        kn_batch_iter_t it;
        kn_batch_hdr_t h;
        const uint8_t *b;
        size_t sz;
        int nb = 0;
        kn_batch_iter_init(&it, rb, (size_t)r.len);
        while (kn_batch_iter_next(&it, &h, &b, &sz) == 1) {
            assert_true(kn_batch_crc_ok(b, sz));
            if (nb == 0) assert_true(h.base_offset <= next && next <= kn_batch_last_offset(&h));
            else assert_int_equal(h.base_offset, next);
            next = kn_batch_last_offset(&h) + 1;
            nb++;
        }
        assert_int_equal(it.off, (size_t)r.len);
        if (nb > 1) assert_true(r.len <= max_bytes);
        kn_plog_read_release(&r);
    }
    return next - kn_plog_start_offset(l);
}

static void test_append_read_roll(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    assert_int_equal(kn_plog_end_offset(l), 0);
    int64_t expect = 0;
    for (int i = 0; i < 60; i++) {
        int nrec = 1 + i % 4;
        assert_int_equal(append1(l, nrec, 1000 + i * 10, (size_t)(5 + i % 30)), expect);
        expect += nrec;
    }
    assert_int_equal(kn_plog_end_offset(l), expect);
    assert_true(kn_plog_segment_count(l) > 3);
    /* Each segment within segment.bytes. */
    for (int64_t off = 0; off < expect; off++) {
        kn_plog_read_t r;
        assert_int_equal(kn_plog_read(l, off, 1, INT64_MAX, &r), 0);
        assert_true(r.len > 0);
        assert_true(r.first_offset <= off);
        kn_batch_hdr_t h;
        uint8_t hb[KN_BATCH_HEADER_SIZE];
        assert_int_equal(pread(r.fd, hb, sizeof(hb), r.file_pos), sizeof(hb));
        kn_batch_parse_header(hb, sizeof(hb), &h);
        assert_true(h.base_offset <= off && off <= kn_batch_last_offset(&h));
        assert_int_equal(kn_batch_size(&h), r.len); /* max_bytes 1: exactly one batch */
        kn_plog_read_release(&r);
    }
    assert_int_equal(consume_all(l, 1), expect);
    assert_int_equal(consume_all(l, 300), expect);
    assert_int_equal(consume_all(l, 1 << 20), expect);
    /* Out of range and at the end. */
    kn_plog_read_t r;
    assert_int_equal(kn_plog_read(l, expect + 1, 100, INT64_MAX, &r), KN_ERANGE);
    assert_int_equal(kn_plog_read(l, -1, 100, INT64_MAX, &r), KN_ERANGE);
    assert_int_equal(kn_plog_read(l, expect, 100, INT64_MAX, &r), 0);
    assert_int_equal(r.len, 0);
    assert_null(r.seg);
    /* Files follow Kafka's naming. */
    char p[512];
    fpath(p, sizeof(p), 0, ".log");
    assert_true(file_size(p) > 0 && file_size(p) <= c.segment_bytes);
    fpath(p, sizeof(p), 0, ".index");
    assert_true(file_size(p) > 0 && file_size(p) % 8 == 0);
    fpath(p, sizeof(p), 0, ".timeindex");
    assert_true(file_size(p) > 0 && file_size(p) % 12 == 0);

    /* Clean reopen sees the same log. */
    kn_plog_close(l);
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    assert_int_equal(kn_plog_end_offset(l), expect);
    assert_int_equal(consume_all(l, 1), expect);
    assert_int_equal(append1(l, 2, 5000, 3), expect);
    kn_plog_close(l);
}

static void test_read_limits(void **state) {
    (void)state;
    kn_log_config_t c;
    kn_log_config_default(&c);
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    size_t sizes[5];
    for (int i = 0; i < 5; i++) {
        sizes[i] = tb_batch(bbuf, sizeof(bbuf), 3, 100, 100);
        append1(l, 3, 100 + i, 100);
    }
    kn_plog_read_t r;
    /* A batch bigger than max_bytes still goes out whole. */
    assert_int_equal(kn_plog_read(l, 4, 10, INT64_MAX, &r), 0);
    assert_int_equal(r.len, (int32_t)sizes[1]);
    assert_int_equal(r.first_offset, 3);
    kn_plog_read_release(&r);
    /* Two and a half batches fit: two go. */
    assert_int_equal(kn_plog_read(l, 0, (int32_t)(sizes[0] * 2 + sizes[0] / 2), INT64_MAX, &r), 0);
    assert_int_equal(r.len, (int32_t)(sizes[0] * 2));
    assert_int_equal(r.file_pos, 0);
    kn_plog_read_release(&r);
    /* Below the high watermark only. */
    assert_int_equal(kn_plog_read(l, 0, 1 << 20, 9, &r), 0);
    assert_int_equal(r.len, (int32_t)(sizes[0] * 3));
    kn_plog_read_release(&r);
    assert_int_equal(kn_plog_read(l, 6, 1 << 20, 8, &r), 0); /* batch 6..8 not all below 8 */
    assert_int_equal(r.len, 0);
    assert_int_equal(kn_plog_read(l, 9, 1 << 20, 9, &r), 0);
    assert_int_equal(r.len, 0);
    /* Everything. */
    assert_int_equal(kn_plog_read(l, 0, 1 << 20, INT64_MAX, &r), 0);
    assert_int_equal(r.len, (int32_t)(sizes[0] * 5));
    kn_plog_read_release(&r);
    kn_plog_close(l);
}

static void test_offset_for_time(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    /* Batch i: 4 records with timestamps 1000+100i .. +3; offsets 4i..4i+3. */
    for (int i = 0; i < 40; i++) append1(l, 4, 1000 + 100 * i, 20);
    int64_t off, ts;
    assert_int_equal(kn_plog_offset_for_time(l, 0, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(ts, 1000);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(kn_plog_offset_for_time(l, 1000 + 100 * i + 2, &off, &ts), 0);
        assert_int_equal(off, 4 * i + 2);
        assert_int_equal(ts, 1000 + 100 * i + 2);
        if (i == 39) break;
        assert_int_equal(kn_plog_offset_for_time(l, 1000 + 100 * i + 50, &off, &ts), 0);
        assert_int_equal(off, 4 * (i + 1));
    }
    assert_int_equal(kn_plog_offset_for_time(l, 1000 + 100 * 39 + 4, &off, &ts), KN_ENOTFOUND);
    assert_int_equal(kn_plog_max_timestamp(l), 1000 + 100 * 39 + 3);
    /* Same after a clean reopen (time index loaded from disk). */
    kn_plog_close(l);
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    assert_int_equal(kn_plog_offset_for_time(l, 1000 + 100 * 20 + 1, &off, &ts), 0);
    assert_int_equal(off, 81);
    assert_int_equal(kn_plog_max_timestamp(l), 1000 + 100 * 39 + 3);
    kn_plog_close(l);
}

/* ---- recovery ---- */

static uint8_t *slurp(const char *p, size_t *n) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        *n = 0;
        return NULL;
    }
    struct stat st;
    fstat(fd, &st);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

static void spill(const char *p, const uint8_t *b, size_t n) {
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
}

/* One segment of nb batches (2 records each); returns start positions. */
static void build_one_segment(int nb, int64_t *starts, int64_t *total) {
    kn_log_config_t c = small_cfg();
    c.segment_bytes = 1 << 20;
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    int64_t pos = 0;
    for (int i = 0; i < nb; i++) {
        starts[i] = pos;
        pos += (int64_t)tb_batch(bbuf, sizeof(bbuf), 2, 1000 + i, 40);
        append1(l, 2, 1000 + i, 40);
    }
    *total = pos;
    kn_plog_close(l);
}

static void test_recovery_torn_tail(void **state) {
    (void)state;
    int64_t starts[12], total;
    build_one_segment(12, starts, &total);
    char lp[512], ip[512], tp[512];
    fpath(lp, sizeof(lp), 0, ".log");
    fpath(ip, sizeof(ip), 0, ".index");
    fpath(tp, sizeof(tp), 0, ".timeindex");
    size_t ln, in, tn;
    uint8_t *log = slurp(lp, &ln), *idx = slurp(ip, &in), *tidx = slurp(tp, &tn);
    assert_int_equal(ln, (size_t)total);
    kn_log_config_t c = small_cfg();
    c.segment_bytes = 1 << 20;
    /* Cut the file at every byte of the last batch. */
    for (int64_t cut = starts[11]; cut <= total; cut++) {
        spill(lp, log, (size_t)cut);
        spill(ip, idx, in);
        spill(tp, tidx, tn);
        kn_plog_t *l;
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
        int64_t want = cut == total ? 24 : 22;
        assert_int_equal(kn_plog_end_offset(l), want);
        assert_int_equal(file_size(lp), cut == total ? total : starts[11]);
        assert_int_equal(consume_all(l, 1), want);
        /* Appending after recovery continues the offsets. */
        assert_int_equal(append1(l, 1, 5000, 1), want);
        assert_int_equal(consume_all(l, 1 << 20), want + 1);
        kn_plog_close(l);
    }
    /* Any cut inside an earlier batch keeps exactly the batches before it. */
    for (int b = 0; b < 11; b++) {
        int64_t cut = starts[b] + 30;
        spill(lp, log, (size_t)cut);
        spill(ip, idx, in);
        spill(tp, tidx, tn);
        kn_plog_t *l;
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
        assert_int_equal(kn_plog_end_offset(l), 2 * b);
        assert_int_equal(file_size(lp), starts[b]);
        assert_true(file_size(ip) % 8 == 0);
        assert_int_equal(consume_all(l, 1), 2 * b);
        kn_plog_close(l);
    }
    free(log);
    free(idx);
    free(tidx);
}

static void test_recovery_crc_and_later_segments(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    for (int i = 0; i < 50; i++) append1(l, 2, 1000 + i, 40);
    int nseg = kn_plog_segment_count(l);
    assert_true(nseg >= 3);
    kn_plog_close(l);
    /* Flip a byte inside the 4th batch of the first segment. */
    size_t bsz = tb_batch(bbuf, sizeof(bbuf), 2, 0, 40);
    char lp[512];
    fpath(lp, sizeof(lp), 0, ".log");
    size_t ln;
    uint8_t *log = slurp(lp, &ln);
    log[3 * bsz + 70] ^= 0xff;
    spill(lp, log, ln);
    free(log);
    /* A clean open trusts the middle of the file... */
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 100, true, &l), 0);
    assert_int_equal(kn_plog_end_offset(l), 100);
    kn_plog_close(l);
    /* ...recovery from offset 0 keeps the 3 batches before the damage and
     * drops every later segment. */
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    assert_int_equal(kn_plog_end_offset(l), 6);
    assert_int_equal(kn_plog_segment_count(l), 1);
    assert_int_equal(file_size(lp), (int64_t)(3 * bsz));
    char p2[512];
    assert_int_equal(consume_all(l, 1), 6);
    kn_plog_close(l);
    /* No later segment remains. */
    int n = 0;
    for (int64_t b = 1; b < 100; b++) {
        fpath(p2, sizeof(p2), b, ".log");
        if (file_size(p2) >= 0) n++;
    }
    assert_int_equal(n, 0);
}

static void test_recovery_indexes(void **state) {
    (void)state;
    int64_t starts[30], total;
    build_one_segment(30, starts, &total);
    char lp[512], ip[512], tp[512];
    fpath(lp, sizeof(lp), 0, ".log");
    fpath(ip, sizeof(ip), 0, ".index");
    fpath(tp, sizeof(tp), 0, ".timeindex");
    size_t in, tn;
    uint8_t *idx = slurp(ip, &in), *tidx = slurp(tp, &tn);
    assert_true(in >= 16);
    kn_log_config_t c = small_cfg();
    c.segment_bytes = 1 << 20;
    for (int mode = 0; mode < 8; mode++) {
        bool clean = mode & 1;
        switch (mode / 2) {
        case 0: unlink(ip); unlink(tp); break;                   /* missing */
        case 1: { uint8_t g[5] = {1, 2, 3, 4, 5}; spill(ip, g, 5); break; } /* not a multiple */
        case 2: {                                                  /* entries out of order */
            uint8_t *g = malloc(in);
            memcpy(g, idx, in);
            memcpy(g, idx + 8, 8);
            memcpy(g + 8, idx, 8);
            spill(ip, g, in);
            free(g);
            break;
        }
        case 3: {                                                  /* oversized */
            uint8_t *g = calloc(1, (size_t)c.segment_index_bytes + 8);
            memcpy(g, idx, in);
            spill(ip, g, (size_t)c.segment_index_bytes + 8);
            free(g);
            break;
        }
        }
        kn_plog_t *l;
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, clean, &l), 0);
        assert_int_equal(kn_plog_end_offset(l), 60);
        assert_int_equal(consume_all(l, 1), 60);
        int64_t off, ts;
        assert_int_equal(kn_plog_offset_for_time(l, 1017, &off, &ts), 0);
        assert_int_equal(off, 33);
        kn_plog_close(l);
        /* Rebuilt exactly as written by the append path. */
        size_t in2, tn2;
        uint8_t *i2 = slurp(ip, &in2), *t2 = slurp(tp, &tn2);
        assert_int_equal(in2, in);
        assert_memory_equal(i2, idx, in);
        assert_int_equal(tn2, tn);
        assert_memory_equal(t2, tidx, tn);
        free(i2);
        free(t2);
    }
    free(idx);
    free(tidx);
}

/* ---- fault injection ---- */

static int fi_write_fail_at, fi_fsync_fail_at, fi_short_at, fi_writes, fi_fsyncs;

static ssize_t fi_pwrite(int fd, const void *p, size_t n, off_t off) {
    fi_writes++;
    if (fi_writes == fi_write_fail_at) {
        errno = ENOSPC;
        return -1;
    }
    if (fi_writes == fi_short_at && n > 1) {
        /* Torn write: half the bytes land, then the disk is full. */
        ssize_t w = pwrite(fd, p, n / 2, off);
        fi_write_fail_at = fi_writes + 1;
        return w;
    }
    return pwrite(fd, p, n, off);
}

static int fi_fsync(int fd) {
    fi_fsyncs++;
    if (fi_fsyncs == fi_fsync_fail_at) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int fi_ftruncate_fail;

static int fi_ftruncate(int fd, off_t len) {
    if (fi_ftruncate_fail) {
        errno = EIO;
        return -1;
    }
    return ftruncate(fd, len);
}

static kn_fileops_t fi_ops;

static void fi_install(void) {
    fi_ops = *kn_log_posix_fileops();
    fi_ops.pwrite = fi_pwrite;
    fi_ops.fsync = fi_fsync;
    fi_ops.ftruncate = fi_ftruncate;
    fi_ftruncate_fail = 0;
    fi_write_fail_at = fi_fsync_fail_at = fi_short_at = 0;
    fi_writes = fi_fsyncs = 0;
    kn_log_set_fileops(&fi_ops);
}

static void test_fault_write(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    fi_install();
    char lp[512];
    fpath(lp, sizeof(lp), 0, ".log");
    /* Fail each write in turn (log write, index writes, roll's writes). */
    for (int k = 1; k <= 6; k++) {
        for (int shortw = 0; shortw < 2; shortw++) {
            kn_plog_t *l;
            nftw(pdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
            fi_write_fail_at = fi_short_at = 0;
            assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
            for (int i = 0; i < 20; i++) append1(l, 2, 1000 + i, 40);
            int64_t end = kn_plog_end_offset(l), size = kn_plog_size(l);
            int nseg = kn_plog_segment_count(l);
            fi_writes = 0;
            if (shortw) fi_short_at = k;
            else fi_write_fail_at = k;
            int rc = KN_OK;
            int i;
            for (i = 0; i < 10 && rc == 0; i++) {
                size_t n = tb_batch(bbuf, sizeof(bbuf), 2, 3000, 40);
                int64_t b, e;
                end = kn_plog_end_offset(l);
                size = kn_plog_size(l);
                nseg = kn_plog_segment_count(l);
                rc = kn_plog_append(l, bbuf, n, 3000, &b, &e);
            }
            assert_int_equal(rc, KN_ENOSPC);
            /* Unchanged and readable. */
            assert_int_equal(kn_plog_end_offset(l), end);
            assert_true(kn_plog_segment_count(l) >= nseg);
            assert_int_equal(kn_plog_size(l), size);
            assert_int_equal(consume_all(l, 1), end);
            fi_write_fail_at = fi_short_at = 0;
            assert_int_equal(append1(l, 2, 4000, 40), end);
            assert_int_equal(consume_all(l, 1 << 20), end + 2);
            kn_plog_close(l);
            /* And a recovery agrees. */
            assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
            assert_int_equal(kn_plog_end_offset(l), end + 2);
            assert_int_equal(consume_all(l, 1), end + 2);
            kn_plog_close(l);
        }
    }
}

/* A torn write whose clean-up truncate also fails (as in a crash right after
 * the write): the garbage is never served, the next append overwrites it,
 * and a restart (clean or not) cuts whatever is left. */
static void test_fault_torn_no_truncate(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    c.segment_bytes = 1 << 20;
    fi_install();
    for (int clean = 0; clean < 2; clean++) {
        kn_plog_t *l;
        nftw(pdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        fi_ftruncate_fail = 0;
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
        for (int i = 0; i < 5; i++) append1(l, 2, 1000 + i, 40);
        int64_t size = kn_plog_size(l);
        size_t n = tb_batch(bbuf, sizeof(bbuf), 4, 2000, 300);
        int64_t b, e;
        fi_short_at = fi_writes + 1;
        fi_ftruncate_fail = 1;
        assert_int_equal(kn_plog_append(l, bbuf, n, 2000, &b, &e), KN_ENOSPC);
        fi_short_at = fi_write_fail_at = 0;
        char lp[512];
        fpath(lp, sizeof(lp), 0, ".log");
        assert_true(file_size(lp) > size); /* half a batch left in the file */
        assert_int_equal(kn_plog_size(l), size);
        assert_int_equal(consume_all(l, 1 << 20), 10);
        append1(l, 1, 3000, 1); /* smaller than the garbage */
        assert_int_equal(consume_all(l, 1 << 20), 11);
        fi_ftruncate_fail = 0;
        kn_plog_close(l);
        assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, clean, &l), 0);
        assert_int_equal(kn_plog_end_offset(l), 11);
        assert_int_equal(consume_all(l, 1), 11);
        assert_int_equal(file_size(lp), kn_plog_size(l));
        kn_plog_close(l);
    }
}

static void test_fault_fsync(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    c.flush_interval_messages = 4;
    fi_install();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    append1(l, 2, 1000, 10);
    assert_int_equal(kn_plog_recovery_point(l), 0);
    append1(l, 2, 1000, 10); /* 4 messages: flush */
    assert_int_equal(kn_plog_recovery_point(l), 4);
    append1(l, 1, 1000, 10);
    fi_fsync_fail_at = fi_fsyncs + 1;
    assert_int_equal(kn_plog_flush(l), KN_EIO);
    assert_int_equal(kn_plog_recovery_point(l), 4); /* not advanced */
    assert_int_equal(kn_plog_flush(l), 0);
    assert_int_equal(kn_plog_recovery_point(l), 5);
    kn_plog_close(l);
}

/* ---- truncate, delete, roll by time, refcounts ---- */

static void test_truncate_delete(void **state) {
    (void)state;
    kn_log_config_t c = small_cfg();
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    for (int i = 0; i < 40; i++) append1(l, 3, 1000 + i, 30);
    int nseg = kn_plog_segment_count(l);
    /* Truncating inside a batch drops the whole batch. */
    assert_int_equal(kn_plog_truncate_to(l, 61), 0);
    assert_int_equal(kn_plog_end_offset(l), 60);
    assert_true(kn_plog_segment_count(l) < nseg);
    assert_int_equal(consume_all(l, 1), 60);
    assert_int_equal(append1(l, 1, 9000, 1), 60);
    kn_plog_close(l);
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    assert_int_equal(kn_plog_end_offset(l), 61);
    assert_int_equal(consume_all(l, 1), 61);
    assert_int_equal(kn_plog_truncate_to(l, 0), 0);
    assert_int_equal(kn_plog_end_offset(l), 0);
    assert_int_equal(kn_plog_segment_count(l), 1);
    for (int i = 0; i < 10; i++) append1(l, 3, 1000 + i, 30);

    /* segment.ms */
    c.segment_ms = 100;
    kn_plog_close(l);
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, true, &l), 0);
    nseg = kn_plog_segment_count(l);
    assert_int_equal(kn_plog_roll_if_due(l, 1009 + 50), 0);
    assert_int_equal(kn_plog_segment_count(l), nseg);
    assert_int_equal(kn_plog_roll_if_due(l, 1009 + 500), 0);
    assert_int_equal(kn_plog_segment_count(l), nseg + 1);

    /* Delete while a read is in flight: its fd stays usable. */
    kn_plog_read_t r;
    assert_int_equal(kn_plog_read(l, 0, 1 << 20, INT64_MAX, &r), 0);
    assert_true(r.len > 0);
    assert_int_equal(kn_plog_delete(l), 0);
    assert_true(file_size(pdir) < 0);
    uint8_t hb[KN_BATCH_HEADER_SIZE];
    assert_int_equal(pread(r.fd, hb, sizeof(hb), r.file_pos), sizeof(hb));
    kn_batch_hdr_t h;
    kn_batch_parse_header(hb, sizeof(hb), &h);
    assert_int_equal(h.base_offset, 0);
    kn_plog_read_release(&r);
}

/* ---- checkpoint files ---- */

static void test_checkpoints(void **state) {
    (void)state;
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, KN_CHECKPOINT_RECOVERY_POINT);
    kn_checkpoint_entry_t e[3] = {{"orders", 0, 42}, {"orders", 11, 0}, {"a.b_c-d", 3, 1LL << 40}};
    assert_int_equal(kn_checkpoint_write(p, e, 3), 0);
    size_t n;
    uint8_t *raw = slurp(p, &n);
    const char *want = "0\n3\norders 0 42\norders 11 0\na.b_c-d 3 1099511627776\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(raw, want, n);
    free(raw);
    kn_checkpoint_entry_t *r;
    assert_int_equal(kn_checkpoint_read(p, &r, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(r[i].topic, e[i].topic);
        assert_int_equal(r[i].partition, e[i].partition);
        assert_int_equal(r[i].offset, e[i].offset);
    }
    kn_checkpoint_free(r, n);
    assert_int_equal(kn_checkpoint_write(p, NULL, 0), 0);
    assert_int_equal(kn_checkpoint_read(p, &r, &n), 0);
    assert_int_equal(n, 0);
    kn_checkpoint_free(r, n);
    /* Malformed files. */
    const char *bad[] = {"", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0 1\nextra\n", "0\n1\nt x 1\n",
                         "0\n1\nt 0 1", "0\n1\n 0 1\n", "0\n99999999999\n", "0\n1\nt -1 5\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        spill(p, (const uint8_t *)bad[i], strlen(bad[i]));
        assert_int_equal(kn_checkpoint_read(p, &r, &n), KN_ECORRUPT);
    }
    snprintf(p, sizeof(p), "%s/nope", tmpdir);
    assert_int_equal(kn_checkpoint_read(p, &r, &n), KN_ENOTFOUND);

    /* partition.metadata */
    kn_uuid_t u, u2;
    for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(i * 17 + 3);
    assert_int_equal(kn_partition_metadata_write(tmpdir, &u), 0);
    assert_int_equal(kn_partition_metadata_read(tmpdir, &u2), 0);
    assert_memory_equal(u.b, u2.b, 16);
    char txt[23];
    memset(u.b, 0, 16);
    kn_uuid_to_base64(&u, txt);
    assert_string_equal(txt, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(kn_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAB", 22, &u2), KN_EINVAL);
    snprintf(p, sizeof(p), "%s/%s", tmpdir, KN_PARTITION_METADATA_FILE);
    spill(p, (const uint8_t *)"version: 1\ntopic_id: x\n", 23);
    assert_int_equal(kn_partition_metadata_read(tmpdir, &u2), KN_ECORRUPT);

    /* clean shutdown marker */
    assert_false(kn_clean_shutdown_exists(tmpdir));
    assert_int_equal(kn_clean_shutdown_create(tmpdir), 0);
    assert_true(kn_clean_shutdown_exists(tmpdir));
    assert_int_equal(kn_clean_shutdown_remove(tmpdir), 0);
    assert_false(kn_clean_shutdown_exists(tmpdir));
    assert_int_equal(kn_clean_shutdown_remove(tmpdir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_crc_and_later_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_torn_no_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
