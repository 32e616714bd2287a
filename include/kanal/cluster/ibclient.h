/* Inter-broker requests (controller -> broker, follower -> leader, broker ->
 * controller) over kn_peer_t connections, with Kafka request/response
 * headers. Loop thread only.
 *
 *   kn_wbuf_t w; kn_wbuf_init(&w);
 *   kn_ib_begin(ib, &w, KN_API_FETCH, 12);
 *   kn_FetchRequest_encode(&w, 12, &req);
 *   kn_ib_send(ib, &w, timeout_ms, my_cb, arg);   // my_cb(arg, status, &body)
 */
#ifndef KANAL_CLUSTER_IBCLIENT_H
#define KANAL_CLUSTER_IBCLIENT_H

#include <stdint.h>
#include <uv.h>

#include "kanal/net/client.h"
#include "kanal/util/buf.h"

typedef struct kn_ib_s kn_ib_t;

/* status 0: body is a reader over the reply body (after the response
 * header), valid during the call. Otherwise KN_E* and body is NULL. */
typedef void (*kn_ib_cb)(void *arg, int status, kn_rd_t *body);

/* client_id is sent in every header ("kanal-broker-1"); ctx names the peer
 * in logs ("broker 2"). Both copied. */
kn_ib_t *kn_ib_new(uv_loop_t *loop, int32_t target_broker, const char *host, int port, const char *client_id,
                   const char *ctx);
void kn_ib_set_addr(kn_ib_t *ib, const char *host, int port);
int32_t kn_ib_target(const kn_ib_t *ib);
/* Write the size placeholder and the request header for (key, version). */
void kn_ib_begin(kn_ib_t *ib, kn_wbuf_t *w, int16_t api_key, int16_t api_version);
/* Send the frame begun with kn_ib_begin (takes w's contents). */
void kn_ib_send(kn_ib_t *ib, kn_wbuf_t *w, int64_t timeout_ms, kn_ib_cb cb, void *arg);
size_t kn_ib_inflight(const kn_ib_t *ib);
void kn_ib_reset(kn_ib_t *ib);
/* Fails queued requests (KN_ECLOSED) and frees once closed. */
void kn_ib_close(kn_ib_t *ib);

#endif
