/* A partition's effective log settings: the topic's overrides from
 * /config/topics/<t> (the cluster cache watches them) over the broker's
 * defaults (kn_topic_config_default maps each topic key to its broker key).
 * Recomputed when a partition opens and on every metadata change, so an
 * AlterConfigs applies without a restart. Loop thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/batch.h"
#include "kanal/util/log.h"

/* Override from the topic, else the broker-derived default, as text. */
static const char *value_of(const kn_broker_config_t *bc, const char *const *keys, const char *const *vals,
                            size_t n, const char *key, char *buf, size_t bufsz) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i], key)) return vals[i];
    if (kn_topic_config_default(bc, key, buf, bufsz) < 0) buf[0] = '\0';
    return buf;
}

/* Parse an integer key; a malformed value (validated configs never are)
 * keeps dflt and is logged. */
static int64_t get_i64(const kn_broker_config_t *bc, const char *const *keys, const char *const *vals, size_t n,
                       const char *key, int64_t dflt, const char *ctx) {
    char buf[128];
    const char *v = value_of(bc, keys, vals, n, key, buf, sizeof(buf));
    if (!v[0]) return dflt;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) {
        kn_log(KN_LOG_WARN, ctx, "topic config %s=%s is not an integer; using %" PRId64, key, v, dflt);
        return dflt;
    }
    return x;
}

static double get_double(const kn_broker_config_t *bc, const char *const *keys, const char *const *vals, size_t n,
                         const char *key, double dflt, const char *ctx) {
    char buf[128];
    const char *v = value_of(bc, keys, vals, n, key, buf, sizeof(buf));
    char *end;
    double x = strtod(v, &end);
    if (!v[0] || end == v || *end) {
        if (v[0]) kn_log(KN_LOG_WARN, ctx, "topic config %s=%s is not a number; using %g", key, v, dflt);
        return dflt;
    }
    return x;
}

static int compression_codec(const char *v) {
    static const struct {
        const char *name;
        int codec;
    } t[] = {{"producer", -1},
             {"uncompressed", KN_COMPRESSION_NONE},
             {"none", KN_COMPRESSION_NONE},
             {"gzip", KN_COMPRESSION_GZIP},
             {"snappy", KN_COMPRESSION_SNAPPY},
             {"lz4", KN_COMPRESSION_LZ4},
             {"zstd", KN_COMPRESSION_ZSTD}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(t[i].name, v)) return t[i].codec;
    return -1;
}

void kn_topic_config_compute(const kn_broker_config_t *bc, const char *const *keys, const char *const *vals,
                             size_t n, const char *ctx, kn_topic_config_t *o) {
    char buf[256];
    memset(o, 0, sizeof(*o));
    kn_log_config_default(&o->log);
    o->log.segment_bytes = get_i64(bc, keys, vals, n, "segment.bytes", bc->log_segment_bytes, ctx);
    o->log.segment_ms = get_i64(bc, keys, vals, n, "segment.ms", bc->log_roll_ms, ctx);
    o->log.index_interval_bytes =
        (int32_t)get_i64(bc, keys, vals, n, "index.interval.bytes", bc->log_index_interval_bytes, ctx);
    o->log.segment_index_bytes =
        (int32_t)get_i64(bc, keys, vals, n, "segment.index.bytes", bc->log_index_size_max_bytes, ctx);
    o->log.flush_interval_messages = get_i64(bc, keys, vals, n, "flush.messages", INT64_MAX, ctx);
    if (o->log.flush_interval_messages <= 0) o->log.flush_interval_messages = INT64_MAX;
    /* Broker side, log.flush.interval.ms unset (-1) means never. */
    o->log.flush_interval_ms = get_i64(bc, keys, vals, n, "flush.ms", INT64_MAX, ctx);
    if (o->log.flush_interval_ms < 0) o->log.flush_interval_ms = INT64_MAX;
    o->retention_ms = get_i64(bc, keys, vals, n, "retention.ms", bc->log_retention_ms, ctx);
    o->retention_bytes = get_i64(bc, keys, vals, n, "retention.bytes", bc->log_retention_bytes, ctx);
    const char *pol = value_of(bc, keys, vals, n, "cleanup.policy", buf, sizeof(buf));
    o->cleanup_delete = strstr(pol, "delete") != NULL;
    o->cleanup_compact = strstr(pol, "compact") != NULL;
    o->delete_retention_ms =
        get_i64(bc, keys, vals, n, "delete.retention.ms", bc->log_cleaner_delete_retention_ms, ctx);
    o->min_cleanable_dirty_ratio =
        get_double(bc, keys, vals, n, "min.cleanable.dirty.ratio", bc->log_cleaner_min_cleanable_ratio, ctx);
    o->min_compaction_lag_ms =
        get_i64(bc, keys, vals, n, "min.compaction.lag.ms", bc->log_cleaner_min_compaction_lag_ms, ctx);
    o->file_delete_delay_ms = get_i64(bc, keys, vals, n, "file.delete.delay.ms", bc->file_delete_delay_ms, ctx);
    o->max_message_bytes = (int32_t)get_i64(bc, keys, vals, n, "max.message.bytes", bc->message_max_bytes, ctx);
    const char *tt = value_of(bc, keys, vals, n, "message.timestamp.type", buf, sizeof(buf));
    o->log_append_time = !strcmp(tt, "LogAppendTime");
    o->compression_codec = compression_codec(value_of(bc, keys, vals, n, "compression.type", buf, sizeof(buf)));
    o->min_insync_replicas =
        (int32_t)get_i64(bc, keys, vals, n, "min.insync.replicas", bc->min_insync_replicas, ctx);
}

/* "retention.ms 604800000 -> 1000, cleanup.policy delete -> compact" */
static void describe_changes(const kn_topic_config_t *a, const kn_topic_config_t *b, char *out, size_t n) {
    size_t len = 0;
    out[0] = '\0';
#define CH_I64(name, field)                                                                                    \
    if ((int64_t)a->field != (int64_t)b->field && len < n)                                                     \
        len += (size_t)snprintf(out + len, n - len, "%s%s %" PRId64 " -> %" PRId64, len ? ", " : "", name,     \
                                (int64_t)a->field, (int64_t)b->field);
    CH_I64("segment.bytes", log.segment_bytes)
    CH_I64("segment.ms", log.segment_ms)
    CH_I64("index.interval.bytes", log.index_interval_bytes)
    CH_I64("segment.index.bytes", log.segment_index_bytes)
    CH_I64("flush.messages", log.flush_interval_messages)
    CH_I64("flush.ms", log.flush_interval_ms)
    CH_I64("retention.ms", retention_ms)
    CH_I64("retention.bytes", retention_bytes)
    CH_I64("cleanup.policy.delete", cleanup_delete)
    CH_I64("cleanup.policy.compact", cleanup_compact)
    CH_I64("delete.retention.ms", delete_retention_ms)
    CH_I64("min.compaction.lag.ms", min_compaction_lag_ms)
    CH_I64("file.delete.delay.ms", file_delete_delay_ms)
    CH_I64("max.message.bytes", max_message_bytes)
    CH_I64("message.timestamp.type.log_append", log_append_time)
    CH_I64("compression.codec", compression_codec)
    CH_I64("min.insync.replicas", min_insync_replicas)
#undef CH_I64
    if (a->min_cleanable_dirty_ratio != b->min_cleanable_dirty_ratio && len < n)
        snprintf(out + len, n - len, "%smin.cleanable.dirty.ratio %g -> %g", len ? ", " : "",
                 a->min_cleanable_dirty_ratio, b->min_cleanable_dirty_ratio);
}

void kn_partition__apply_config(kn_broker_t *b, kn_partition_t *p) {
    const char *const *keys = NULL, *const *vals = NULL;
    size_t n = b->cluster ? kn_cluster_topic_configs(b->cluster, p->topic, &keys, &vals) : 0;
    kn_topic_config_t nc;
    kn_topic_config_compute(b->cfg, keys, vals, n, p->name, &nc);
    if (p->tcfg_set) {
        char what[1024];
        describe_changes(&p->tcfg, &nc, what, sizeof(what));
        if (!what[0]) return;
        kn_log(KN_LOG_INFO, p->name, "config changed: %s", what);
    }
    p->tcfg = nc;
    p->tcfg_set = true;
    kn_plog_set_config(p->log, &nc.log);
}

void kn_topic_config__apply_all(kn_broker_t *b) {
    kn_configs__apply_broker(b); /* dynamic broker keys first: topic defaults derive from them */
    for (size_t i = 0; i < b->nparts; i++) kn_partition__apply_config(b, b->parts[i]);
}
