/* InitProducerId's new producer ids, from blocks of 1000 that the controller
 * hands out with AllocateProducerIds (API 67), as Kafka 3.x's brokers get
 * them (RPCProducerIdManager): the controller alone writes
 * /latest_producer_id_block (src/cluster/producer_ids.c), so ids are unique
 * across the cluster and across restarts.
 *
 * A broker asks the current controller over the inter-broker client when it
 * has no block, and fetches the next block ahead once 90% of the current one
 * is used, so a busy broker rarely waits. InitProducerId requests that find
 * no id left wait for the request in flight, which is bounded (the RPC's
 * timeout, or the ZooKeeper session when we are the controller); if it fails
 * they get COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka 3.x
 * answers while no block is available. There is no fallback that writes the
 * znode directly. Loop thread. */
#include <inttypes.h>
#include <stdio.h>

#include "broker_int.h"
#include "kanal/cluster/cluster.h"
#include "kanal/cluster/ibclient.h"
#include "kanal/proto/gen/allocate_producer_ids.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/init_producer_id.h"
#include "kanal/proto/kerr.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"

#define PID_RPC_TIMEOUT_MS 5000 /* bounds how long InitProducerId waits for a block */
#define PID_PREFETCH_LEFT (KN_PRODUCER_ID_BLOCK_SIZE / 10) /* Kafka: prefetch at 90% used */

static void answer(kn_req_t *r, int16_t err, int64_t pid) {
    kn_InitProducerIdResponse_t resp;
    kn_InitProducerIdResponse_init(&resp);
    resp.error_code = err;
    resp.producer_id = err ? -1 : pid;
    resp.producer_epoch = err ? -1 : 0;
    kn_req__begin_response(r);
    kn_InitProducerIdResponse_encode(&r->resp, r->api_version, &resp);
    kn_req__finish(r);
}

static bool have_id(kn_broker_t *b) {
    if (b->next_producer_id <= b->pid_block_end) return true;
    if (b->pid_next_len > 0) { /* switch to the block fetched ahead */
        b->next_producer_id = b->pid_next_start;
        b->pid_block_end = b->pid_next_start + b->pid_next_len - 1;
        b->pid_next_len = 0;
        return true;
    }
    return false;
}

static void request_block(kn_broker_t *b);

static void got_block(kn_broker_t *b, int16_t err, int64_t start, int32_t len) {
    b->pid_fetching = false;
    if (err == 0) {
        /* Blocks only move forward (Kafka's monotonic check): anything else
         * means a confused controller; drop it and let clients retry. */
        int64_t floor = b->pid_next_len > 0 ? b->pid_next_start + b->pid_next_len - 1 : b->pid_block_end;
        if (start < 0 || len <= 0 || start > INT64_MAX - len || start <= floor) {
            kn_log(KN_LOG_WARN, NULL, "AllocateProducerIds returned an invalid block [%" PRId64 ", +%" PRId32
                   "] (last id %" PRId64 "); ignored", start, len, floor);
        } else if (b->next_producer_id > b->pid_block_end) {
            b->next_producer_id = start;
            b->pid_block_end = start + len - 1;
        } else {
            b->pid_next_start = start;
            b->pid_next_len = len;
        }
    }
    while (b->pid_waiters) {
        kn_req_t *r = b->pid_waiters;
        b->pid_waiters = r->park_next;
        r->park_next = NULL;
        if (have_id(b)) answer(r, 0, b->next_producer_id++);
        else answer(r, KN_KERR_COORDINATOR_LOAD_IN_PROGRESS, -1); /* retriable */
    }
    if (err == 0 && b->pid_block_end - b->next_producer_id < PID_PREFETCH_LEFT && b->pid_next_len == 0)
        request_block(b);
}

static void local_done(void *ud, int16_t err, int64_t start, int32_t len) {
    kn_broker_t *b = ud;
    if (err) kn_log(KN_LOG_WARN, NULL, "no producer id block from ourselves as controller: error %d", err);
    got_block(b, err, start, len);
}

static void rpc_done(void *arg, int status, kn_rd_t *body) {
    kn_broker_t *b = arg;
    if (status != 0) {
        kn_log(KN_LOG_WARN, NULL, "AllocateProducerIds to the controller failed: %s", kn_strerror(status));
        got_block(b, KN_KERR_REQUEST_TIMED_OUT, -1, 0);
        return;
    }
    kn_arena_t a;
    kn_arena_init(&a);
    kn_AllocateProducerIdsResponse_t resp;
    kn_AllocateProducerIdsResponse_init(&resp);
    if (kn_AllocateProducerIdsResponse_decode(body, 0, &a, &resp) != 0) {
        kn_log(KN_LOG_WARN, NULL, "cannot decode the AllocateProducerIds response");
        resp.error_code = KN_KERR_UNKNOWN_SERVER_ERROR;
    } else if (resp.error_code) {
        kn_log(KN_LOG_WARN, NULL, "AllocateProducerIds: the controller answered error %d", resp.error_code);
    }
    kn_arena_reset(&a);
    got_block(b, resp.error_code, resp.producer_id_start, resp.producer_id_len);
}

/* The inter-broker client to the current controller (shared with
 * AlterPartition; replica.c re-creates it when the controller moves). */
static kn_ib_t *controller_ib(kn_broker_t *b, int32_t cid) {
    (void)cid;
    return kn_broker__controller_ib(b);
}

/* Ask the controller for a block unless a request is in flight. The answer
 * (got_block) never comes inside this call. */
static void request_block(kn_broker_t *b) {
    if (b->pid_fetching || b->stopping || !b->cluster) return;
    int32_t cid = kn_cluster_controller_id(b->cluster);
    if (cid == b->cfg->broker_id) {
        b->pid_fetching = true;
        kn_cluster_allocate_producer_ids(b->cluster, b->cfg->broker_id, kn_cluster_broker_epoch(b->cluster),
                                         local_done, b);
        return;
    }
    kn_ib_t *ib = cid >= 0 ? controller_ib(b, cid) : NULL;
    if (!ib) return; /* no controller known: waiters are answered by the caller */
    kn_AllocateProducerIdsRequest_t req;
    kn_AllocateProducerIdsRequest_init(&req);
    req.broker_id = b->cfg->broker_id;
    req.broker_epoch = kn_cluster_broker_epoch(b->cluster);
    kn_wbuf_t w;
    kn_wbuf_init(&w);
    kn_ib_begin(ib, &w, KN_API_ALLOCATE_PRODUCER_IDS, 0);
    kn_AllocateProducerIdsRequest_encode(&w, 0, &req);
    b->pid_fetching = true;
    kn_ib_send(ib, &w, PID_RPC_TIMEOUT_MS, rpc_done, b);
}

int kn_pid__assign(kn_req_t *r) {
    kn_broker_t *b = r->b;
    if (have_id(b)) {
        answer(r, 0, b->next_producer_id++);
        if (b->pid_block_end - b->next_producer_id < PID_PREFETCH_LEFT && b->pid_next_len == 0) request_block(b);
        return 0;
    }
    request_block(b);
    if (!b->pid_fetching) { /* nobody to ask (no controller yet, stopping) */
        answer(r, KN_KERR_COORDINATOR_LOAD_IN_PROGRESS, -1);
        return 0;
    }
    /* Wait for the block (queue order = answer order). */
    kn_req_t **pp = &b->pid_waiters;
    while (*pp) pp = &(*pp)->park_next;
    *pp = r;
    r->park_next = NULL;
    return 0;
}

void kn_pid__cancel_client(kn_broker_t *b, kn_client_t *cl) {
    kn_req_t **pp = &b->pid_waiters;
    while (*pp) {
        if ((*pp)->cl == cl) *pp = (*pp)->park_next;
        else pp = &(*pp)->park_next;
    }
}
