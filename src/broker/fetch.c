/* Fetch and the fetch purgatory.
 *
 * A Fetch that finds fewer than min_bytes parks on the broker's list and is
 * re-tried as soon as any partition it reads gets an append (so end-to-end
 * latency is not bounded below by max_wait_ms), or answered when its
 * max_wait_ms runs out. Record bytes are not copied: the reply carries file
 * ranges of segment files that the connection sends with sendfile(), and the
 * request holds a reference on each segment until the reply is written. */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/fetch.h"
#include "kanal/log/epoch.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

typedef struct fetch_state_s {
    kn_FetchRequest_t req;
    int64_t deadline_ns;
    bool parked;
    bool follower_noted; /* follower position recorded (first attempt) */
} fetch_state_t;

static void *falloc(kn_req_t *r, size_t n) {
    void *p = kn_arena_alloc(&r->arena, n ? n : 1);
    if (!p) {
        kn_log(KN_LOG_ERROR, r->cl ? r->cl->ctx : NULL, "out of memory building a fetch reply");
        abort();
    }
    return p;
}

static void rearm_timer(kn_broker_t *b);

#define KN_FETCH_CATCH_UP_WAIT_MS 10
static bool owes_unread(kn_broker_t *b, const fetch_state_t *st);

static void unpark(kn_broker_t *b, kn_req_t *r) {
    kn_req_t **pp = &b->parked;
    while (*pp) {
        if (*pp == r) {
            *pp = r->park_next;
            r->park_next = NULL;
            ((fetch_state_t *)r->state)->parked = false;
            return;
        }
        pp = &(*pp)->park_next;
    }
}

/* Build the reply. When complete is false and the data found is below
 * min_bytes (and nothing needs reporting), nothing is kept and false is
 * returned: the caller parks the request. */
static bool fetch_try(kn_req_t *r, bool complete) {
    kn_broker_t *b = r->b;
    fetch_state_t *st = r->state;
    kn_FetchRequest_t *req = &st->req;
    kn_FetchResponse_t resp;
    kn_FetchResponse_init(&resp);
    int32_t nt = req->topics_count < 0 ? 0 : req->topics_count;
    resp.responses = falloc(r, sizeof(*resp.responses) * (size_t)nt);
    resp.responses_count = nt;
    int64_t total = 0;
    bool have_error = false;
    /* Parked fetches are also answered from timers and wakes: look at the
     * clock once per attempt, before answering as a leader. */
    kn_broker__check_stall(r->b);
    int32_t max_bytes = req->max_bytes > 0 ? req->max_bytes : 0x7fffffff;
    bool replica = req->replica_id >= 0;
    /* Reads done in this attempt, to keep or release. */
    size_t nreads = 0, cap = 0;
    kn_plog_read_t *reads = NULL;
    for (int32_t i = 0; i < nt; i++) {
        kn_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        kn_FetchResponse_FetchableTopicResponse_t *tr = &resp.responses[i];
        kn_FetchResponse_FetchableTopicResponse_init(tr);
        tr->topic = ft->topic;
        tr->topic_id = ft->topic_id;
        int32_t np = ft->partitions_count < 0 ? 0 : ft->partitions_count;
        tr->partitions = falloc(r, sizeof(*tr->partitions) * (size_t)np);
        tr->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            kn_FetchRequest_FetchPartition_t *fp = &ft->partitions[j];
            kn_FetchResponse_PartitionData_t *pd = &tr->partitions[j];
            kn_FetchResponse_PartitionData_init(pd);
            pd->partition_index = fp->partition;
            pd->high_watermark = -1;
            pd->last_stable_offset = -1;
            pd->log_start_offset = -1;
            pd->preferred_read_replica = -1;
            /* Empty, not null: clients read a -1 MessageSetSize as an error. */
            pd->records.p = (const uint8_t *)"";
            pd->records.len = 0;
            pd->records.fd = -1;
            pd->aborted_transactions_count = req->isolation_level == 1 ? 0 : -1;
            kn_partition_t *p = kn_broker__partition(b, ft->topic.p, (size_t)ft->topic.len, fp->partition);
            if (!p) {
                const kn_topic_meta_t *tm = kn_cluster_topic(b->cluster, ft->topic.p, (size_t)ft->topic.len);
                pd->error_code = (tm && fp->partition >= 0 && fp->partition < tm->npartitions)
                                     ? KN_KERR_NOT_LEADER_OR_FOLLOWER
                                     : KN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                have_error = true;
                continue;
            }
            if (!kn_broker__leads(b, p)) {
                pd->error_code = KN_KERR_NOT_LEADER_OR_FOLLOWER;
                have_error = true;
                continue;
            }
            if (r->api_version >= 9 && fp->current_leader_epoch >= 0 && fp->current_leader_epoch != p->leader_epoch) {
                pd->error_code = fp->current_leader_epoch > p->leader_epoch ? KN_KERR_UNKNOWN_LEADER_EPOCH
                                                                            : KN_KERR_FENCED_LEADER_EPOCH;
                have_error = true;
                continue;
            }
            int64_t hw = p->high_watermark;
            /* KIP-320 via Fetch v12: tell a fetcher where its last epoch
             * ended here if its log goes past that point. */
            if (r->api_version >= 12 && fp->last_fetched_epoch >= 0) {
                int32_t e = -1;
                int64_t end = -1;
                kn_epoch_cache_end_offset(&p->epochs, fp->last_fetched_epoch, kn_plog_end_offset(p->log), &e, &end);
                if (e < 0 && p->epochs.n > 0) {
                    /* Older than every epoch we know: what precedes our
                     * first epoch is common history. */
                    e = fp->last_fetched_epoch;
                    end = p->epochs.e[0].start_offset;
                }
                if (e >= 0 && (e != fp->last_fetched_epoch || end < fp->fetch_offset)) {
                    pd->diverging_epoch.epoch = e;
                    pd->diverging_epoch.end_offset = end;
                    pd->high_watermark = hw;
                    pd->last_stable_offset = hw;
                    pd->log_start_offset = kn_plog_start_offset(p->log);
                    have_error = true;
                    continue;
                }
            }
            if (replica) {
                if (!st->follower_noted) kn_replica__follower_fetched(b, p, req->replica_id, fp->fetch_offset);
                hw = p->high_watermark; /* may have moved */
            }
            pd->high_watermark = hw;
            pd->last_stable_offset = hw; /* no transactions: LSO = HW */
            pd->log_start_offset = kn_plog_start_offset(p->log);
            if (fp->fetch_offset < pd->log_start_offset || fp->fetch_offset > kn_plog_end_offset(p->log)) {
                pd->error_code = KN_KERR_OFFSET_OUT_OF_RANGE;
                have_error = true;
                continue;
            }
            /* Followers read up to the log end, consumers up to the HW. */
            int64_t upto = replica ? kn_plog_end_offset(p->log) : hw;
            if (fp->fetch_offset >= upto) continue;
            int32_t limit = fp->partition_max_bytes;
            int64_t room = (int64_t)max_bytes - total;
            if (room < limit) limit = (int32_t)(room > 0 ? room : 0);
            /* KIP-74: the first non-empty partition returns at least one
             * batch even past max_bytes; later ones respect it. */
            if (limit <= 0 && total > 0) continue;
            kn_plog_read_t rd;
            int rc = kn_plog_read(p->log, fp->fetch_offset, limit > 0 ? limit : 1, upto, &rd);
            if (rc == KN_ERANGE) {
                pd->error_code = KN_KERR_OFFSET_OUT_OF_RANGE;
                have_error = true;
                continue;
            }
            if (rc < 0) {
                kn_log(KN_LOG_ERROR, p->name, "read at offset %lld failed: %s", (long long)fp->fetch_offset,
                       kn_strerror(rc));
                pd->error_code = KN_KERR_KAFKA_STORAGE_ERROR;
                have_error = true;
                continue;
            }
            if (rd.len <= 0) continue;
            /* Clients below Fetch v10 cannot read zstd (KIP-110). */
            if (r->api_version < 10 && kn_broker__range_has_zstd(&rd)) {
                kn_plog_read_release(&rd);
                pd->error_code = KN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
                have_error = true;
                continue;
            }
            if (nreads == cap) {
                cap = cap ? cap * 2 : 8;
                reads = kn_realloc(reads, cap * sizeof(*reads));
            }
            reads[nreads++] = rd;
            pd->records.p = NULL;
            pd->records.fd = rd.fd;
            pd->records.file_off = rd.file_pos;
            pd->records.len = rd.len;
            total += rd.len;
        }
    }
    st->follower_noted = true;
    bool enough = have_error || total >= (int64_t)req->min_bytes;
    if (!complete && !enough) {
        for (size_t k = 0; k < nreads; k++) kn_plog_read_release(&reads[k]);
        kn_free(reads);
        return false;
    }
    /* The request now owns the segment references until the reply is sent. */
    for (size_t k = 0; k < nreads; k++) {
        kn_req__hold_segment(r, reads[k].seg);
        kn_plog_read_release(&reads[k]);
    }
    kn_free(reads);
    kn_req__begin_response(r);
    kn_FetchResponse_encode(&r->resp, r->api_version, &resp);
    kn_metrics__fetched(&resp, replica);
    kn_req__finish(r);
    return true;
}

static void fetch_free(kn_req_t *r) {
    fetch_state_t *st = r->state;
    if (st && st->parked) unpark(r->b, r);
}

int kn_h_fetch(kn_req_t *r) {
    kn_broker_t *b = r->b;
    fetch_state_t *st = kn_arena_alloc(&r->arena, sizeof(*st));
    if (!st) return KN_ENOMEM;
    kn_rd_t rd;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    int rc = kn_FetchRequest_decode(&rd, r->api_version, &r->arena, &st->req);
    if (rc) return rc;
    r->state = st;
    r->on_free = fetch_free;
    /* Fetch sessions (KIP-227): we never create one (session id 0 means
     * "full fetches only"); an incremental request for an unknown session
     * gets FETCH_SESSION_ID_NOT_FOUND so the client falls back. */
    if (r->api_version >= 7 && st->req.session_id != 0) {
        kn_FetchResponse_t resp;
        kn_FetchResponse_init(&resp);
        resp.error_code = KN_KERR_FETCH_SESSION_ID_NOT_FOUND;
        resp.responses_count = 0;
        kn_req__begin_response(r);
        kn_FetchResponse_encode(&r->resp, r->api_version, &resp);
        kn_req__finish(r);
        return 0;
    }
    int32_t wait = st->req.max_wait_ms;
    /* A follower that does not read yet a partition it should, whose
     * records wait for it (a new leader here after a failover or controlled
     * shutdown; the follower has not processed its LeaderAndIsr yet), comes
     * back soon with the partition instead of in replica.fetch.wait.max.ms. */
    if (st->req.replica_id >= 0 && wait > KN_FETCH_CATCH_UP_WAIT_MS && owes_unread(b, st))
        wait = KN_FETCH_CATCH_UP_WAIT_MS;
    if (fetch_try(r, wait <= 0 || b->stopping)) return 0;
    st->deadline_ns = kn_mono_ns() + (int64_t)wait * 1000000;
    st->parked = true;
    r->park_next = b->parked;
    b->parked = r;
    rearm_timer(b);
    return 0;
}

/* Wakes are deferred to an idle callback: a wake can come from inside a
 * fetch being answered (a follower's fetch moves the high watermark), and
 * answering a request may free it, so the parked list is never walked
 * re-entrantly. Each wake stamps the partition with a generation; the idle
 * pass re-tries parked fetches that read a partition stamped since the last
 * pass. */
static bool reads(const fetch_state_t *st, const kn_partition_t *p) {
    for (int32_t i = 0; i < st->req.topics_count; i++) {
        const kn_FetchRequest_FetchTopic_t *ft = &st->req.topics[i];
        if ((size_t)ft->topic.len != strlen(p->topic) || memcmp(ft->topic.p, p->topic, (size_t)ft->topic.len)) continue;
        for (int32_t j = 0; j < ft->partitions_count; j++)
            if (ft->partitions[j].partition == p->partition) return true;
    }
    return false;
}

/* A partition led here, appended to since the last pass, that this
 * follower replicates but its parked fetch does not read. */
static bool foreign_wake(kn_broker_t *b, const fetch_state_t *st, uint64_t since) {
    for (size_t i = 0; i < b->nparts; i++) {
        const kn_partition_t *p = b->parts[i];
        if (p->wake_gen <= since || !p->is_leader) continue;
        bool follows = false;
        for (int32_t k = 0; k < p->nreplicas && !follows; k++) follows = p->replicas[k] == st->req.replica_id;
        if (follows && !reads(st, p)) return true;
    }
    return false;
}

/* A partition led here that this follower replicates, does not read in
 * this fetch, and whose high watermark waits (ISR members behind). */
static bool owes_unread(kn_broker_t *b, const fetch_state_t *st) {
    for (size_t i = 0; i < b->nparts; i++) {
        const kn_partition_t *p = b->parts[i];
        if (!p->is_leader || p->high_watermark >= kn_plog_end_offset(p->log)) continue;
        bool follows = false;
        for (int32_t k = 0; k < p->nisr && !follows; k++) follows = p->isr[k] == st->req.replica_id;
        if (follows && !reads(st, p)) return true;
    }
    return false;
}

static void wake_idle_cb(uv_idle_t *h) {
    kn_broker_t *b = h->data;
    uv_idle_stop(h);
    uint64_t since = b->wake_done_gen;
    b->wake_done_gen = b->wake_gen;
    kn_req_t *list = b->parked;
    b->parked = NULL;
    while (list) {
        kn_req_t *r = list;
        list = r->park_next;
        r->park_next = NULL;
        fetch_state_t *st = r->state;
        st->parked = false;
        bool woken = false;
        for (int32_t i = 0; i < st->req.topics_count && !woken; i++) {
            kn_FetchRequest_FetchTopic_t *ft = &st->req.topics[i];
            for (int32_t j = 0; j < ft->partitions_count && !woken; j++) {
                kn_partition_t *p =
                    kn_broker__partition(b, ft->topic.p, (size_t)ft->topic.len, ft->partitions[j].partition);
                if (!p || p->wake_gen > since) woken = true;
            }
        }
        /* A follower's parked fetch also returns (empty if need be) when a
         * partition it should follow but does not read yet gets an append:
         * it was added to that follower after the fetch parked (a new
         * leader after a failover or controlled shutdown), and acks=all on
         * it waits for the follower's next fetch. */
        bool complete = false;
        if (!woken && st->req.replica_id >= 0)
            complete = woken = foreign_wake(b, st, since);
        if (!woken || !fetch_try(r, complete)) {
            st->parked = true;
            r->park_next = b->parked;
            b->parked = r;
        }
    }
    rearm_timer(b);
}

void kn_fetch__wake(kn_broker_t *b, kn_partition_t *p) {
    p->wake_gen = ++b->wake_gen;
    if (!b->parked) {
        b->wake_done_gen = b->wake_gen;
        return;
    }
    b->wake_idle.data = b;
    uv_idle_start(&b->wake_idle, wake_idle_cb);
}

void kn_fetch__expire(kn_broker_t *b, int64_t now_ns) {
    kn_req_t *r = b->parked;
    while (r) {
        kn_req_t *next = r->park_next;
        fetch_state_t *st = r->state;
        if (st->deadline_ns <= now_ns || b->stopping) {
            unpark(b, r);
            fetch_try(r, true);
        }
        r = next;
    }
    rearm_timer(b);
}

static void fetch_timer_cb(uv_timer_t *t) {
    kn_broker_t *b = t->data;
    kn_fetch__expire(b, kn_mono_ns());
}

static void rearm_timer(kn_broker_t *b) {
    if (!b->parked) {
        uv_timer_stop(&b->fetch_timer);
        return;
    }
    int64_t min = INT64_MAX;
    for (kn_req_t *r = b->parked; r; r = r->park_next) {
        fetch_state_t *st = r->state;
        if (st->deadline_ns < min) min = st->deadline_ns;
    }
    int64_t now = kn_mono_ns();
    uint64_t ms = min <= now ? 0 : (uint64_t)((min - now + 999999) / 1000000);
    b->fetch_timer.data = b;
    uv_timer_start(&b->fetch_timer, fetch_timer_cb, ms, 0);
}

void kn_fetch__cancel_client(kn_broker_t *b, kn_client_t *cl) {
    kn_req_t **pp = &b->parked;
    while (*pp) {
        kn_req_t *r = *pp;
        if (r->cl == cl) {
            *pp = r->park_next;
            r->park_next = NULL;
            ((fetch_state_t *)r->state)->parked = false;
        } else {
            pp = &r->park_next;
        }
    }
    rearm_timer(b);
}
