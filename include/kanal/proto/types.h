/* Value types shared by the generated codecs and the handlers. */
#ifndef KANAL_PROTO_TYPES_H
#define KANAL_PROTO_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/* A string borrowed from a request buffer (not NUL-terminated) or from any
 * memory that outlives the encode call. len -1 = null. */
typedef struct kn_str_s {
    const char *p;
    int32_t len;
} kn_str_t;

/* Bytes, same rules. */
typedef struct kn_bytes_s {
    const uint8_t *p;
    int32_t len;
} kn_bytes_t;

/* A "records" field. Decoded: p/len point into the request (fd = -1).
 * Encoded: either p/len from memory, or, when fd >= 0, len bytes of the file
 * fd from file_off (sent with sendfile; fd borrowed until the reply is sent). */
typedef struct kn_records_s {
    const uint8_t *p;
    int32_t len;
    int fd;
    int64_t file_off;
} kn_records_t;

typedef struct kn_uuid_s {
    uint8_t b[16];
} kn_uuid_t;

#define KN_STR(lit) ((kn_str_t){(lit), (int32_t)(sizeof(lit) - 1)})
#define KN_STR_NULL ((kn_str_t){0, -1})

static inline bool kn_str_eq(kn_str_t s, const char *c, int32_t clen) {
    if (s.len != clen) return false;
    for (int32_t i = 0; i < clen; i++)
        if (s.p[i] != c[i]) return false;
    return true;
}

#endif
