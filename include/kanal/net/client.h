/* Outbound connection to one peer (another broker) carrying length-prefixed
 * request frames; replies are matched to requests in order, which Kafka
 * guarantees per connection. Knows nothing of Kafka beyond the size prefix.
 * Loop thread only.
 *
 * The connection opens on the first send and again after a failure; every
 * request has a deadline, and a request that times out closes the connection
 * (the stream cannot be resynchronised), failing everything queued on it. */
#ifndef KANAL_NET_CLIENT_H
#define KANAL_NET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kanal/util/buf.h"

typedef struct kn_peer_s kn_peer_t;

/* status 0: frame/len hold the reply (without the size prefix), valid during
 * the call only. Otherwise a KN_E* (KN_ETIMEOUT, KN_EIO, KN_ECLOSED) and
 * frame is NULL. Called on the loop thread, never inside kn_peer_send. */
typedef void (*kn_peer_cb)(void *arg, int status, const uint8_t *frame, size_t len);

/* ctx names the peer in log lines ("broker 2"); copied. */
kn_peer_t *kn_peer_new(uv_loop_t *loop, const char *host, int port, int32_t max_frame_bytes, const char *ctx);
/* New address for later connections (an open connection stays). */
void kn_peer_set_addr(kn_peer_t *p, const char *host, int port);
/* Queue a request. w holds a whole frame whose first 4 bytes are the size
 * prefix (patched here); memory pieces only. Takes w's contents. */
void kn_peer_send(kn_peer_t *p, kn_wbuf_t *w, int64_t timeout_ms, kn_peer_cb cb, void *arg);
/* Fail everything queued with KN_ECLOSED and free the peer once its handles
 * have closed. */
void kn_peer_close(kn_peer_t *p);
/* Drop the current connection (queued requests fail with KN_EIO). */
void kn_peer_reset(kn_peer_t *p);
size_t kn_peer_inflight(const kn_peer_t *p);
bool kn_peer_connected(const kn_peer_t *p);

#endif
