/* Logging. Every line: time, level, broker id, context, message.
 *   2026-11-24T21:30:00.123Z INFO  [broker 1] [conn 127.0.0.1:5432 rdkafka] message
 * ctx names who the line is about (peer, topic-partition, API); may be NULL.
 * Debug categories are bit masks checked before anything is formatted. */
#ifndef KANAL_UTIL_LOG_H
#define KANAL_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KN_LOG_DEBUG = 0,
    KN_LOG_INFO = 1,
    KN_LOG_WARN = 2,
    KN_LOG_ERROR = 3,
} kn_log_level_t;

enum {
    KN_DBG_NET = 1 << 0,
    KN_DBG_PROTO = 1 << 1,
    KN_DBG_LOG = 1 << 2,
    KN_DBG_ZK = 1 << 3,
    KN_DBG_GROUP = 1 << 4,
    KN_DBG_REPL = 1 << 5,
    KN_DBG_ALL = 0xff,
};

extern kn_log_level_t kn_log_min_level;
extern uint32_t kn_log_debug_mask;

/* Broker id shown in every line (-1: not set yet). */
void kn_log_set_broker(int32_t id);
/* Parse "net,proto,..." or "all"; returns 0 or KN_EINVAL. */
int kn_log_parse_debug(const char *spec, uint32_t *mask);
void kn_log_impl(kn_log_level_t lvl, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kn_log(lvl, ctx, ...)                                           \
    do {                                                                \
        if ((lvl) >= kn_log_min_level) kn_log_impl((lvl), (ctx), __VA_ARGS__); \
    } while (0)
#define kn_dbg(cat, ctx, ...)                                           \
    do {                                                                \
        if (kn_log_debug_mask & (cat)) kn_log_impl(KN_LOG_DEBUG, (ctx), __VA_ARGS__); \
    } while (0)

/* Hex sample of untrusted bytes with non-printables masked, for protocol error
 * lines. Writes at most outsz-1 chars. */
void kn_log_sample(char *out, size_t outsz, const void *p, size_t n);

#endif
