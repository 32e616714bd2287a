/* Codec tests: round trips, truncated and corrupt input, the zip-bomb cap,
 * xerial snappy framing, and the batch-level helpers (records, rebuild). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "kanal/proto/batch.h"
#include "kanal/proto/compress.h"
#include "kanal/util/buf.h"
#include "kanal/util/err.h"
#include "kanal/util/mem.h"
#include "test_log_batchgen.h"

static const int codecs[] = {KN_COMPRESSION_GZIP, KN_COMPRESSION_SNAPPY, KN_COMPRESSION_LZ4,
                             KN_COMPRESSION_ZSTD};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static uint8_t *sample(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i % 7 == 0) ? (uint8_t)(x >> 24) : (uint8_t)('a' + i % 13); /* compressible-ish */
    }
    return p;
}

static void test_round_trip(void **st) {
    (void)st;
    size_t sizes[] = {0, 1, 100, 40000, 300000};
    for (size_t c = 0; c < NCODECS; c++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            uint8_t *in = sample(sizes[s]);
            uint8_t *z = NULL, *back = NULL;
            size_t zl = 0, bl = 0;
            assert_int_equal(kn_compress(codecs[c], in, sizes[s], &z, &zl), 0);
            assert_int_equal(kn_decompress(codecs[c], z, zl, 1u << 20, &back, &bl), 0);
            assert_int_equal(bl, sizes[s]);
            if (bl) assert_memory_equal(back, in, bl);
            kn_free(z);
            kn_free(back);
            free(in);
        }
    }
}

static void test_truncated_and_corrupt(void **st) {
    (void)st;
    size_t n = 50000;
    uint8_t *in = sample(n);
    for (size_t c = 0; c < NCODECS; c++) {
        uint8_t *z = NULL, *back = NULL;
        size_t zl = 0, bl = 0;
        assert_int_equal(kn_compress(codecs[c], in, n, &z, &zl), 0);
        /* Every proper prefix fails (sampled), never crashes or succeeds. */
        for (size_t cut = 0; cut < zl; cut += (zl / 37) + 1) {
            int rc = kn_decompress(codecs[c], z, cut, 1u << 20, &back, &bl);
            assert_true(rc < 0);
        }
        /* Garbage in the middle fails or decodes to something else, within the cap. */
        uint8_t *bad = malloc(zl);
        memcpy(bad, z, zl);
        for (size_t i = zl / 3; i < zl / 3 + 16 && i < zl; i++) bad[i] ^= 0x5a;
        int rc = kn_decompress(codecs[c], bad, zl, 1u << 20, &back, &bl);
        if (rc == 0) {
            assert_true(bl <= (1u << 20));
            kn_free(back);
        }
        free(bad);
        kn_free(z);
    }
    uint8_t junk[64];
    memset(junk, 0xee, sizeof(junk));
    uint8_t *back;
    size_t bl;
    for (size_t c = 0; c < NCODECS; c++)
        assert_true(kn_decompress(codecs[c], junk, sizeof(junk), 1u << 20, &back, &bl) < 0);
    assert_int_equal(kn_decompress(KN_COMPRESSION_NONE, junk, 1, 10, &back, &bl), KN_EUNSUPPORTED);
    assert_int_equal(kn_decompress(7, junk, 1, 10, &back, &bl), KN_EUNSUPPORTED);
    free(in);
}

/* 16 MiB of zeros compresses to a few KiB; a 1 MiB cap must stop it. */
static void test_zip_bomb_cap(void **st) {
    (void)st;
    size_t n = 16u << 20;
    uint8_t *zeros = calloc(1, n);
    for (size_t c = 0; c < NCODECS; c++) {
        uint8_t *z = NULL, *back = NULL;
        size_t zl = 0, bl = 0;
        assert_int_equal(kn_compress(codecs[c], zeros, n, &z, &zl), 0);
        assert_true(zl < n / 10);
        assert_int_equal(kn_decompress(codecs[c], z, zl, 1u << 20, &back, &bl), KN_ETOOBIG);
        /* Exactly at the cap is allowed. */
        int rcx = kn_decompress(codecs[c], z, zl, n, &back, &bl);
        if (rcx) print_error("codec %d rc %d\n", codecs[c], rcx);
        assert_int_equal(rcx, 0);
        assert_int_equal(bl, n);
        kn_free(back);
        kn_free(z);
    }
    free(zeros);
}

static void test_snappy_raw_and_xerial(void **st) {
    (void)st;
    size_t n = 100000;
    uint8_t *in = sample(n);
    /* raw, as librdkafka sends it */
    size_t rl = snappy_max_compressed_length(n);
    char *raw = malloc(rl);
    assert_int_equal(snappy_compress((const char *)in, n, raw, &rl), SNAPPY_OK);
    uint8_t *back;
    size_t bl;
    assert_int_equal(kn_decompress(KN_COMPRESSION_SNAPPY, (uint8_t *)raw, rl, 1u << 20, &back, &bl), 0);
    assert_int_equal(bl, n);
    assert_memory_equal(back, in, n);
    kn_free(back);
    /* xerial, as kafka-python writes it: magic, 1, 1, then 32 KiB blocks */
    uint8_t *z;
    size_t zl;
    assert_int_equal(kn_compress(KN_COMPRESSION_SNAPPY, in, n, &z, &zl), 0);
    assert_memory_equal(z, "\x82SNAPPY\0\0\0\0\x01\0\0\0\x01", 16);
    assert_int_equal(kn_decompress(KN_COMPRESSION_SNAPPY, z, zl, 1u << 20, &back, &bl), 0);
    assert_int_equal(bl, n);
    assert_memory_equal(back, in, n);
    kn_free(back);
    /* a block length that overruns the frame */
    kn_put_be32(z + 16, 0x7fffffff);
    assert_int_equal(kn_decompress(KN_COMPRESSION_SNAPPY, z, zl, 1u << 20, &back, &bl), KN_ECORRUPT);
    /* declared raw length above the cap */
    assert_int_equal(kn_decompress(KN_COMPRESSION_SNAPPY, (uint8_t *)raw, rl, 1000, &back, &bl), KN_ETOOBIG);
    kn_free(z);
    free(raw);
    free(in);
}

static void test_allocation_failure(void **st) {
    (void)st;
    uint8_t *in = sample(70000);
    for (size_t c = 0; c < NCODECS; c++) {
        uint8_t *z, *back;
        size_t zl, bl;
        assert_int_equal(kn_compress(codecs[c], in, 70000, &z, &zl), 0);
        for (uint64_t k = 1; k < 4; k++) {
            kn_mem_fail_at(k);
            int rc = kn_decompress(codecs[c], z, zl, 1u << 20, &back, &bl);
            kn_mem_fail_at(0);
            if (rc == 0) kn_free(back);
            else assert_int_equal(rc, KN_ENOMEM);
        }
        kn_free(z);
    }
    free(in);
}

/* Batch level: compress an uncompressed batch's records, then read them back
 * through kn_batch_records and validate the whole blob. */
static void test_batch_rebuild(void **st) {
    (void)st;
    static uint8_t b[1 << 16];
    size_t sz = tb_batch(b, sizeof(b), 20, 1000, 50);
    for (size_t c = 0; c < NCODECS; c++) {
        uint8_t *nb;
        size_t nsz;
        assert_int_equal(kn_batch_rebuild(b, sz, b + KN_BATCH_HEADER_SIZE, sz - KN_BATCH_HEADER_SIZE,
                                          codecs[c], -1, &nb, &nsz),
                         0);
        assert_true(kn_batch_crc_ok(nb, nsz));
        kn_batch_hdr_t h;
        kn_batch_parse_header(nb, nsz, &h);
        assert_int_equal(h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK, codecs[c]);
        assert_int_equal(h.attributes & KN_BATCH_ATTR_TIMESTAMP_TYPE, 0);
        int16_t kerr;
        assert_int_equal(kn_batches_validate(nb, nsz, -1, NULL, &kerr), 0);
        const uint8_t *recs;
        size_t rl;
        uint8_t *owned;
        assert_int_equal(kn_batch_records(nb, nsz, 1u << 20, &recs, &rl, &owned), 0);
        assert_non_null(owned);
        assert_int_equal(rl, sz - KN_BATCH_HEADER_SIZE);
        assert_memory_equal(recs, b + KN_BATCH_HEADER_SIZE, rl);
        assert_int_equal(kn_batch_walk_records(recs, rl, h.records_count), 0);
        assert_int_equal(kn_batch_walk_records(recs, rl - 1, h.records_count), KN_ECORRUPT);
        /* back to uncompressed with LogAppendTime */
        uint8_t *ub;
        size_t usz;
        assert_int_equal(kn_batch_rebuild(nb, nsz, recs, rl, KN_COMPRESSION_NONE, 777, &ub, &usz), 0);
        assert_int_equal(usz, sz);
        kn_batch_parse_header(ub, usz, &h);
        assert_int_equal(h.max_timestamp, 777);
        assert_int_equal(h.attributes, KN_BATCH_ATTR_TIMESTAMP_TYPE);
        assert_true(kn_batch_crc_ok(ub, usz));
        assert_memory_equal(ub + KN_BATCH_HEADER_SIZE, b + KN_BATCH_HEADER_SIZE, rl);
        kn_free(ub);
        kn_free(owned);
        kn_free(nb);
    }
    const uint8_t *recs;
    size_t rl;
    uint8_t *owned;
    assert_int_equal(kn_batch_records(b, sz, 10, &recs, &rl, &owned), 0);
    assert_null(owned);
    assert_ptr_equal(recs, b + KN_BATCH_HEADER_SIZE);
}

static void test_names(void **st) {
    (void)st;
    int c;
    assert_int_equal(kn_compression_parse("producer", &c), 0);
    assert_int_equal(c, -1);
    assert_int_equal(kn_compression_parse("uncompressed", &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(kn_compression_parse("zstd", &c), 0);
    assert_int_equal(c, 4);
    assert_int_equal(kn_compression_parse("brotli", &c), KN_EINVAL);
    assert_string_equal(kn_compression_name(3), "lz4");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_zip_bomb_cap),         cmocka_unit_test(test_snappy_raw_and_xerial),
        cmocka_unit_test(test_allocation_failure),   cmocka_unit_test(test_batch_rebuild),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
