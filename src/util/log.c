#define _POSIX_C_SOURCE 200809L
#include "kanal/util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kanal/util/err.h"

kn_log_level_t kn_log_min_level = KN_LOG_INFO;
uint32_t kn_log_debug_mask = 0;
static int32_t log_broker = -1;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void kn_log_set_broker(int32_t id) { log_broker = id; }

int kn_log_parse_debug(const char *spec, uint32_t *mask) {
    static const struct {
        const char *name;
        uint32_t bit;
    } cats[] = {{"net", KN_DBG_NET},     {"proto", KN_DBG_PROTO}, {"log", KN_DBG_LOG},
                {"zk", KN_DBG_ZK},       {"group", KN_DBG_GROUP}, {"repl", KN_DBG_REPL},
                {"all", KN_DBG_ALL}};
    uint32_t m = 0;
    const char *p = spec;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            size_t i;
            for (i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
                if (strlen(cats[i].name) == n && !strncmp(cats[i].name, p, n)) break;
            if (i == sizeof(cats) / sizeof(cats[0])) return KN_EINVAL;
            m |= cats[i].bit;
        }
        p += n;
        if (*p == ',') p++;
    }
    *mask = m;
    return 0;
}

void kn_log_impl(kn_log_level_t lvl, const char *ctx, const char *fmt, ...) {
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [broker %d]%s%s%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[lvl & 3], log_broker, ctx ? " [" : "",
                     ctx ? ctx : "", ctx ? "]" : "");
    if (n < 0) return;
    if ((size_t)n < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    line[sizeof(line) - 2] = '\0';
    size_t len = strlen(line);
    line[len] = '\n';
    /* One write per line so lines from threads do not interleave. */
    fwrite(line, 1, len + 1, stderr);
    fflush(stderr);
}

void kn_log_sample(char *out, size_t outsz, const void *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    size_t o = 0;
    if (outsz == 0) return;
    for (size_t i = 0; i < n && o + 3 < outsz; i++) {
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}
