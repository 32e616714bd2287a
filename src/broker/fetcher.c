/* Replica fetchers: a follower pulls from each leader it follows with Fetch
 * v12 (replica id set), appends what it gets keeping the leader's offsets,
 * and cuts a divergent tail when the leader answers DivergingEpoch (KIP-320
 * through Fetch, as Kafka 3.x followers do). One fetcher per leader broker;
 * the next fetch goes out as soon as the previous reply is handled, and the
 * leader holds it until it has data (replica.fetch.wait.max.ms), so a new
 * record reaches followers within one round trip of its append. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/cluster/ibclient.h"
#include "kanal/proto/batch.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/fetch.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

#define KN_REPLICA_FETCH_VERSION 12
#define KN_FETCHER_ERROR_BACKOFF_MS 200
#define KN_FETCHER_TRANSITION_BACKOFF_MS 10

struct kn_fetcher_s {
    kn_fetcher_t *next;
    kn_broker_t *b;
    int32_t leader;
    kn_ib_t *ib;
    bool inflight;
    bool dead;        /* closed; freed when the in-flight reply returns */
    uv_timer_t timer; /* backoff */
    bool timer_armed;
};

static void fetcher_send(kn_fetcher_t *f);

static bool follows(const kn_broker_t *b, const kn_partition_t *p, int32_t leader) {
    return !p->is_leader && p->leader == leader && p->leader >= 0 && p->leader != b->cfg->broker_id;
}

static const kn_broker_meta_t *broker_meta(kn_broker_t *b, int32_t id) {
    const kn_broker_meta_t *bm = NULL;
    size_t n = kn_cluster_brokers(b->cluster, &bm);
    for (size_t i = 0; i < n; i++)
        if (bm[i].id == id) return &bm[i];
    return NULL;
}

static void timer_cb(uv_timer_t *t) {
    kn_fetcher_t *f = t->data;
    f->timer_armed = false;
    fetcher_send(f);
}

static void backoff(kn_fetcher_t *f, uint64_t ms) {
    if (f->timer_armed || f->dead) return;
    f->timer_armed = true;
    uv_timer_start(&f->timer, timer_cb, ms, 0);
}

static void timer_closed(uv_handle_t *h) { kn_free(h->data); }

static void fetcher_free(kn_fetcher_t *f) {
    kn_ib_close(f->ib);
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, timer_closed);
}

/* Append the whole, CRC-valid batches of a fetched records blob. */
static int append_fetched(kn_broker_t *b, kn_partition_t *p, const uint8_t *data, size_t len) {
    kn_batch_iter_t it;
    kn_batch_hdr_t h;
    const uint8_t *batch;
    size_t sz, good = 0;
    kn_batch_iter_init(&it, data, len);
    while (kn_batch_iter_next(&it, &h, &batch, &sz) == 1) {
        if (h.magic != 2 || !kn_batch_crc_ok(batch, sz)) {
            kn_log(KN_LOG_ERROR, p->name, "leader sent a corrupt batch at offset %" PRId64 "; refetching",
                   h.base_offset);
            break;
        }
        good = (size_t)(batch - data) + sz;
    }
    if (good == 0) return 0;
    /* Record new epochs before the data, as the leader did. */
    kn_batch_iter_init(&it, data, good);
    while (kn_batch_iter_next(&it, &h, &batch, &sz) == 1)
        if (h.leader_epoch > kn_epoch_cache_latest(&p->epochs))
            kn_epoch_cache_assign(&p->epochs, h.leader_epoch, h.base_offset);
    int64_t base = 0, last = 0;
    int rc = kn_plog_append_replica(p->log, (uint8_t *)data, good, kn_now_ms(), &base, &last);
    if (rc < 0) {
        kn_log(KN_LOG_ERROR, p->name, "follower append at %" PRId64 " failed: %s", kn_plog_end_offset(p->log),
               kn_strerror(rc));
        return rc;
    }
    kn_pstate_update_blob(&p->pstate, data, good); /* so a new leader dedups retries */
    (void)b;
    return 0;
}

static void handle_partition(kn_fetcher_t *f, kn_partition_t *p, kn_FetchResponse_PartitionData_t *pd) {
    kn_broker_t *b = f->b;
    int64_t now = kn_mono_ms();
    bool transition = pd->error_code == KN_KERR_UNKNOWN_LEADER_EPOCH ||
                      pd->error_code == KN_KERR_FENCED_LEADER_EPOCH ||
                      pd->error_code == KN_KERR_NOT_LEADER_OR_FOLLOWER;
    if (!transition) p->fetch_err_streak = 0;
    switch (pd->error_code) {
    case KN_KERR_NONE: break;
    case KN_KERR_UNKNOWN_LEADER_EPOCH:
    case KN_KERR_FENCED_LEADER_EPOCH:
    case KN_KERR_NOT_LEADER_OR_FOLLOWER: {
        /* Leadership in transition: one side has not processed its
         * LeaderAndIsr yet (or this fetch left before ours arrived: the
         * controller bumps the leader epoch when it takes a shutting-down
         * broker out of the ISR). It is usually settled a few milliseconds
         * later, and an acks=all produce on the leader waits for this
         * fetch: retry after 10 ms, doubling up to the usual 200. */
        int shift = p->fetch_err_streak < 5 ? p->fetch_err_streak : 5;
        int64_t ms = (int64_t)KN_FETCHER_TRANSITION_BACKOFF_MS << shift;
        if (ms > KN_FETCHER_ERROR_BACKOFF_MS) ms = KN_FETCHER_ERROR_BACKOFF_MS;
        p->fetch_err_streak++;
        kn_dbg(KN_DBG_REPL, p->name, "leader %d answered %s; retrying in %" PRId64 " ms", f->leader,
               kn_kerr_name(pd->error_code), ms);
        p->fetch_backoff_until_ms = now + ms;
        return;
    }
    case KN_KERR_OFFSET_OUT_OF_RANGE: {
        int64_t leo = kn_plog_end_offset(p->log);
        if (pd->log_start_offset >= 0 && leo < pd->log_start_offset) {
            kn_log(KN_LOG_WARN, p->name, "log end %" PRId64 " is below the leader's log start %" PRId64
                                         "; restarting the replica there", leo, pd->log_start_offset);
            kn_plog_truncate_to(p->log, pd->log_start_offset);
            kn_epoch_cache_clear(&p->epochs);
            kn_broker__pstate_reload(b, p);
        } else {
            kn_log(KN_LOG_WARN, p->name, "fetch at %" PRId64 " out of range on leader %d; backing off", leo,
                   f->leader);
            p->fetch_backoff_until_ms = now + 1000;
        }
        return;
    }
    default:
        kn_dbg(KN_DBG_REPL, p->name, "leader %d answered %s; backing off", f->leader, kn_kerr_name(pd->error_code));
        p->fetch_backoff_until_ms = now + KN_FETCHER_ERROR_BACKOFF_MS;
        return;
    }
    if (pd->diverging_epoch.epoch >= 0 && pd->diverging_epoch.end_offset >= 0) {
        int64_t leo = kn_plog_end_offset(p->log);
        /* Kafka's rule: cut at the smaller of where the leader's epoch
         * ended and where our own copy of that epoch ends. */
        int32_t own_e = -1;
        int64_t own_end = -1;
        kn_epoch_cache_end_offset(&p->epochs, pd->diverging_epoch.epoch, leo, &own_e, &own_end);
        int64_t to = pd->diverging_epoch.end_offset < leo ? pd->diverging_epoch.end_offset : leo;
        if (own_e >= 0 && own_end >= 0 && own_end < to) to = own_end;
        kn_log(KN_LOG_WARN, p->name,
               "log diverges from leader %d at epoch %d: truncating from %" PRId64 " to %" PRId64, f->leader,
               pd->diverging_epoch.epoch, leo, to);
        /* The same cut again right after the last one means the leader's
         * answer and our copy disagree in a way truncation does not fix:
         * back off instead of spinning (it clears when leadership moves). */
        if (to == p->last_trunc_to && now - p->last_trunc_ms < 1000) {
            kn_log(KN_LOG_ERROR, p->name, "divergence at %" PRId64 " repeats after truncation; backing off", to);
            p->fetch_backoff_until_ms = now + 1000;
        }
        p->last_trunc_to = to;
        p->last_trunc_ms = now;
        int trc = kn_plog_truncate_to(p->log, to);
        if (trc != 0) {
            kn_log(KN_LOG_ERROR, p->name, "truncation to %" PRId64 " failed: %s", to, kn_strerror(trc));
            p->fetch_backoff_until_ms = now + 1000;
            return;
        }
        kn_epoch_cache_truncate_from(&p->epochs, kn_plog_end_offset(p->log));
        kn_broker__pstate_reload(b, p); /* drop producer state past the new end */
        if (p->high_watermark > kn_plog_end_offset(p->log)) p->high_watermark = kn_plog_end_offset(p->log);
        return;
    }
    if (pd->records.len > 0 && pd->records.p) {
        if (append_fetched(b, p, pd->records.p, (size_t)pd->records.len) < 0) {
            p->fetch_backoff_until_ms = now + 1000;
            return;
        }
    }
    int64_t leo = kn_plog_end_offset(p->log);
    int64_t hw = pd->high_watermark < leo ? pd->high_watermark : leo;
    if (hw > p->high_watermark) p->high_watermark = hw;
}

static void fetch_reply(void *arg, int status, kn_rd_t *body) {
    kn_fetcher_t *f = arg;
    f->inflight = false;
    if (f->dead) {
        fetcher_free(f);
        return;
    }
    kn_broker_t *b = f->b;
    if (status != 0) {
        kn_dbg(KN_DBG_REPL, NULL, "fetch from leader %d failed: %s", f->leader, kn_strerror(status));
        backoff(f, (uint64_t)b->cfg->replica_fetch_backoff_ms);
        return;
    }
    kn_arena_t a;
    kn_arena_init(&a);
    kn_FetchResponse_t resp;
    if (kn_FetchResponse_decode(body, KN_REPLICA_FETCH_VERSION, &a, &resp) != 0) {
        kn_log(KN_LOG_ERROR, NULL, "cannot decode fetch reply from leader %d", f->leader);
        kn_arena_reset(&a);
        backoff(f, (uint64_t)b->cfg->replica_fetch_backoff_ms);
        return;
    }
    if (resp.error_code) {
        kn_dbg(KN_DBG_REPL, NULL, "leader %d: fetch error %s", f->leader, kn_kerr_name(resp.error_code));
        kn_arena_reset(&a);
        backoff(f, KN_FETCHER_ERROR_BACKOFF_MS);
        return;
    }
    for (int32_t i = 0; i < resp.responses_count; i++) {
        kn_FetchResponse_FetchableTopicResponse_t *tr = &resp.responses[i];
        for (int32_t j = 0; j < tr->partitions_count; j++) {
            kn_FetchResponse_PartitionData_t *pd = &tr->partitions[j];
            kn_partition_t *p = kn_broker__partition(b, tr->topic.p, (size_t)tr->topic.len, pd->partition_index);
            if (!p || !follows(b, p, f->leader)) continue;
            handle_partition(f, p, pd);
        }
    }
    kn_arena_reset(&a);
    fetcher_send(f);
}

static int cmp_topic(const void *a, const void *b) {
    const kn_partition_t *pa = *(kn_partition_t *const *)a, *pb = *(kn_partition_t *const *)b;
    int c = strcmp(pa->topic, pb->topic);
    return c ? c : (pa->partition > pb->partition) - (pa->partition < pb->partition);
}

static void fetcher_send(kn_fetcher_t *f) {
    kn_broker_t *b = f->b;
    if (f->inflight || f->dead || b->stopping) return;
    const kn_broker_meta_t *lm = broker_meta(b, f->leader);
    if (!lm) {
        backoff(f, (uint64_t)b->cfg->replica_fetch_backoff_ms);
        return;
    }
    kn_ib_set_addr(f->ib, lm->host, lm->port);
    int64_t now = kn_mono_ms();
    /* Group this leader's partitions by topic. */
    size_t n = 0;
    kn_partition_t **ps = kn_malloc(sizeof(*ps) * (b->nparts ? b->nparts : 1));
    int64_t earliest_retry = INT64_MAX;
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        if (!follows(b, p, f->leader)) continue;
        if (p->fetch_backoff_until_ms > now) {
            if (p->fetch_backoff_until_ms < earliest_retry) earliest_retry = p->fetch_backoff_until_ms;
            continue;
        }
        ps[n++] = p;
    }
    if (n == 0) {
        kn_free(ps);
        if (earliest_retry != INT64_MAX) backoff(f, (uint64_t)(earliest_retry - now));
        return;
    }
    kn_FetchRequest_t req;
    kn_FetchRequest_init(&req);
    req.replica_id = b->cfg->broker_id;
    req.max_wait_ms = b->cfg->replica_fetch_wait_max_ms;
    req.min_bytes = b->cfg->replica_fetch_min_bytes;
    req.max_bytes = b->cfg->replica_fetch_response_max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    /* Group by topic: sort, then one FetchTopic per run of equal names. */
    qsort(ps, n, sizeof(*ps), cmp_topic);
    kn_FetchRequest_FetchTopic_t *topics = kn_calloc(n, sizeof(*topics));
    kn_FetchRequest_FetchPartition_t *parts = kn_calloc(n, sizeof(*parts));
    int32_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        kn_partition_t *p = ps[i];
        if (i == 0 || strcmp(ps[i - 1]->topic, p->topic) != 0) {
            kn_FetchRequest_FetchTopic_t *t = &topics[nt++];
            kn_FetchRequest_FetchTopic_init(t);
            t->topic = (kn_str_t){p->topic, (int32_t)strlen(p->topic)};
            t->topic_id = p->topic_id;
            t->partitions = &parts[i];
            t->partitions_count = 0;
        }
        kn_FetchRequest_FetchTopic_t *t = &topics[nt - 1];
        kn_FetchRequest_FetchPartition_t *fp = &parts[i];
        kn_FetchRequest_FetchPartition_init(fp);
        fp->partition = p->partition;
        fp->current_leader_epoch = p->leader_epoch;
        fp->fetch_offset = kn_plog_end_offset(p->log);
        fp->last_fetched_epoch = kn_epoch_cache_latest(&p->epochs);
        fp->log_start_offset = kn_plog_start_offset(p->log);
        fp->partition_max_bytes = b->cfg->replica_fetch_max_bytes;
        t->partitions_count++;
    }
    req.topics = topics;
    req.topics_count = nt;
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ib_begin(f->ib, &w, KN_API_FETCH, KN_REPLICA_FETCH_VERSION);
    kn_FetchRequest_encode(&w, KN_REPLICA_FETCH_VERSION, &req);
    kn_free(topics);
    kn_free(parts);
    kn_free(ps);
    f->inflight = true;
    kn_ib_send(f->ib, &w, (int64_t)b->cfg->replica_fetch_wait_max_ms + b->cfg->replica_socket_timeout_ms,
               fetch_reply, f);
}

void kn_fetcher__sync(kn_broker_t *b) {
    if (b->stopping) return;
    /* Fetchers for every leader we follow. */
    for (size_t i = 0; i < b->nparts; i++) {
        kn_partition_t *p = b->parts[i];
        if (p->is_leader || p->leader < 0 || p->leader == b->cfg->broker_id) continue;
        kn_fetcher_t *f = b->fetchers;
        while (f && f->leader != p->leader) f = f->next;
        if (!f) {
            f = kn_calloc(1, sizeof(*f));
            f->b = b;
            f->leader = p->leader;
            char cid[64], ctx[64];
            snprintf(cid, sizeof(cid), "kanal-replica-%d", b->cfg->broker_id);
            snprintf(ctx, sizeof(ctx), "fetcher leader %d", p->leader);
            const kn_broker_meta_t *lm = broker_meta(b, p->leader);
            f->ib = kn_ib_new(b->loop, p->leader, lm ? lm->host : "127.0.0.1", lm ? lm->port : 0, cid, ctx);
            uv_timer_init(b->loop, &f->timer);
            f->timer.data = f;
            f->next = b->fetchers;
            b->fetchers = f;
            kn_log(KN_LOG_INFO, NULL, "started replica fetcher for leader %d", p->leader);
        }
    }
    /* Drop fetchers with nothing to fetch; kick the others. */
    kn_fetcher_t **pp = &b->fetchers;
    while (*pp) {
        kn_fetcher_t *f = *pp;
        bool used = false;
        for (size_t i = 0; i < b->nparts && !used; i++) used = follows(b, b->parts[i], f->leader);
        if (!used) {
            *pp = f->next;
            kn_log(KN_LOG_INFO, NULL, "stopped replica fetcher for leader %d", f->leader);
            f->dead = true;
            if (!f->inflight) fetcher_free(f);
            else kn_ib_reset(f->ib); /* its reply fails now and frees it */
            continue;
        }
        if (!f->inflight && !f->timer_armed) fetcher_send(f);
        pp = &f->next;
    }
}

void kn_fetcher__kick(kn_broker_t *b) {
    for (kn_fetcher_t *f = b->fetchers; f; f = f->next)
        if (!f->inflight && !f->timer_armed) fetcher_send(f);
}

void kn_fetcher__close_all(kn_broker_t *b) {
    while (b->fetchers) {
        kn_fetcher_t *f = b->fetchers;
        b->fetchers = f->next;
        f->dead = true;
        if (!f->inflight) fetcher_free(f);
        else kn_ib_reset(f->ib);
    }
}
