/* Test helper for retention and cleaner tests: keyed RecordBatch v2 blobs. */
#ifndef KANAL_TEST_LIFECYCLE_GEN_H
#define KANAL_TEST_LIFECYCLE_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"

typedef struct lg_rec_s {
    const char *key;   /* NULL = no key */
    const char *value; /* NULL = tombstone */
} lg_rec_t;

static inline size_t lg_varint(uint8_t *p, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* One uncompressed batch of n records, all with timestamp ts, producer
 * fields pid/epoch/seq (-1 for none). Returns its size. */
static inline size_t lg_batch(uint8_t *out, const lg_rec_t *r, int n, int64_t ts, int64_t pid, int16_t epoch,
                              int32_t seq) {
    size_t pos = KN_BATCH_HEADER_SIZE;
    for (int i = 0; i < n; i++) {
        uint8_t body[4096];
        size_t b = 0;
        body[b++] = 0; /* attributes */
        b += lg_varint(body + b, 0);  /* timestampDelta */
        b += lg_varint(body + b, i);  /* offsetDelta */
        if (r[i].key) {
            size_t kl = strlen(r[i].key);
            b += lg_varint(body + b, (int64_t)kl);
            memcpy(body + b, r[i].key, kl);
            b += kl;
        } else {
            b += lg_varint(body + b, -1);
        }
        if (r[i].value) {
            size_t vl = strlen(r[i].value);
            b += lg_varint(body + b, (int64_t)vl);
            memcpy(body + b, r[i].value, vl);
            b += vl;
        } else {
            b += lg_varint(body + b, -1);
        }
        b += lg_varint(body + b, 0); /* headers */
        pos += lg_varint(out + pos, (int64_t)b);
        memcpy(out + pos, body, b);
        pos += b;
    }
    memset(out, 0, KN_BATCH_HEADER_SIZE);
    kn_put_be32(out + 8, (uint32_t)(pos - 12));
    out[16] = 2;
    kn_put_be32(out + 23, (uint32_t)(n - 1));
    kn_put_be64(out + 27, (uint64_t)ts);
    kn_put_be64(out + 35, (uint64_t)ts);
    kn_put_be64(out + 43, (uint64_t)pid);
    kn_put_be16(out + 51, (uint16_t)epoch);
    kn_put_be32(out + 53, (uint32_t)seq);
    kn_put_be32(out + 57, (uint32_t)n);
    kn_put_be32(out + 17, kn_crc32c(0, out + 21, pos - 21));
    return pos;
}

#endif
