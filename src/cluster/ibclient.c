/* Inter-broker request client: Kafka headers over kn_peer_t. */
#include "kanal/cluster/ibclient.h"

#include <stdio.h>
#include <string.h>

#include "kanal/proto/gen/headers.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define KN_IB_MAX_REPLY (128 * 1024 * 1024)

struct kn_ib_s {
    kn_peer_t *peer;
    int32_t target;
    int32_t next_corr;
    char *client_id;
    char ctx[64];
    /* header of the frame being built by kn_ib_begin */
    int16_t cur_key, cur_ver;
    int32_t cur_corr;
};

typedef struct ib_call_s {
    kn_ib_t *ib;
    int16_t key, ver;
    int32_t corr;
    kn_ib_cb cb;
    void *arg;
} ib_call_t;

kn_ib_t *kn_ib_new(uv_loop_t *loop, int32_t target_broker, const char *host, int port, const char *client_id,
                   const char *ctx) {
    kn_ib_t *ib = kn_calloc(1, sizeof(*ib));
    ib->target = target_broker;
    ib->client_id = kn_strdup(client_id);
    snprintf(ib->ctx, sizeof(ib->ctx), "%s", ctx);
    ib->peer = kn_peer_new(loop, host, port, KN_IB_MAX_REPLY, ctx);
    ib->next_corr = 1;
    return ib;
}

void kn_ib_set_addr(kn_ib_t *ib, const char *host, int port) { kn_peer_set_addr(ib->peer, host, port); }
int32_t kn_ib_target(const kn_ib_t *ib) { return ib->target; }
size_t kn_ib_inflight(const kn_ib_t *ib) { return kn_peer_inflight(ib->peer); }
void kn_ib_reset(kn_ib_t *ib) { kn_peer_reset(ib->peer); }

void kn_ib_begin(kn_ib_t *ib, kn_wbuf_t *w, int16_t api_key, int16_t api_version) {
    kn_wbuf_reset(w);
    kn_wbuf_reserve(w, 4);
    ib->cur_key = api_key;
    ib->cur_ver = api_version;
    ib->cur_corr = ib->next_corr++;
    if (ib->next_corr == 0x7fffffff) ib->next_corr = 1;
    int16_t hv = kn_request_header_version(api_key, api_version);
    kn_wr_i16(w, api_key);
    kn_wr_i16(w, api_version);
    kn_wr_i32(w, ib->cur_corr);
    if (hv >= 1) kn_wr_str16(w, ib->client_id, (int32_t)strlen(ib->client_id));
    if (hv >= 2) kn_wr_empty_tags(w);
}

static void ib_reply(void *arg, int status, const uint8_t *frame, size_t len) {
    ib_call_t *call = arg;
    if (status != 0) {
        call->cb(call->arg, status, NULL);
        kn_free(call);
        return;
    }
    kn_rd_t rd;
    kn_rd_init(&rd, frame, len);
    int32_t corr = 0;
    kn_rd_i32(&rd, &corr);
    if (kn_response_header_version(call->key, call->ver) >= 1) kn_rd_skip_tags(&rd);
    if (rd.err || corr != call->corr) {
        kn_log(KN_LOG_WARN, call->ib->ctx, "bad reply header (correlation %d, expected %d); resetting", corr,
               call->corr);
        kn_ib_t *ib = call->ib;
        call->cb(call->arg, KN_ECORRUPT, NULL);
        kn_free(call);
        kn_peer_reset(ib->peer);
        return;
    }
    kn_rd_t body;
    kn_rd_init(&body, frame + rd.off, len - rd.off);
    call->cb(call->arg, 0, &body);
    kn_free(call);
}

void kn_ib_send(kn_ib_t *ib, kn_wbuf_t *w, int64_t timeout_ms, kn_ib_cb cb, void *arg) {
    ib_call_t *call = kn_malloc(sizeof(*call));
    call->ib = ib;
    call->key = ib->cur_key;
    call->ver = ib->cur_ver;
    call->corr = ib->cur_corr;
    call->cb = cb;
    call->arg = arg;
    kn_peer_send(ib->peer, w, timeout_ms, ib_reply, call);
}

void kn_ib_close(kn_ib_t *ib) {
    /* The peer delivers the last failures while the ib is still valid only
     * if we keep it: callbacks run later from the peer's idle handle, and
     * ib_reply only touches call->ib on success, so freeing here is safe. */
    kn_peer_close(ib->peer);
    kn_free(ib->client_id);
    kn_free(ib);
}
