#include "test_log_batchgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kanal/proto/batch.h"
#include "kanal/util/buf.h"
#include "kanal/util/crc32c.h"

static size_t put_uvar(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static size_t put_var(uint8_t *p, int64_t v) {
    return put_uvar(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void tb_fix_crc(uint8_t *b) {
    size_t sz = (size_t)kn_be32(b + KN_BATCH_OFF_LENGTH) + KN_BATCH_LOG_OVERHEAD;
    kn_put_be32(b + KN_BATCH_OFF_CRC,
                kn_crc32c(0, b + KN_BATCH_OFF_ATTRIBUTES, sz - KN_BATCH_OFF_ATTRIBUTES));
}

size_t tb_batch(uint8_t *out, size_t cap, int nrec, int64_t base_ts, size_t value_len) {
    uint8_t rec[512 + 65536];
    size_t off = KN_BATCH_HEADER_SIZE;
    if (value_len > 65536) abort();
    for (int i = 0; i < nrec; i++) {
        size_t r = 0;
        char key[16];
        size_t klen = (size_t)snprintf(key, sizeof(key), "k%d", i);
        rec[r++] = 0; /* attributes */
        r += put_var(rec + r, i);   /* timestampDelta */
        r += put_var(rec + r, i);   /* offsetDelta */
        r += put_var(rec + r, (int64_t)klen);
        memcpy(rec + r, key, klen);
        r += klen;
        r += put_var(rec + r, (int64_t)value_len);
        memset(rec + r, 'a' + (i % 26), value_len);
        r += value_len;
        if (i & 1) {
            r += put_var(rec + r, 1);
            r += put_var(rec + r, 2);
            memcpy(rec + r, "hk", 2);
            r += 2;
            r += put_var(rec + r, -1); /* null header value */
        } else {
            r += put_var(rec + r, 0);
        }
        uint8_t lenbuf[10];
        size_t ln = put_var(lenbuf, (int64_t)r);
        if (off + ln + r > cap) abort();
        memcpy(out + off, lenbuf, ln);
        memcpy(out + off + ln, rec, r);
        off += ln + r;
    }
    kn_put_be64(out, 0);
    kn_put_be32(out + 8, (uint32_t)(off - KN_BATCH_LOG_OVERHEAD));
    kn_put_be32(out + 12, 0);
    out[16] = 2;
    kn_put_be16(out + 21, 0);
    kn_put_be32(out + 23, (uint32_t)(nrec - 1));
    kn_put_be64(out + 27, (uint64_t)base_ts);
    kn_put_be64(out + 35, (uint64_t)(base_ts + nrec - 1));
    kn_put_be64(out + 43, (uint64_t)-1);
    kn_put_be16(out + 51, (uint16_t)-1);
    kn_put_be32(out + 53, (uint32_t)-1);
    kn_put_be32(out + 57, (uint32_t)nrec);
    tb_fix_crc(out);
    return off;
}
