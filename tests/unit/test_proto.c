/* Unit tests for the wire primitives (kn_rd_* / kn_wr_*), the generated Kafka
 * codecs, the header-version rules, the API table and the error-code table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/api_versions.h"
#include "kanal/proto/gen/create_topics.h"
#include "kanal/proto/gen/fetch.h"
#include "kanal/proto/gen/headers.h"
#include "kanal/proto/gen/metadata.h"
#include "kanal/proto/gen/produce.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/buf.h"
#include "kanal/util/err.h"
#include "kanal/util/mem.h"

/* ------------------------------------------------------------ primitives */

/* Every strict prefix of a valid encoding must fail with KN_ETRUNC. */
typedef int (*read_fn)(kn_rd_t *rd);

static void check_prefixes(const uint8_t *p, size_t len, read_fn fn) {
    for (size_t n = 0; n < len; n++) {
        kn_rd_t rd;
        kn_rd_init(&rd, p, n);
        assert_int_equal(fn(&rd), KN_ETRUNC);
        assert_int_equal(rd.err, KN_ETRUNC);
    }
    kn_rd_t rd;
    kn_rd_init(&rd, p, len);
    assert_int_equal(fn(&rd), 0);
    assert_int_equal(kn_rd_remaining(&rd), 0);
}

static int rd_i8(kn_rd_t *rd) { int8_t v; return kn_rd_i8(rd, &v); }
static int rd_i16(kn_rd_t *rd) { int16_t v; return kn_rd_i16(rd, &v); }
static int rd_u16(kn_rd_t *rd) { uint16_t v; return kn_rd_u16(rd, &v); }
static int rd_i32(kn_rd_t *rd) { int32_t v; return kn_rd_i32(rd, &v); }
static int rd_u32(kn_rd_t *rd) { uint32_t v; return kn_rd_u32(rd, &v); }
static int rd_i64(kn_rd_t *rd) { int64_t v; return kn_rd_i64(rd, &v); }
static int rd_f64(kn_rd_t *rd) { double v; return kn_rd_f64(rd, &v); }
static int rd_uvarint(kn_rd_t *rd) { uint32_t v; return kn_rd_uvarint(rd, &v); }
static int rd_varint(kn_rd_t *rd) { int32_t v; return kn_rd_varint(rd, &v); }
static int rd_uvarlong(kn_rd_t *rd) { uint64_t v; return kn_rd_uvarlong(rd, &v); }
static int rd_varlong(kn_rd_t *rd) { int64_t v; return kn_rd_varlong(rd, &v); }
static int rd_str16(kn_rd_t *rd) { const char *p; int32_t l; return kn_rd_str16(rd, &p, &l); }
static int rd_cstr(kn_rd_t *rd) { const char *p; int32_t l; return kn_rd_cstr(rd, &p, &l); }
static int rd_bytes32(kn_rd_t *rd) { const uint8_t *p; int32_t l; return kn_rd_bytes32(rd, &p, &l); }
static int rd_cbytes(kn_rd_t *rd) { const uint8_t *p; int32_t l; return kn_rd_cbytes(rd, &p, &l); }

static void test_fixed_ints(void **state) {
    (void)state;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_i8(&w, INT8_MIN);
    kn_wr_i8(&w, INT8_MAX);
    kn_wr_i16(&w, INT16_MIN);
    kn_wr_i16(&w, -1);
    kn_wr_u16(&w, UINT16_MAX);
    kn_wr_i32(&w, INT32_MIN);
    kn_wr_i32(&w, INT32_MAX);
    kn_wr_u32(&w, UINT32_MAX);
    kn_wr_i64(&w, INT64_MIN);
    kn_wr_i64(&w, INT64_MAX);
    kn_wr_f64(&w, -1.5);
    assert_int_equal(kn_wbuf_len(&w), 1 + 1 + 2 + 2 + 2 + 4 + 4 + 4 + 8 + 8 + 8);
    /* big-endian on the wire */
    const uint8_t *d = kn_wbuf_data(&w);
    assert_int_equal(d[2], 0x80);
    assert_int_equal(d[3], 0x00);
    assert_int_equal(d[8], 0x80);

    kn_rd_t rd;
    kn_rd_init(&rd, d, (size_t)kn_wbuf_len(&w));
    int8_t a, b;
    int16_t c, e;
    uint16_t f;
    int32_t g, h;
    uint32_t i;
    int64_t j, k;
    double l;
    assert_int_equal(kn_rd_i8(&rd, &a), 0);
    assert_int_equal(kn_rd_i8(&rd, &b), 0);
    assert_int_equal(kn_rd_i16(&rd, &c), 0);
    assert_int_equal(kn_rd_i16(&rd, &e), 0);
    assert_int_equal(kn_rd_u16(&rd, &f), 0);
    assert_int_equal(kn_rd_i32(&rd, &g), 0);
    assert_int_equal(kn_rd_i32(&rd, &h), 0);
    assert_int_equal(kn_rd_u32(&rd, &i), 0);
    assert_int_equal(kn_rd_i64(&rd, &j), 0);
    assert_int_equal(kn_rd_i64(&rd, &k), 0);
    assert_int_equal(kn_rd_f64(&rd, &l), 0);
    assert_int_equal(a, INT8_MIN);
    assert_int_equal(b, INT8_MAX);
    assert_int_equal(c, INT16_MIN);
    assert_int_equal(e, -1);
    assert_int_equal(f, UINT16_MAX);
    assert_int_equal(g, INT32_MIN);
    assert_int_equal(h, INT32_MAX);
    assert_int_equal(i, UINT32_MAX);
    assert_true(j == INT64_MIN);
    assert_true(k == INT64_MAX);
    assert_true(l == -1.5);
    assert_int_equal(kn_rd_remaining(&rd), 0);
    /* sticky error: one more read fails, and so does every later one */
    assert_int_equal(kn_rd_i8(&rd, &a), KN_ETRUNC);
    assert_int_equal(kn_rd_i64(&rd, &j), KN_ETRUNC);
    kn_wbuf_free(&w);

    static const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    check_prefixes(eight, 1, rd_i8);
    check_prefixes(eight, 2, rd_i16);
    check_prefixes(eight, 2, rd_u16);
    check_prefixes(eight, 4, rd_i32);
    check_prefixes(eight, 4, rd_u32);
    check_prefixes(eight, 8, rd_i64);
    check_prefixes(eight, 8, rd_f64);
}

static void uvarint_rt(uint32_t v, size_t want_len) {
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_uvarint(&w, v);
    assert_int_equal(kn_wbuf_len(&w), want_len);
    assert_int_equal(kn_uvarint_size(v), want_len);
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), want_len);
    uint32_t out = 0;
    assert_int_equal(kn_rd_uvarint(&rd, &out), 0);
    assert_int_equal(out, v);
    check_prefixes(kn_wbuf_data(&w), want_len, rd_uvarint);
    kn_wbuf_free(&w);
}

static void varint_rt(int32_t v) {
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_varint(&w, v);
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    int32_t out = 0;
    assert_int_equal(kn_rd_varint(&rd, &out), 0);
    assert_int_equal(out, v);
    assert_int_equal(kn_varlong_size(v), kn_wbuf_len(&w));
    check_prefixes(kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w), rd_varint);
    kn_wbuf_free(&w);
}

static void uvarlong_rt(uint64_t v, size_t want_len) {
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_uvarlong(&w, v);
    assert_int_equal(kn_wbuf_len(&w), want_len);
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), want_len);
    uint64_t out = 0;
    assert_int_equal(kn_rd_uvarlong(&rd, &out), 0);
    assert_true(out == v);
    check_prefixes(kn_wbuf_data(&w), want_len, rd_uvarlong);
    kn_wbuf_free(&w);
}

static void varlong_rt(int64_t v) {
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_varlong(&w, v);
    assert_int_equal(kn_varlong_size(v), kn_wbuf_len(&w));
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    int64_t out = 0;
    assert_int_equal(kn_rd_varlong(&rd, &out), 0);
    assert_true(out == v);
    check_prefixes(kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w), rd_varlong);
    kn_wbuf_free(&w);
}

static int read_bytes_as(const uint8_t *p, size_t n, int kind) {
    kn_rd_t rd;
    kn_rd_init(&rd, p, n);
    switch (kind) {
    case 0: return rd_uvarint(&rd);
    case 1: return rd_uvarlong(&rd);
    case 2: return rd_varint(&rd);
    default: return rd_varlong(&rd);
    }
}

static void test_varints(void **state) {
    (void)state;
    uvarint_rt(0, 1);
    uvarint_rt(1, 1);
    uvarint_rt(127, 1);
    uvarint_rt(128, 2);
    uvarint_rt(16383, 2);
    uvarint_rt(16384, 3);
    uvarint_rt(UINT32_MAX - 1, 5);
    uvarint_rt(UINT32_MAX, 5);
    varint_rt(0);
    varint_rt(1);
    varint_rt(-1);
    varint_rt(63);
    varint_rt(-64);
    varint_rt(64);
    varint_rt(INT32_MAX);
    varint_rt(INT32_MIN);
    uvarlong_rt(0, 1);
    uvarlong_rt(1, 1);
    uvarlong_rt(UINT32_MAX, 5);
    uvarlong_rt((uint64_t)UINT32_MAX + 1, 5);
    uvarlong_rt(UINT64_MAX, 10);
    varlong_rt(0);
    varlong_rt(-1);
    varlong_rt(INT64_MAX);
    varlong_rt(INT64_MIN);

    /* UINT32_MAX + 1 as a 5-byte varint: the 5th byte carries bit 32 */
    static const uint8_t over32[] = {0x80, 0x80, 0x80, 0x80, 0x10};
    assert_int_equal(read_bytes_as(over32, sizeof(over32), 0), KN_ECORRUPT);
    assert_int_equal(read_bytes_as(over32, sizeof(over32), 2), KN_ECORRUPT);
    /* largest valid 5th byte */
    static const uint8_t max32[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(read_bytes_as(max32, sizeof(max32), 0), 0);
    /* continuation bit on the 5th byte: a 6th byte would be needed */
    static const uint8_t long32[] = {0xff, 0xff, 0xff, 0xff, 0x8f, 0x01};
    assert_int_equal(read_bytes_as(long32, sizeof(long32), 0), KN_ECORRUPT);
    /* 10th byte > 1 overflows 64 bits (UINT64_MAX + 1) */
    static const uint8_t over64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    assert_int_equal(read_bytes_as(over64, sizeof(over64), 1), KN_ECORRUPT);
    assert_int_equal(read_bytes_as(over64, sizeof(over64), 3), KN_ECORRUPT);
    static const uint8_t long64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01};
    assert_int_equal(read_bytes_as(long64, sizeof(long64), 1), KN_ECORRUPT);
    /* many continuation bytes in a long buffer stop at the maximum width */
    uint8_t ff[64];
    memset(ff, 0xff, sizeof(ff));
    for (int kind = 0; kind < 4; kind++) assert_int_equal(read_bytes_as(ff, sizeof(ff), kind), KN_ECORRUPT);
}

static void test_strings_bytes(void **state) {
    (void)state;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_str16(&w, "hello", 5);
    kn_wr_str16(&w, NULL, -1);
    kn_wr_str16(&w, "", 0);
    kn_wr_cstr(&w, "abc", 3);
    kn_wr_cstr(&w, NULL, -1);
    kn_wr_bytes32(&w, "\x00\x01", 2);
    kn_wr_bytes32(&w, NULL, -1);
    kn_wr_cbytes(&w, "\xff", 1);
    kn_wr_cbytes(&w, NULL, -1);
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    const char *s;
    const uint8_t *b;
    int32_t len;
    assert_int_equal(kn_rd_str16(&rd, &s, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "hello", 5);
    assert_int_equal(kn_rd_str16(&rd, &s, &len), 0);
    assert_int_equal(len, -1);
    assert_null(s);
    assert_int_equal(kn_rd_str16(&rd, &s, &len), 0);
    assert_int_equal(len, 0);
    assert_non_null(s);
    assert_int_equal(kn_rd_cstr(&rd, &s, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "abc", 3);
    assert_int_equal(kn_rd_cstr(&rd, &s, &len), 0);
    assert_int_equal(len, -1);
    assert_int_equal(kn_rd_bytes32(&rd, &b, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(b[1], 1);
    assert_int_equal(kn_rd_bytes32(&rd, &b, &len), 0);
    assert_int_equal(len, -1);
    assert_int_equal(kn_rd_cbytes(&rd, &b, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(b[0], 0xff);
    assert_int_equal(kn_rd_cbytes(&rd, &b, &len), 0);
    assert_int_equal(len, -1);
    assert_int_equal(kn_rd_remaining(&rd), 0);

    /* truncation at every prefix, for one value of each kind */
    static const uint8_t s16[] = {0, 3, 'a', 'b', 'c'};
    check_prefixes(s16, sizeof(s16), rd_str16);
    static const uint8_t cs[] = {4, 'a', 'b', 'c'};
    check_prefixes(cs, sizeof(cs), rd_cstr);
    static const uint8_t b32[] = {0, 0, 0, 2, 9, 9};
    check_prefixes(b32, sizeof(b32), rd_bytes32);
    static const uint8_t cb[] = {3, 9, 9};
    check_prefixes(cb, sizeof(cb), rd_cbytes);
    /* lengths below -1 are corrupt */
    static const uint8_t neg16[] = {0xff, 0xfe};
    kn_rd_init(&rd, neg16, sizeof(neg16));
    assert_int_equal(kn_rd_str16(&rd, &s, &len), KN_ECORRUPT);
    static const uint8_t neg32[] = {0x80, 0, 0, 0};
    kn_rd_init(&rd, neg32, sizeof(neg32));
    assert_int_equal(kn_rd_bytes32(&rd, &b, &len), KN_ECORRUPT);
    /* a huge compact length with few bytes: truncated, nothing read */
    static const uint8_t hugec[] = {0xff, 0xff, 0xff, 0xff, 0x07, 'x'};
    kn_rd_init(&rd, hugec, sizeof(hugec));
    assert_int_equal(kn_rd_cstr(&rd, &s, &len), KN_ETRUNC);
    kn_wbuf_free(&w);
}

static void test_raw_sub_arrays_tags(void **state) {
    (void)state;
    static const uint8_t buf[] = {1, 2, 3, 4, 5, 6};
    kn_rd_t rd, sub;
    const uint8_t *p;
    kn_rd_init(&rd, buf, sizeof(buf));
    assert_int_equal(kn_rd_raw(&rd, 2, &p), 0);
    assert_ptr_equal(p, buf);
    assert_int_equal(kn_rd_sub(&rd, 3, &sub), 0);
    assert_int_equal(kn_rd_remaining(&sub), 3);
    assert_int_equal(kn_rd_remaining(&rd), 1);
    int32_t v;
    assert_int_equal(kn_rd_i32(&sub, &v), KN_ETRUNC); /* the sub-reader is bounded */
    assert_int_equal(rd.err, 0);                      /* ...and its error stays local */
    assert_int_equal(kn_rd_sub(&rd, 2, &sub), KN_ETRUNC);
    kn_rd_init(&rd, buf, sizeof(buf));
    assert_int_equal(kn_rd_skip(&rd, 7), KN_ETRUNC);
    kn_rd_init(&rd, buf, sizeof(buf));
    assert_int_equal(kn_rd_skip(&rd, 6), 0);

    /* array lengths */
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_wr_array_len(&w, false, 2);
    kn_wr_array_len(&w, false, -1);
    kn_wr_array_len(&w, true, 2);
    kn_wr_array_len(&w, true, -1);
    kn_wr_array_len(&w, true, 0);
    kn_wbuf_write(&w, "xx", 2);
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    int32_t n;
    assert_int_equal(kn_rd_array_len(&rd, false, 1, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(kn_rd_array_len(&rd, false, 1, &n), 0);
    assert_int_equal(n, -1);
    assert_int_equal(kn_rd_array_len(&rd, true, 1, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(kn_rd_array_len(&rd, true, 1, &n), 0);
    assert_int_equal(n, -1);
    assert_int_equal(kn_rd_array_len(&rd, true, 1, &n), 0);
    assert_int_equal(n, 0);
    kn_wbuf_free(&w);
    /* count x minimum element size must fit in the bytes left */
    static const uint8_t two[] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    kn_rd_init(&rd, two, sizeof(two));
    assert_int_equal(kn_rd_array_len(&rd, false, 4, &n), 0);
    kn_rd_init(&rd, two, sizeof(two));
    assert_int_equal(kn_rd_array_len(&rd, false, 5, &n), KN_ETRUNC);
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0};
    kn_rd_init(&rd, huge, sizeof(huge));
    assert_int_equal(kn_rd_array_len(&rd, false, 1, &n), KN_ETRUNC);
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    kn_rd_init(&rd, neg, sizeof(neg));
    assert_int_equal(kn_rd_array_len(&rd, false, 1, &n), KN_ECORRUPT);
    static const uint8_t arr[] = {0, 0, 0, 1, 9};
    for (size_t i = 0; i < 4; i++) {
        kn_rd_init(&rd, arr, i);
        assert_int_equal(kn_rd_array_len(&rd, false, 1, &n), KN_ETRUNC);
    }

    /* tagged-field sections */
    static const uint8_t tags[] = {2, 0, 1, 7, 5, 2, 8, 9};
    kn_rd_init(&rd, tags, sizeof(tags));
    assert_int_equal(kn_rd_skip_tags(&rd), 0);
    assert_int_equal(kn_rd_remaining(&rd), 0);
    for (size_t i = 0; i < sizeof(tags); i++) {
        kn_rd_init(&rd, tags, i);
        assert_int_equal(kn_rd_skip_tags(&rd), KN_ETRUNC);
    }
    kn_wbuf_init(&w);
    kn_wr_empty_tags(&w);
    assert_int_equal(kn_wbuf_len(&w), 1);
    assert_int_equal(kn_wbuf_data(&w)[0], 0);
    kn_wbuf_free(&w);
}

static void test_wbuf_pieces(void **state) {
    (void)state;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    size_t at = kn_wbuf_reserve(&w, 4);
    kn_wr_i16(&w, 7);
    kn_wbuf_file(&w, 3, 100, 50);
    kn_wr_i8(&w, 1);
    kn_wbuf_patch_i32(&w, at, 0x01020304);
    assert_int_equal(kn_wbuf_len(&w), 4 + 2 + 50 + 1);
    assert_int_equal(w.npieces, 3);
    assert_int_equal(w.pieces[1].kind, KN_WPIECE_FILE);
    assert_int_equal(w.pieces[1].fd, 3);
    assert_int_equal(w.mem[0], 1);
    assert_int_equal(w.mem[3], 4);
    kn_wbuf_free(&w);
}

/* ------------------------------------------------------------ generated codecs */

/* Encode in, decode it back (must consume every byte), re-encode the decoded
 * value and require identical bytes; then every strict prefix must fail.
 * The decoded value borrows from the encoding, which stays in g_keep until
 * the next ROUNDTRIP. */
static kn_wbuf_t g_keep;

#define ROUNDTRIP(Msg, ver, in, out, arena)                                              \
    do {                                                                                 \
        kn_wbuf_t w1_, w2_;                                                              \
        kn_wbuf_free(&g_keep);                                                           \
        kn_wbuf_init(&w1_);                                                              \
        kn_wbuf_init(&w2_);                                                              \
        kn_##Msg##_encode(&w1_, (ver), (in));                                            \
        kn_rd_t rd_;                                                                     \
        kn_rd_init(&rd_, kn_wbuf_data(&w1_), (size_t)kn_wbuf_len(&w1_));                 \
        assert_int_equal(kn_##Msg##_decode(&rd_, (ver), (arena), (out)), 0);             \
        assert_int_equal(kn_rd_remaining(&rd_), 0);                                      \
        kn_##Msg##_encode(&w2_, (ver), (out));                                           \
        assert_int_equal(kn_wbuf_len(&w1_), kn_wbuf_len(&w2_));                          \
        assert_memory_equal(kn_wbuf_data(&w1_), kn_wbuf_data(&w2_), (size_t)kn_wbuf_len(&w1_)); \
        for (size_t n_ = 0; n_ < kn_wbuf_len(&w1_); n_++) {                              \
            kn_##Msg##_t tmp_;                                                           \
            kn_arena_t ta_;                                                              \
            kn_arena_init(&ta_);                                                         \
            kn_rd_init(&rd_, kn_wbuf_data(&w1_), n_);                                    \
            assert_int_not_equal(kn_##Msg##_decode(&rd_, (ver), &ta_, &tmp_), 0);        \
            kn_arena_reset(&ta_);                                                        \
        }                                                                                \
        g_keep = w1_;                                                                    \
        kn_wbuf_free(&w2_);                                                              \
    } while (0)

#define S(lit) KN_STR(lit)

static void assert_str(kn_str_t s, const char *want) {
    assert_int_equal(s.len, (int32_t)strlen(want));
    assert_memory_equal(s.p, want, strlen(want));
}

static void test_produce_request(void **state) {
    (void)state;
    static const uint8_t batch[] = {1, 2, 3, 4, 5, 6, 7};
    kn_ProduceRequest_PartitionProduceData_t parts[2];
    kn_ProduceRequest_TopicProduceData_t topic;
    kn_ProduceRequest_t req, out;
    for (int i = 0; i < 2; i++) {
        kn_ProduceRequest_PartitionProduceData_init(&parts[i]);
        parts[i].index = i;
    }
    parts[0].records = (kn_records_t){batch, (int32_t)sizeof(batch), -1, 0};
    /* parts[1].records stays null (the default) */
    kn_ProduceRequest_TopicProduceData_init(&topic);
    topic.name = S("events");
    topic.partition_data = parts;
    topic.partition_data_count = 2;
    kn_ProduceRequest_init(&req);
    assert_int_equal(req.transactional_id.len, -1);
    req.acks = -1;
    req.timeout_ms = 30000;
    req.topic_data = &topic;
    req.topic_data_count = 1;

    int16_t versions[] = {3, 7, 9, 11};
    for (size_t vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
        kn_arena_t a;
        kn_arena_init(&a);
        ROUNDTRIP(ProduceRequest, versions[vi], &req, &out, &a);
        assert_int_equal(out.acks, -1);
        assert_int_equal(out.timeout_ms, 30000);
        assert_int_equal(out.transactional_id.len, -1);
        assert_int_equal(out.topic_data_count, 1);
        assert_str(out.topic_data[0].name, "events");
        assert_int_equal(out.topic_data[0].partition_data_count, 2);
        assert_int_equal(out.topic_data[0].partition_data[1].index, 1);
        assert_int_equal(out.topic_data[0].partition_data[0].records.len, (int32_t)sizeof(batch));
        assert_int_equal(out.topic_data[0].partition_data[0].records.fd, -1);
        assert_memory_equal(out.topic_data[0].partition_data[0].records.p, batch, sizeof(batch));
        assert_int_equal(out.topic_data[0].partition_data[1].records.len, -1);
        kn_arena_reset(&a);
    }

    /* v9 is flexible: compact lengths, so the exact size is known */
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ProduceRequest_encode(&w, 9, &req);
    /* txn id(1) acks(2) timeout(4) topics(1) name(1+6) parts(1)
     * [index(4) records(1+7) tags(1)] [index(4) null(1) tags(1)] topic tags(1) tags(1) */
    assert_int_equal(kn_wbuf_len(&w), 1 + 2 + 4 + 1 + 7 + 1 + 13 + 6 + 1 + 1);
    kn_wbuf_free(&w);

    /* unsupported versions */
    kn_rd_t rd;
    kn_arena_t a;
    kn_arena_init(&a);
    kn_rd_init(&rd, "", 0);
    assert_int_equal(kn_ProduceRequest_decode(&rd, 12, &a, &out), KN_EUNSUPPORTED);
    assert_int_equal(kn_ProduceRequest_decode(&rd, -1, &a, &out), KN_EUNSUPPORTED);
}

static void test_records_from_file(void **state) {
    (void)state;
    kn_FetchResponse_PartitionData_t pd;
    kn_FetchResponse_FetchableTopicResponse_t t;
    kn_FetchResponse_t resp;
    kn_FetchResponse_PartitionData_init(&pd);
    pd.records = (kn_records_t){NULL, 4096, 5, 8192};
    kn_FetchResponse_FetchableTopicResponse_init(&t);
    t.topic = S("t");
    t.partitions = &pd;
    t.partitions_count = 1;
    kn_FetchResponse_init(&resp);
    resp.responses = &t;
    resp.responses_count = 1;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_FetchResponse_encode(&w, 11, &resp);
    size_t nfile = 0;
    for (size_t i = 0; i < w.npieces; i++) {
        if (w.pieces[i].kind != KN_WPIECE_FILE) continue;
        nfile++;
        assert_int_equal(w.pieces[i].fd, 5);
        assert_int_equal(w.pieces[i].off, 8192);
        assert_int_equal(w.pieces[i].len, 4096);
    }
    assert_int_equal(nfile, 1);
    /* memory holds everything but the file range; the length prefix precedes it */
    assert_int_equal(kn_wbuf_len(&w), w.mem_len + 4096);
    kn_wbuf_free(&w);
}

static void fill_fetch_response(kn_FetchResponse_t *resp, kn_FetchResponse_FetchableTopicResponse_t *t,
                                kn_FetchResponse_PartitionData_t *pd, kn_FetchResponse_AbortedTransaction_t *ab,
                                const uint8_t *recs, int32_t nrecs) {
    kn_FetchResponse_AbortedTransaction_init(ab);
    ab->producer_id = 77;
    ab->first_offset = 1000;
    kn_FetchResponse_PartitionData_init(&pd[0]);
    pd[0].partition_index = 0;
    pd[0].high_watermark = 42;
    pd[0].last_stable_offset = 40;
    pd[0].log_start_offset = 3;
    pd[0].aborted_transactions = ab;
    pd[0].aborted_transactions_count = 1;
    pd[0].preferred_read_replica = -1;
    pd[0].records = (kn_records_t){recs, nrecs, -1, 0};
    kn_FetchResponse_PartitionData_init(&pd[1]);
    pd[1].partition_index = 1;
    pd[1].error_code = KN_KERR_NOT_LEADER_OR_FOLLOWER;
    pd[1].aborted_transactions_count = -1; /* nullable from v4 */
    kn_FetchResponse_FetchableTopicResponse_init(t);
    t->topic = S("orders");
    t->partitions = pd;
    t->partitions_count = 2;
    kn_FetchResponse_init(resp);
    resp->throttle_time_ms = 5;
    resp->session_id = 9;
    resp->responses = t;
    resp->responses_count = 1;
}

static void test_fetch_response(void **state) {
    (void)state;
    static const uint8_t recs[] = {0xde, 0xad, 0xbe, 0xef};
    kn_FetchResponse_AbortedTransaction_t ab;
    kn_FetchResponse_PartitionData_t pd[2];
    kn_FetchResponse_FetchableTopicResponse_t t;
    kn_FetchResponse_t resp, out;
    fill_fetch_response(&resp, &t, pd, &ab, recs, (int32_t)sizeof(recs));
    int16_t versions[] = {4, 11, 12, 13, 16};
    for (size_t vi = 0; vi < sizeof(versions) / sizeof(versions[0]); vi++) {
        int16_t v = versions[vi];
        kn_arena_t a;
        kn_arena_init(&a);
        if (v >= 12) { /* tagged fields appear only in flexible versions */
            pd[0].current_leader.leader_id = 2;
            pd[0].current_leader.leader_epoch = 7;
            pd[0].diverging_epoch.epoch = 3;
            pd[0].diverging_epoch.end_offset = 99;
        }
        if (v >= 13) t.topic_id.b[15] = 1;
        ROUNDTRIP(FetchResponse, v, &resp, &out, &a);
        assert_int_equal(out.throttle_time_ms, 5);
        assert_int_equal(out.responses_count, 1);
        if (v < 13) assert_str(out.responses[0].topic, "orders");
        else assert_int_equal(out.responses[0].topic_id.b[15], 1);
        const kn_FetchResponse_PartitionData_t *p0 = &out.responses[0].partitions[0];
        const kn_FetchResponse_PartitionData_t *p1 = &out.responses[0].partitions[1];
        assert_int_equal(p0->high_watermark, 42);
        assert_int_equal(p0->last_stable_offset, 40);
        assert_int_equal(p0->log_start_offset, v >= 5 ? 3 : -1);
        assert_int_equal(p0->aborted_transactions_count, 1);
        assert_int_equal(p0->aborted_transactions[0].producer_id, 77);
        assert_int_equal(p0->records.len, 4);
        assert_memory_equal(p0->records.p, recs, 4);
        assert_int_equal(p1->error_code, KN_KERR_NOT_LEADER_OR_FOLLOWER);
        assert_int_equal(p1->aborted_transactions_count, -1);
        assert_int_equal(p1->records.len, -1);
        if (v >= 12) {
            assert_int_equal(p0->current_leader.leader_id, 2);
            assert_int_equal(p0->current_leader.leader_epoch, 7);
            assert_int_equal(p0->diverging_epoch.end_offset, 99);
            /* untouched tagged struct keeps its defaults */
            assert_int_equal(p1->current_leader.leader_id, -1);
            assert_int_equal(p0->snapshot_id.end_offset, -1);
        } else {
            assert_int_equal(p0->current_leader.leader_id, -1);
        }
        assert_int_equal(out.session_id, v >= 7 ? 9 : 0);
        kn_arena_reset(&a);
    }
}

static void test_fetch_request(void **state) {
    (void)state;
    kn_FetchRequest_FetchPartition_t fp;
    kn_FetchRequest_FetchTopic_t ft;
    kn_FetchRequest_t req, out;
    kn_FetchRequest_FetchPartition_init(&fp);
    fp.partition = 3;
    fp.fetch_offset = 123456789012LL;
    fp.partition_max_bytes = 1 << 20;
    kn_FetchRequest_FetchTopic_init(&ft);
    ft.topic = S("orders");
    ft.partitions = &fp;
    ft.partitions_count = 1;
    kn_FetchRequest_init(&req);
    assert_int_equal(req.replica_id, -1);
    assert_int_equal(req.max_bytes, INT32_MAX);
    assert_int_equal(req.session_epoch, -1);
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.topics = &ft;
    req.topics_count = 1;
    req.rack_id = S("r1");
    for (int16_t v = 4; v <= 12; v++) {
        kn_arena_t a;
        kn_arena_init(&a);
        ROUNDTRIP(FetchRequest, v, &req, &out, &a);
        assert_int_equal(out.topics[0].partitions[0].fetch_offset, 123456789012LL);
        assert_int_equal(out.max_wait_ms, 500);
        if (v >= 11) assert_str(out.rack_id, "r1");
        kn_arena_reset(&a);
    }
}

static void test_metadata(void **state) {
    (void)state;
    /* request: null topics (all topics) allowed from v1, not in v0 */
    kn_MetadataRequest_t req, rout;
    kn_MetadataRequest_init(&req);
    assert_true(req.allow_auto_topic_creation);
    req.topics_count = -1;
    kn_arena_t a;
    kn_arena_init(&a);
    ROUNDTRIP(MetadataRequest, 9, &req, &rout, &a);
    assert_int_equal(rout.topics_count, -1);
    ROUNDTRIP(MetadataRequest, 1, &req, &rout, &a);
    assert_int_equal(rout.topics_count, -1);
    static const uint8_t v0_null[] = {0xff, 0xff, 0xff, 0xff};
    kn_rd_t rd;
    kn_rd_init(&rd, v0_null, sizeof(v0_null));
    assert_int_equal(kn_MetadataRequest_decode(&rd, 0, &a, &rout), KN_ECORRUPT);
    kn_arena_reset(&a);

    kn_MetadataResponse_MetadataResponseBroker_t br[2];
    kn_MetadataResponse_MetadataResponsePartition_t part;
    kn_MetadataResponse_MetadataResponseTopic_t topic;
    kn_MetadataResponse_t resp, out;
    int32_t replicas[] = {1, 2, 3};
    int32_t isr[] = {1, 2};
    for (int i = 0; i < 2; i++) {
        kn_MetadataResponse_MetadataResponseBroker_init(&br[i]);
        br[i].node_id = i + 1;
        br[i].host = S("localhost");
        br[i].port = 9092 + i;
    }
    br[0].rack = S("rack-a");
    assert_int_equal(br[1].rack.len, -1); /* nullable default null */
    kn_MetadataResponse_MetadataResponsePartition_init(&part);
    part.partition_index = 0;
    part.leader_id = 1;
    part.leader_epoch = 4;
    part.replica_nodes = replicas;
    part.replica_nodes_count = 3;
    part.isr_nodes = isr;
    part.isr_nodes_count = 2;
    kn_MetadataResponse_MetadataResponseTopic_init(&topic);
    topic.name = S("orders");
    topic.partitions = &part;
    topic.partitions_count = 1;
    kn_MetadataResponse_init(&resp);
    resp.brokers = br;
    resp.brokers_count = 2;
    resp.cluster_id = S("kanal-cluster");
    resp.controller_id = 1;
    resp.topics = &topic;
    resp.topics_count = 1;
    for (int16_t v = 0; v <= 12; v++) {
        kn_arena_init(&a);
        ROUNDTRIP(MetadataResponse, v, &resp, &out, &a);
        assert_int_equal(out.brokers_count, 2);
        assert_str(out.brokers[0].host, "localhost");
        assert_int_equal(out.brokers[1].port, 9093);
        if (v >= 1) {
            assert_str(out.brokers[0].rack, "rack-a");
            assert_int_equal(out.brokers[1].rack.len, -1);
            assert_int_equal(out.controller_id, 1);
        } else {
            assert_int_equal(out.controller_id, -1);
        }
        if (v >= 2) assert_str(out.cluster_id, "kanal-cluster");
        else assert_int_equal(out.cluster_id.len, -1);
        assert_str(out.topics[0].name, "orders");
        assert_int_equal(out.topics[0].partitions[0].replica_nodes_count, 3);
        assert_int_equal(out.topics[0].partitions[0].replica_nodes[2], 3);
        assert_int_equal(out.topics[0].partitions[0].isr_nodes[1], 2);
        assert_int_equal(out.topics[0].partitions[0].leader_epoch, v >= 7 ? 4 : -1);
        kn_arena_reset(&a);
    }
}

static void test_api_versions(void **state) {
    (void)state;
    kn_ApiVersionsResponse_ApiVersion_t keys[3];
    kn_ApiVersionsResponse_t resp, out;
    size_t n = 0;
    const kn_api_info_t *all = kn_api_all(&n);
    for (int i = 0; i < 3; i++) {
        kn_ApiVersionsResponse_ApiVersion_init(&keys[i]);
        keys[i].api_key = all[i].key;
        keys[i].min_version = all[i].min_version;
        keys[i].max_version = all[i].max_version;
    }
    kn_ApiVersionsResponse_init(&resp);
    resp.api_keys = keys;
    resp.api_keys_count = 3;
    resp.throttle_time_ms = 0;
    kn_arena_t a;
    for (int16_t v = 0; v <= 4; v++) {
        kn_arena_init(&a);
        if (v >= 3) { /* tagged fields */
            resp.finalized_features_epoch = 12;
            resp.zk_migration_ready = true;
        }
        ROUNDTRIP(ApiVersionsResponse, v, &resp, &out, &a);
        assert_int_equal(out.api_keys_count, 3);
        assert_int_equal(out.api_keys[0].api_key, 0);
        assert_int_equal(out.api_keys[0].max_version, 9);
        assert_int_equal(out.finalized_features_epoch, v >= 3 ? 12 : -1);
        assert_int_equal(out.zk_migration_ready, v >= 3);
        kn_arena_reset(&a);
    }
    /* v0 exact bytes: error 0, [3 x (key,min,max)] */
    resp.finalized_features_epoch = -1;
    resp.zk_migration_ready = false;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ApiVersionsResponse_encode(&w, 0, &resp);
    assert_int_equal(kn_wbuf_len(&w), 2 + 4 + 3 * 6);
    kn_wbuf_reset(&w);
    /* v3 without tagged values: error, compact count, 3 x (6 + tags), throttle, tags */
    kn_ApiVersionsResponse_encode(&w, 3, &resp);
    assert_int_equal(kn_wbuf_len(&w), 2 + 1 + 3 * 7 + 4 + 1);
    kn_wbuf_free(&w);

    /* request v3: client software name/version, plus an unknown tagged field
     * that must be skipped */
    static const uint8_t req_bytes[] = {6, 'k', 'c', 'a', 't', '!', 4, '1', '.', '0',
                                        1, 42, 2, 0xaa, 0xbb};
    kn_ApiVersionsRequest_t req;
    kn_rd_t rd;
    kn_arena_init(&a);
    kn_rd_init(&rd, req_bytes, sizeof(req_bytes));
    assert_int_equal(kn_ApiVersionsRequest_decode(&rd, 3, &a, &req), 0);
    assert_str(req.client_software_name, "kcat!");
    assert_str(req.client_software_version, "1.0");
    assert_int_equal(kn_rd_remaining(&rd), 0);
    /* the tagged field claims more bytes than there are */
    static const uint8_t bad_tag[] = {2, 'x', 2, 'y', 1, 42, 5, 0xaa};
    kn_rd_init(&rd, bad_tag, sizeof(bad_tag));
    assert_int_equal(kn_ApiVersionsRequest_decode(&rd, 3, &a, &req), KN_ETRUNC);
    /* v0 request has no body */
    kn_rd_init(&rd, "", 0);
    assert_int_equal(kn_ApiVersionsRequest_decode(&rd, 0, &a, &req), 0);
    assert_int_equal(req.client_software_name.len, 0);
    kn_arena_reset(&a);
}

static void test_create_topics(void **state) {
    (void)state;
    int32_t brokers[] = {1, 2};
    kn_CreateTopicsRequest_CreatableReplicaAssignment_t asg;
    kn_CreateTopicsRequest_CreatableTopicConfig_t cfg[2];
    kn_CreateTopicsRequest_CreatableTopic_t topic;
    kn_CreateTopicsRequest_t req, out;
    kn_CreateTopicsRequest_CreatableReplicaAssignment_init(&asg);
    asg.partition_index = 0;
    asg.broker_ids = brokers;
    asg.broker_ids_count = 2;
    kn_CreateTopicsRequest_CreatableTopicConfig_init(&cfg[0]);
    cfg[0].name = S("retention.ms");
    cfg[0].value = S("1000");
    kn_CreateTopicsRequest_CreatableTopicConfig_init(&cfg[1]);
    cfg[1].name = S("cleanup.policy");
    cfg[1].value = KN_STR_NULL; /* nullable */
    kn_CreateTopicsRequest_CreatableTopic_init(&topic);
    topic.name = S("new-topic");
    topic.num_partitions = -1;
    topic.replication_factor = -1;
    topic.assignments = &asg;
    topic.assignments_count = 1;
    topic.configs = cfg;
    topic.configs_count = 2;
    kn_CreateTopicsRequest_init(&req);
    req.topics = &topic;
    req.topics_count = 1;
    req.timeout_ms = 60000;
    req.validate_only = true;
    kn_arena_t a;
    for (int16_t v = 0; v <= 7; v++) {
        kn_arena_init(&a);
        ROUNDTRIP(CreateTopicsRequest, v, &req, &out, &a);
        assert_str(out.topics[0].name, "new-topic");
        assert_int_equal(out.topics[0].assignments[0].broker_ids[1], 2);
        assert_str(out.topics[0].configs[0].value, "1000");
        assert_int_equal(out.topics[0].configs[1].value.len, -1);
        assert_int_equal(out.validate_only, v >= 1);
        kn_arena_reset(&a);
    }

    kn_CreateTopicsResponse_CreatableTopicResult_t res;
    kn_CreateTopicsResponse_t resp, rout;
    kn_CreateTopicsResponse_CreatableTopicResult_init(&res);
    res.name = S("new-topic");
    res.error_code = KN_KERR_TOPIC_ALREADY_EXISTS;
    res.error_message = S("exists");
    res.topic_config_error_code = KN_KERR_INVALID_CONFIG; /* tagged (v5+) */
    res.num_partitions = 3;
    res.replication_factor = 1;
    kn_CreateTopicsResponse_init(&resp);
    resp.topics = &res;
    resp.topics_count = 1;
    for (int16_t v = 0; v <= 7; v++) {
        kn_arena_init(&a);
        ROUNDTRIP(CreateTopicsResponse, v, &resp, &rout, &a);
        assert_int_equal(rout.topics[0].error_code, KN_KERR_TOPIC_ALREADY_EXISTS);
        assert_int_equal(rout.topics[0].topic_config_error_code, v >= 5 ? KN_KERR_INVALID_CONFIG : 0);
        assert_int_equal(rout.topics[0].num_partitions, v >= 5 ? 3 : -1);
        kn_arena_reset(&a);
    }
}

static void test_request_header(void **state) {
    (void)state;
    kn_RequestHeader_t h, out;
    kn_RequestHeader_init(&h);
    h.request_api_key = KN_API_METADATA;
    h.request_api_version = 9;
    h.correlation_id = 0x01020304;
    h.client_id = S("abc");
    kn_arena_t a;
    kn_arena_init(&a);
    ROUNDTRIP(RequestHeader, 1, &h, &out, &a);
    ROUNDTRIP(RequestHeader, 2, &h, &out, &a);
    assert_str(out.client_id, "abc");
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_RequestHeader_encode(&w, 2, &h);
    /* ClientId keeps its int16 length even in header v2; then the tag section */
    static const uint8_t want[] = {0, 3, 0, 9, 1, 2, 3, 4, 0, 3, 'a', 'b', 'c', 0};
    assert_int_equal(kn_wbuf_len(&w), sizeof(want));
    assert_memory_equal(kn_wbuf_data(&w), want, sizeof(want));
    kn_wbuf_free(&w);
    /* null client id is allowed */
    h.client_id = KN_STR_NULL;
    ROUNDTRIP(RequestHeader, 1, &h, &out, &a);
    assert_int_equal(out.client_id.len, -1);
    /* v0 has no client id */
    ROUNDTRIP(RequestHeader, 0, &h, &out, &a);

    kn_ResponseHeader_t rh, rout;
    kn_ResponseHeader_init(&rh);
    rh.correlation_id = 77;
    ROUNDTRIP(ResponseHeader, 0, &rh, &rout, &a);
    ROUNDTRIP(ResponseHeader, 1, &rh, &rout, &a);
    assert_int_equal(rout.correlation_id, 77);
    kn_arena_reset(&a);
}

static void test_header_versions(void **state) {
    (void)state;
    assert_int_equal(kn_request_header_version(KN_API_PRODUCE, 8), 1);
    assert_int_equal(kn_request_header_version(KN_API_PRODUCE, 9), 2);
    assert_int_equal(kn_response_header_version(KN_API_PRODUCE, 8), 0);
    assert_int_equal(kn_response_header_version(KN_API_PRODUCE, 9), 1);
    assert_int_equal(kn_request_header_version(KN_API_METADATA, 9), 2);
    assert_int_equal(kn_request_header_version(KN_API_FETCH, 11), 1);
    assert_int_equal(kn_request_header_version(KN_API_FETCH, 12), 2);
    /* ApiVersions: flexible request header, but always response header v0 */
    assert_int_equal(kn_request_header_version(KN_API_API_VERSIONS, 3), 2);
    assert_int_equal(kn_request_header_version(KN_API_API_VERSIONS, 2), 1);
    assert_int_equal(kn_response_header_version(KN_API_API_VERSIONS, 3), 0);
    assert_int_equal(kn_response_header_version(KN_API_API_VERSIONS, 0), 0);
    /* ControlledShutdown v0 uses request header v0 */
    assert_int_equal(kn_request_header_version(KN_API_CONTROLLED_SHUTDOWN, 0), 0);
    assert_int_equal(kn_request_header_version(KN_API_CONTROLLED_SHUTDOWN, 1), 1);
    assert_int_equal(kn_request_header_version(KN_API_CONTROLLED_SHUTDOWN, 3), 2);
    /* APIs without generated codecs still follow Kafka's table (SaslHandshake: never flexible) */
    assert_int_equal(kn_request_header_version(17, 1), 1);
    assert_int_equal(kn_response_header_version(17, 1), 0);
    assert_int_equal(kn_request_header_version(9999, 0), 1);
    assert_int_equal(kn_response_header_version(-5, 0), 0);
}

static void test_api_table(void **state) {
    (void)state;
    size_t n = 0;
    const kn_api_info_t *all = kn_api_all(&n);
    assert_int_equal(n, 33);
    for (size_t i = 1; i < n; i++) assert_true(all[i - 1].key < all[i].key);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(kn_api_info(all[i].key), &all[i]);
        assert_true(all[i].valid_min <= all[i].valid_max);
        if (all[i].min_version >= 0) {
            assert_true(all[i].valid_min <= all[i].min_version);
            assert_true(all[i].min_version <= all[i].max_version);
            assert_true(all[i].max_version <= all[i].valid_max);
        } else {
            assert_int_equal(all[i].max_version, -1);
        }
    }
    const kn_api_info_t *p = kn_api_info(KN_API_PRODUCE);
    assert_non_null(p);
    assert_string_equal(p->name, "Produce");
    assert_int_equal(p->min_version, 0); /* librdkafka 2.0 compresses only if Produce v0 is advertised */
    assert_int_equal(p->max_version, 9);
    assert_int_equal(p->first_flexible, 9);
    assert_int_equal(KN_API_FETCH, 1);
    assert_int_equal(KN_API_API_VERSIONS, 18);
    assert_int_equal(kn_api_info(KN_API_API_VERSIONS)->max_version, 3);
    /* Fetch >= 11 is what librdkafka and kafkajs use; 12 brings DivergingEpoch. */
    assert_true(kn_api_info(KN_API_FETCH)->max_version >= 11);
    assert_int_equal(kn_api_info(KN_API_OFFSET_DELETE)->first_flexible, -1);
    assert_null(kn_api_info(17)); /* SaslHandshake: not generated */
    assert_null(kn_api_info(-1));
    assert_null(kn_api_info(1000));
}

/* ------------------------------------------------------------ hostile input */

static void test_hostile_counts(void **state) {
    (void)state;
    kn_arena_t a;
    kn_rd_t rd;
    kn_ProduceRequest_t out;
    /* v3: txn id null, acks, timeout, then topic count 0x7fffffff with 8 bytes left */
    static const uint8_t classic[] = {0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0x7f, 0xff, 0xff, 0xff,
                                      0, 0, 0, 0, 0, 0, 0, 0};
    kn_arena_init(&a);
    kn_rd_init(&rd, classic, sizeof(classic));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 3, &a, &out), KN_ETRUNC);
    assert_int_equal(a.total, 0);
    /* v9: compact count 0xfffffffe with a few bytes left */
    static const uint8_t compact[] = {0, 0, 1, 0, 0, 0x75, 0x30, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0};
    kn_rd_init(&rd, compact, sizeof(compact));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 9, &a, &out), KN_ETRUNC);
    assert_int_equal(a.total, 0);
    /* 3 topics claimed but each needs >= 6 bytes (name len 2 + partition count 4):
     * 17 bytes left are not enough for 3 */
    uint8_t near[12 + 17];
    memcpy(near, classic, 8);
    near[8] = 0; near[9] = 0; near[10] = 0; near[11] = 3;
    memset(near + 12, 0, 17);
    kn_rd_init(&rd, near, sizeof(near));
    assert_int_not_equal(kn_ProduceRequest_decode(&rd, 3, &a, &out), 0);
    /* Metadata response: a broker array whose elements are at least 14 bytes */
    static const uint8_t meta[] = {0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    kn_MetadataResponse_t mout;
    kn_rd_init(&rd, meta, sizeof(meta));
    assert_int_equal(kn_MetadataResponse_decode(&rd, 0, &a, &mout), KN_ETRUNC);
    assert_int_equal(a.total, 0);
    /* a huge tag count */
    static const uint8_t tags[] = {1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0};
    kn_ApiVersionsRequest_t aout;
    kn_rd_init(&rd, tags, sizeof(tags));
    assert_int_equal(kn_ApiVersionsRequest_decode(&rd, 3, &a, &aout), KN_ETRUNC);
    kn_arena_reset(&a);
}

static void test_null_not_nullable(void **state) {
    (void)state;
    kn_arena_t a;
    kn_rd_t rd;
    kn_ProduceRequest_t out;
    kn_arena_init(&a);
    /* v3: one topic whose name is null (names are never nullable) */
    static const uint8_t null_name[] = {0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1,
                                        0xff, 0xff, 0, 0, 0, 0};
    kn_rd_init(&rd, null_name, sizeof(null_name));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 3, &a, &out), KN_ECORRUPT);
    /* the same with a real name decodes */
    static const uint8_t ok_name[] = {0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1,
                                      0, 1, 't', 0, 0, 0, 0};
    kn_rd_init(&rd, ok_name, sizeof(ok_name));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 3, &a, &out), 0);
    assert_str(out.topic_data[0].name, "t");
    /* null topic array (not nullable) */
    static const uint8_t null_arr[] = {0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0xff, 0xff, 0xff, 0xff};
    kn_rd_init(&rd, null_arr, sizeof(null_arr));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 3, &a, &out), KN_ECORRUPT);
    /* compact null name in v9 */
    static const uint8_t null_c[] = {0, 0, 1, 0, 0, 0x75, 0x30, 2, 0, 1, 0, 0};
    kn_rd_init(&rd, null_c, sizeof(null_c));
    assert_int_equal(kn_ProduceRequest_decode(&rd, 9, &a, &out), KN_ECORRUPT);
    kn_arena_reset(&a);
}

static void test_alloc_failure(void **state) {
    (void)state;
    kn_MetadataResponse_MetadataResponseBroker_t br;
    kn_MetadataResponse_t resp, out;
    kn_MetadataResponse_MetadataResponseBroker_init(&br);
    br.host = S("h");
    kn_MetadataResponse_init(&resp);
    resp.brokers = &br;
    resp.brokers_count = 1;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_MetadataResponse_encode(&w, 9, &resp);
    kn_arena_t a;
    kn_arena_init(&a);
    kn_rd_t rd;
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    kn_mem_fail_at(1);
    assert_int_equal(kn_MetadataResponse_decode(&rd, 9, &a, &out), KN_ENOMEM);
    kn_mem_fail_at(0);
    kn_rd_init(&rd, kn_wbuf_data(&w), (size_t)kn_wbuf_len(&w));
    assert_int_equal(kn_MetadataResponse_decode(&rd, 9, &a, &out), 0);
    kn_arena_reset(&a);
    kn_wbuf_free(&w);
}

/* ------------------------------------------------------------ error codes */

static void test_kerr(void **state) {
    (void)state;
    assert_int_equal(KN_KERR_UNKNOWN_SERVER_ERROR, -1);
    assert_int_equal(KN_KERR_NONE, 0);
    assert_int_equal(KN_KERR_NOT_LEADER_OR_FOLLOWER, 6);
    assert_int_equal(KN_KERR_UNSUPPORTED_VERSION, 35);
    assert_int_equal(KN_KERR_UNSUPPORTED_COMPRESSION_TYPE, 76);
    assert_int_equal(KN_KERR_INVALID_RECORD, 87);
    assert_int_equal(KN_KERR_UNKNOWN_TOPIC_ID, 100);
    assert_string_equal(kn_kerr_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(kn_kerr_name(0), "NONE");
    assert_string_equal(kn_kerr_name(6), "NOT_LEADER_OR_FOLLOWER");
    assert_string_equal(kn_kerr_name(47), "INVALID_PRODUCER_EPOCH");
    assert_string_equal(kn_kerr_name(-2), "UNKNOWN");
    assert_string_equal(kn_kerr_name(30000), "UNKNOWN");
    assert_true(kn_kerr_retriable(KN_KERR_NOT_LEADER_OR_FOLLOWER));
    assert_true(kn_kerr_retriable(KN_KERR_NOT_ENOUGH_REPLICAS));
    assert_true(kn_kerr_retriable(KN_KERR_REQUEST_TIMED_OUT));
    assert_false(kn_kerr_retriable(KN_KERR_NONE));
    assert_false(kn_kerr_retriable(KN_KERR_TOPIC_ALREADY_EXISTS));
    assert_false(kn_kerr_retriable(KN_KERR_UNKNOWN_SERVER_ERROR));
    assert_false(kn_kerr_retriable(-7));
    assert_false(kn_kerr_retriable(30000));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_ints),
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_strings_bytes),
        cmocka_unit_test(test_raw_sub_arrays_tags),
        cmocka_unit_test(test_wbuf_pieces),
        cmocka_unit_test(test_produce_request),
        cmocka_unit_test(test_records_from_file),
        cmocka_unit_test(test_fetch_response),
        cmocka_unit_test(test_fetch_request),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_api_versions),
        cmocka_unit_test(test_create_topics),
        cmocka_unit_test(test_request_header),
        cmocka_unit_test(test_header_versions),
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_null_not_nullable),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_kerr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
