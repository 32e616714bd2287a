/* What Kafka's LogValidator does to a partition's produced batches before
 * they are appended: per-topic max.message.bytes, zstd needs Produce >= 7,
 * compressed batches decompressed (bounded) and their records walked like
 * uncompressed ones, recompression when the topic's compression.type is not
 * "producer", and LogAppendTime (maxTimestamp = broker clock, fresh CRC).
 * Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/compress.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/buf.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

/* A topic config value without a partition at hand: the /config/topics/<t>
 * override from the metadata cache, else the broker default. Partitions use
 * their effective config (p->tcfg, topic_config.c) instead. */
const char *kn_broker__topic_config(kn_broker_t *b, const char *topic, const char *key, char *buf,
                                    size_t n) {
    const char *const *keys, *const *vals;
    size_t nc = kn_cluster_topic_configs(b->cluster, topic, &keys, &vals);
    for (size_t i = 0; i < nc; i++) {
        if (strcmp(keys[i], key) == 0) {
            snprintf(buf, n, "%s", vals[i]);
            return buf;
        }
    }
    if (kn_topic_config_default(b->cfg, key, buf, n) < 0) buf[0] = '\0';
    return buf;
}

void kn_produce__prep_free(kn_produce_prep_t *pp) {
    kn_free(pp->owned);
    pp->owned = NULL;
}

/* Append n bytes to the rebuilt blob (kn_trymalloc'd, grows). */
static int out_put(kn_produce_prep_t *pp, size_t *cap, const uint8_t *p, size_t n) {
    if (pp->len + n > *cap) {
        size_t nc = (*cap ? *cap : 4096);
        while (nc < pp->len + n) nc *= 2;
        uint8_t *np = kn_tryrealloc(pp->owned, nc);
        if (!np) return KN_ENOMEM;
        pp->owned = np;
        *cap = nc;
    }
    memcpy(pp->owned + pp->len, p, n);
    pp->len += n;
    return 0;
}

int16_t kn_produce__prepare(kn_req_t *r, kn_partition_t *p, uint8_t *data, size_t len, kn_produce_prep_t *pp) {
    kn_broker_t *b = r->b;
    memset(pp, 0, sizeof(*pp));
    pp->data = data;
    pp->len = len;
    pp->log_append_time = -1;
    int target;
    int32_t max_bytes;
    if (p->tcfg_set) { /* topic_config.c: effective per-topic settings, kept current on config changes */
        target = p->tcfg.compression_codec;
        max_bytes = p->tcfg.max_message_bytes;
        if (p->tcfg.log_append_time) pp->log_append_time = kn_now_ms();
    } else {
        char v[64];
        if (kn_compression_parse(kn_broker__topic_config(b, p->topic, "compression.type", v, sizeof(v)), &target) < 0)
            target = -1;
        max_bytes = atoi(kn_broker__topic_config(b, p->topic, "max.message.bytes", v, sizeof(v)));
        if (strcmp(kn_broker__topic_config(b, p->topic, "message.timestamp.type", v, sizeof(v)), "LogAppendTime") == 0)
            pp->log_append_time = kn_now_ms();
    }
    if (max_bytes <= 0) max_bytes = b->cfg->message_max_bytes;

    int16_t kerr = 0;
    if (kn_batches_validate(data, len, max_bytes, &pp->info, &kerr) < 0) {
        kn_log(KN_LOG_WARN, r->cl->ctx, "%s: rejected produce of %zu bytes: %s", p->name, len, kn_kerr_name(kerr));
        return kerr ? kerr : KN_KERR_CORRUPT_MESSAGE;
    }

    /* First pass: decide whether anything must be rebuilt. */
    bool rebuild = false;
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *bp;
    size_t sz;
    kn_batch_iter_init(&it, data, len);
    while (kn_batch_iter_next(&it, &h, &bp, &sz) == 1) {
        int codec = h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK;
        /* Kafka checks every batch, not just the first. */
        if (codec == KN_COMPRESSION_ZSTD && r->api_version < 7) return KN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
        if (target >= 0 && target != codec) rebuild = true;
    }

    size_t cap = 0;
    if (rebuild) pp->len = 0; /* from here on: bytes written to owned */
    kn_batch_iter_init(&it, data, len);
    while (kn_batch_iter_next(&it, &h, &bp, &sz) == 1) {
        int codec = h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK;
        int want = target >= 0 ? target : codec;
        if (codec == KN_COMPRESSION_NONE && !rebuild) {
            /* Records already walked by kn_batches_validate. */
            if (pp->log_append_time >= 0) kn_batch_set_log_append_time((uint8_t *)bp, sz, pp->log_append_time);
            continue;
        }
        const uint8_t *recs;
        size_t rlen;
        uint8_t *dec = NULL;
        int rc = kn_batch_records(bp, sz, KN_DECOMPRESS_CAP_DEFAULT, &recs, &rlen, &dec);
        if (rc == 0 && codec != KN_COMPRESSION_NONE && kn_batch_walk_records(recs, rlen, h.records_count) < 0)
            rc = KN_EINVAL;
        if (rc < 0) {
            kn_free(dec);
            kn_produce__prep_free(pp);
            int16_t e = rc == KN_ENOMEM  ? KN_KERR_UNKNOWN_SERVER_ERROR
                        : rc == KN_EINVAL ? KN_KERR_INVALID_RECORD
                                          : KN_KERR_CORRUPT_MESSAGE;
            kn_log(KN_LOG_WARN, r->cl->ctx, "%s: rejected %s batch of %zu bytes: %s (%s)", p->name,
                   kn_compression_name(codec), sz, rc == KN_EINVAL ? "records do not parse" : kn_strerror(rc),
                   kn_kerr_name(e));
            return e;
        }
        if (!rebuild) {
            kn_free(dec);
            if (pp->log_append_time >= 0) kn_batch_set_log_append_time((uint8_t *)bp, sz, pp->log_append_time);
            continue;
        }
        uint8_t *nb = NULL;
        size_t nsz = 0;
        if (want == codec) {
            rc = out_put(pp, &cap, bp, sz);
            if (rc == 0 && pp->log_append_time >= 0)
                kn_batch_set_log_append_time(pp->owned + pp->len - sz, sz, pp->log_append_time);
        } else {
            rc = kn_batch_rebuild(bp, sz, recs, rlen, want, pp->log_append_time, &nb, &nsz);
            if (rc == 0 && nsz > (size_t)max_bytes) rc = KN_ETOOBIG;
            if (rc == 0) rc = out_put(pp, &cap, nb, nsz);
        }
        kn_free(nb);
        kn_free(dec);
        if (rc < 0) {
            kn_produce__prep_free(pp);
            kn_log(KN_LOG_WARN, p->name, "recompressing a %s batch to %s failed: %s", kn_compression_name(codec),
                   kn_compression_name(want), kn_strerror(rc));
            return rc == KN_ETOOBIG ? KN_KERR_MESSAGE_TOO_LARGE : KN_KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    if (rebuild) {
        pp->data = pp->owned;
        kn_dbg(KN_DBG_PROTO, p->name, "recompressed %zu bytes to %zu (%s)", len, pp->len,
                     kn_compression_name(target));
    }
    return 0;
}

bool kn_broker__range_has_zstd(const kn_plog_read_t *rd) {
    int64_t pos = rd->file_pos, end = rd->file_pos + rd->len;
    uint8_t hdr[KN_BATCH_HEADER_SIZE];
    while (pos + KN_BATCH_HEADER_SIZE <= end) {
        ssize_t n = pread(rd->fd, hdr, sizeof(hdr), (off_t)pos);
        if (n != (ssize_t)sizeof(hdr)) return false;
        kn_batch_hdr_t h;
        kn_batch_parse_header(hdr, sizeof(hdr), &h);
        if ((h.attributes & KN_BATCH_ATTR_COMPRESSION_MASK) == KN_COMPRESSION_ZSTD) return true;
        if (h.batch_length < KN_BATCH_MIN_LENGTH) return false;
        pos += kn_batch_size(&h);
    }
    return false;
}

int16_t kn_produce__check_idempotence(kn_req_t *r, kn_partition_t *p, const kn_produce_prep_t *pp, bool *is_dup,
                                      kn_pstate_batch_t *dup) {
    *is_dup = false;
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *bp;
    size_t sz;
    int64_t prev_pid = -1;
    int32_t prev_last = -1;
    int16_t prev_epoch = -1;
    kn_batch_iter_init(&it, pp->data, pp->len);
    while (kn_batch_iter_next(&it, &h, &bp, &sz) == 1) {
        if (h.producer_id < 0) continue;
        if (h.base_sequence < 0) return KN_KERR_INVALID_RECORD; /* idempotent batches carry a sequence */
        int32_t last_seq = (int32_t)(((int64_t)h.base_sequence + h.last_offset_delta) % ((int64_t)INT32_MAX + 1));
        int16_t kerr = 0;
        if (h.producer_id == prev_pid) {
            /* A later batch of the same producer in this request follows the previous one. */
            if (h.producer_epoch != prev_epoch || (int64_t)h.base_sequence != (int64_t)prev_last + 1)
                kerr = KN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        } else {
            int rc = kn_pstate_check(&p->pstate, h.producer_id, h.producer_epoch, h.base_sequence, last_seq, dup,
                                     &kerr);
            if (rc == KN_PSTATE_DUPLICATE) {
                kn_log(KN_LOG_INFO, r->cl->ctx, "%s: producer %lld epoch %d seq %d..%d is a duplicate of offsets "
                       "%lld..%lld: not appended", p->name, (long long)h.producer_id, h.producer_epoch,
                       h.base_sequence, last_seq, (long long)dup->first_offset, (long long)dup->last_offset);
                *is_dup = true;
                return 0;
            }
        }
        if (kerr) {
            const kn_pstate_entry_t *e = kn_pstate_find(&p->pstate, h.producer_id);
            kn_log(KN_LOG_WARN, r->cl->ctx, "%s: producer %lld epoch %d seq %d: %s (current epoch %d, last seq %d)",
                   p->name, (long long)h.producer_id, h.producer_epoch, h.base_sequence, kn_kerr_name(kerr),
                   e ? e->epoch : -1, e && e->nbatches ? e->b[e->nbatches - 1].last_seq : -1);
            return kerr;
        }
        prev_pid = h.producer_id;
        prev_epoch = h.producer_epoch;
        prev_last = last_seq;
    }
    return 0;
}

void kn_broker__pstate_reload(kn_broker_t *b, kn_partition_t *p) {
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", b->log_dir, p->name);
    kn_pstate_free(&p->pstate);
    kn_pstate_init(&p->pstate);
    kn_pstate_load(&p->pstate, dir, p->log, p->name);
}
