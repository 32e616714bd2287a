/* Connection-level request handling: header decoding, dispatch, in-order
 * replies and per-connection backpressure.
 *
 * Each frame becomes a kn_req_t appended to its client's queue. A handler
 * either finishes at once or parks (Fetch waiting for data, CreateTopics
 * waiting for metadata). Replies are sent strictly from the queue head, so a
 * parked Fetch holds back later replies on its connection, as in Kafka. */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/headers.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/time.h"

typedef int (*kn_handler_fn)(kn_req_t *r);

static kn_handler_fn handler_for(int16_t key) {
    switch (key) {
    case KN_API_API_VERSIONS: return kn_h_api_versions;
    case KN_API_METADATA: return kn_h_metadata;
    case KN_API_PRODUCE: return kn_h_produce;
    case KN_API_FETCH: return kn_h_fetch;
    case KN_API_LIST_OFFSETS: return kn_h_list_offsets;
    case KN_API_CREATE_TOPICS: return kn_h_create_topics;
    case KN_API_DELETE_TOPICS: return kn_h_delete_topics;
    case KN_API_DESCRIBE_CONFIGS: return kn_h_describe_configs;
    case KN_API_ALTER_CONFIGS: return kn_h_alter_configs;
    case KN_API_INCREMENTAL_ALTER_CONFIGS: return kn_h_incremental_alter_configs;
    case KN_API_CREATE_PARTITIONS: return kn_h_create_partitions;
    case KN_API_INIT_PRODUCER_ID: return kn_h_init_producer_id;
    case KN_API_FIND_COORDINATOR: return kn_h_find_coordinator;
    case KN_API_JOIN_GROUP: return kn_h_join_group;
    case KN_API_SYNC_GROUP: return kn_h_sync_group;
    case KN_API_HEARTBEAT: return kn_h_heartbeat;
    case KN_API_LEAVE_GROUP: return kn_h_leave_group;
    case KN_API_OFFSET_COMMIT: return kn_h_offset_commit;
    case KN_API_OFFSET_FETCH: return kn_h_offset_fetch;
    case KN_API_OFFSET_DELETE: return kn_h_offset_delete;
    case KN_API_DESCRIBE_GROUPS: return kn_h_describe_groups;
    case KN_API_LIST_GROUPS: return kn_h_list_groups;
    case KN_API_DELETE_GROUPS: return kn_h_delete_groups;
    case KN_API_DELETE_RECORDS: return kn_h_delete_records;
    case KN_API_LEADER_AND_ISR: return kn_h_leader_and_isr;
    case KN_API_UPDATE_METADATA: return kn_h_update_metadata;
    case KN_API_STOP_REPLICA: return kn_h_stop_replica;
    case KN_API_ALTER_PARTITION: return kn_h_alter_partition;
    case KN_API_CONTROLLED_SHUTDOWN: return kn_h_controlled_shutdown;
    case KN_API_ELECT_LEADERS: return kn_h_elect_leaders;
    case KN_API_ALLOCATE_PRODUCER_IDS: return kn_h_allocate_producer_ids;
    case KN_API_OFFSET_FOR_LEADER_EPOCH: return kn_h_offset_for_leader_epoch;
    default: return NULL;
    }
}

char *kn_req__cstr(kn_req_t *r, kn_str_t s) {
    if (s.len < 0) return NULL;
    char *p = kn_arena_strndup(&r->arena, s.p ? s.p : "", (size_t)s.len);
    return p;
}

static void req_free(kn_req_t *r) {
    if (r->on_free) r->on_free(r);
    kn_held_seg_t *h = r->held;
    while (h) {
        kn_held_seg_t *n = h->next;
        kn_segment_release(h->seg);
        kn_free(h);
        h = n;
    }
    kn_wbuf_free(&r->resp);
    kn_arena_reset(&r->arena);
    kn_free(r->frame);
    kn_free(r);
}

void kn_req__hold_segment(kn_req_t *r, kn_segment_t *seg) {
    kn_held_seg_t *h = kn_malloc(sizeof(*h));
    kn_segment_keep(seg);
    h->seg = seg;
    h->next = r->held;
    r->held = h;
}

static void client_maybe_resume(kn_client_t *cl) {
    if (!cl->closed && !cl->held && cl->ninflight < cl->b->cfg->max_inflight_requests_per_connection)
        kn_conn_resume_reading(cl->conn);
}

static void req_sent(void *arg, bool ok) {
    kn_req_t *r = arg;
    kn_client_t *cl = r->cl;
    (void)ok;
    bool close_after = r->close_after;
    cl->ninflight--;
    req_free(r);
    if (close_after && !cl->closed) {
        kn_conn_close(cl->conn, true);
        return;
    }
    client_maybe_resume(cl);
}

/* kn_conn_send can close the connection at once (a write to a peer that
 * died fails), and the close frees the client unless a flush is under way:
 * then the outermost flush frees it. */
static void client_flush(kn_client_t *cl) {
    cl->flushing++;
    while (cl->head && cl->head->done) {
        kn_req_t *r = cl->head;
        cl->head = r->next;
        if (!cl->head) cl->tail = NULL;
        r->next = NULL;
        if (r->no_response || cl->closed) {
            cl->ninflight--;
            req_free(r);
            continue;
        }
        kn_conn_send(cl->conn, &r->resp, req_sent, r);
        if (cl->closed) break;
    }
    if (--cl->flushing == 0 && cl->free_later) {
        kn_free(cl);
        return;
    }
    if (!cl->closed) client_maybe_resume(cl);
}

size_t kn_req__begin_response(kn_req_t *r) {
    kn_wbuf_reset(&r->resp);
    size_t at = kn_wbuf_reserve(&r->resp, 4);
    kn_wr_i32(&r->resp, r->corr_id);
    if (kn_response_header_version(r->api_key, r->api_version) >= 1) kn_wr_empty_tags(&r->resp);
    return at;
}

void kn_req__finish(kn_req_t *r) {
    if (!r->no_response) {
        /* The size prefix covers everything after itself, file pieces too. */
        kn_wbuf_patch_i32(&r->resp, 0, (int32_t)(kn_wbuf_len(&r->resp) - 4));
    }
    r->done = true;
    kn_metrics__request(r);
    if (r->cl) client_flush(r->cl);
}

/* ApiVersions with a version we don't know: answer UNSUPPORTED_VERSION in the
 * v0 form so any client can read it (KIP-511). */
static void reply_api_versions_unsupported(kn_req_t *r) {
    kn_req__begin_response(r);
    kn_wr_i16(&r->resp, KN_KERR_UNSUPPORTED_VERSION);
    size_t n = 0;
    const kn_api_info_t *all = kn_api_all(&n);
    int32_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i].min_version >= 0) cnt++;
    kn_wr_i32(&r->resp, cnt);
    for (size_t i = 0; i < n; i++) {
        if (all[i].min_version < 0) continue;
        kn_wr_i16(&r->resp, all[i].key);
        kn_wr_i16(&r->resp, all[i].min_version);
        kn_wr_i16(&r->resp, all[i].max_version);
    }
    kn_req__finish(r);
}

static void proto_error(kn_client_t *cl, const char *what, const uint8_t *frame, size_t len) {
    char sample[97];
    kn_log_sample(sample, sizeof(sample), frame, len < 48 ? len : 48);
    kn_log(KN_LOG_WARN, cl->ctx, "%s; closing connection (frame %zu bytes: %s)", what, len, sample);
}

void kn_client__on_accept(void *ud, kn_conn_t *c) {
    kn_broker_t *b = ud;
    kn_client_t *cl = kn_calloc(1, sizeof(*cl));
    cl->b = b;
    cl->conn = c;
    snprintf(cl->ctx, sizeof(cl->ctx), "%s", kn_conn_peer(c));
    kn_conn_set_ud(c, cl);
    if (!b->ready) {
        /* As Kafka, which opens its listener only once started: nothing is
         * answered before the metadata is read. */
        kn_conn_pause_reading(c);
        cl->held = true;
        cl->held_next = b->held_clients;
        b->held_clients = cl;
    }
}

void kn_client__release_held(kn_broker_t *b) {
    kn_client_t *cl = b->held_clients;
    b->held_clients = NULL;
    while (cl) {
        kn_client_t *next = cl->held_next;
        cl->held = false;
        cl->held_next = NULL;
        kn_conn_resume_reading(cl->conn);
        cl = next;
    }
}

static void unhold(kn_broker_t *b, kn_client_t *cl) {
    if (!cl->held) return;
    for (kn_client_t **pp = &b->held_clients; *pp; pp = &(*pp)->held_next)
        if (*pp == cl) {
            *pp = cl->held_next;
            break;
        }
    cl->held = false;
}

void kn_client__on_frame(void *ud, kn_conn_t *c, uint8_t *frame, size_t len) {
    kn_broker_t *b = ud;
    kn_client_t *cl = kn_conn_ud(c);
    kn_rd_t rd;
    int16_t key = 0, ver = 0;
    int32_t corr = 0;
    kn_broker__check_stall(b); /* a request that waited out a stall finds the broker fenced */
    kn_rd_init(&rd, frame, len);
    kn_rd_i16(&rd, &key);
    kn_rd_i16(&rd, &ver);
    kn_rd_i32(&rd, &corr);
    if (rd.err) {
        proto_error(cl, "request shorter than its header", frame, len);
        kn_free(frame);
        kn_conn_close(c, false);
        return;
    }
    const kn_api_info_t *info = kn_api_info(key);
    kn_handler_fn fn = handler_for(key);
    if (!info || info->min_version < 0 || !fn) {
        char what[128];
        snprintf(what, sizeof(what), "unknown or unsupported API key %d (version %d)", key, ver);
        proto_error(cl, what, frame, len);
        kn_free(frame);
        kn_conn_close(c, true);
        return;
    }
    kn_req_t *r = kn_calloc(1, sizeof(*r));
    r->b = b;
    r->cl = cl;
    r->frame = frame;
    r->frame_len = len;
    r->api_key = key;
    r->api_version = ver;
    r->corr_id = corr;
    r->client_id = KN_STR_NULL;
    r->start_ns = kn_mono_ns();
    kn_arena_init(&r->arena);
    kn_wbuf_init(&r->resp);
    bool supported = ver >= info->min_version && ver <= info->max_version;
    if (supported || key == KN_API_API_VERSIONS) {
        int hv = supported ? kn_request_header_version(key, ver) : 1;
        if (hv >= 1) kn_rd_str16(&rd, &r->client_id.p, &r->client_id.len);
        if (hv >= 2) kn_rd_skip_tags(&rd);
        if (rd.err) {
            proto_error(cl, "malformed request header", frame, len);
            r->cl = NULL;
            req_free(r);
            kn_conn_close(c, true);
            return;
        }
        if (r->client_id.len > 0 && strchr(cl->ctx, ' ') == NULL)
            snprintf(cl->ctx, sizeof(cl->ctx), "%s %.*s", kn_conn_peer(c),
                     r->client_id.len > 100 ? 100 : r->client_id.len, r->client_id.p);
    }
    r->body_off = rd.off;
    /* Queue first so replies stay in order even if the handler finishes now. */
    if (cl->tail)
        cl->tail->next = r;
    else
        cl->head = r;
    cl->tail = r;
    cl->ninflight++;
    if (cl->ninflight >= b->cfg->max_inflight_requests_per_connection) kn_conn_pause_reading(c);

    if (!supported) {
        if (key == KN_API_API_VERSIONS) {
            kn_log(KN_LOG_INFO, cl->ctx, "ApiVersions v%d not supported: answering UNSUPPORTED_VERSION", ver);
            reply_api_versions_unsupported(r);
            return;
        }
        kn_log(KN_LOG_WARN, cl->ctx, "unsupported version %d of %s (key %d, supported %d..%d); closing connection",
               ver, info->name, key, info->min_version, info->max_version);
        r->no_response = true;
        r->close_after = true;
        /* Replies already queued still go out, then the connection closes. */
        kn_conn_close(c, true);
        return;
    }
    kn_dbg(KN_DBG_PROTO, cl->ctx, "%s v%d corr %d (%zu bytes)", info->name, ver, corr, len);
    int rc = fn(r);
    if (rc < 0) {
        char what[160];
        snprintf(what, sizeof(what), "cannot decode %s v%d (corr %d): %s at byte %zu", info->name, ver, corr,
                 kn_strerror(rc), r->body_off);
        proto_error(cl, what, frame, len);
        r->no_response = true;
        r->done = true;
        kn_conn_close(c, true); /* may free cl and r: nothing after this */
    }
}

void kn_client__on_close(void *ud, kn_conn_t *c, kn_close_reason_t why) {
    kn_broker_t *b = ud;
    kn_client_t *cl = kn_conn_ud(c);
    if (!cl) return;
    kn_dbg(KN_DBG_NET, cl->ctx, "connection closed (reason %d)", (int)why);
    cl->closed = true;
    unhold(b, cl);
    kn_fetch__cancel_client(b, cl);
    kn_produce__cancel_client(b, cl);
    kn_admin__cancel_client(b, cl);
    kn_pid__cancel_client(b, cl);
    kn_req_t *r = cl->head;
    while (r) {
        kn_req_t *n = r->next;
        req_free(r);
        r = n;
    }
    cl->head = cl->tail = NULL;
    if (cl->flushing)
        cl->free_later = true;
    else
        kn_free(cl);
    kn_conn_set_ud(c, NULL);
}
