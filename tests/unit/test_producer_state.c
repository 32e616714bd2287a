/* Idempotent producer state (src/broker/producer_state.c): Kafka 3.9's
 * answers for duplicates, gaps, epochs; snapshot round trip and rebuild
 * from a log after a restart. No sockets, no loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kanal/log/log.h"
#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "producer_state_int.h"
#include "test_log_batchgen.h"

static int check(const kn_pstate_t *s, int64_t pid, int16_t ep, int32_t f, int32_t l, int16_t *err,
                 kn_pstate_batch_t *dup) {
    return kn_pstate_check(s, pid, ep, f, l, dup, err);
}

static void test_sequences(void **st) {
    (void)st;
    kn_pstate_t s;
    kn_pstate_init(&s);
    int16_t err;
    kn_pstate_batch_t dup;
    /* unknown producer: any sequence (Kafka 3.x) */
    assert_int_equal(check(&s, 7, 0, 0, 4, &err, &dup), KN_PSTATE_APPEND);
    assert_int_equal(check(&s, 7, 0, 42, 43, &err, &dup), KN_PSTATE_APPEND);
    kn_pstate_update(&s, 7, 0, 0, 4, 100, 104, 1);
    /* next in sequence */
    assert_int_equal(check(&s, 7, 0, 5, 9, &err, &dup), KN_PSTATE_APPEND);
    /* gap */
    assert_int_equal(check(&s, 7, 0, 6, 9, &err, &dup), -1);
    assert_int_equal(err, 45);
    /* duplicate of a cached batch: its offsets */
    assert_int_equal(check(&s, 7, 0, 0, 4, &err, &dup), KN_PSTATE_DUPLICATE);
    assert_int_equal(dup.first_offset, 100);
    assert_int_equal(dup.last_offset, 104);
    /* 6 batches: the first falls out of the 5-batch window */
    for (int i = 1; i <= 5; i++) kn_pstate_update(&s, 7, 0, i * 5, i * 5 + 4, 100 + i * 5, 104 + i * 5, 1);
    assert_int_equal(check(&s, 7, 0, 0, 4, &err, &dup), -1);
    assert_int_equal(err, 45);
    assert_int_equal(check(&s, 7, 0, 5, 9, &err, &dup), KN_PSTATE_DUPLICATE);
    assert_int_equal(dup.first_offset, 105);
    assert_int_equal(check(&s, 7, 0, 30, 30, &err, &dup), KN_PSTATE_APPEND);
    /* stale epoch */
    kn_pstate_update(&s, 7, 3, 0, 0, 200, 200, 1);
    assert_int_equal(check(&s, 7, 2, 1, 1, &err, &dup), -1);
    assert_int_equal(err, 47);
    /* new epoch must start at 0 */
    assert_int_equal(check(&s, 7, 4, 1, 1, &err, &dup), -1);
    assert_int_equal(err, 45);
    assert_int_equal(check(&s, 7, 4, 0, 1, &err, &dup), KN_PSTATE_APPEND);
    /* the new epoch dropped the old batches */
    assert_int_equal(kn_pstate_find(&s, 7)->nbatches, 1);
    /* sequence wraps after INT32_MAX */
    kn_pstate_update(&s, 9, 0, INT32_MAX - 1, INT32_MAX, 300, 301, 1);
    assert_int_equal(check(&s, 9, 0, 0, 3, &err, &dup), KN_PSTATE_APPEND);
    /* many producers stay sorted */
    for (int64_t p = 1000; p > 900; p--) kn_pstate_update(&s, p, 0, 0, 0, p, p, 1);
    for (size_t i = 1; i < s.n; i++) assert_true(s.e[i - 1].pid < s.e[i].pid);
    assert_non_null(kn_pstate_find(&s, 950));
    kn_pstate_free(&s);
}

static void idem_batch(uint8_t *b, size_t sz, int64_t pid, int16_t ep, int32_t seq) {
    kn_put_be64(b + 43, (uint64_t)pid);
    kn_put_be16(b + 51, (uint16_t)ep);
    kn_put_be32(b + 53, (uint32_t)seq);
    (void)sz;
    tb_fix_crc(b);
}

static void test_snapshot_and_rebuild(void **st) {
    (void)st;
    char dir[] = "/tmp/kn-pstate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    kn_log_config_t cfg;
    kn_log_config_default(&cfg);
    kn_plog_t *log;
    assert_int_equal(kn_plog_open(dir, "t-0", &cfg, 0, true, &log), 0);
    kn_pstate_t s;
    kn_pstate_init(&s);
    static uint8_t b[8192];
    int64_t base, last;
    /* producer 5: 3 batches of 4 records; producer 6: 1 batch */
    for (int i = 0; i < 3; i++) {
        size_t sz = tb_batch(b, sizeof(b), 4, 1000, 10);
        idem_batch(b, sz, 5, 1, i * 4);
        assert_int_equal(kn_plog_append(log, b, sz, 0, &base, &last), 0);
        kn_pstate_update_blob(&s, b, sz);
    }
    assert_int_equal(kn_pstate_write_snapshot(&s, dir, kn_plog_end_offset(log), "t-0"), 0);
    size_t sz = tb_batch(b, sizeof(b), 2, 1000, 10);
    idem_batch(b, sz, 6, 0, 0);
    assert_int_equal(kn_plog_append(log, b, sz, 0, &base, &last), 0);
    kn_pstate_update_blob(&s, b, sz);
    kn_pstate_free(&s);
    kn_plog_close(log);

    /* "restart": snapshot at 12 + replay of producer 6's batch */
    assert_int_equal(kn_plog_open(dir, "t-0", &cfg, 0, true, &log), 0);
    kn_pstate_t r;
    kn_pstate_init(&r);
    assert_int_equal(kn_pstate_load(&r, dir, log, "t-0"), 0);
    assert_int_equal(r.n, 2);
    int16_t err;
    kn_pstate_batch_t dup;
    assert_int_equal(kn_pstate_check(&r, 5, 1, 8, 11, &dup, &err), KN_PSTATE_DUPLICATE);
    assert_int_equal(dup.first_offset, 8);
    assert_int_equal(dup.last_offset, 11);
    assert_int_equal(kn_pstate_check(&r, 5, 1, 12, 12, &dup, &err), KN_PSTATE_APPEND);
    assert_int_equal(kn_pstate_check(&r, 5, 1, 13, 13, &dup, &err), -1);
    assert_int_equal(kn_pstate_check(&r, 6, 0, 0, 1, &dup, &err), KN_PSTATE_DUPLICATE);
    assert_int_equal(dup.first_offset, 12);
    kn_pstate_free(&r);

    /* a corrupt snapshot is ignored: everything comes from the log */
    char path[256];
    snprintf(path, sizeof(path), "%s/%020d.snapshot", dir, 12);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 12, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    kn_pstate_init(&r);
    assert_int_equal(kn_pstate_load(&r, dir, log, "t-0"), 0);
    assert_int_equal(kn_pstate_check(&r, 5, 1, 4, 7, &dup, &err), KN_PSTATE_DUPLICATE);
    assert_int_equal(dup.first_offset, 4);
    kn_pstate_free(&r);
    kn_plog_delete(log);
}

static void test_snapshot_parse_rejects(void **st) {
    (void)st;
    kn_pstate_t s;
    kn_pstate_init(&s);
    uint8_t junk[10] = {0, 1};
    assert_int_equal(kn_pstate_parse_snapshot(&s, junk, 5), -6);
    assert_int_equal(kn_pstate_parse_snapshot(&s, junk, sizeof(junk)), -6); /* CRC */
    uint8_t ok[10] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    kn_put_be32(ok + 2, kn_crc32c(0, ok + 6, 4));
    assert_int_equal(kn_pstate_parse_snapshot(&s, ok, sizeof(ok)), 0);
    kn_put_be32(ok + 6, 1000000); /* count past the bytes */
    kn_put_be32(ok + 2, kn_crc32c(0, ok + 6, 4));
    assert_int_equal(kn_pstate_parse_snapshot(&s, ok, sizeof(ok)), -6);
    kn_pstate_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_snapshot_and_rebuild),
        cmocka_unit_test(test_snapshot_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
