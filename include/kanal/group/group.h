/* The group coordinator: Kafka 3.x's classic group protocol (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup with generations, KIP-394 member ids,
 * KIP-345 static members) and committed offsets, for the groups that hash to
 * the __consumer_offsets partitions this broker leads.
 *
 * The coordinator is a pure state machine: it never blocks, never reads a
 * clock or a socket itself and owns no timer. Everything outside comes in
 * through kn_gcoord_ops_t: the clock, appends to __consumer_offsets, the
 * completion of delayed JoinGroup/SyncGroup/OffsetCommit answers, and a
 * "call kn_gcoord_tick at this time" request. So unit tests drive it with a
 * fake clock and fake log, and the broker glue (src/broker/group.c) drives it
 * with a uv_timer and the partition logs. See docs/groups.md.
 *
 * Threads: one thread (the broker's loop). Strings given in (kn_str_t) are
 * borrowed for the call; everything kept is copied. Strings handed out in
 * results are valid only during the callback or until the next call. */
#ifndef KANAL_GROUP_GROUP_H
#define KANAL_GROUP_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/proto/types.h"

#define KN_GROUP_OFFSETS_TOPIC "__consumer_offsets"

typedef struct kn_gcoord_s kn_gcoord_t;

typedef struct kn_gcoord_config_s {
    int32_t num_partitions;             /* offsets.topic.num.partitions */
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int32_t max_size;                   /* group.max.size */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes * 60000 */
    int32_t offset_metadata_max_bytes;  /* offset.metadata.max.bytes */
} kn_gcoord_config_t;

/* A member as the JoinGroup leader sees it. */
typedef struct kn_gjoin_member_s {
    kn_str_t member_id;
    kn_str_t group_instance_id; /* len -1: dynamic member */
    kn_bytes_t metadata;        /* the selected protocol's subscription */
} kn_gjoin_member_t;

typedef struct kn_gjoin_result_s {
    int16_t error;
    int32_t generation_id; /* -1 on error */
    kn_str_t protocol_type; /* len -1 when none */
    kn_str_t protocol_name; /* len -1 when none */
    kn_str_t leader;        /* "" on error */
    kn_str_t member_id;     /* the member's id (also with MEMBER_ID_REQUIRED) */
    bool skip_assignment;   /* KIP-814, JoinGroup v9+ */
    const kn_gjoin_member_t *members; /* leader only */
    int32_t nmembers;
} kn_gjoin_result_t;

typedef struct kn_gsync_result_s {
    int16_t error;
    kn_str_t protocol_type; /* len -1 on error */
    kn_str_t protocol_name;
    kn_bytes_t assignment;  /* len 0 on error */
} kn_gsync_result_t;

/* Completion of an append to __consumer_offsets: kafka error 0 when the
 * records are durable (today: in the local log; with replication: when the
 * high watermark passes them). */
typedef void (*kn_gcoord_append_cb)(void *arg, int16_t kafka_err);

typedef struct kn_gcoord_ops_s {
    void *ud;
    int64_t (*now_ms)(void *ud);
    /* Append one RecordBatch v2 blob to __consumer_offsets-<partition> and
     * call done (now or later, once). The blob is borrowed for the call. */
    void (*append)(void *ud, int32_t partition, const uint8_t *batch, size_t len, kn_gcoord_append_cb done,
                   void *arg);
    /* Delayed answers; req is the caller's handle given to the request call.
     * Called at most once per handle, maybe inside the request call. */
    void (*join_done)(void *ud, void *req, const kn_gjoin_result_t *res);
    void (*sync_done)(void *ud, void *req, const kn_gsync_result_t *res);
    /* OffsetCommit: one error for every partition that was valid. */
    void (*commit_done)(void *ud, void *req, int16_t kafka_err);
    /* The earliest time kn_gcoord_tick must run (absolute, now_ms clock).
     * Replaces the previous request. May be NULL (tests call tick). */
    void (*schedule)(void *ud, int64_t at_ms);
    /* 16 random bytes for member ids; NULL = /dev/urandom-free counter mix. */
    void (*random16)(void *ud, uint8_t out[16]);
} kn_gcoord_ops_t;

kn_gcoord_t *kn_gcoord_new(const kn_gcoord_config_t *cfg, const kn_gcoord_ops_t *ops);
/* Answers every parked request with NOT_COORDINATOR, then frees. */
void kn_gcoord_free(kn_gcoord_t *c);

/* abs(Java String.hashCode(group_id)) % n, as Kafka places groups. */
int32_t kn_group_partition_for(kn_str_t group_id, int32_t n);
int32_t kn_gcoord_partition_for(const kn_gcoord_t *c, kn_str_t group_id);

/* ---- offsets partitions we lead ---- */
/* Leadership gained: the partition's groups answer COORDINATOR_LOAD_IN_PROGRESS
 * until load_end. */
void kn_gcoord_load_begin(kn_gcoord_t *c, int32_t partition);
/* One record read back from the partition, in log order. Unknown or
 * malformed keys/values are skipped (returns KN_ECORRUPT so the caller can
 * log). */
int kn_gcoord_load_record(kn_gcoord_t *c, int32_t partition, const uint8_t *key, int32_t key_len,
                          const uint8_t *value, int32_t value_len);
void kn_gcoord_load_end(kn_gcoord_t *c, int32_t partition);
/* Leadership lost: drop the partition's groups; their parked requests get
 * NOT_COORDINATOR. */
void kn_gcoord_unload(kn_gcoord_t *c, int32_t partition);
typedef enum { KN_GPART_NOT_LED = 0, KN_GPART_LOADING = 1, KN_GPART_LOADED = 2 } kn_gpart_state_t;
kn_gpart_state_t kn_gcoord_partition_state(const kn_gcoord_t *c, int32_t partition);
/* 0, NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS for a group id. */
int16_t kn_gcoord_check(const kn_gcoord_t *c, kn_str_t group_id);

/* ---- membership ---- */
typedef struct kn_gprotocol_s {
    kn_str_t name;
    kn_bytes_t metadata;
} kn_gprotocol_t;

typedef struct kn_gjoin_req_s {
    int16_t version;
    kn_str_t group_id, member_id, group_instance_id, protocol_type;
    kn_str_t client_id, client_host, reason;
    int32_t session_timeout_ms, rebalance_timeout_ms; /* v0: rebalance = session */
    const kn_gprotocol_t *protocols;
    int32_t nprotocols;
} kn_gjoin_req_t;

/* Always answers through ops->join_done(req), now or when the rebalance
 * completes. */
void kn_gcoord_join(kn_gcoord_t *c, const kn_gjoin_req_t *in, void *req);

typedef struct kn_gassignment_s {
    kn_str_t member_id;
    kn_bytes_t assignment;
} kn_gassignment_t;

typedef struct kn_gsync_req_s {
    kn_str_t group_id, member_id, group_instance_id;
    kn_str_t protocol_type, protocol_name; /* v5+, len -1 when absent */
    int32_t generation_id;
    const kn_gassignment_t *assignments; /* leader only */
    int32_t nassignments;
} kn_gsync_req_t;

/* Always answers through ops->sync_done(req). */
void kn_gcoord_sync(kn_gcoord_t *c, const kn_gsync_req_t *in, void *req);

int16_t kn_gcoord_heartbeat(kn_gcoord_t *c, kn_str_t group_id, int32_t generation_id, kn_str_t member_id,
                            kn_str_t group_instance_id);

/* One leaving member (LeaveGroup v3+ carries several; v0-2 one, no instance). */
int16_t kn_gcoord_leave(kn_gcoord_t *c, kn_str_t group_id, kn_str_t member_id, kn_str_t group_instance_id,
                        kn_str_t reason);
/* Group-level check before the members: 0, COORDINATOR_NOT_AVAILABLE (dead
 * group) or UNKNOWN_MEMBER_ID when the group does not exist. */
int16_t kn_gcoord_leave_check(kn_gcoord_t *c, kn_str_t group_id);

/* A parked JoinGroup/SyncGroup/OffsetCommit whose connection went away: its
 * answer is dropped (the member itself stays, as in Kafka). */
void kn_gcoord_forget_req(kn_gcoord_t *c, void *req);

/* ---- offsets ---- */
typedef struct kn_goffset_commit_s {
    kn_str_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    kn_str_t metadata; /* len -1 = null: stored as "" */
    int16_t error;     /* out: per-partition error found before writing (e.g. metadata too large) */
} kn_goffset_commit_t;

/* Validates the group and the generation, then writes every partition
 * whose error is still 0 as one batch. Returns:
 *   > 0: a Kafka error for every partition (nothing written, no callback);
 *   0:   ops->commit_done(req, err) follows (maybe inside the call) for the
 *        partitions with error 0; if none is left, it is called with 0.
 * retention_ms: OffsetCommit v2-4 retention time (-1 = broker default). */
int16_t kn_gcoord_commit(kn_gcoord_t *c, kn_str_t group_id, int32_t generation_id, kn_str_t member_id,
                         kn_str_t group_instance_id, int64_t retention_ms, kn_goffset_commit_t *offs,
                         int32_t noffs, void *req);

typedef struct kn_goffset_s {
    int64_t offset; /* -1: none committed */
    int32_t leader_epoch;
    kn_str_t metadata; /* "" when none */
} kn_goffset_t;

/* Committed offset of one partition (-1 and "" when none or no group). */
void kn_gcoord_fetch_offset(kn_gcoord_t *c, kn_str_t group_id, kn_str_t topic, int32_t partition,
                            kn_goffset_t *out);
/* Every committed offset of a group, for OffsetFetch with null topics:
 * calls fn for each, sorted by topic then partition. */
void kn_gcoord_fetch_all(kn_gcoord_t *c, kn_str_t group_id,
                         void (*fn)(void *arg, kn_str_t topic, int32_t partition, const kn_goffset_t *o),
                         void *arg);

/* OffsetDelete: group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP) or 0
 * with per-partition errors set (GROUP_SUBSCRIBED_TO_TOPIC) and the others
 * deleted (tombstones written). */
int16_t kn_gcoord_delete_offsets(kn_gcoord_t *c, kn_str_t group_id, kn_goffset_commit_t *parts, int32_t n);

/* DeleteGroups: 0, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int16_t kn_gcoord_delete_group(kn_gcoord_t *c, kn_str_t group_id);

/* Expire offsets (KIP-211 rules) and drop empty groups without offsets.
 * Returns how many offsets were removed. */
int kn_gcoord_expire_offsets(kn_gcoord_t *c);

/* ---- describe / list ---- */
typedef struct kn_gmember_info_s {
    kn_str_t member_id, group_instance_id, client_id, client_host;
    kn_bytes_t metadata, assignment;
} kn_gmember_info_t;

typedef struct kn_ggroup_info_s {
    kn_str_t group_id;
    const char *state; /* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" */
    kn_str_t protocol_type; /* "" when none */
    kn_str_t protocol;      /* selected protocol when Stable, else "" */
    int32_t generation_id;
    const kn_gmember_info_t *members; /* metadata/assignment only when Stable */
    int32_t nmembers;
} kn_ggroup_info_t;

/* Fills *out (valid until the next call into the coordinator). Returns 0,
 * or KN_ENOTFOUND (then *out describes a Dead group, as Kafka answers). */
int kn_gcoord_describe(kn_gcoord_t *c, kn_str_t group_id, kn_ggroup_info_t *out);
/* Calls fn for every group in loaded partitions. */
void kn_gcoord_list(kn_gcoord_t *c, void (*fn)(void *arg, const kn_ggroup_info_t *g), void *arg);
/* Any partition still loading (ListGroups answers LOAD_IN_PROGRESS). */
bool kn_gcoord_any_loading(const kn_gcoord_t *c);

/* Run due timers: join/sync completion, session expiry, pending members. */
void kn_gcoord_tick(kn_gcoord_t *c);
/* Earliest due time, INT64_MAX if none. */
int64_t kn_gcoord_next_deadline(const kn_gcoord_t *c);

/* Counts for tests and logs. */
size_t kn_gcoord_group_count(const kn_gcoord_t *c);

#endif
