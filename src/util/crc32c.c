/* CRC-32C. Two implementations: the SSE4.2 crc32 instruction (x86-64, picked
 * at first call by a CPU feature check) and a table-driven slicing-by-8
 * fallback. Tables are built once, on first use of the fallback. */
#include "kanal/util/crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t crc_tab[8][256];
static bool crc_tab_ready;

/* Not thread-safe to race on first use in theory, but every thread would
 * write identical values; callers are single-threaded in practice. */
static void crc_tab_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_tab[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_tab[0][c & 0xff] ^ (c >> 8);
            crc_tab[t][i] = c;
        }
    }
    crc_tab_ready = true;
}

uint32_t kn_crc32c_sw(uint32_t crc, const void *p, size_t n) {
    const uint8_t *b = p;
    if (!crc_tab_ready) crc_tab_init();
    crc = ~crc;
    while (n > 0 && ((uintptr_t)b & 7)) {
        crc = crc_tab[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        /* Little-endian assembly of the next 8 bytes, independent of host order. */
        uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                             (uint32_t)b[3] << 24);
        uint32_t hi = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
                      (uint32_t)b[7] << 24;
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
              crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        b += 8;
        n -= 8;
    }
    while (n-- > 0) crc = crc_tab[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p,
                                                            size_t n) {
    const uint8_t *b = p;
    uint64_t c = ~crc;
    while (n > 0 && ((uintptr_t)b & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *b++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c = _mm_crc32_u64(c, w);
        b += 8;
        n -= 8;
    }
    while (n-- > 0) c = _mm_crc32_u8((uint32_t)c, *b++);
    return ~(uint32_t)c;
}

typedef uint32_t (*crc_fn_t)(uint32_t, const void *, size_t);
static crc_fn_t crc_impl;

uint32_t kn_crc32c(uint32_t crc, const void *p, size_t n) {
    if (!crc_impl) {
        __builtin_cpu_init();
        crc_impl = __builtin_cpu_supports("sse4.2") ? crc32c_hw : kn_crc32c_sw;
    }
    return crc_impl(crc, p, n);
}
#else
uint32_t kn_crc32c(uint32_t crc, const void *p, size_t n) { return kn_crc32c_sw(crc, p, n); }
#endif
