/* Group coordinator internals shared by coord.c and records.c. */
#ifndef KANAL_GROUP_INT_H
#define KANAL_GROUP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "kanal/group/group.h"
#include "kanal/util/buf.h"

/* ---- __consumer_offsets record schemas (docs/groups.md) ----
 * Keys: OffsetCommitKey v1 {group, topic, partition}; GroupMetadataKey v2
 * {group}. Values: OffsetCommitValue v3 {offset, leaderEpoch, metadata,
 * commitTimestamp}; GroupMetadataValue v3. Written by hand: they are small,
 * fixed, non-flexible schemas. */
#define KN_GREC_OFFSET_KEY_V 1
#define KN_GREC_GROUP_KEY_V 2
#define KN_GREC_OFFSET_VALUE_V 3
#define KN_GREC_GROUP_VALUE_V 3

void kn_grec_offset_key(kn_wbuf_t *w, const char *group, const char *topic, int32_t partition);
void kn_grec_offset_value(kn_wbuf_t *w, int64_t offset, int32_t leader_epoch, const char *metadata,
                          int64_t commit_ts);
void kn_grec_group_key(kn_wbuf_t *w, const char *group);

typedef struct kn_grec_member_s {
    kn_str_t member_id, instance_id, client_id, client_host;
    int32_t rebalance_timeout, session_timeout;
    kn_bytes_t subscription, assignment;
} kn_grec_member_t;

typedef struct kn_grec_group_s {
    kn_str_t protocol_type;
    int32_t generation;
    kn_str_t protocol, leader; /* len -1 = null */
    int64_t state_ts;
    kn_grec_member_t *members;
    int32_t nmembers;
} kn_grec_group_t;

void kn_grec_group_value(kn_wbuf_t *w, const kn_grec_group_t *g);

/* Decoded key: type 0 offset commit, 1 group metadata. Strings borrow. */
typedef struct kn_grec_key_s {
    int type;
    kn_str_t group, topic;
    int32_t partition;
} kn_grec_key_t;

int kn_grec_decode_key(const uint8_t *p, int32_t len, kn_grec_key_t *k);
typedef struct kn_grec_offset_s {
    int64_t offset;
    int32_t leader_epoch;
    kn_str_t metadata;
    int64_t commit_ts, expire_ts;
} kn_grec_offset_t;
int kn_grec_decode_offset(const uint8_t *p, int32_t len, kn_grec_offset_t *o);
/* members allocated with kn_trymalloc (caller frees g->members). */
int kn_grec_decode_group(const uint8_t *p, int32_t len, kn_grec_group_t *g);

/* Topics named in a "consumer" protocol subscription (ConsumerProtocol
 * Subscription, any version: int16 version, [string] topics, ...). Calls fn
 * per topic; returns 0 or KN_ECORRUPT. */
int kn_grec_subscription_topics(const uint8_t *p, int32_t len, void (*fn)(void *arg, kn_str_t topic),
                                void *arg);

#endif
