/* Retention decisions (time, size, log start offset, high watermark, roll of
 * the active segment) and segment removal (rename to .deleted, delayed
 * unlink, reads that hold a deleted segment, restart). */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kanal/log/log.h"
#include "kanal/log/retention.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
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
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kn-test-ret-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(pdir, sizeof(pdir), "%s/t-0", tmpdir);
    kn_log_min_level = KN_LOG_WARN;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static bool exists(int64_t base, const char *ext) {
    char p[400];
    snprintf(p, sizeof(p), "%s/%020" PRId64 "%s", pdir, base, ext);
    return access(p, F_OK) == 0;
}

/* A log of nsegs closed segments of 10 records each (one batch per
 * segment: segment.bytes is tiny so every append rolls), timestamps
 * 1000*(i+1), plus an active segment holding one more batch when
 * active_records. */
static kn_plog_t *make_log(int nsegs, bool active_records) {
    kn_log_config_t c;
    kn_log_config_default(&c);
    c.segment_bytes = 100;
    kn_plog_t *l;
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    uint8_t b[8192];
    lg_rec_t r[10];
    char keys[10][8];
    for (int i = 0; i < 10; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        r[i] = (lg_rec_t){keys[i], "value"};
    }
    int total = nsegs + (active_records ? 1 : 0);
    for (int s = 0; s < total; s++) {
        size_t n = lg_batch(b, r, 10, 1000 * (s + 1), -1, -1, -1);
        int64_t base, last;
        assert_int_equal(kn_plog_append(l, b, n, 1000 * (s + 1), &base, &last), 0);
        assert_int_equal(base, 10 * s);
    }
    if (!active_records) assert_int_equal(kn_plog_roll(l, "test"), 0);
    assert_int_equal(kn_plog_segment_count(l), nsegs + 1);
    return l;
}

static void test_time_retention(void **state) {
    (void)state;
    kn_plog_t *l = make_log(4, false); /* segments max ts 1000..4000, empty active */
    kn_retention_config_t c = {.retention_ms = 1500, .retention_bytes = -1, .delete_policy = true};
    kn_retention_plan_t p;
    kn_retention_plan(l, &c, 4000, INT64_MAX, &p); /* 4000-1000, 4000-2000 > 1500 */
    assert_int_equal(p.nsegs, 2);
    assert_false(p.roll_first);
    assert_string_equal(p.reason, "retention.ms");
    kn_retention_plan(l, &c, 100000, INT64_MAX, &p); /* all closed ones; never the empty active */
    assert_int_equal(p.nsegs, 4);
    assert_false(p.roll_first);
    /* the high watermark protects what consumers have not been given */
    kn_retention_plan(l, &c, 100000, 25, &p);
    assert_int_equal(p.nsegs, 2);
    /* no delete policy: nothing (compact-only topics) */
    c.delete_policy = false;
    kn_retention_plan(l, &c, 100000, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 0);
    c.delete_policy = true;
    c.retention_ms = -1;
    kn_retention_plan(l, &c, INT64_MAX / 2, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 0);
    kn_plog_close(l);
}

static void test_time_stops_at_first_unexpired(void **state) {
    (void)state;
    kn_plog_t *l = make_log(3, false);
    /* Nothing deletes a newer segment behind an older unexpired one: with
     * retention 2500 at now 4000, only segment 0 (ts 1000) is expired. */
    kn_retention_config_t c = {.retention_ms = 2500, .retention_bytes = -1, .delete_policy = true};
    kn_retention_plan_t p;
    kn_retention_plan(l, &c, 4000, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 1);
    kn_plog_close(l);
}

static void test_active_rolls_first(void **state) {
    (void)state;
    kn_plog_t *l = make_log(2, true); /* 2 closed + a non-empty active */
    kn_retention_config_t c = {.retention_ms = 10, .retention_bytes = -1, .delete_policy = true};
    kn_retention_plan_t p;
    kn_retention_plan(l, &c, 100000, kn_plog_end_offset(l), &p);
    assert_int_equal(p.nsegs, 3);
    assert_true(p.roll_first);
    /* not while the high watermark is below its end */
    kn_retention_plan(l, &c, 100000, kn_plog_end_offset(l) - 1, &p);
    assert_int_equal(p.nsegs, 2);
    kn_retention_plan(l, &c, 100000, kn_plog_end_offset(l), &p);
    assert_int_equal(kn_plog_roll(l, p.reason), 0);
    kn_deleted_seg_t *list = NULL;
    assert_int_equal(kn_retention_detach(l, p.nsegs, p.reason, &list), 0);
    assert_int_equal(kn_plog_segment_count(l), 1);
    assert_int_equal(kn_plog_start_offset(l), 30);
    assert_int_equal(kn_plog_end_offset(l), 30);
    kn_retention_unlink(list);
    kn_retention_free(list);
    kn_plog_close(l);
}

static void test_size_retention(void **state) {
    (void)state;
    kn_plog_t *l = make_log(4, false);
    int64_t seg = kn_plog_size(l) / 4;
    kn_retention_config_t c = {.retention_ms = -1, .retention_bytes = 2 * seg, .delete_policy = true};
    kn_retention_plan_t p;
    kn_retention_plan(l, &c, 0, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 2);
    assert_string_equal(p.reason, "retention.bytes");
    c.retention_bytes = 2 * seg + 1; /* deleting a second would go below */
    kn_retention_plan(l, &c, 0, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 1);
    kn_plog_close(l);
}

static void test_start_offset_breach(void **state) {
    (void)state;
    kn_plog_t *l = make_log(4, false);
    kn_retention_config_t c = {.retention_ms = -1, .retention_bytes = -1, .delete_policy = false};
    kn_retention_plan_t p;
    assert_int_equal(kn_plog_set_start_offset(l, 25), 0);
    assert_int_equal(kn_plog_start_offset(l), 25);
    assert_int_equal(kn_plog_set_start_offset(l, 5), 0); /* never moves down */
    assert_int_equal(kn_plog_start_offset(l), 25);
    assert_int_equal(kn_plog_set_start_offset(l, 41), KN_ERANGE);
    kn_retention_plan(l, &c, 0, INT64_MAX, &p);
    assert_int_equal(p.nsegs, 2); /* [0,10) and [10,20); [20,30) holds 25 */
    assert_string_equal(p.reason, "log start offset");
    kn_plog_read_t rd;
    assert_int_equal(kn_plog_read(l, 24, 1 << 20, INT64_MAX, &rd), KN_ERANGE);
    assert_int_equal(kn_plog_read(l, 25, 1 << 20, INT64_MAX, &rd), 0);
    kn_plog_read_release(&rd);
    kn_plog_close(l);
}

static void test_detach_and_delayed_unlink(void **state) {
    (void)state;
    kn_plog_t *l = make_log(3, false);
    /* An in-flight Fetch holds segment 0. */
    kn_plog_read_t rd;
    assert_int_equal(kn_plog_read(l, 0, 1 << 20, INT64_MAX, &rd), 0);
    assert_true(rd.len > 0);
    kn_deleted_seg_t *list = NULL;
    assert_int_equal(kn_retention_detach(l, 2, "test", &list), 0);
    assert_int_equal(kn_plog_start_offset(l), 20);
    assert_false(exists(0, ".log"));
    assert_true(exists(0, ".log.deleted"));
    assert_true(exists(10, ".index.deleted"));
    assert_true(exists(20, ".log"));
    kn_retention_unlink(list);
    assert_false(exists(0, ".log.deleted"));
    assert_false(exists(10, ".timeindex.deleted"));
    /* The held fd still reads the bytes. */
    uint8_t hdr[KN_BATCH_HEADER_SIZE];
    assert_int_equal(pread(rd.fd, hdr, sizeof(hdr), rd.file_pos), (ssize_t)sizeof(hdr));
    assert_int_equal(hdr[16], 2);
    kn_retention_free(list);
    kn_plog_read_release(&rd);
    kn_plog_close(l);
}

static void test_restart_removes_leftovers(void **state) {
    (void)state;
    kn_plog_t *l = make_log(3, false);
    kn_deleted_seg_t *list = NULL;
    assert_int_equal(kn_retention_detach(l, 1, "test", &list), 0);
    kn_retention_free(list); /* "crash" before the unlink */
    kn_plog_close(l);
    assert_true(exists(0, ".log.deleted"));
    kn_log_config_t c;
    kn_log_config_default(&c);
    assert_int_equal(kn_plog_open(pdir, "t-0", &c, 0, false, &l), 0);
    assert_false(exists(0, ".log.deleted"));
    assert_int_equal(kn_plog_start_offset(l), 10);
    assert_int_equal(kn_plog_end_offset(l), 30);
    /* the checkpointed start offset is applied on top by the broker */
    assert_int_equal(kn_plog_set_start_offset(l, 15), 0);
    assert_int_equal(kn_plog_start_offset(l), 15);
    kn_plog_close(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_time_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_stops_at_first_unexpired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_rolls_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_offset_breach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_and_delayed_unlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_removes_leftovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
