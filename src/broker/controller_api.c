/* Requests only the controller answers: AlterPartition (from partition
 * leaders), ControlledShutdown (from a stopping broker), ElectLeaders
 * (admin) and AllocateProducerIds (from brokers, pid_blocks.c). Each decodes, hands over to src/cluster (which answers
 * NOT_CONTROLLER on other brokers) and encodes the reply when the cluster
 * calls back. The request may be gone by then (client closed): a small
 * ticket, cleared by the request's on_free, tells. */
#include <string.h>

#include "broker_int.h"
#include "kanal/cluster/cluster.h"
#include "kanal/proto/gen/allocate_producer_ids.h"
#include "kanal/proto/gen/alter_partition.h"
#include "kanal/proto/gen/controlled_shutdown.h"
#include "kanal/proto/gen/elect_leaders.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"

typedef struct ctl_ticket_s {
    kn_req_t *r; /* NULL once the request is freed */
} ctl_ticket_t;

static void ticket_release(kn_req_t *r) {
    ctl_ticket_t *tk = r->state;
    if (tk) tk->r = NULL;
    r->state = NULL;
}

static ctl_ticket_t *ticket_new(kn_req_t *r) {
    ctl_ticket_t *tk = kn_malloc(sizeof(*tk));
    tk->r = r;
    r->state = tk;
    r->on_free = ticket_release;
    return tk;
}

/* The request still waiting for this ticket, or NULL; frees the ticket. */
static kn_req_t *ticket_take(ctl_ticket_t *tk) {
    kn_req_t *r = tk->r;
    kn_free(tk);
    if (r) {
        r->state = NULL;
        r->on_free = NULL;
    }
    return r;
}

/* ---- AlterPartition (56) ---- */

static void alter_done(void *ud, kn_AlterPartitionResponse_t *resp) {
    kn_req_t *r = ticket_take(ud);
    if (!r) return;
    kn_req__begin_response(r);
    kn_AlterPartitionResponse_encode(&r->resp, r->api_version, resp);
    kn_req__finish(r);
}

int kn_h_alter_partition(kn_req_t *r) {
    kn_rd_t rd;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    kn_AlterPartitionRequest_t req;
    int rc = kn_AlterPartitionRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc != 0) return rc;
    kn_cluster_alter_partition(r->b->cluster, &req, r->api_version, alter_done, ticket_new(r));
    return 0;
}

/* ---- ControlledShutdown (7) ---- */

static void shutdown_done(void *ud, int16_t err, const kn_cluster_tp_t *rem, int32_t n) {
    kn_req_t *r = ticket_take(ud);
    if (!r) return;
    kn_ControlledShutdownResponse_t resp;
    kn_ControlledShutdownResponse_init(&resp);
    resp.error_code = err;
    resp.remaining_partitions = kn_arena_alloc(&r->arena, sizeof(*resp.remaining_partitions) * (size_t)(n ? n : 1));
    if (!resp.remaining_partitions) {
        kn_log(KN_LOG_ERROR, r->cl->ctx, "out of memory answering ControlledShutdown");
        n = 0;
    }
    resp.remaining_partitions_count = n;
    for (int32_t i = 0; i < n; i++) {
        kn_ControlledShutdownResponse_RemainingPartition_t *o = &resp.remaining_partitions[i];
        kn_ControlledShutdownResponse_RemainingPartition_init(o);
        /* rem is valid during this call only: copy the names */
        size_t len = strlen(rem[i].topic);
        o->topic_name = (kn_str_t){kn_arena_strndup(&r->arena, rem[i].topic, len), (int32_t)len};
        o->partition_index = rem[i].partition;
    }
    kn_req__begin_response(r);
    kn_ControlledShutdownResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

int kn_h_controlled_shutdown(kn_req_t *r) {
    kn_rd_t rd;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    kn_ControlledShutdownRequest_t req;
    int rc = kn_ControlledShutdownRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc != 0) return rc;
    /* v0-1 carry no broker epoch: -1, not checked */
    kn_cluster_controlled_shutdown_request(r->b->cluster, req.broker_id, r->api_version >= 2 ? req.broker_epoch : -1,
                                           shutdown_done, ticket_new(r));
    return 0;
}

/* ---- ElectLeaders (43) ---- */

static void elect_done(void *ud, kn_ElectLeadersResponse_t *resp) {
    kn_req_t *r = ticket_take(ud);
    if (!r) return;
    kn_req__begin_response(r);
    kn_ElectLeadersResponse_encode(&r->resp, r->api_version, resp);
    kn_req__finish(r);
}

int kn_h_elect_leaders(kn_req_t *r) {
    kn_rd_t rd;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    kn_ElectLeadersRequest_t req;
    int rc = kn_ElectLeadersRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc != 0) return rc;
    kn_cluster_elect_leaders(r->b->cluster, &req, r->api_version, elect_done, ticket_new(r));
    return 0;
}

/* ---- AllocateProducerIds (67) ---- */

static void pid_alloc_done(void *ud, int16_t err, int64_t start, int32_t len) {
    kn_req_t *r = ticket_take(ud);
    if (!r) return;
    kn_AllocateProducerIdsResponse_t resp;
    kn_AllocateProducerIdsResponse_init(&resp);
    resp.error_code = err;
    resp.producer_id_start = err ? -1 : start;
    resp.producer_id_len = err ? 0 : len;
    kn_req__begin_response(r);
    kn_AllocateProducerIdsResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

int kn_h_allocate_producer_ids(kn_req_t *r) {
    kn_rd_t rd;
    kn_rd_init(&rd, r->frame + r->body_off, r->frame_len - r->body_off);
    kn_AllocateProducerIdsRequest_t req;
    int rc = kn_AllocateProducerIdsRequest_decode(&rd, r->api_version, &r->arena, &req);
    if (rc != 0) return rc;
    kn_cluster_allocate_producer_ids(r->b->cluster, req.broker_id, req.broker_epoch, pid_alloc_done, ticket_new(r));
    return 0;
}
