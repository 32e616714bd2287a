/* The ZooKeeper side of a broker: session, /brokers/ids registration,
 * /controller election, topic znodes, the metadata cache and (in
 * src/cluster/controller.c) the controller duties of a ZK-mode cluster.
 *
 * Threads: every function here runs on the loop thread given to
 * kn_cluster_new, and every callback is called on it. ZooKeeper's own threads
 * never touch the cache; they copy what they got and hand it over with
 * uv_async_send. Znode layout: ../shared/kafka-protocol/ZOOKEEPER-LAYOUT.md;
 * details in docs/cluster.md. */
#ifndef KANAL_CLUSTER_CLUSTER_H
#define KANAL_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kanal/proto/gen/alter_partition.h"
#include "kanal/proto/gen/elect_leaders.h"
#include "kanal/proto/types.h"

typedef struct kn_cluster_s kn_cluster_t;

typedef struct kn_cluster_config_s {
    const char *zk_connect;        /* "127.0.0.1:2181[,...][/chroot]"; the chroot is created if missing */
    int32_t session_timeout_ms;    /* asked of ZooKeeper; it caps it to [2,20] x tickTime */
    int32_t connection_timeout_ms; /* bounded wait for the first session at start, then on_fatal */
    int32_t broker_id;
    const char *advertised_host; /* registration: endpoints ["PLAINTEXT://host:port"] */
    int advertised_port;
    const char *rack; /* may be NULL */
    int32_t default_num_partitions;     /* for npartitions -1 in create_topic */
    int16_t default_replication_factor; /* for rf -1 in create_topic */
    /* Controller settings (Kafka's broker keys; the broker fills them from its
     * config). A topic's unclean.leader.election.enable in /config/topics
     * overrides the first. */
    bool unclean_leader_election_enable;            /* Kafka default false */
    bool auto_leader_rebalance_enable;              /* Kafka default true */
    int32_t leader_imbalance_check_interval_seconds; /* <= 0: Kafka's 300 */
    int32_t leader_imbalance_per_broker_percentage;  /* <= 0: Kafka's 10 */
    int32_t controller_socket_timeout_ms;           /* controller requests; <= 0: 30000 */
    int32_t topic_delete_timeout_ms;                /* wait for StopReplica replies; <= 0: 10000 */
} kn_cluster_config_t;

typedef struct kn_partition_state_s {
    int32_t partition;
    int32_t leader;           /* -1: no leader (or state znode not there yet) */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t zk_version;       /* partition epoch = data version of the state znode; -1 if absent */
    int32_t *replicas;        /* assignment order; first = preferred leader */
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
} kn_partition_state_t;

typedef struct kn_topic_meta_s {
    char *name;
    kn_uuid_t id; /* topic_id of /brokers/topics/<t> (base64url in ZK); zero if absent */
    int32_t npartitions;
    kn_partition_state_t *parts; /* index = partition id */
    bool deleting;               /* /admin/delete_topics/<t> exists */
} kn_topic_meta_t;

typedef struct kn_broker_meta_s {
    int32_t id;
    char *host;
    int port;
    char *rack;    /* NULL if none */
    int64_t epoch; /* czxid of /brokers/ids/<id> */
} kn_broker_meta_t;

typedef struct kn_cluster_callbacks_s {
    void *ud;
    void (*on_ready)(void *ud);            /* registered + first metadata loaded (once) */
    void (*on_metadata_changed)(void *ud); /* after on_ready: topics/partitions/brokers/controller changed */
    void (*on_fatal)(void *ud, const char *why); /* e.g. ZooKeeper unreachable within connection_timeout_ms */
} kn_cluster_callbacks_t;

/* cfg strings are copied. Returns 0 or KN_EINVAL. */
int kn_cluster_new(uv_loop_t *loop, const kn_cluster_config_t *cfg, const kn_cluster_callbacks_t *cb,
                   kn_cluster_t **out);
/* Opens the session and runs startup (base paths, /cluster/id, registration,
 * election, metadata load). Failures are reported through on_fatal. */
int kn_cluster_start(kn_cluster_t *c);
/* Graceful stop: delete /controller if ours (fenced) and /brokers/ids/<id>,
 * close the session (off the loop thread), close handles, then call done on
 * the loop. Pending admin completions are called with an error first. */
void kn_cluster_stop(kn_cluster_t *c, void (*done)(void *ud), void *ud);
/* After stop's done (or if never started). If the handles are still open it
 * closes them and frees in their close callbacks: keep the loop running. */
void kn_cluster_free(kn_cluster_t *c);

/* Cache lookups. Pointers stay valid until the next on_metadata_changed/on_ready. */
const kn_topic_meta_t *kn_cluster_topic(const kn_cluster_t *c, const char *name, size_t namelen);
size_t kn_cluster_topics(const kn_cluster_t *c, const kn_topic_meta_t *const **out); /* sorted by name */
size_t kn_cluster_brokers(const kn_cluster_t *c, const kn_broker_meta_t **out);    /* sorted by id */
int32_t kn_cluster_controller_id(const kn_cluster_t *c); /* -1 unknown */
int32_t kn_cluster_controller_epoch(const kn_cluster_t *c); /* -1 until one is known */
const char *kn_cluster_id(const kn_cluster_t *c);        /* NULL until read */
bool kn_cluster_is_controller(const kn_cluster_t *c);
int64_t kn_cluster_broker_epoch(const kn_cluster_t *c); /* czxid of our registration, -1 if none */
/* True when the topic exists and every partition has a leader >= 0. */
bool kn_cluster_topic_ready(const kn_cluster_t *c, const char *name);
/* Topic config overrides from /config/topics/<t>; 0 and NULLs if none.
 * Arrays valid as the other lookups. */
size_t kn_cluster_topic_configs(const kn_cluster_t *c, const char *topic, const char *const **keys,
                                const char *const **values);

/* Admin. Completion runs on the loop thread, never inside the call, with a
 * Kafka error code (0; 17 INVALID_TOPIC_EXCEPTION; 36 TOPIC_ALREADY_EXISTS;
 * 37 INVALID_PARTITIONS; 38 INVALID_REPLICATION_FACTOR; 41 NOT_CONTROLLER;
 * 3 UNKNOWN_TOPIC_OR_PARTITION; 7 REQUEST_TIMED_OUT when ZooKeeper was lost
 * mid-write; -1 otherwise) and a message (borrowed for the call). */
typedef void (*kn_cluster_done_cb)(void *ud, int16_t kafka_err, const char *msg);
/* One ZooKeeper round trip on the current session: cb gets 0 if this
 * broker's registration is still the one the session made and every change
 * read since has been handed over (on_metadata_changed), else 7 with a
 * reason. cb runs exactly once, never inside this call. Used after the
 * event loop stalled (docs/replication.md, "Stalls"). */
void kn_cluster_confirm_session(kn_cluster_t *c, kn_cluster_done_cb cb, void *ud);

/* Like Kafka's CreateTopics in ZK mode: controller only. Writes
 * /config/topics/<t> ({"version":1,"config":{..}}) then /brokers/topics/<t>
 * with a fresh topic id; completes when the topic znode is written. The
 * partition state znodes follow from the controller: wait for
 * kn_cluster_topic_ready. npartitions/rf -1 = defaults. Config pairs are
 * already validated by the caller. Returns 0 (cb will run) or KN_ESTATE if
 * stopping (cb will not run). */
int kn_cluster_create_topic(kn_cluster_t *c, const char *name, int32_t npartitions, int16_t rf,
                            const char *const *cfg_keys, const char *const *cfg_values, size_t ncfg,
                            bool validate_only, kn_cluster_done_cb cb, void *ud);
/* Auto-creation (Metadata with allow_auto_topic_creation, internal topics):
 * any broker writes the topic znodes itself, as Kafka's ZooKeeper-mode
 * brokers do through AdminZkClient; the controller then elects leaders.
 * Same validation and completion as kn_cluster_create_topic. */
int kn_cluster_auto_create_topic(kn_cluster_t *c, const char *name, int32_t npartitions, int16_t rf,
                                 const char *const *cfg_keys, const char *const *cfg_values, size_t ncfg,
                                 kn_cluster_done_cb cb, void *ud);
/* Marks /admin/delete_topics/<t>; the controller then removes the topic's
 * znodes. Controller only. Same return convention. */
int kn_cluster_delete_topic(kn_cluster_t *c, const char *name, kn_cluster_done_cb cb, void *ud);

/* ---- configs and partitions (src/cluster/admin_ext.c) ---- */

/* Dynamic broker configs from /config/brokers/<our id> (per_broker) or
 * /config/brokers/<default>; 0 and NULLs if none. Valid until control
 * returns to the loop (on_metadata_changed follows a change). */
size_t kn_cluster_broker_configs(const kn_cluster_t *c, bool per_broker, const char *const **keys,
                                 const char *const **values);

typedef struct kn_cluster_config_map_s {
    const char *const *keys;
    const char *const *values;
    size_t n;
} kn_cluster_config_map_t;

/* The edit step of kn_cluster_alter_config: cur is the entity's stored map
 * (empty if the znode is absent), borrowed for the call. Fill *out
 * (borrowed until return; the cluster copies it) and return 0, or a Kafka
 * error with a message in msg. Called once per attempt, on the loop thread;
 * never after done. */
typedef int16_t (*kn_cluster_config_edit_fn)(void *ud, const kn_cluster_config_map_t *cur,
                                             kn_cluster_config_map_t *out, char *msg, size_t msgsz);

/* AlterConfigs/IncrementalAlterConfigs in ZK mode (any broker): read
 * /config/<entity_type>/<entity_name> ("topics"/"brokers"; name a topic, a
 * broker id or "<default>"), let edit compute the new map, and write it
 * conditional on the version read (create if absent) together with the
 * sequential /config/changes/config_change_ notification
 * {"version":2,"entity_path":"<type>/<name>"} in one multi; a concurrent
 * writer makes it re-read and edit again. validate_only: stops after edit.
 * done once (7 if ZooKeeper was lost). Returns 0, KN_ESTATE (stopping) or
 * KN_EINVAL (bad entity); then done will not run. */
int kn_cluster_alter_config(kn_cluster_t *c, const char *entity_type, const char *entity_name, bool validate_only,
                            kn_cluster_config_edit_fn edit, kn_cluster_done_cb done, void *ud);

/* CreatePartitions in ZK mode: controller only (41). Grows topic to count
 * partitions: 3 unknown topic, 17 queued for deletion, 37 count not above
 * the current one, 38 replication factor above the live brokers, 39 bad
 * assignment. assignments (nassignments lists, -1 = none given; copied):
 * one replica list per new partition, else Kafka's spread continued from
 * the existing layout. Writes /brokers/topics/<t> conditional on its
 * version and fenced by /controller_epoch; the new partitions' states
 * follow from the controller (wait for the cache). Same return convention
 * as create_topic. */
int kn_cluster_create_partitions(kn_cluster_t *c, const char *topic, int32_t count,
                                 const int32_t *const *assignments, const int32_t *assignment_lens,
                                 int32_t nassignments, bool validate_only, kn_cluster_done_cb cb, void *ud);

/* ---- controller requests (the handlers in src/broker/controller_api.c) ----
 * On a broker that is not the controller each answers NOT_CONTROLLER (41).
 * done runs on the loop thread, never inside the call, exactly once (also
 * when the controller resigns meanwhile: NOT_CONTROLLER, or when the
 * cluster stops: REQUEST_TIMED_OUT). */

/* AlterPartition (API 56, v0-3, KIP-497) from a partition leader. req is
 * read during the call only. For each partition: checks (broker epoch,
 * leader epoch, partition epoch, eligible members) as Kafka's ZK
 * controller, a conditional fenced write of the state znode, then
 * UpdateMetadata to all brokers. resp (topics in request order, topic id
 * for v2+, name for v0-1) is owned by the cluster and valid until done
 * returns; encode it there with kn_AlterPartitionResponse_encode(w, version,
 * resp). Partition errors: FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
 * UNKNOWN_TOPIC_OR_PARTITION, INELIGIBLE_REPLICA, NOT_LEADER_OR_FOLLOWER,
 * INVALID_REQUEST, OPERATION_NOT_ATTEMPTED (another write of that partition
 * is in flight: retry); top-level: NOT_CONTROLLER, STALE_BROKER_EPOCH. */
void kn_cluster_alter_partition(kn_cluster_t *c, const kn_AlterPartitionRequest_t *req, int16_t version,
                                void (*done)(void *ud, kn_AlterPartitionResponse_t *resp), void *ud);

typedef struct kn_cluster_tp_s {
    const char *topic;
    int32_t partition;
} kn_cluster_tp_t;

/* ControlledShutdown (API 7) received by the controller: the broker stops
 * being eligible, leaderships move to other ISR members, it leaves every
 * ISR (StopReplica for the partitions it follows), and done gets the
 * partitions it still leads (replication factor > 1 only), valid during the
 * call. Errors: NOT_CONTROLLER, STALE_BROKER_EPOCH (77),
 * BROKER_NOT_AVAILABLE (8) for an unregistered broker. broker_epoch -1:
 * not checked (ControlledShutdown v0-1). */
void kn_cluster_controlled_shutdown_request(kn_cluster_t *c, int32_t broker_id, int64_t broker_epoch,
                                            void (*done)(void *ud, int16_t err, const kn_cluster_tp_t *remaining,
                                                         int32_t nremaining),
                                            void *ud);

/* ElectLeaders (API 43, v0-2): PREFERRED (0) or UNCLEAN (1). A null
 * topic_partitions means every partition (results then leave out
 * ELECTION_NOT_NEEDED). resp owned by the cluster until done returns;
 * encode with kn_ElectLeadersResponse_encode(w, version, resp). */
void kn_cluster_elect_leaders(kn_cluster_t *c, const kn_ElectLeadersRequest_t *req, int16_t version,
                              void (*done)(void *ud, kn_ElectLeadersResponse_t *resp), void *ud);

/* The shutting-down side: send ControlledShutdown v3 to the current
 * controller (handled locally if that is us) until it reports nothing
 * remaining, at most 3 tries within 10 s. done(ud, ok, remaining): ok 1
 * when the controller moved everything (remaining 0); ok 0 otherwise, with
 * the last remaining count (-1 if no answer). Call before kn_cluster_stop;
 * done is called once (with ok 0 if the cluster stops meanwhile). */
void kn_cluster_controlled_shutdown(kn_cluster_t *c, void (*done)(void *ud, int ok, int remaining), void *ud);

/* AllocateProducerIds (API 67, v0) received by the controller: the next
 * block of KN_PRODUCER_ID_BLOCK_SIZE producer ids for broker_id, claimed
 * with a conditional write of /latest_producer_id_block
 * (src/cluster/producer_ids.c). done runs once, never inside the call, with
 * 0 and the block [start, start + len), or NOT_CONTROLLER (41),
 * BROKER_ID_NOT_REGISTERED (102), STALE_BROKER_EPOCH (77),
 * REQUEST_TIMED_OUT (7: ZooKeeper lost, stopping) or UNKNOWN_SERVER_ERROR
 * (-1: the znode cannot be read or written, ids exhausted). */
#define KN_PRODUCER_ID_BLOCK_SIZE 1000 /* Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE */
typedef void (*kn_cluster_pid_alloc_cb)(void *ud, int16_t error_code, int64_t start, int32_t len);
void kn_cluster_allocate_producer_ids(kn_cluster_t *c, int32_t broker_id, int64_t broker_epoch,
                                      kn_cluster_pid_alloc_cb done, void *ud);

#endif
