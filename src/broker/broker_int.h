/* kanald internals shared between the broker's files. Loop thread only. */
#ifndef KANAL_BROKER_INT_H
#define KANAL_BROKER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kanal/broker/config.h"
#include "kanal/cluster/cluster.h"
#include "kanal/log/epoch.h"
#include "kanal/log/log.h"
#include "kanal/net/net.h"
#include "kanal/proto/types.h"
#include "kanal/util/buf.h"
#include "kanal/util/mem.h"
#include "producer_state_int.h"

typedef struct kn_broker_s kn_broker_t;
typedef struct kn_client_s kn_client_t;
typedef struct kn_req_s kn_req_t;
typedef struct kn_partition_s kn_partition_t;

/* A segment kept alive until a reply that sends from it is written. */
typedef struct kn_held_seg_s {
    struct kn_held_seg_s *next;
    kn_segment_t *seg;
} kn_held_seg_t;

/* One request, from frame to reply. Replies leave a connection in request
 * order: a request that finishes early waits in its client's queue. */
struct kn_req_s {
    kn_req_t *next;          /* client queue */
    kn_req_t *park_next;     /* broker's parked-fetch list */
    kn_client_t *cl;
    kn_broker_t *b;
    uint8_t *frame;          /* owned; decoded strings borrow from it */
    size_t frame_len;
    int16_t api_key, api_version;
    int32_t corr_id;
    kn_str_t client_id;
    size_t body_off;         /* where the request body starts in frame */
    kn_arena_t arena;        /* decoded request and reply scratch */
    kn_wbuf_t resp;          /* encoded reply, size prefix included */
    kn_held_seg_t *held;
    bool done;               /* resp is complete (or no_response) */
    bool no_response;        /* acks=0 */
    bool close_after;        /* close the connection after this reply */
    int64_t start_ns;
    /* handler state for requests that wait (Fetch, CreateTopics...) */
    void *state;
    void (*on_free)(kn_req_t *r);
};

struct kn_client_s {
    kn_broker_t *b;
    kn_conn_t *conn;
    kn_req_t *head, *tail;   /* in-flight requests in arrival order */
    int ninflight;
    bool closed;
    int flushing;            /* client_flush frames: a close inside frees at the end */
    bool free_later;
    bool held;               /* accepted before the broker was ready: not read yet */
    kn_client_t *held_next;  /* b->held_clients */
    char ctx[160];           /* "peer client.id" for log lines */
};

/* What a leader knows of one follower. */
typedef struct kn_follower_s {
    int32_t id;
    int64_t leo;               /* last fetch offset, -1 unknown */
    int64_t last_caught_up_ms; /* last time it had everything we had */
    int64_t last_fetch_ms;
    int64_t last_fetch_leader_leo; /* our log end at its previous fetch */
} kn_follower_t;

typedef struct kn_fetcher_s kn_fetcher_t;

/* topic_config.c: a partition's effective settings, broker defaults under the
 * topic's /config/topics/<t> overrides; recomputed on open and on every
 * metadata change (kn_partition__apply_config). */
typedef struct kn_topic_config_s {
    kn_log_config_t log;              /* segment.*, index.*, flush.* */
    int64_t retention_ms;             /* retention.ms, -1 = unlimited */
    int64_t retention_bytes;          /* retention.bytes, -1 = unlimited */
    bool cleanup_delete;              /* cleanup.policy has delete */
    bool cleanup_compact;             /* cleanup.policy has compact */
    int64_t delete_retention_ms;      /* delete.retention.ms (tombstones) */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms */
    int64_t file_delete_delay_ms;     /* file.delete.delay.ms */
    int32_t max_message_bytes;        /* max.message.bytes */
    bool log_append_time;             /* message.timestamp.type=LogAppendTime */
    int compression_codec;            /* compression.type: -1 producer, else KN_COMPRESSION_* */
    int32_t min_insync_replicas;      /* min.insync.replicas */
} kn_topic_config_t;

struct kn_partition_s {
    char *topic;
    int32_t partition;
    char name[300];          /* "topic-0" */
    kn_plog_t *log;
    bool is_leader;
    int32_t leader_epoch;
    int64_t high_watermark;
    kn_uuid_t topic_id;
    bool seen_in_meta;       /* the metadata cache has listed it */
    bool stray_warned;
    kn_pstate_t pstate;      /* idempotent producers (producer_state.c) */
    /* log lifecycle (topic_config.c, lifecycle.c) */
    kn_topic_config_t tcfg;
    bool tcfg_set;
    bool cleaning;              /* a cleaner job holds its segments */
    int64_t clean_first_dirty;  /* cleaner checkpoint: clean below this offset */
    /* replication (replica.c) */
    bool lai_seen;           /* leadership comes from LeaderAndIsr from now on */
    int32_t leader;          /* current leader broker id, -1 none */
    int32_t partition_epoch; /* zk version of the state znode */
    int32_t *replicas;
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    kn_follower_t *followers; /* leader: one per other replica */
    int32_t nfollowers;
    bool alter_inflight;      /* an AlterPartition is pending */
    int64_t leader_start_offset; /* LEO when this broker became leader */
    kn_epoch_cache_t epochs;  /* leader-epoch-checkpoint */
    int64_t fetch_backoff_until_ms; /* follower: do not fetch before */
    int fetch_err_streak;     /* follower: leadership-transition errors in a row */
    bool fetch_inflight;      /* follower: in the current fetch */
    int64_t last_trunc_to;    /* follower: last divergence truncation target */
    int64_t last_trunc_ms;
    uint64_t wake_gen;        /* last kn_fetch__wake stamp */
};

struct kn_broker_s {
    uv_loop_t *loop;
    kn_broker_config_t *cfg;
    const char *config_path;
    kn_server_t *server;
    kn_cluster_t *cluster;
    char *log_dir;           /* first entry of log.dirs */
    char adv_host[256];
    int adv_port;
    char listen_host[256];
    int listen_port;
    kn_log_config_t logcfg;
    /* partitions: open-addressing-free simple array; few hundred at most here */
    kn_partition_t **parts;
    size_t nparts, parts_cap;
    kn_req_t *parked;        /* parked Fetch requests */
    uv_timer_t tick;         /* segment.ms, flush.ms, checkpoints */
    uv_timer_t fetch_timer;  /* earliest parked-fetch deadline */
    uv_signal_t sigterm, sigint;
    bool ready, stopping;
    bool shutdown_requested; /* SIGTERM seen; controlled shutdown may run first */
    int exit_code;
    int64_t next_producer_id; /* next id of the claimed block (pid_blocks.c) */
    int64_t pid_block_end;    /* last id of the block; < next_producer_id: none left */
    bool pid_fetching;        /* AllocateProducerIds in flight (pid_blocks.c) */
    kn_req_t *pid_waiters;    /* InitProducerId waiting for it (linked by park_next) */
    int64_t pid_next_start;   /* block fetched ahead, used when the current one runs out */
    int32_t pid_next_len;     /* its size; 0: none */
    int64_t last_flush_ms;
    int64_t last_checkpoint_ms;
    kn_req_t *admin_waiters; /* CreateTopics/DeleteTopics waiting on metadata */
    kn_req_t *cfg_waiters;   /* CreatePartitions waiting on metadata (configs.c) */
    struct kn_group_glue_s *groups; /* group coordinator glue (group.c) */
    struct kn_lifecycle_s *lc; /* retention, cleaner, deleted segments (lifecycle.c) */
    /* replication */
    int32_t controller_epoch;   /* newest seen in controller requests */
    kn_fetcher_t *fetchers;     /* one per leader we follow */
    kn_req_t *parked_produce;   /* acks=all waiting for the high watermark */
    struct kn_ib_s *ctrl_ib;    /* to the controller (AlterPartition, ...) */
    int32_t ctrl_ib_id;
    uv_idle_t wake_idle;        /* deferred parked-fetch wakes */
    uint64_t wake_gen, wake_done_gen;
    /* stalls (broker.c): a loop that stopped for half a session timeout may
     * have lost its leaderships meanwhile; it leads nothing until ZooKeeper
     * confirms the session (docs/replication.md, "Stalls"). */
    int64_t last_tick_mono_ms;
    bool fenced;
    bool confirm_inflight;
    int64_t fenced_since_mono_ms;
    /* Connections accepted before the cluster client is ready (registered,
     * metadata read) are not read until then: answers from an empty
     * metadata cache (UNKNOWN_TOPIC_OR_PARTITION for every topic) made
     * consumers drop their partitions during a restart. request.c */
    kn_client_t *held_clients;
};

/* topic_config.c */
void kn_topic_config_compute(const kn_broker_config_t *bc, const char *const *keys, const char *const *vals,
                             size_t n, const char *ctx, kn_topic_config_t *out);
void kn_partition__apply_config(kn_broker_t *b, kn_partition_t *p);
void kn_topic_config__apply_all(kn_broker_t *b); /* every local partition */
/* lifecycle.c: retention checks, the cleaner, delayed segment deletion and
 * the log-start-offset / cleaner-offset checkpoints. */
void kn_lifecycle__start(kn_broker_t *b);     /* after the logs are loaded */
void kn_lifecycle__stop(kn_broker_t *b);      /* shutdown: cancel, checkpoint */
void kn_lifecycle__free(kn_broker_t *b);      /* after the loop has finished */
/* The log start offset of p moved (DeleteRecords): delete what fell below. */
void kn_lifecycle__start_offset_moved(kn_broker_t *b, kn_partition_t *p);
int kn_h_delete_records(kn_req_t *r);

/* broker.c */
kn_partition_t *kn_broker__partition(kn_broker_t *b, const char *topic, size_t tlen, int32_t partition);
/* p->is_leader, unless the loop has just come back from a stall and
 * ZooKeeper has not yet confirmed that this broker still holds its session. */
bool kn_broker__leads(const kn_broker_t *b, const kn_partition_t *p);
void kn_broker__check_stall(kn_broker_t *b); /* each tick and each request */
void kn_broker__on_append(kn_broker_t *b, kn_partition_t *p);
void kn_broker__checkpoint(kn_broker_t *b);

/* request.c */
void kn_req__finish(kn_req_t *r);       /* resp ready: send in order */
size_t kn_req__begin_response(kn_req_t *r);
void kn_req__hold_segment(kn_req_t *r, kn_segment_t *seg);
void kn_client__on_accept(void *ud, kn_conn_t *c);
void kn_client__on_frame(void *ud, kn_conn_t *c, uint8_t *frame, size_t len);
void kn_client__on_close(void *ud, kn_conn_t *c, kn_close_reason_t why);
void kn_client__release_held(kn_broker_t *b); /* the broker is ready: read them */

/* handlers: each decodes r->frame from r->body_off, fills r->resp (after
 * kn_req__begin_response), and calls kn_req__finish now or later. Returns 0,
 * or a negative KN_E* when the request could not be decoded (the caller logs
 * and closes the connection). */
int kn_h_api_versions(kn_req_t *r);
int kn_h_metadata(kn_req_t *r);
int kn_h_produce(kn_req_t *r);
int kn_h_fetch(kn_req_t *r);
int kn_h_list_offsets(kn_req_t *r);
int kn_h_create_topics(kn_req_t *r);
int kn_h_delete_topics(kn_req_t *r);
int kn_h_describe_configs(kn_req_t *r);
int kn_h_init_producer_id(kn_req_t *r);
/* group.c: group coordinator handlers and glue */
int kn_h_find_coordinator(kn_req_t *r);
int kn_h_join_group(kn_req_t *r);
int kn_h_sync_group(kn_req_t *r);
int kn_h_heartbeat(kn_req_t *r);
int kn_h_leave_group(kn_req_t *r);
int kn_h_offset_commit(kn_req_t *r);
int kn_h_offset_fetch(kn_req_t *r);
int kn_h_offset_delete(kn_req_t *r);
int kn_h_describe_groups(kn_req_t *r);
int kn_h_list_groups(kn_req_t *r);
int kn_h_delete_groups(kn_req_t *r);
void kn_group__init(kn_broker_t *b);
/* Load/unload __consumer_offsets partitions whose leadership changed. */
void kn_group__reconcile(kn_broker_t *b);
/* Groups this broker coordinates (loaded), for metrics. */
size_t kn_group__count(const kn_broker_t *b);
void kn_group__shutdown(kn_broker_t *b); /* answers parked group requests */
void kn_group__free(kn_broker_t *b);

/* produce_validate.c: Kafka's LogValidator steps for one partition's records */
#include "kanal/proto/batch.h"
typedef struct kn_produce_prep_s {
    uint8_t *data;           /* batches to append: the request's bytes or `owned` */
    size_t len;
    uint8_t *owned;          /* rebuilt (recompressed) blob or NULL; kn_produce__prep_free */
    int64_t log_append_time; /* -1 unless the topic uses LogAppendTime */
    kn_batches_info_t info;
} kn_produce_prep_t;
/* 0, or the Kafka error for the partition (then nothing to free). */
int16_t kn_produce__prepare(kn_req_t *r, kn_partition_t *p, uint8_t *data, size_t len, kn_produce_prep_t *pp);
void kn_produce__prep_free(kn_produce_prep_t *pp);
/* Effective topic config value into buf (override, else broker default). */
const char *kn_broker__topic_config(kn_broker_t *b, const char *topic, const char *key, char *buf, size_t n);
/* A read range holds a zstd batch (reads the batch headers). */
bool kn_broker__range_has_zstd(const kn_plog_read_t *rd);
/* Sequence/epoch checks of the prepared batches against p->pstate: 0 (append,
 * or *is_dup with *dup = the cached batch to answer with) or a Kafka error. */
int16_t kn_produce__check_idempotence(kn_req_t *r, kn_partition_t *p, const kn_produce_prep_t *pp, bool *is_dup,
                                      kn_pstate_batch_t *dup);
/* Rebuild p's producer state from snapshots and the log (after truncation). */
void kn_broker__pstate_reload(kn_broker_t *b, kn_partition_t *p);
/* pid_blocks.c: answer InitProducerId with a new producer id (epoch 0). */
int kn_pid__assign(kn_req_t *r);
void kn_pid__cancel_client(kn_broker_t *b, kn_client_t *cl);

/* replica.c: leadership, high watermark, ISR, controller requests */
int kn_h_leader_and_isr(kn_req_t *r);
int kn_h_update_metadata(kn_req_t *r);
int kn_h_stop_replica(kn_req_t *r);
int kn_h_offset_for_leader_epoch(kn_req_t *r);
/* controller_api.c: answered by the controller (src/cluster) */
int kn_h_alter_partition(kn_req_t *r);
int kn_h_controlled_shutdown(kn_req_t *r);
int kn_h_elect_leaders(kn_req_t *r);
int kn_h_allocate_producer_ids(kn_req_t *r);
void kn_replica__init_partition(kn_broker_t *b, kn_partition_t *p, const char *dir);
void kn_replica__free_partition(kn_broker_t *b, kn_partition_t *p);
/* Leader: recompute the high watermark; wakes fetches and acks=all. */
void kn_replica__update_hw(kn_broker_t *b, kn_partition_t *p);
/* Leader: a follower fetched at fetch_offset (its log end). */
void kn_replica__follower_fetched(kn_broker_t *b, kn_partition_t *p, int32_t replica, int64_t fetch_offset);
void kn_replica__tick(kn_broker_t *b, int64_t now_ms);
/* The loop stood still for gap_ms: move every follower's last caught-up time
 * on by as much, so the stall does not shrink ISRs by itself. */
void kn_replica__forgive_lag(kn_broker_t *b, int64_t gap_ms);
int32_t kn_replica__min_isr(kn_broker_t *b, const kn_partition_t *p);
bool kn_replica__in_isr(const kn_partition_t *p, int32_t id);
/* Apply a leadership/ISR state (from LeaderAndIsr, or ZooKeeper before a
 * controller has spoken). */
void kn_replica__apply_state(kn_broker_t *b, kn_partition_t *p, int32_t leader, int32_t leader_epoch,
                             const int32_t *isr, int32_t nisr, const int32_t *replicas, int32_t nreplicas,
                             int32_t partition_epoch);
void kn_replica__shutdown(kn_broker_t *b);
/* Write p's leader epoch into every batch before a leader-side append. */
void kn_replica__stamp_epoch(const kn_partition_t *p, uint8_t *data, size_t len);
/* The inter-broker client to the current controller (AlterPartition,
 * AllocateProducerIds); NULL while no controller is known. Re-created when
 * the controller moves, which fails requests queued on the old one. */
struct kn_ib_s *kn_broker__controller_ib(kn_broker_t *b);
/* Call cb(arg, 0) once p's high watermark passes offset (the ISR has it);
 * NOT_LEADER_OR_FOLLOWER if leadership moves, REQUEST_TIMED_OUT after
 * timeout_ms. May call cb before returning. */
typedef void (*kn_hw_cb)(void *arg, int16_t kafka_err);
void kn_replica__wait_hw(kn_broker_t *b, kn_partition_t *p, int64_t offset, int64_t timeout_ms, kn_hw_cb cb,
                         void *arg);
/* Re-check waiters of p (NULL: deadlines only); fail_all on shutdown. */
void kn_replica__hw_waiters_check(kn_broker_t *b, kn_partition_t *p, bool fail_all);
/* fetcher.c: followers pull from leaders */
void kn_fetcher__sync(kn_broker_t *b);
void kn_fetcher__kick(kn_broker_t *b);
void kn_fetcher__close_all(kn_broker_t *b);
/* produce.c: acks=all purgatory */
void kn_produce__hw_advanced(kn_broker_t *b, kn_partition_t *p);
void kn_produce__expire(kn_broker_t *b, int64_t now_ms, bool all);
void kn_produce__cancel_client(kn_broker_t *b, kn_client_t *cl);

/* fetch.c: purgatory */
void kn_fetch__wake(kn_broker_t *b, kn_partition_t *p);
void kn_fetch__expire(kn_broker_t *b, int64_t now_ns);
void kn_fetch__cancel_client(kn_broker_t *b, kn_client_t *cl);
/* admin.c */
void kn_admin__metadata_changed(kn_broker_t *b);
/* configs.c: AlterConfigs, IncrementalAlterConfigs, CreatePartitions and
 * dynamic broker configs */
int kn_h_alter_configs(kn_req_t *r);
int kn_h_incremental_alter_configs(kn_req_t *r);
int kn_h_create_partitions(kn_req_t *r);
void kn_configs__metadata_changed(kn_broker_t *b); /* waiting CreatePartitions; timeouts */
/* Apply /config/brokers/<id> over <default> over the static config to b->cfg. */
void kn_configs__apply_broker(kn_broker_t *b);
/* DescribeConfigs source of a broker key: 2 per-broker dynamic, 3 cluster
 * default dynamic, 0 not dynamic. */
int kn_configs__broker_source(kn_broker_t *b, const char *key);
/* Source of a topic key without an override, from the broker key behind
 * it: 2 or 3 (dynamic), 4 (set in the broker's file), else 5 (default). */
int kn_configs__topic_default_source(kn_broker_t *b, const char *topic_key);
void kn_admin__cancel_client(kn_broker_t *b, kn_client_t *cl);

/* A NUL-terminated copy of a wire string in the request arena. */
char *kn_req__cstr(kn_req_t *r, kn_str_t s);

/* metrics.c: Prometheus endpoint (metrics.listeners) and its counters */
int kn_metrics__start(kn_broker_t *b); /* after the Kafka listener; 0, or <0 after logging */
void kn_metrics__stop(kn_broker_t *b);  /* shutdown: closes the listener and open scrapes */
void kn_metrics__request(const kn_req_t *r); /* reply ready (kn_req__finish) */
void kn_metrics__produced(const kn_partition_t *p, int64_t records, int64_t bytes);
struct kn_FetchResponse_s;
void kn_metrics__fetched(const struct kn_FetchResponse_s *resp, bool replica); /* reply built */
void kn_metrics__isr_change(int32_t old_n, int32_t new_n); /* leader's ISR applied */
/* notify.c: systemd's sd_notify protocol over $NOTIFY_SOCKET (no libsystemd) */
int kn_notify__send(const char *state); /* "READY=1\n..."; 0 when not under systemd */
void kn_notify__ready(kn_broker_t *b);  /* READY=1 with a STATUS line */

#endif
