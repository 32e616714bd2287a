/* Broker configuration table, loader and topic-level key table.
 * See include/kanal/broker/config.h. Defaults and valid ranges follow the
 * Apache Kafka 3.x broker documentation; descriptions are our own words. */
#include "kanal/broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kanal/util/config.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"
#include "kanal/util/mem.h"

#define I16MAX INT16_MAX
#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define I32MAX_S "2147483647"
#define I64MAX_S "9223372036854775807"

/* flags */
#define F_NONE 0u
#define F_REQUIRED 1u /* must be set explicitly */
#define F_KANAL 2u    /* Kanal-only key, not an Apache Kafka key */
#define F_NULLABLE 4u /* numeric key whose value is null until set explicitly */

#define RO KN_CFG_READ_ONLY
#define PB KN_CFG_PER_BROKER
#define CW KN_CFG_CLUSTER_WIDE

/* Extra validation of a parsed, normalised text value; NULL = none. Writes a
 * reason (no key/location) to why. */
typedef int (*check_fn)(const char *v, char *why, size_t whysz);

typedef struct {
    check_fn fn;
    const char *text; /* "Valid values" column */
} check_t;

static int chk_listeners(const char *v, char *why, size_t whysz);
static int chk_advertised(const char *v, char *why, size_t whysz);
static int chk_zk_connect(const char *v, char *why, size_t whysz);
static int chk_nonempty_list(const char *v, char *why, size_t whysz);
static int chk_log_debug(const char *v, char *why, size_t whysz);
static int chk_metrics_listeners(const char *v, char *why, size_t whysz);

static const check_t CHK_NONE = {NULL, NULL};
static const check_t CHK_LISTENERS = {chk_listeners, "PLAINTEXT://host:port[,...]"};
static const check_t CHK_ADVERTISED = {chk_advertised, "PLAINTEXT://host:port[,...], host not 0.0.0.0"};
static const check_t CHK_ZK = {chk_zk_connect, "host:port[,host:port...][/chroot]"};
static const check_t CHK_DIRS = {chk_nonempty_list, "non-empty list"};
static const check_t CHK_DEBUG = {chk_log_debug, "list of net, proto, log, zk, group, repl, all"};
static const check_t CHK_METRICS = {chk_metrics_listeners, "\"\" or NAME://host:port"};

/* The broker table. Columns: key, struct field, type, default text (NULL =
 * null), min, max (integers; double uses them too), choices (comma list or
 * NULL), extra check, update mode, flags, description. */
#define KN_BROKER_KEYS(X)                                                                             \
    X("broker.id", broker_id, INT32, NULL, 0, I32MAX, NULL, CHK_NONE, RO, F_REQUIRED,                  \
      "Id of this broker, unique in the cluster. Required; Kanal does not generate ids.")              \
    X("listeners", listeners, STRING, "PLAINTEXT://:9092", 0, 0, NULL, CHK_LISTENERS, PB, F_NONE,      \
      "Address to accept clients on, NAME://host:port. Kanal serves the first listener only and it "   \
      "must be PLAINTEXT. An empty host (or 0.0.0.0) binds every interface.")                          \
    X("advertised.listeners", advertised_listeners, STRING, NULL, 0, 0, NULL, CHK_ADVERTISED, PB,      \
      F_NONE,                                                                                          \
      "Address published in ZooKeeper and Metadata responses. Unset: the listener address, with a "    \
      "wildcard host advertised as 127.0.0.1 (Kafka would use the canonical hostname).")               \
    X("log.dirs", log_dirs, LIST, NULL, 0, 0, NULL, CHK_DIRS, RO, F_NONE,                              \
      "Comma-separated directories that hold partition data. Unset: log.dir.")                         \
    X("log.dir", log_dir, STRING, "/tmp/kanal-logs", 0, 0, NULL, CHK_NONE, RO, F_NONE,                 \
      "Single data directory, used only when log.dirs is not set.")                                    \
    X("zookeeper.connect", zookeeper_connect, STRING, NULL, 0, 0, NULL, CHK_ZK, RO, F_REQUIRED,        \
      "ZooKeeper ensemble as host:port[,host:port...] with an optional /chroot suffix. Required.")     \
    X("zookeeper.session.timeout.ms", zookeeper_session_timeout_ms, INT32, "18000", 1, I32MAX, NULL,   \
      CHK_NONE, RO, F_NONE, "ZooKeeper session timeout.")                                              \
    X("zookeeper.connection.timeout.ms", zookeeper_connection_timeout_ms, INT32, NULL, 1, I32MAX,      \
      NULL, CHK_NONE, RO, F_NONE,                                                                      \
      "How long startup waits for a ZooKeeper connection before giving up. Unset: "                    \
      "zookeeper.session.timeout.ms.")                                                                 \
    X("num.partitions", num_partitions, INT32, "1", 1, I32MAX, NULL, CHK_NONE, RO, F_NONE,             \
      "Partition count of topics created without one (auto-created or CreateTopics with -1).")        \
    X("default.replication.factor", default_replication_factor, INT16, "1", 1, I16MAX, NULL,          \
      CHK_NONE, RO, F_NONE, "Replication factor of topics created without one.")                       \
    X("auto.create.topics.enable", auto_create_topics_enable, BOOL, "true", 0, 0, NULL, CHK_NONE, RO,  \
      F_NONE, "Create a topic when a client asks for metadata of one that does not exist.")            \
    X("delete.topic.enable", delete_topic_enable, BOOL, "true", 0, 0, NULL, CHK_NONE, RO, F_NONE,      \
      "Allow DeleteTopics; when false, deletes are refused.")                                          \
    X("log.segment.bytes", log_segment_bytes, INT64, "1073741824", 14, I32MAX, NULL, CHK_NONE, CW,     \
      F_NONE, "Largest size of one segment file before a new one is rolled.")                          \
    X("log.roll.ms", log_roll_ms, INT64, NULL, 1, I64MAX, NULL, CHK_NONE, CW, F_NONE,                  \
      "Roll a new segment after this long even if it is not full. Unset: log.roll.hours.")             \
    X("log.roll.hours", log_roll_hours, INT32, "168", 1, I32MAX, NULL, CHK_NONE, RO, F_NONE,           \
      "Segment roll time in hours, used when log.roll.ms is not set.")                                 \
    X("log.roll.jitter.ms", log_roll_jitter_ms, INT64, NULL, 0, I64MAX, NULL, CHK_NONE, CW, F_NONE,    \
      "Largest random amount subtracted from the roll time, to spread rolls out. Unset: "              \
      "log.roll.jitter.hours.")                                                                        \
    X("log.roll.jitter.hours", log_roll_jitter_hours, INT32, "0", 0, I32MAX, NULL, CHK_NONE, RO,       \
      F_NONE, "Roll jitter in hours, used when log.roll.jitter.ms is not set.")                        \
    X("log.retention.ms", log_retention_ms, INT64, NULL, -1, I64MAX, NULL, CHK_NONE, CW, F_NONE,       \
      "Delete segments older than this; -1 keeps them forever. Unset: log.retention.minutes, then "    \
      "log.retention.hours.")                                                                          \
    X("log.retention.minutes", log_retention_minutes, INT32, NULL, -1, I32MAX, NULL, CHK_NONE, RO,     \
      F_NULLABLE, "Retention in minutes, used when log.retention.ms is not set.")                      \
    X("log.retention.hours", log_retention_hours, INT32, "168", -1, I32MAX, NULL, CHK_NONE, RO,        \
      F_NONE, "Retention in hours, used when neither log.retention.ms nor log.retention.minutes is "   \
      "set.")                                                                                          \
    X("log.retention.bytes", log_retention_bytes, INT64, "-1", -1, I64MAX, NULL, CHK_NONE, CW, F_NONE, \
      "Delete the oldest segments while a partition is larger than this; -1 = no size limit.")         \
    X("log.retention.check.interval.ms", log_retention_check_interval_ms, INT64, "300000", 1, I64MAX,  \
      NULL, CHK_NONE, RO, F_NONE, "How often retention (time and size) is checked.")                   \
    X("log.flush.interval.messages", log_flush_interval_messages, INT64, I64MAX_S, 1, I64MAX, NULL,    \
      CHK_NONE, CW, F_NONE, "fsync a partition after this many appended messages.")                    \
    X("log.flush.interval.ms", log_flush_interval_ms, INT64, NULL, 0, I64MAX, NULL, CHK_NONE, CW,      \
      F_NULLABLE,                                                                                      \
      "fsync a partition when its oldest unflushed message is this old. Unset: "                       \
      "log.flush.scheduler.interval.ms.")                                                              \
    X("log.flush.scheduler.interval.ms", log_flush_scheduler_interval_ms, INT64, I64MAX_S, 0, I64MAX,  \
      NULL, CHK_NONE, RO, F_NONE, "How often the flusher looks for partitions due an fsync.")          \
    X("log.index.size.max.bytes", log_index_size_max_bytes, INT32, "10485760", 4, I32MAX, NULL,        \
      CHK_NONE, CW, F_NONE, "Largest size of one offset index file.")                                  \
    X("log.index.interval.bytes", log_index_interval_bytes, INT32, "4096", 0, I32MAX, NULL, CHK_NONE,  \
      CW, F_NONE, "Add an offset index entry every this many bytes of log.")                           \
    X("message.max.bytes", message_max_bytes, INT32, "1048588", 0, I32MAX, NULL, CHK_NONE, CW, F_NONE, \
      "Largest record batch (after compression) the broker accepts.")                                  \
    X("socket.request.max.bytes", socket_request_max_bytes, INT32, "104857600", 1, I32MAX, NULL,       \
      CHK_NONE, RO, F_NONE, "Largest request frame; bigger frames close the connection unread.")       \
    X("queued.max.requests", queued_max_requests, INT32, "500", 1, I32MAX, NULL, CHK_NONE, RO, F_NONE, \
      "Requests queued broker-wide before connections stop being read.")                               \
    X("kanal.max.inflight.requests.per.connection", max_inflight_requests_per_connection, INT32,       \
      "100", 1, I32MAX, NULL, CHK_NONE, RO, F_KANAL,                                                   \
      "Requests read from one connection and not yet answered before Kanal stops reading it.")         \
    X("connections.max.idle.ms", connections_max_idle_ms, INT64, "600000", 1, I64MAX, NULL, CHK_NONE,  \
      RO, F_NONE, "Close connections idle for longer than this.")                                      \
    X("replica.lag.time.max.ms", replica_lag_time_max_ms, INT32, "30000", 1, I32MAX, NULL, CHK_NONE,   \
      RO, F_NONE,                                                                                      \
      "A follower that has not fetched, or not caught up, for this long is removed from the ISR.")     \
    X("min.insync.replicas", min_insync_replicas, INT32, "1", 1, I32MAX, NULL, CHK_NONE, CW, F_NONE,   \
      "With acks=all, the fewest in-sync replicas that must have a write for it to succeed.")          \
    X("unclean.leader.election.enable", unclean_leader_election_enable, BOOL, "false", 0, 0, NULL,     \
      CHK_NONE, CW, F_NONE, "Let an out-of-sync replica become leader as a last resort (may lose data).") \
    X("offsets.topic.replication.factor", offsets_topic_replication_factor, INT32, "3", 1, I16MAX,     \
      NULL, CHK_NONE, RO, F_NONE,                                                                      \
      "Replication factor of __consumer_offsets; it is not created until this many brokers exist.")    \
    X("offsets.topic.num.partitions", offsets_topic_num_partitions, INT32, "50", 1, I32MAX, NULL,      \
      CHK_NONE, RO, F_NONE, "Partitions of __consumer_offsets (do not change after deployment).")      \
    X("group.initial.rebalance.delay.ms", group_initial_rebalance_delay_ms, INT32, "3000", 0, I32MAX,  \
      NULL, CHK_NONE, RO, F_NONE, "How long a new group waits for more members before its first rebalance.") \
    X("group.min.session.timeout.ms", group_min_session_timeout_ms, INT32, "6000", 0, I32MAX, NULL,    \
      CHK_NONE, RO, F_NONE, "Smallest session timeout a group member may ask for.")                    \
    X("group.max.session.timeout.ms", group_max_session_timeout_ms, INT32, "1800000", 0, I32MAX, NULL, \
      CHK_NONE, RO, F_NONE, "Largest session timeout a group member may ask for.")                     \
    X("auto.leader.rebalance.enable", auto_leader_rebalance_enable, BOOL, "true", 0, 0, NULL,          \
      CHK_NONE, RO, F_NONE, "The controller moves leadership back to preferred replicas when unbalanced.") \
    X("leader.imbalance.check.interval.seconds", leader_imbalance_check_interval_seconds, INT32,       \
      "300", 1, I32MAX, NULL, CHK_NONE, RO, F_NONE, "How often the controller checks leader balance.") \
    X("log.segment.delete.delay.ms", file_delete_delay_ms, INT64, "60000", 0, I64MAX, NULL, CHK_NONE,  \
      CW, F_NONE, "Wait this long before deleting the files of a removed segment.")                    \
    X("compression.type", compression_type, STRING, "producer", 0, 0,                                  \
      "uncompressed,zstd,lz4,snappy,gzip,producer", CHK_NONE, CW, F_NONE,                              \
      "Compression of stored batches; producer keeps what the producer sent.")                         \
    X("log.cleanup.policy", log_cleanup_policy, LIST, "delete", 0, 0, "compact,delete", CHK_NONE, CW,  \
      F_NONE, "What happens to old segments: delete, compact, or both.")                               \
    X("broker.rack", broker_rack, STRING, NULL, 0, 0, NULL, CHK_NONE, RO, F_NONE,                      \
      "Rack of this broker, for rack-aware replica placement.")                                        \
    X("kanal.log.level", log_level, STRING, "info", 0, 0, "debug,info,warn,error", CHK_NONE, RO,       \
      F_KANAL, "Lowest level written to the log.")                                                     \
    X("kanal.log.debug", log_debug, LIST, "", 0, 0, NULL, CHK_DEBUG, RO, F_KANAL,                      \
      "Debug categories to log (needs no kanal.log.level change).")                                    \
    X("metrics.listeners", metrics_listeners, STRING, "", 0, 0, NULL, CHK_METRICS, RO, F_KANAL,        \
      "Address of the HTTP metrics endpoint; empty = off.")                                            \
    X("log.message.timestamp.type", log_message_timestamp_type, STRING, "CreateTime", 0, 0,            \
      "CreateTime,LogAppendTime", CHK_NONE, CW, F_NONE,                                                \
      "Keep the producer's timestamps (CreateTime) or stamp batches on append (LogAppendTime).")        \
    X("log.message.timestamp.difference.max.ms", log_message_timestamp_difference_max_ms, INT64,       \
      I64MAX_S, 0, I64MAX, NULL, CHK_NONE, CW, F_NONE,                                                 \
      "With CreateTime, reject batches whose timestamp is further than this from the broker clock.")   \
    X("log.preallocate", log_preallocate, BOOL, "false", 0, 0, NULL, CHK_NONE, CW, F_NONE,             \
      "Preallocate segment files when they are created.")                                              \
    X("log.cleaner.enable", log_cleaner_enable, BOOL, "true", 0, 0, NULL, CHK_NONE, RO, F_NONE,        \
      "Run log compaction for topics with cleanup.policy=compact.")                                    \
    X("log.cleaner.delete.retention.ms", log_cleaner_delete_retention_ms, INT64, "86400000", 0,        \
      I64MAX, NULL, CHK_NONE, CW, F_NONE, "How long tombstones are kept in compacted topics.")         \
    X("log.cleaner.min.compaction.lag.ms", log_cleaner_min_compaction_lag_ms, INT64, "0", 0, I64MAX,   \
      NULL, CHK_NONE, CW, F_NONE, "A record stays uncompacted for at least this long.")                \
    X("log.cleaner.max.compaction.lag.ms", log_cleaner_max_compaction_lag_ms, INT64, I64MAX_S, 1,      \
      I64MAX, NULL, CHK_NONE, CW, F_NONE, "A record becomes eligible for compaction after at most this long.") \
    X("log.cleaner.min.cleanable.ratio", log_cleaner_min_cleanable_ratio, DOUBLE, "0.5", 0, 1, NULL,   \
      CHK_NONE, CW, F_NONE, "Compact a log once this fraction of it is uncompacted.")                  \
    X("log.cleaner.backoff.ms", log_cleaner_backoff_ms, INT64, "15000", 0, I64MAX, NULL, CHK_NONE, CW, \
      F_NONE, "Sleep this long when no log needs compaction.")                                         \
    X("log.flush.offset.checkpoint.interval.ms", log_flush_offset_checkpoint_interval_ms, INT32,       \
      "60000", 0, I32MAX, NULL, CHK_NONE, RO, F_NONE,                                                  \
      "How often the recovery point (last flushed offset) of each partition is checkpointed.")         \
    X("log.flush.start.offset.checkpoint.interval.ms", log_flush_start_offset_checkpoint_interval_ms,  \
      INT32, "60000", 0, I32MAX, NULL, CHK_NONE, RO, F_NONE,                                           \
      "How often log start offsets are checkpointed.")                                                 \
    X("replica.high.watermark.checkpoint.interval.ms", replica_high_watermark_checkpoint_interval_ms,  \
      INT64, "5000", 1, I64MAX, NULL, CHK_NONE, RO, F_NONE, "How often high watermarks are checkpointed.") \
    X("fetch.max.bytes", fetch_max_bytes, INT32, "57671680", 1024, I32MAX, NULL, CHK_NONE, RO, F_NONE, \
      "Most bytes returned for one Fetch request.")                                                    \
    X("num.replica.fetchers", num_replica_fetchers, INT32, "1", 1, I32MAX, NULL, CHK_NONE, CW, F_NONE, \
      "Fetcher connections per source broker used by followers.")                                      \
    X("replica.fetch.max.bytes", replica_fetch_max_bytes, INT32, "1048576", 0, I32MAX, NULL, CHK_NONE, \
      RO, F_NONE, "Bytes a follower asks for per partition (a larger first batch is still returned).") \
    X("replica.fetch.min.bytes", replica_fetch_min_bytes, INT32, "1", 0, I32MAX, NULL, CHK_NONE, RO,   \
      F_NONE, "Bytes a follower fetch waits for, up to replica.fetch.wait.max.ms.")                    \
    X("replica.fetch.wait.max.ms", replica_fetch_wait_max_ms, INT32, "500", 0, I32MAX, NULL, CHK_NONE, \
      RO, F_NONE, "Longest time a follower fetch waits on the leader; must not exceed "                \
      "replica.lag.time.max.ms or replica.socket.timeout.ms.")                                         \
    X("replica.fetch.response.max.bytes", replica_fetch_response_max_bytes, INT32, "10485760", 0,      \
      I32MAX, NULL, CHK_NONE, RO, F_NONE, "Bytes a follower asks for per fetch response.")             \
    X("replica.fetch.backoff.ms", replica_fetch_backoff_ms, INT32, "1000", 0, I32MAX, NULL, CHK_NONE,  \
      RO, F_NONE, "Sleep after a failed follower fetch.")                                              \
    X("replica.socket.timeout.ms", replica_socket_timeout_ms, INT32, "30000", 1, I32MAX, NULL,         \
      CHK_NONE, RO, F_NONE, "Timeout of follower fetch requests.")                                     \
    X("controller.socket.timeout.ms", controller_socket_timeout_ms, INT32, "30000", 1, I32MAX, NULL,   \
      CHK_NONE, RO, F_NONE, "Timeout of controller-to-broker requests.")                               \
    X("controlled.shutdown.enable", controlled_shutdown_enable, BOOL, "true", 0, 0, NULL, CHK_NONE,    \
      RO, F_NONE, "Move leadership away before shutting down.")                                        \
    X("controlled.shutdown.max.retries", controlled_shutdown_max_retries, INT32, "3", 0, I32MAX, NULL, \
      CHK_NONE, RO, F_NONE, "Attempts at a controlled shutdown before shutting down anyway.")          \
    X("controlled.shutdown.retry.backoff.ms", controlled_shutdown_retry_backoff_ms, INT64, "5000", 0,  \
      I64MAX, NULL, CHK_NONE, RO, F_NONE, "Wait between controlled shutdown attempts.")                \
    X("leader.imbalance.per.broker.percentage", leader_imbalance_per_broker_percentage, INT32, "10",   \
      0, 100, NULL, CHK_NONE, RO, F_NONE,                                                              \
      "Percentage of non-preferred leaders on a broker that triggers a leader rebalance.")             \
    X("offsets.retention.minutes", offsets_retention_minutes, INT32, "10080", 1, I32MAX, NULL,         \
      CHK_NONE, RO, F_NONE, "Committed offsets of an empty group expire after this long.")             \
    X("offsets.retention.check.interval.ms", offsets_retention_check_interval_ms, INT64, "600000", 1,  \
      I64MAX, NULL, CHK_NONE, RO, F_NONE, "How often expired offsets are removed.")                    \
    X("offsets.commit.timeout.ms", offsets_commit_timeout_ms, INT32, "5000", 1, I32MAX, NULL,          \
      CHK_NONE, RO, F_NONE, "Longest wait for an offset commit to reach all offsets-topic replicas.")  \
    X("offset.metadata.max.bytes", offset_metadata_max_bytes, INT32, "4096", 0, I32MAX, NULL,          \
      CHK_NONE, RO, F_NONE, "Largest metadata string stored with a committed offset.")                 \
    X("offsets.topic.segment.bytes", offsets_topic_segment_bytes, INT32, "104857600", 1, I32MAX, NULL, \
      CHK_NONE, RO, F_NONE, "Segment size of __consumer_offsets (small, for fast loading).")           \
    X("group.max.size", group_max_size, INT32, I32MAX_S, 1, I32MAX, NULL, CHK_NONE, RO, F_NONE,        \
      "Most members one consumer group may have.")                                                     \
    X("socket.send.buffer.bytes", socket_send_buffer_bytes, INT32, "102400", -1, I32MAX, NULL,         \
      CHK_NONE, RO, F_NONE, "SO_SNDBUF of client sockets; -1 = OS default.")                           \
    X("socket.receive.buffer.bytes", socket_receive_buffer_bytes, INT32, "102400", -1, I32MAX, NULL,   \
      CHK_NONE, RO, F_NONE, "SO_RCVBUF of client sockets; -1 = OS default.")                           \
    X("socket.listen.backlog.size", socket_listen_backlog_size, INT32, "50", 1, I32MAX, NULL,          \
      CHK_NONE, RO, F_NONE, "listen() backlog of the listener socket.")                                \
    X("max.connections", max_connections, INT32, I32MAX_S, 0, I32MAX, NULL, CHK_NONE, CW, F_NONE,     \
      "Most client connections open at once.")                                                         \
    X("max.connections.per.ip", max_connections_per_ip, INT32, I32MAX_S, 0, I32MAX, NULL, CHK_NONE,    \
      CW, F_NONE, "Most connections open at once from one IP address.")                                \
    X("request.timeout.ms", request_timeout_ms, INT32, "30000", 0, I32MAX, NULL, CHK_NONE, RO, F_NONE, \
      "Timeout of requests this broker sends to other brokers.")

typedef struct {
    const char *name;
    size_t off;
    kn_cfg_type_t type;
    const char *def;
    int64_t min, max;
    const char *choices;
    check_t check;
    kn_cfg_mode_t mode;
    unsigned flags;
    const char *doc;
} bdef_t;

#define KN__DEF(name, field, type, def, min, max, choices, chk, mode, flags, doc)                       \
    {name, offsetof(kn_broker_config_t, field), KN_CFG_##type, def, min, max, choices, chk, mode, flags, doc},
static const bdef_t bdefs[] = {KN_BROKER_KEYS(KN__DEF)};
#undef KN__DEF
#define NBDEFS (sizeof(bdefs) / sizeof(bdefs[0]))

/* Index of each key in bdefs, by field name. */
enum {
#define KN__IDX(name, field, ...) KI_##field,
    KN_BROKER_KEYS(KN__IDX)
#undef KN__IDX
    KI__COUNT
};
_Static_assert(KI__COUNT <= KN_BROKER_CONFIG_MAX_KEYS, "raise KN_BROKER_CONFIG_MAX_KEYS");

/* The table's type column must match the struct field's C type. */
#define KN__CTYPE(e)                                                                                 \
    _Generic((e), int16_t: KN_CFG_INT16, int32_t: KN_CFG_INT32, int64_t: KN_CFG_INT64,                \
             bool: KN_CFG_BOOL, double: KN_CFG_DOUBLE, char *: KN_CFG_STRING, default: -1)
#define KN__STORE(t) ((t) == KN_CFG_LIST ? KN_CFG_STRING : (t))
#define KN__TYPECHECK(name, field, type, ...)                                                         \
    _Static_assert(KN__CTYPE(((kn_broker_config_t *)0)->field) == KN__STORE(KN_CFG_##type),          \
                   "type of " name " does not match field " #field);
KN_BROKER_KEYS(KN__TYPECHECK)
#undef KN__TYPECHECK

/* Real Apache Kafka 3.x broker keys Kanal accepts and ignores (plus a few
 * removed in 3.0 that old server.properties files still carry). */
static const char *const kafka_unused[] = {
    "advertised.host.name", "advertised.port", "alter.config.policy.class.name",
    "alter.log.dirs.replication.quota.window.num", "alter.log.dirs.replication.quota.window.size.seconds",
    "authorizer.class.name", "auto.include.jmx.reporter", "background.threads",
    "broker.heartbeat.interval.ms", "broker.id.generation.enable", "broker.session.timeout.ms",
    "client.quota.callback.class", "connection.failed.authentication.delay.ms", "connections.max.reauth.ms",
    "control.plane.listener.name", "controller.listener.names", "controller.quorum.append.linger.ms",
    "controller.quorum.bootstrap.servers", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms",
    "controller.quorum.request.timeout.ms", "controller.quorum.retry.backoff.ms", "controller.quorum.voters",
    "controller.quota.window.num", "controller.quota.window.size.seconds", "create.topic.policy.class.name",
    "delegation.token.expiry.check.interval.ms", "delegation.token.expiry.time.ms",
    "delegation.token.master.key", "delegation.token.max.lifetime.ms", "delegation.token.secret.key",
    "delete.records.purgatory.purge.interval.requests", "early.start.listeners",
    "eligible.leader.replicas.enable", "fetch.purgatory.purge.interval.requests",
    "group.consumer.assignors", "group.consumer.heartbeat.interval.ms", "group.consumer.max.size",
    "group.consumer.session.timeout.ms", "group.coordinator.rebalance.protocols", "host.name",
    "initial.broker.registration.timeout.ms", "inter.broker.listener.name", "inter.broker.protocol.version",
    "kafka.metrics.polling.interval.secs", "kafka.metrics.reporters", "listener.security.protocol.map",
    "log.cleaner.dedupe.buffer.size", "log.cleaner.io.buffer.load.factor", "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second", "log.cleaner.threads", "log.dir.failure.timeout.ms",
    "log.local.retention.bytes", "log.local.retention.ms", "log.message.downconversion.enable",
    "log.message.format.version", "log.message.timestamp.after.max.ms", "log.message.timestamp.before.max.ms",
    "max.connection.creation.rate", "max.connections.per.ip.overrides",
    "max.incremental.fetch.session.cache.slots", "metadata.log.dir",
    "metadata.log.max.record.bytes.between.snapshots", "metadata.log.max.snapshot.interval.ms",
    "metadata.log.segment.bytes", "metadata.log.segment.ms", "metadata.max.idle.interval.ms",
    "metadata.max.retention.bytes", "metadata.max.retention.ms", "metric.reporters", "metrics.num.samples",
    "metrics.recording.level", "metrics.sample.window.ms", "node.id", "num.io.threads", "num.network.threads",
    "num.recovery.threads.per.data.dir", "num.replica.alter.log.dirs.threads", "offsets.commit.required.acks",
    "offsets.load.buffer.size", "offsets.topic.compression.codec", "password.encoder.cipher.algorithm",
    "password.encoder.iterations", "password.encoder.key.length", "password.encoder.keyfactory.algorithm",
    "password.encoder.old.secret", "password.encoder.secret", "port", "principal.builder.class",
    "process.roles", "producer.id.expiration.ms", "producer.purgatory.purge.interval.requests",
    "queued.max.request.bytes", "quota.window.num", "quota.window.size.seconds", "remote.fetch.max.wait.ms",
    "remote.log.index.file.cache.total.size.bytes", "remote.log.manager.copy.max.bytes.per.second",
    "remote.log.manager.fetch.max.bytes.per.second", "remote.log.manager.task.interval.ms",
    "remote.log.manager.thread.pool.size", "remote.log.metadata.custom.metadata.max.bytes",
    "remote.log.metadata.manager.class.name", "remote.log.metadata.manager.class.path",
    "remote.log.metadata.manager.impl.prefix", "remote.log.metadata.manager.listener.name",
    "remote.log.reader.max.pending.tasks", "remote.log.reader.threads", "remote.log.storage.manager.class.name",
    "remote.log.storage.manager.class.path", "remote.log.storage.manager.impl.prefix",
    "remote.log.storage.system.enable", "replica.selector.class", "replica.socket.receive.buffer.bytes",
    "replication.quota.window.num", "replication.quota.window.size.seconds", "reserved.broker.max.id",
    "sasl.client.callback.handler.class", "sasl.enabled.mechanisms", "sasl.jaas.config",
    "sasl.kerberos.kinit.cmd", "sasl.kerberos.min.time.before.relogin", "sasl.kerberos.principal.to.local.rules",
    "sasl.kerberos.service.name", "sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.callback.handler.class", "sasl.login.class", "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms", "sasl.login.refresh.buffer.seconds", "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter", "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms", "sasl.mechanism.controller.protocol", "sasl.mechanism.inter.broker.protocol",
    "sasl.oauthbearer.clock.skew.seconds", "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer", "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.url", "sasl.oauthbearer.scope.claim.name", "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url", "sasl.server.callback.handler.class", "sasl.server.max.receive.size",
    "security.inter.broker.protocol", "security.providers", "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms", "ssl.cipher.suites", "ssl.client.auth", "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm", "ssl.engine.factory.class", "ssl.key.password",
    "ssl.keymanager.algorithm", "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.keystore.location",
    "ssl.keystore.password", "ssl.keystore.type", "ssl.principal.mapping.rules", "ssl.protocol", "ssl.provider",
    "ssl.secure.random.implementation", "ssl.trustmanager.algorithm", "ssl.truststore.certificates",
    "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type", "telemetry.max.bytes",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms", "transaction.max.timeout.ms",
    "transaction.partition.verification.enable", "transaction.remove.expired.transaction.cleanup.interval.ms",
    "transaction.state.log.load.buffer.size", "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions", "transaction.state.log.replication.factor",
    "transaction.state.log.segment.bytes", "transactional.id.expiration.ms", "zookeeper.clientCnxnSocket",
    "zookeeper.max.in.flight.requests", "zookeeper.metadata.migration.enable", "zookeeper.set.acl",
    "zookeeper.ssl.cipher.suites", "zookeeper.ssl.client.enable", "zookeeper.ssl.crl.enable",
    "zookeeper.ssl.enabled.protocols", "zookeeper.ssl.endpoint.identification.algorithm",
    "zookeeper.ssl.keystore.location", "zookeeper.ssl.keystore.password", "zookeeper.ssl.keystore.type",
    "zookeeper.ssl.ocsp.enable", "zookeeper.ssl.protocol", "zookeeper.ssl.truststore.location",
    "zookeeper.ssl.truststore.password", "zookeeper.ssl.truststore.type", "zookeeper.sync.time.ms",
};
#define NUNUSED (sizeof(kafka_unused) / sizeof(kafka_unused[0]))

/* Topic-level keys: name, type, broker key (NULL: none), Kafka default, min,
 * max, choices, description. */
typedef struct {
    const char *name;
    kn_cfg_type_t type;
    const char *broker_key;
    const char *kafka_default;
    int64_t min, max;
    const char *choices;
    const char *doc;
} tdef_t;

static const tdef_t tdefs[] = {
    {"cleanup.policy", KN_CFG_LIST, "log.cleanup.policy", "delete", 0, 0, "compact,delete",
     "delete, compact, or both."},
    {"compression.type", KN_CFG_STRING, "compression.type", "producer", 0, 0,
     "uncompressed,zstd,lz4,snappy,gzip,producer", "Compression of stored batches."},
    {"delete.retention.ms", KN_CFG_INT64, "log.cleaner.delete.retention.ms", "86400000", 0, I64MAX, NULL,
     "How long tombstones are kept in a compacted topic."},
    {"file.delete.delay.ms", KN_CFG_INT64, "log.segment.delete.delay.ms", "60000", 0, I64MAX, NULL,
     "Wait before deleting the files of a removed segment."},
    {"flush.messages", KN_CFG_INT64, "log.flush.interval.messages", I64MAX_S, 1, I64MAX, NULL,
     "fsync after this many messages."},
    {"flush.ms", KN_CFG_INT64, "log.flush.interval.ms", I64MAX_S, 0, I64MAX, NULL,
     "fsync when the oldest unflushed message is this old."},
    {"follower.replication.throttled.replicas", KN_CFG_LIST, NULL, "", 0, 0, NULL,
     "Replicas throttled on the follower side (accepted, not enforced)."},
    {"index.interval.bytes", KN_CFG_INT32, "log.index.interval.bytes", "4096", 0, I32MAX, NULL,
     "Bytes of log between offset index entries."},
    {"leader.replication.throttled.replicas", KN_CFG_LIST, NULL, "", 0, 0, NULL,
     "Replicas throttled on the leader side (accepted, not enforced)."},
    {"local.retention.bytes", KN_CFG_INT64, "log.local.retention.bytes", "-2", -2, I64MAX, NULL,
     "Tiered storage only (accepted, not used)."},
    {"local.retention.ms", KN_CFG_INT64, "log.local.retention.ms", "-2", -2, I64MAX, NULL,
     "Tiered storage only (accepted, not used)."},
    {"max.compaction.lag.ms", KN_CFG_INT64, "log.cleaner.max.compaction.lag.ms", I64MAX_S, 1, I64MAX, NULL,
     "Longest time a record stays ineligible for compaction."},
    {"max.message.bytes", KN_CFG_INT32, "message.max.bytes", "1048588", 0, I32MAX, NULL,
     "Largest record batch accepted for this topic."},
    {"message.downconversion.enable", KN_CFG_BOOL, "log.message.downconversion.enable", "true", 0, 0, NULL,
     "Down-convert batches for old consumers (Kanal never down-converts)."},
    {"message.format.version", KN_CFG_STRING, "log.message.format.version", "3.0-IV1", 0, 0, NULL,
     "Message format version (Kanal always writes v2 batches)."},
    {"message.timestamp.after.max.ms", KN_CFG_INT64, "log.message.timestamp.after.max.ms", I64MAX_S, 0,
     I64MAX, NULL, "With CreateTime, how far in the future a timestamp may be."},
    {"message.timestamp.before.max.ms", KN_CFG_INT64, "log.message.timestamp.before.max.ms", I64MAX_S, 0,
     I64MAX, NULL, "With CreateTime, how far in the past a timestamp may be."},
    {"message.timestamp.difference.max.ms", KN_CFG_INT64, "log.message.timestamp.difference.max.ms",
     I64MAX_S, 0, I64MAX, NULL, "With CreateTime, largest distance of a timestamp from the broker clock."},
    {"message.timestamp.type", KN_CFG_STRING, "log.message.timestamp.type", "CreateTime", 0, 0,
     "CreateTime,LogAppendTime", "Producer timestamps or append time."},
    {"min.cleanable.dirty.ratio", KN_CFG_DOUBLE, "log.cleaner.min.cleanable.ratio", "0.5", 0, 1, NULL,
     "Compact once this fraction of the log is uncompacted."},
    {"min.compaction.lag.ms", KN_CFG_INT64, "log.cleaner.min.compaction.lag.ms", "0", 0, I64MAX, NULL,
     "Shortest time a record stays uncompacted."},
    {"min.insync.replicas", KN_CFG_INT32, "min.insync.replicas", "1", 1, I32MAX, NULL,
     "With acks=all, fewest in-sync replicas for a write to succeed."},
    {"preallocate", KN_CFG_BOOL, "log.preallocate", "false", 0, 0, NULL, "Preallocate new segment files."},
    {"remote.storage.enable", KN_CFG_BOOL, NULL, "false", 0, 0, NULL,
     "Tiered storage (accepted, must stay false in Kanal)."},
    {"retention.bytes", KN_CFG_INT64, "log.retention.bytes", "-1", -1, I64MAX, NULL,
     "Largest partition size before old segments are deleted; -1 = no limit."},
    {"retention.ms", KN_CFG_INT64, "log.retention.ms", "604800000", -1, I64MAX, NULL,
     "Age after which segments are deleted; -1 = forever."},
    {"segment.bytes", KN_CFG_INT32, "log.segment.bytes", "1073741824", 14, I32MAX, NULL,
     "Segment file size before a roll."},
    {"segment.index.bytes", KN_CFG_INT32, "log.index.size.max.bytes", "10485760", 4, I32MAX, NULL,
     "Largest offset index file."},
    {"segment.jitter.ms", KN_CFG_INT64, "log.roll.jitter.ms", "0", 0, I64MAX, NULL,
     "Random amount subtracted from segment.ms."},
    {"segment.ms", KN_CFG_INT64, "log.roll.ms", "604800000", 1, I64MAX, NULL,
     "Roll a segment after this long even if it is not full."},
    {"unclean.leader.election.enable", KN_CFG_BOOL, "unclean.leader.election.enable", "false", 0, 0, NULL,
     "Let an out-of-sync replica become leader as a last resort."},
};
#define NTDEFS (sizeof(tdefs) / sizeof(tdefs[0]))

/* ------------------------------------------------------------------------ */

static void seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...) {
    if (!err || errsz == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static bool is_explicit(const kn_broker_config_t *c, size_t i) {
    return (c->explicit_set[i / 8] >> (i % 8)) & 1u;
}
static void mark_explicit(kn_broker_config_t *c, size_t i) {
    c->explicit_set[i / 8] |= (uint8_t)(1u << (i % 8));
}

static const char *type_name(kn_cfg_type_t t) {
    switch (t) {
    case KN_CFG_INT16: return "short";
    case KN_CFG_INT32: return "int";
    case KN_CFG_INT64: return "long";
    case KN_CFG_BOOL: return "boolean";
    case KN_CFG_DOUBLE: return "double";
    case KN_CFG_STRING: return "string";
    case KN_CFG_LIST: return "list";
    }
    return "?";
}

static void type_limits(kn_cfg_type_t t, int64_t *lo, int64_t *hi) {
    switch (t) {
    case KN_CFG_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case KN_CFG_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    default: *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

/* Does the comma list choices contain the n bytes at s? */
static bool in_choices(const char *choices, const char *s, size_t n) {
    const char *p = choices;
    while (*p) {
        size_t l = strcspn(p, ",");
        if (l == n && !memcmp(p, s, n)) return true;
        p += l;
        if (*p == ',') p++;
    }
    return false;
}

/* "[a, b, c]" from "a,b,c" */
static void choices_text(const char *choices, char *buf, size_t n) {
    size_t o = 0;
    if (n == 0) return;
    buf[0] = '\0';
    o += (size_t)snprintf(buf, n, "[");
    for (const char *p = choices; *p && o < n; p++)
        o += (size_t)snprintf(buf + o, n - o, *p == ',' ? ", " : "%c", *p);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Valid-values text for a type/range/choices/check. */
static void valid_text(kn_cfg_type_t t, int64_t min, int64_t max, const char *choices, const char *check_text,
                       char *buf, size_t n) {
    int64_t lo, hi;
    buf[0] = '\0';
    if (check_text) {
        snprintf(buf, n, "%s", check_text);
        return;
    }
    if (choices) {
        choices_text(choices, buf, n);
        return;
    }
    if (t == KN_CFG_DOUBLE) {
        snprintf(buf, n, "[%" PRId64 ",...,%" PRId64 "]", min, max);
        return;
    }
    if (t != KN_CFG_INT16 && t != KN_CFG_INT32 && t != KN_CFG_INT64) return;
    type_limits(t, &lo, &hi);
    if (min == lo && max == hi) return;
    if (max == hi)
        snprintf(buf, n, "[%" PRId64 ",...]", min);
    else
        snprintf(buf, n, "[%" PRId64 ",...,%" PRId64 "]", min, max);
}

typedef struct {
    int64_t i;
    double d;
    bool b;
    char *s; /* owned; strings and lists (normalised) */
} pval_t;

/* Normalise a comma list: trim items, reject empty items, join with ",". */
static int norm_list(const char *v, char **out, char *why, size_t whysz) {
    size_t len = strlen(v);
    char *o = kn_malloc(len + 1);
    size_t ol = 0;
    const char *p = v;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') {
        o[0] = '\0';
        *out = o;
        return 0;
    }
    for (;;) {
        size_t l = strcspn(p, ",");
        const char *s = p, *e = p + l;
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (e == s) {
            kn_free(o);
            seterr(why, whysz, "empty list element");
            return KN_EINVAL;
        }
        if (ol) o[ol++] = ',';
        memcpy(o + ol, s, (size_t)(e - s));
        ol += (size_t)(e - s);
        p += l;
        if (*p != ',') break;
        p++;
    }
    o[ol] = '\0';
    *out = o;
    return 0;
}

/* Parse and validate value for a key of the given spec. kind is "config key"
 * or "topic config key"; where is " at file:line" or "". */
static int parse_value(const char *kind, const char *key, const char *value, const char *where,
                       kn_cfg_type_t t, int64_t min, int64_t max, const char *choices, check_fn check,
                       pval_t *out, char *err, size_t errsz) {
    char why[256] = "";
    char vt[256];
    int rc = 0;
    memset(out, 0, sizeof(*out));
    switch (t) {
    case KN_CFG_INT16:
    case KN_CFG_INT32:
    case KN_CFG_INT64: {
        int64_t lo, hi;
        char *end;
        type_limits(t, &lo, &hi);
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (value[0] == '\0' || isspace((unsigned char)value[0]) || *end != '\0') {
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: expected %s", value, kind, key, where,
                   t == KN_CFG_INT64 ? "a long integer" : "an integer");
            return KN_EINVAL;
        }
        if (errno == ERANGE || v < lo || v > hi) {
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: does not fit in %s", value, kind, key, where,
                   t == KN_CFG_INT16 ? "a short" : t == KN_CFG_INT32 ? "an int" : "a long");
            return KN_ERANGE;
        }
        if (v < min || v > max) {
            valid_text(t, min, max, NULL, NULL, vt, sizeof(vt));
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: out of range, valid values are %s", value, kind,
                   key, where, vt);
            return KN_ERANGE;
        }
        out->i = v;
        return 0;
    }
    case KN_CFG_BOOL:
        if (!strcasecmp(value, "true"))
            out->b = true;
        else if (!strcasecmp(value, "false"))
            out->b = false;
        else {
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: expected true or false", value, kind, key,
                   where);
            return KN_EINVAL;
        }
        return 0;
    case KN_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (value[0] == '\0' || isspace((unsigned char)value[0]) || *end != '\0' || !isfinite(d)) {
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: expected a number", value, kind, key, where);
            return KN_EINVAL;
        }
        if (d < (double)min || d > (double)max) {
            valid_text(t, min, max, NULL, NULL, vt, sizeof(vt));
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: out of range, valid values are %s", value, kind,
                   key, where, vt);
            return KN_ERANGE;
        }
        out->d = d;
        return 0;
    }
    case KN_CFG_STRING:
        if (choices && !in_choices(choices, value, strlen(value))) {
            choices_text(choices, vt, sizeof(vt));
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: must be one of %s", value, kind, key, where, vt);
            return KN_EINVAL;
        }
        out->s = kn_strdup(value);
        break;
    case KN_CFG_LIST:
        rc = norm_list(value, &out->s, why, sizeof(why));
        if (rc) {
            seterr(err, errsz, "invalid value '%s' for %s '%s'%s: %s", value, kind, key, where, why);
            return rc;
        }
        if (choices) {
            const char *p = out->s;
            if (*p == '\0') rc = KN_EINVAL;
            while (!rc && *p) {
                size_t l = strcspn(p, ",");
                if (!in_choices(choices, p, l)) rc = KN_EINVAL;
                p += l;
                if (*p == ',') p++;
            }
            if (rc) {
                choices_text(choices, vt, sizeof(vt));
                seterr(err, errsz, "invalid value '%s' for %s '%s'%s: must be a list of %s", value, kind, key,
                       where, vt);
                kn_free(out->s);
                out->s = NULL;
                return rc;
            }
        }
        break;
    }
    if (check && (rc = check(out->s, why, sizeof(why))) != 0) {
        seterr(err, errsz, "invalid value '%s' for %s '%s'%s: %s", value, kind, key, where, why);
        kn_free(out->s);
        out->s = NULL;
        return rc;
    }
    return 0;
}

static void store(kn_broker_config_t *c, const bdef_t *d, pval_t *v) {
    void *fp = (char *)c + d->off;
    switch (d->type) {
    case KN_CFG_INT16: *(int16_t *)fp = (int16_t)v->i; break;
    case KN_CFG_INT32: *(int32_t *)fp = (int32_t)v->i; break;
    case KN_CFG_INT64: *(int64_t *)fp = v->i; break;
    case KN_CFG_BOOL: *(bool *)fp = v->b; break;
    case KN_CFG_DOUBLE: *(double *)fp = v->d; break;
    case KN_CFG_STRING:
    case KN_CFG_LIST:
        kn_free(*(char **)fp);
        *(char **)fp = v->s;
        v->s = NULL;
        break;
    }
}

static void set_str(char **dst, const char *s) {
    kn_free(*dst);
    *dst = s ? kn_strdup(s) : NULL;
}

static int64_t scaled(int64_t v, int64_t unit_ms) { return v < 0 ? -1 : v * unit_ms; }

/* Recompute fields that fall back to other keys (Kafka's precedence). */
static void resolve(kn_broker_config_t *c) {
    if (!is_explicit(c, KI_log_retention_ms)) {
        if (is_explicit(c, KI_log_retention_minutes))
            c->log_retention_ms = scaled(c->log_retention_minutes, 60000);
        else
            c->log_retention_ms = scaled(c->log_retention_hours, 3600000);
    }
    if (!is_explicit(c, KI_log_roll_ms)) c->log_roll_ms = (int64_t)c->log_roll_hours * 3600000;
    if (!is_explicit(c, KI_log_roll_jitter_ms)) c->log_roll_jitter_ms = (int64_t)c->log_roll_jitter_hours * 3600000;
    if (!is_explicit(c, KI_log_dirs)) set_str(&c->log_dirs, c->log_dir);
    if (!is_explicit(c, KI_zookeeper_connection_timeout_ms))
        c->zookeeper_connection_timeout_ms = c->zookeeper_session_timeout_ms;
    if (!is_explicit(c, KI_log_flush_interval_ms)) c->log_flush_interval_ms = -1;
    if (!is_explicit(c, KI_log_retention_minutes)) c->log_retention_minutes = -1;
}

void kn_broker_config_defaults(kn_broker_config_t *c) {
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NBDEFS; i++) {
        const bdef_t *d = &bdefs[i];
        pval_t v = {0};
        char err[256];
        if (!d->def) {
            if (d->type != KN_CFG_STRING && d->type != KN_CFG_LIST) {
                v.i = -1;
                v.d = -1;
                v.s = NULL;
                store(c, d, &v);
            }
            continue;
        }
        if (parse_value("config key", d->name, d->def, " (built-in default)", d->type, d->min, d->max, d->choices,
                        d->check.fn, &v, err, sizeof(err))) {
            /* A bad built-in default is a bug in the table; unit tests catch it. */
            kn_log(KN_LOG_ERROR, "config", "%s", err);
            abort();
        }
        store(c, d, &v);
    }
    resolve(c);
}

void kn_broker_config_free(kn_broker_config_t *c) {
    for (size_t i = 0; i < NBDEFS; i++) {
        if (bdefs[i].type == KN_CFG_STRING || bdefs[i].type == KN_CFG_LIST) {
            char **p = (char **)((char *)c + bdefs[i].off);
            kn_free(*p);
        }
    }
    memset(c, 0, sizeof(*c));
}

int kn_broker_config_find(const char *key) {
    for (size_t i = 0; i < NBDEFS; i++)
        if (!strcmp(bdefs[i].name, key)) return (int)i;
    return KN_ENOTFOUND;
}

size_t kn_broker_config_count(void) { return NBDEFS; }

bool kn_broker_config_is_unused_kafka_key(const char *key) {
    if (!strncmp(key, "listener.name.", 14) && key[14]) return true;
    for (size_t i = 0; i < NUNUSED; i++)
        if (!strcmp(kafka_unused[i], key)) return true;
    return false;
}

/* Nearest known key to key within a small edit distance, or NULL. */
static const char *suggest(const char *key, bool topic) {
    size_t best = SIZE_MAX;
    const char *bk = NULL;
    size_t limit = strlen(key) / 3;
    if (limit < 2) limit = 2;
    if (topic) {
        for (size_t i = 0; i < NTDEFS; i++) {
            size_t d = kn_levenshtein(key, tdefs[i].name);
            if (d < best) best = d, bk = tdefs[i].name;
        }
    } else {
        for (size_t i = 0; i < NBDEFS; i++) {
            size_t d = kn_levenshtein(key, bdefs[i].name);
            if (d < best) best = d, bk = bdefs[i].name;
        }
        for (size_t i = 0; i < NUNUSED; i++) {
            size_t d = kn_levenshtein(key, kafka_unused[i]);
            if (d < best) best = d, bk = kafka_unused[i];
        }
    }
    return best <= limit ? bk : NULL;
}

static int unknown_key(const char *key, const char *where, char *err, size_t errsz) {
    const char *s = suggest(key, false);
    if (s)
        seterr(err, errsz, "unknown config key '%s'%s (did you mean '%s'?)", key, where, s);
    else
        seterr(err, errsz, "unknown config key '%s'%s", key, where);
    return KN_EINVAL;
}

static int set_idx(kn_broker_config_t *c, size_t i, const char *value, const char *where, char *err,
                   size_t errsz) {
    const bdef_t *d = &bdefs[i];
    pval_t v = {0};
    int rc = parse_value("config key", d->name, value, where, d->type, d->min, d->max, d->choices, d->check.fn,
                         &v, err, errsz);
    if (rc) return rc;
    store(c, d, &v);
    mark_explicit(c, i);
    return 0;
}

int kn_broker_config_set(kn_broker_config_t *c, const char *key, const char *value, char *err, size_t errsz) {
    int i = kn_broker_config_find(key);
    if (i < 0) {
        if (kn_broker_config_is_unused_kafka_key(key)) {
            seterr(err, errsz, "config key '%s' is a Kafka key that Kanal does not support", key);
            return KN_EUNSUPPORTED;
        }
        return unknown_key(key, "", err, errsz);
    }
    int rc = set_idx(c, (size_t)i, value, "", err, errsz);
    if (!rc) resolve(c);
    return rc;
}

/* Shortest "%g" text that reads back as d. */
static void fmt_double(double d, char *buf, size_t n) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

/* Value of entry i as text; returns 1 for null. */
static int value_text(const kn_broker_config_t *c, size_t i, char *buf, size_t n) {
    const bdef_t *d = &bdefs[i];
    const void *fp = (const char *)c + d->off;
    if (n) buf[0] = '\0';
    if ((d->flags & F_NULLABLE) && !is_explicit(c, i)) return 1;
    switch (d->type) {
    case KN_CFG_INT16: snprintf(buf, n, "%d", (int)*(const int16_t *)fp); break;
    case KN_CFG_INT32: snprintf(buf, n, "%" PRId32, *(const int32_t *)fp); break;
    case KN_CFG_INT64: snprintf(buf, n, "%" PRId64, *(const int64_t *)fp); break;
    case KN_CFG_BOOL: snprintf(buf, n, "%s", *(const bool *)fp ? "true" : "false"); break;
    case KN_CFG_DOUBLE: fmt_double(*(const double *)fp, buf, n); break;
    case KN_CFG_STRING:
    case KN_CFG_LIST: {
        const char *s = *(char *const *)fp;
        if (!s) return 1;
        snprintf(buf, n, "%s", s);
        break;
    }
    }
    return 0;
}

int kn_broker_config_get_string(const kn_broker_config_t *c, const char *key, char *buf, size_t n) {
    int i = kn_broker_config_find(key);
    if (i < 0) return KN_ENOTFOUND;
    return value_text(c, (size_t)i, buf, n);
}

int kn_broker_config_entry(const kn_broker_config_t *c, size_t i, kn_broker_config_entry_t *e, char *buf,
                           size_t n) {
    static char vtexts[NBDEFS][96]; /* valid-values text, built once; loop thread only */
    static bool vtexts_done;
    if (i >= NBDEFS) return KN_ENOTFOUND;
    if (!vtexts_done) {
        for (size_t k = 0; k < NBDEFS; k++)
            valid_text(bdefs[k].type, bdefs[k].min, bdefs[k].max, bdefs[k].choices, bdefs[k].check.text, vtexts[k],
                       sizeof(vtexts[k]));
        vtexts_done = true;
    }
    const bdef_t *d = &bdefs[i];
    memset(e, 0, sizeof(*e));
    e->name = d->name;
    e->doc = d->doc;
    e->default_text = d->def;
    e->valid_text = vtexts[i];
    e->type = d->type;
    e->mode = d->mode;
    e->is_default = !is_explicit(c, i);
    e->read_only = d->mode == KN_CFG_READ_ONLY;
    e->kanal_only = (d->flags & F_KANAL) != 0;
    e->value = value_text(c, i, buf, n) == 1 ? NULL : buf;
    return 0;
}

/* ---- listeners and ZooKeeper connect strings ---- */

/* Parse one "NAME://host:port" item of n bytes. */
static int parse_listener_item(const char *s, size_t n, char *name, size_t namesz, char *host, size_t hostsz,
                               int *port, char *why, size_t whysz) {
    const char *end = s + n, *sep = NULL;
    for (const char *p = s; p + 3 <= end; p++)
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            sep = p;
            break;
        }
    if (!sep || sep == s) {
        seterr(why, whysz, "listener '%.*s' is not NAME://host:port", (int)n, s);
        return KN_EINVAL;
    }
    for (const char *p = s; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
            seterr(why, whysz, "bad listener name '%.*s'", (int)(sep - s), s);
            return KN_EINVAL;
        }
    if (name) {
        if ((size_t)(sep - s) >= namesz) return KN_EINVAL;
        memcpy(name, s, (size_t)(sep - s));
        name[sep - s] = '\0';
    }
    const char *h = sep + 3, *he, *colon;
    if (h < end && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close || close + 1 >= end || close[1] != ':') {
            seterr(why, whysz, "bad bracketed IPv6 address in '%.*s'", (int)n, s);
            return KN_EINVAL;
        }
        h++;
        he = close;
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *p = h; p < end; p++)
            if (*p == ':') colon = p;
        if (!colon) {
            seterr(why, whysz, "listener '%.*s' has no port", (int)n, s);
            return KN_EINVAL;
        }
        he = colon;
        if (memchr(h, ':', (size_t)(he - h))) {
            seterr(why, whysz, "IPv6 address in '%.*s' must be in brackets", (int)n, s);
            return KN_EINVAL;
        }
    }
    const char *ps = colon + 1;
    long pv = 0;
    if (ps >= end || end - ps > 5) {
        seterr(why, whysz, "bad port in '%.*s'", (int)n, s);
        return KN_EINVAL;
    }
    for (const char *p = ps; p < end; p++) {
        if (!isdigit((unsigned char)*p)) {
            seterr(why, whysz, "bad port in '%.*s'", (int)n, s);
            return KN_EINVAL;
        }
        pv = pv * 10 + (*p - '0');
    }
    if (pv > 65535) {
        seterr(why, whysz, "port %ld out of range in '%.*s'", pv, (int)n, s);
        return KN_EINVAL;
    }
    for (const char *p = h; p < he; p++)
        if (isspace((unsigned char)*p) || *p == '/' || *p == '[' || *p == ']') {
            seterr(why, whysz, "bad host in '%.*s'", (int)n, s);
            return KN_EINVAL;
        }
    size_t hl = (size_t)(he - h);
    if (host) {
        const char *hv = hl ? h : "0.0.0.0";
        size_t hvl = hl ? hl : 7;
        if (hvl >= hostsz) {
            seterr(why, whysz, "host too long in '%.*s'", (int)n, s);
            return KN_EINVAL;
        }
        memcpy(host, hv, hvl);
        host[hvl] = '\0';
    }
    if (port) *port = (int)pv;
    return 0;
}

int kn_listener_parse(const char *spec, char *host, size_t hostsz, int *port) {
    if (!spec) return KN_EINVAL;
    while (isspace((unsigned char)*spec)) spec++;
    size_t n = strcspn(spec, ",");
    while (n && isspace((unsigned char)spec[n - 1])) n--;
    char why[8];
    return parse_listener_item(spec, n, NULL, 0, host, hostsz, port, why, sizeof(why));
}

static bool is_wildcard(const char *h) { return !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::"); }

/* Check each item of an already normalised or raw comma list of listeners. */
static int check_listener_list(const char *v, bool advertised, char *why, size_t whysz) {
    const char *p = v;
    if (!*p) {
        seterr(why, whysz, "no listener given");
        return KN_EINVAL;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        char name[64], host[256];
        int port;
        int rc = parse_listener_item(s, (size_t)(e - s), name, sizeof(name), host, sizeof(host), &port, why, whysz);
        if (rc) return rc;
        if (strcmp(name, "PLAINTEXT") != 0) {
            seterr(why, whysz, "listener '%s': Kanal supports only PLAINTEXT listeners", name);
            return KN_EINVAL;
        }
        /* Kafka: "it is not valid to advertise the 0.0.0.0 meta-address"
         * (an empty host is fine: it means "pick one"). */
        if (advertised && (!strcmp(host, "::") ||
                           (!strcmp(host, "0.0.0.0") && strstr(s, "//0.0.0.0:") && strstr(s, "//0.0.0.0:") < e))) {
            seterr(why, whysz, "cannot advertise the wildcard address %s", host);
            return KN_EINVAL;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static int chk_listeners(const char *v, char *why, size_t whysz) { return check_listener_list(v, false, why, whysz); }
static int chk_advertised(const char *v, char *why, size_t whysz) { return check_listener_list(v, true, why, whysz); }

static int chk_metrics_listeners(const char *v, char *why, size_t whysz) {
    if (!*v) return 0;
    return parse_listener_item(v, strlen(v), NULL, 0, NULL, 0, NULL, why, whysz);
}

static int chk_zk_connect(const char *v, char *why, size_t whysz) {
    size_t hostpart = strcspn(v, "/");
    const char *chroot = v + hostpart;
    if (hostpart == 0) {
        seterr(why, whysz, "no ZooKeeper host:port given");
        return KN_EINVAL;
    }
    if (*chroot) {
        size_t cl = strlen(chroot);
        if (cl < 2 || chroot[cl - 1] == '/' || strstr(chroot, "//")) {
            seterr(why, whysz, "bad chroot path '%s'", chroot);
            return KN_EINVAL;
        }
    }
    const char *p = v;
    while (p < v + hostpart) {
        size_t n = strcspn(p, ",/");
        const char *colon = NULL;
        for (const char *q = p; q < p + n; q++)
            if (*q == ':') colon = q;
        bool ok = colon && colon > p && colon + 1 < p + n && (p + n) - (colon + 1) <= 5;
        long port = 0;
        for (const char *q = colon ? colon + 1 : p; ok && q < p + n; q++) {
            if (!isdigit((unsigned char)*q)) ok = false;
            port = port * 10 + (*q - '0');
        }
        for (const char *q = p; ok && q < (colon ? colon : p); q++)
            if (isspace((unsigned char)*q)) ok = false;
        if (!ok || port < 1 || port > 65535) {
            seterr(why, whysz, "'%.*s' is not host:port", (int)n, p);
            return KN_EINVAL;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static int chk_nonempty_list(const char *v, char *why, size_t whysz) {
    if (!*v) {
        seterr(why, whysz, "must not be empty");
        return KN_EINVAL;
    }
    return 0;
}

static int chk_log_debug(const char *v, char *why, size_t whysz) {
    uint32_t mask;
    if (kn_log_parse_debug(v, &mask)) {
        seterr(why, whysz, "categories are net, proto, log, zk, group, repl, all");
        return KN_EINVAL;
    }
    return 0;
}

int kn_broker_config_advertised(const kn_broker_config_t *c, char *host, size_t hostsz, int *port) {
    const char *spec = c->advertised_listeners ? c->advertised_listeners : c->listeners;
    int rc = kn_listener_parse(spec, host, hostsz, port);
    if (rc) return rc;
    if (is_wildcard(host)) {
        if (hostsz < 10) return KN_EINVAL;
        strcpy(host, "127.0.0.1");
    }
    return 0;
}

/* ---- loading ---- */

typedef struct {
    int first_rc;
    char *err;
    size_t errsz;
} report_t;

static void report(report_t *r, int rc, const char *msg) {
    kn_log(KN_LOG_ERROR, "config", "%s", msg);
    if (!r->first_rc) {
        r->first_rc = rc;
        seterr(r->err, r->errsz, "%s", msg);
    }
}

static void apply_kv(kn_broker_config_t *c, const char *key, const char *value, const char *loc,
                     uint8_t *seen_in_file, report_t *r) {
    char where[512], msg[1024];
    snprintf(where, sizeof(where), " at %s", loc);
    int i = kn_broker_config_find(key);
    if (i < 0) {
        if (kn_broker_config_is_unused_kafka_key(key)) {
            kn_log(KN_LOG_WARN, "config", "unused Kafka config key '%s' (%s) ignored", key, loc);
            return;
        }
        report(r, unknown_key(key, where, msg, sizeof(msg)), msg);
        return;
    }
    if (seen_in_file) {
        if ((seen_in_file[i / 8] >> (i % 8)) & 1u)
            kn_log(KN_LOG_WARN, "config", "config key '%s' (%s) set again; the later value wins", key, loc);
        seen_in_file[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    int rc = set_idx(c, (size_t)i, value, where, msg, sizeof(msg));
    if (rc) report(r, rc, msg);
}

static void check_whole(kn_broker_config_t *c, const char *path, report_t *r) {
    char msg[512];
    const char *src = path ? path : "the config file";
    if (!is_explicit(c, KI_broker_id)) {
        snprintf(msg, sizeof(msg), "missing required config key 'broker.id' (set it in %s or with --override)", src);
        report(r, KN_EINVAL, msg);
    }
    if (!c->zookeeper_connect) {
        snprintf(msg, sizeof(msg),
                 "missing required config key 'zookeeper.connect' (set it in %s or with --override)", src);
        report(r, KN_EINVAL, msg);
    }
    if (c->group_min_session_timeout_ms > c->group_max_session_timeout_ms) {
        snprintf(msg, sizeof(msg), "group.min.session.timeout.ms (%" PRId32 ") exceeds group.max.session.timeout.ms (%" PRId32 ")",
                 c->group_min_session_timeout_ms, c->group_max_session_timeout_ms);
        report(r, KN_EINVAL, msg);
    }
    if (c->replica_fetch_wait_max_ms > c->replica_socket_timeout_ms) {
        snprintf(msg, sizeof(msg), "replica.fetch.wait.max.ms (%" PRId32 ") exceeds replica.socket.timeout.ms (%" PRId32 ")",
                 c->replica_fetch_wait_max_ms, c->replica_socket_timeout_ms);
        report(r, KN_EINVAL, msg);
    }
    if (c->replica_fetch_wait_max_ms > c->replica_lag_time_max_ms) {
        snprintf(msg, sizeof(msg), "replica.fetch.wait.max.ms (%" PRId32 ") exceeds replica.lag.time.max.ms (%" PRId32 ")",
                 c->replica_fetch_wait_max_ms, c->replica_lag_time_max_ms);
        report(r, KN_EINVAL, msg);
    }
}

int kn_broker_config_load(kn_broker_config_t *c, const char *path, const char *const *overrides, size_t noverrides,
                          char *err, size_t errsz) {
    report_t r = {0, err, errsz};
    uint8_t seen[KN_BROKER_CONFIG_MAX_KEYS / 8] = {0};
    char msg[1024];

    if (err && errsz) err[0] = '\0';
    kn_broker_config_defaults(c);
    if (path) {
        kn_kv_t *kv;
        size_t n;
        int rc = kn_props_parse_file(path, &kv, &n, msg, sizeof(msg));
        if (rc) {
            report(&r, rc, msg);
            kn_broker_config_free(c);
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            char loc[512];
            snprintf(loc, sizeof(loc), "%s:%d", kv[i].file, kv[i].line);
            apply_kv(c, kv[i].key, kv[i].value, loc, seen, &r);
        }
        kn_props_free(kv, n);
    }
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];
        const char *eq = o ? strchr(o, '=') : NULL;
        if (!eq) {
            snprintf(msg, sizeof(msg), "--override '%s' is not key=value", o ? o : "(null)");
            report(&r, KN_EINVAL, msg);
            continue;
        }
        const char *ks = o, *ke = eq, *vs = eq + 1, *ve = eq + strlen(eq);
        while (ks < ke && isspace((unsigned char)*ks)) ks++;
        while (ke > ks && isspace((unsigned char)ke[-1])) ke--;
        while (vs < ve && isspace((unsigned char)*vs)) vs++;
        while (ve > vs && isspace((unsigned char)ve[-1])) ve--;
        char *key = kn_strndup(ks, (size_t)(ke - ks));
        char *val = kn_strndup(vs, (size_t)(ve - vs));
        if (!*key) {
            snprintf(msg, sizeof(msg), "--override '%s' has an empty key", o);
            report(&r, KN_EINVAL, msg);
        } else {
            apply_kv(c, key, val, "--override", NULL, &r);
        }
        kn_free(key);
        kn_free(val);
    }
    resolve(c);
    if (!r.first_rc) check_whole(c, path, &r);
    if (r.first_rc) {
        kn_broker_config_free(c);
        return r.first_rc;
    }
    if (c->listeners && strchr(c->listeners, ','))
        kn_log(KN_LOG_WARN, "config", "listeners '%s': only the first listener is used", c->listeners);
    return 0;
}

/* ---- topic-level keys ---- */

static const tdef_t *tfind(const char *key) {
    for (size_t i = 0; i < NTDEFS; i++)
        if (!strcmp(tdefs[i].name, key)) return &tdefs[i];
    return NULL;
}

int kn_topic_config_validate(const char *key, const char *value, char *err, size_t errsz) {
    const tdef_t *t = tfind(key);
    if (!t) {
        const char *s = suggest(key, true);
        if (s)
            seterr(err, errsz, "unknown topic config key '%s' (did you mean '%s'?)", key, s);
        else
            seterr(err, errsz, "unknown topic config key '%s'", key);
        return KN_EINVAL;
    }
    pval_t v = {0};
    int rc = parse_value("topic config key", key, value, "", t->type, t->min, t->max, t->choices, NULL, &v, err,
                         errsz);
    kn_free(v.s);
    if (!rc && !strcmp(key, "remote.storage.enable") && v.b) {
        seterr(err, errsz, "invalid value '%s' for topic config key '%s': Kanal has no tiered storage", value, key);
        return KN_EINVAL;
    }
    return rc;
}

const char *kn_topic_config_broker_key(const char *key) {
    const tdef_t *t = tfind(key);
    return t ? t->broker_key : NULL;
}

size_t kn_topic_config_count(void) { return NTDEFS; }

int kn_topic_config_info(size_t i, kn_topic_config_info_t *out) {
    static char vtexts[NTDEFS][96];
    static bool done;
    if (i >= NTDEFS) return KN_ENOTFOUND;
    if (!done) {
        for (size_t k = 0; k < NTDEFS; k++)
            valid_text(tdefs[k].type, tdefs[k].min, tdefs[k].max, tdefs[k].choices, NULL, vtexts[k], sizeof(vtexts[k]));
        done = true;
    }
    out->name = tdefs[i].name;
    out->broker_key = tdefs[i].broker_key;
    out->kafka_default = tdefs[i].kafka_default;
    out->valid_text = vtexts[i];
    out->doc = tdefs[i].doc;
    out->type = tdefs[i].type;
    return 0;
}

int kn_topic_config_default(const kn_broker_config_t *c, const char *key, char *buf, size_t n) {
    const tdef_t *t = tfind(key);
    if (!t) return KN_ENOTFOUND;
    if (t->broker_key && kn_broker_config_get_string(c, t->broker_key, buf, n) == 0) return 0;
    snprintf(buf, n, "%s", t->kafka_default);
    return 0;
}

/* ---- generated documentation ---- */

/* Markdown table cell: '|' escaped, no newlines. */
static void md_cell(FILE *f, const char *s) {
    fputc(' ', f);
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
    fputs(" |", f);
}

static void md_code_cell(FILE *f, const char *s) {
    char buf[512];
    if (!s) {
        md_cell(f, "null");
        return;
    }
    if (!*s) {
        md_cell(f, "\"\"");
        return;
    }
    snprintf(buf, sizeof(buf), "`%s`", s);
    md_cell(f, buf);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *mode_text(kn_cfg_mode_t m) {
    switch (m) {
    case KN_CFG_READ_ONLY: return "no";
    case KN_CFG_PER_BROKER: return "per-broker";
    case KN_CFG_CLUSTER_WIDE: return "cluster-wide";
    }
    return "?";
}

void kn_broker_config_write_markdown(FILE *f) {
    kn_broker_config_t c;
    kn_broker_config_defaults(&c);
    fputs("<!-- Generated by tests/unit/gen_config_doc.c from src/broker/config.c; do not edit.\n"
          "     Regenerate: cmake --build <build-dir> --target gen-config-doc -->\n"
          "# Kanal configuration\n\n"
          "`kanald` reads a Java-properties file in the format of Kafka's `server.properties`:\n"
          "`key=value` (or `key: value`, or `key value`), one per line, with `#` or `!` comment lines and\n"
          "a trailing `\\` continuing a line. A `#` after a value is part of the value, as in Kafka.\n"
          "`--override key=value` arguments are applied after the file.\n\n"
          "* A key from the table below is checked for its type and valid values; an error names the key,\n"
          "  the file and the line (`--override` for overrides) and `kanald` does not start.\n"
          "* A real Apache Kafka 3.x broker key that Kanal does not use (listed at the end) is logged as\n"
          "  `WARN unused Kafka config key '...' (file:line) ignored`, so a Kafka `server.properties`\n"
          "  works unchanged. Keys starting with `listener.name.` are treated the same way.\n"
          "* Any other key is an error, with the nearest known key suggested.\n\n"
          "Fallbacks follow Kafka: `log.retention.ms` > `log.retention.minutes` > `log.retention.hours`;\n"
          "`log.roll.ms` > `log.roll.hours`; `log.roll.jitter.ms` > `log.roll.jitter.hours`;\n"
          "`log.dirs` > `log.dir`; `zookeeper.connection.timeout.ms` defaults to\n"
          "`zookeeper.session.timeout.ms`.\n\n"
          "Advertised address: when `advertised.listeners` is not set, the first entry of `listeners` is\n"
          "advertised, and a wildcard host there (empty, `0.0.0.0`, `::`) is advertised as `127.0.0.1`.\n"
          "Kafka advertises the machine's canonical hostname instead; Kanal picks loopback so that a\n"
          "local cluster needs no DNS. Set `advertised.listeners` whenever clients run elsewhere.\n\n"
          "\"Dynamic\" is Kafka's update mode, shown by DescribeConfigs (`read_only` when \"no\").\n"
          "Keys named `kanal.*` and `metrics.listeners` are Kanal's own.\n\n"
          "## Broker keys\n\n"
          "| Key | Type | Default | Valid values | Dynamic | Description |\n"
          "|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < NBDEFS; i++) {
        kn_broker_config_entry_t e;
        char buf[256];
        char name[128];
        kn_broker_config_entry(&c, i, &e, buf, sizeof(buf));
        snprintf(name, sizeof(name), "`%s`", e.name);
        fputc('|', f);
        md_cell(f, name);
        md_cell(f, type_name(e.type));
        md_code_cell(f, e.default_text);
        md_cell(f, e.valid_text);
        md_cell(f, mode_text(e.mode));
        md_cell(f, e.doc);
        fputc('\n', f);
    }
    fputs("\n## Topic-level keys\n\n"
          "Accepted by CreateTopics and AlterConfigs and shown by DescribeConfigs. A topic without its own\n"
          "value uses the broker key in the third column (its Kafka default is shown when Kanal has no such\n"
          "broker key, or it is null).\n\n"
          "| Key | Type | Broker key | Kafka default | Valid values | Description |\n"
          "|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < NTDEFS; i++) {
        kn_topic_config_info_t t;
        char name[128], bk[128];
        kn_topic_config_info(i, &t);
        snprintf(name, sizeof(name), "`%s`", t.name);
        fputc('|', f);
        md_cell(f, name);
        md_cell(f, type_name(t.type));
        if (t.broker_key) {
            snprintf(bk, sizeof(bk), "`%s`%s", t.broker_key, kn_broker_config_find(t.broker_key) < 0 ? " (unused)" : "");
            md_cell(f, bk);
        } else {
            md_cell(f, "-");
        }
        md_code_cell(f, t.kafka_default);
        md_cell(f, t.valid_text);
        md_cell(f, t.doc);
        fputc('\n', f);
    }
    fputs("\n## Kafka keys accepted but unused\n\n"
          "These Apache Kafka broker keys are accepted and ignored with a warning (a few were removed in\n"
          "Kafka 3.0 but still appear in old files). Security (SSL, SASL), KRaft, tiered storage, quotas\n"
          "and thread-pool sizes do not apply to Kanal.\n\n",
          f);
    const char *sorted[NUNUSED];
    memcpy(sorted, kafka_unused, sizeof(sorted));
    qsort(sorted, NUNUSED, sizeof(sorted[0]), cmp_str);
    for (size_t i = 0; i < NUNUSED; i++) fprintf(f, "- `%s`\n", sorted[i]);
    fputs("- `listener.name.*`\n", f);
    kn_broker_config_free(&c);
}
