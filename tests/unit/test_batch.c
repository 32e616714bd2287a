/* CRC-32C vectors and RecordBatch v2 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"
#include "kanal/util/err.h"
#include "test_log_batchgen.h"

static void test_crc_vectors(void **state) {
    (void)state;
    assert_int_equal(kn_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(kn_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(kn_crc32c(0, "", 0), 0);
    uint8_t z[32] = {0}, f[32];
    memset(f, 0xff, sizeof(f));
    /* RFC 3720 B.4 vectors. */
    assert_int_equal(kn_crc32c(0, z, 32), 0x8A9136AAu);
    assert_int_equal(kn_crc32c(0, f, 32), 0x62A8AB43u);
    assert_int_equal(kn_crc32c_sw(0, z, 32), 0x8A9136AAu);
    /* Chaining and agreement between both paths, at odd alignments. */
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t a = 0; a < 9; a++) {
        for (size_t cut = 0; cut < 40; cut += 3) {
            size_t n = sizeof(buf) - a;
            uint32_t whole = kn_crc32c_sw(0, buf + a, n);
            assert_int_equal(kn_crc32c(0, buf + a, n), whole);
            assert_int_equal(kn_crc32c(kn_crc32c(0, buf + a, cut), buf + a + cut, n - cut), whole);
        }
    }
}

static uint8_t blob[200000];

static void expect_err(const uint8_t *p, size_t len, int16_t kerr) {
    int16_t ke = -1;
    int r = kn_batches_validate(p, len, 1 << 20, NULL, &ke);
    assert_true(r < 0);
    assert_int_equal(ke, kerr);
}

static void test_valid(void **state) {
    (void)state;
    size_t n1 = tb_batch(blob, sizeof(blob), 5, 1000, 10);
    size_t n2 = tb_batch(blob + n1, sizeof(blob) - n1, 1, 2000, 0);
    kn_batches_info_t info;
    int16_t ke = -1;
    assert_int_equal(kn_batches_validate(blob, n1 + n2, 1 << 20, &info, &ke), 0);
    assert_int_equal(ke, 0);
    assert_int_equal(info.nbatches, 2);
    assert_int_equal(info.nrecords, 6);
    assert_int_equal(info.noffsets, 6);
    assert_int_equal(info.first_timestamp, 1000);
    assert_int_equal(info.max_timestamp, 2000);
    assert_int_equal(info.compression, 0);

    kn_batches_assign_offsets(blob, n1 + n2, 100);
    assert_int_equal((int64_t)kn_be64(blob), 100);
    assert_int_equal((int64_t)kn_be64(blob + n1), 105);
    assert_int_equal(kn_batches_validate(blob, n1 + n2, 1 << 20, &info, &ke), 0);

    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *b;
    size_t sz;
    kn_batch_iter_init(&it, blob, n1 + n2);
    assert_int_equal(kn_batch_iter_next(&it, &h, &b, &sz), 1);
    assert_int_equal(sz, n1);
    assert_int_equal(h.records_count, 5);
    assert_int_equal(h.base_offset, 100);
    assert_int_equal(kn_batch_iter_next(&it, &h, &b, &sz), 1);
    assert_int_equal(h.base_offset, 105);
    assert_int_equal(kn_batch_iter_next(&it, &h, &b, &sz), 0);
}

static void test_bad_crc_magic_count(void **state) {
    (void)state;
    size_t n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    blob[n - 1] ^= 1;
    expect_err(blob, n, 2); /* CORRUPT_MESSAGE */
    blob[n - 1] ^= 1;

    for (int magic = 0; magic < 2; magic++) {
        n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
        blob[16] = (uint8_t)magic;
        expect_err(blob, n, 87);
    }

    /* recordsCount one higher than the records present (CRC fixed up). */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    kn_put_be32(blob + 57, 4);
    kn_put_be32(blob + 23, 3);
    tb_fix_crc(blob);
    expect_err(blob, n, 87);
    /* lastOffsetDelta disagreeing with the count. */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    kn_put_be32(blob + 23, 5);
    tb_fix_crc(blob);
    expect_err(blob, n, 87);
    /* Zero records. */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    kn_put_be32(blob + 57, 0);
    kn_put_be32(blob + 23, (uint32_t)-1);
    tb_fix_crc(blob);
    expect_err(blob, n, 87);
    /* Control batch from a producer. */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    blob[22] |= KN_BATCH_ATTR_CONTROL;
    tb_fix_crc(blob);
    expect_err(blob, n, 87);
    /* Too large. */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 400);
    int16_t ke;
    assert_int_equal(kn_batches_validate(blob, n, (int32_t)n - 1, NULL, &ke), KN_ETOOBIG);
    assert_int_equal(ke, 10);
    assert_int_equal(kn_batches_validate(blob, n, (int32_t)n, NULL, &ke), 0);
    /* Compressed: header + CRC only, records bytes are opaque. */
    n = tb_batch(blob, sizeof(blob), 3, 1000, 4);
    blob[22] |= KN_COMPRESSION_ZSTD;
    blob[70] ^= 0x55;
    tb_fix_crc(blob);
    assert_int_equal(kn_batches_validate(blob, n, 1 << 20, NULL, &ke), 0);
    blob[22] |= 7; /* unknown codec */
    tb_fix_crc(blob);
    expect_err(blob, n, 87);
}

static void test_truncated_and_trailing(void **state) {
    (void)state;
    size_t n1 = tb_batch(blob, sizeof(blob), 4, 1000, 20);
    size_t n2 = tb_batch(blob + n1, sizeof(blob) - n1, 2, 1000, 20);
    /* Every prefix other than the two batch boundaries is refused. */
    for (size_t len = 0; len < n1 + n2; len++) {
        if (len == n1) continue;
        int16_t ke = -1;
        int r = kn_batches_validate(blob, len, 1 << 20, NULL, &ke);
        assert_true(r < 0);
        assert_int_equal(ke, 2);
    }
    /* Trailing garbage after whole batches. */
    blob[n1 + n2] = 0;
    for (size_t extra = 1; extra < 80; extra++) {
        memset(blob + n1 + n2, 0, extra);
        expect_err(blob, n1 + n2 + extra, 2);
    }
}

/* Corrupt record internals behind a valid CRC: every single-byte change in the
 * records area must be refused or still be a well-formed batch; never crash. */
static void test_record_mutations(void **state) {
    (void)state;
    size_t n = tb_batch(blob, sizeof(blob), 4, 1000, 3);
    static uint8_t copy[4096];
    for (size_t i = KN_BATCH_HEADER_SIZE; i < n; i++) {
        for (int v = 0; v < 256; v += 51) {
            memcpy(copy, blob, n);
            copy[i] = (uint8_t)v;
            tb_fix_crc(copy);
            int16_t ke = -1;
            int r = kn_batches_validate(copy, n, 1 << 20, NULL, &ke);
            assert_true((r == 0 && ke == 0) || (r < 0 && ke == 87));
        }
    }
    /* Record length byte changed: first record's length. */
    memcpy(copy, blob, n);
    copy[KN_BATCH_HEADER_SIZE] = 2; /* varint 1: too short */
    tb_fix_crc(copy);
    expect_err(copy, n, 87);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_bad_crc_magic_count),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_record_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
