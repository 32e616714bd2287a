/* The broker's configuration: one table of every key Kanal uses (name, type,
 * default, valid values, dynamic or not, doc, struct field), loaded from a
 * server.properties-style file plus "key=value" overrides.
 *
 * Unknown keys: a real Apache Kafka 3.x broker key that Kanal does not use is
 * logged as a WARN and ignored; anything else is an error naming the key, the
 * file and line, with the nearest known key as a suggestion.
 *
 * Fallback keys follow Kafka: log.retention.ms > log.retention.minutes >
 * log.retention.hours; log.roll.ms > log.roll.hours; log.roll.jitter.ms >
 * log.roll.jitter.hours; log.dirs > log.dir; zookeeper.connection.timeout.ms
 * defaults to zookeeper.session.timeout.ms. The resolved value is in the
 * first-named field.
 *
 * Advertised address (our choice, documented in docs/configuration.md): if
 * advertised.listeners is unset, the first listener is advertised; a wildcard
 * host there (empty, 0.0.0.0, ::) is advertised as 127.0.0.1 rather than the
 * machine's canonical hostname as Kafka does, so a local cluster works with
 * no DNS; set advertised.listeners for remote clients.
 *
 * Everything here is plain data: call from the loop thread (or before it
 * starts); nothing is thread-safe. */
#ifndef KANAL_BROKER_CONFIG_H
#define KANAL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Upper bound on the table size (for the explicit-set bitmap). */
#define KN_BROKER_CONFIG_MAX_KEYS 128

typedef struct kn_broker_config_s {
    int32_t broker_id;                        /* broker.id (required, >= 0) */
    char *listeners;                          /* listeners, default "PLAINTEXT://:9092" */
    char *advertised_listeners;               /* advertised.listeners, default NULL = same as listeners */
    char *log_dirs;                           /* log.dirs (comma list); log.dir fallback default /tmp/kanal-logs */
    char *zookeeper_connect;                  /* zookeeper.connect (required) host:port[,host:port][/chroot] */
    int32_t zookeeper_session_timeout_ms;     /* 18000 */
    int32_t zookeeper_connection_timeout_ms;  /* default = session timeout; how long startup waits for ZK */
    int32_t num_partitions;                   /* num.partitions 1 */
    int16_t default_replication_factor;       /* default.replication.factor 1 */
    bool auto_create_topics_enable;           /* true */
    bool delete_topic_enable;                 /* true */
    int64_t log_segment_bytes;                /* log.segment.bytes 1073741824, min 14 */
    int64_t log_roll_ms;                      /* log.roll.ms / log.roll.hours (168) */
    int64_t log_retention_ms;                 /* log.retention.ms / .minutes / .hours (168); -1 = no limit */
    int64_t log_retention_bytes;              /* -1 */
    int64_t log_retention_check_interval_ms;  /* 300000 */
    int64_t log_flush_interval_messages;      /* Long.MAX */
    int64_t log_flush_interval_ms;            /* -1 = not set: log.flush.scheduler.interval.ms applies */
    int64_t log_flush_scheduler_interval_ms;  /* Long.MAX */
    int32_t log_index_size_max_bytes;         /* 10485760 */
    int32_t log_index_interval_bytes;         /* 4096 */
    int32_t message_max_bytes;                /* 1048588 */
    int32_t socket_request_max_bytes;         /* 104857600 */
    int32_t queued_max_requests;              /* 500: our per-connection cap is separate, below */
    int32_t max_inflight_requests_per_connection; /* kanal.max.inflight.requests.per.connection, 100 */
    int64_t connections_max_idle_ms;          /* 600000 */
    int32_t replica_lag_time_max_ms;          /* 30000 */
    int32_t min_insync_replicas;              /* 1 */
    bool unclean_leader_election_enable;      /* false */
    int32_t offsets_topic_replication_factor; /* 3 */
    int32_t offsets_topic_num_partitions;     /* 50 */
    int32_t group_initial_rebalance_delay_ms; /* 3000 */
    int32_t group_min_session_timeout_ms;     /* 6000 */
    int32_t group_max_session_timeout_ms;     /* 1800000 */
    bool auto_leader_rebalance_enable;        /* true */
    int32_t leader_imbalance_check_interval_seconds; /* 300 */
    int64_t file_delete_delay_ms;             /* log.segment.delete.delay.ms 60000 */
    char *compression_type;                   /* producer; uncompressed,zstd,lz4,snappy,gzip,producer */
    char *log_cleanup_policy;                 /* delete; list of delete,compact (normalised "a,b") */
    char *broker_rack;                        /* null */
    char *log_level;                          /* kanal.log.level: debug|info|warn|error, default info */
    char *log_debug;                          /* kanal.log.debug: net,proto,log,zk,group,repl,all; "" */
    char *metrics_listeners;                  /* metrics.listeners, default "" (off) */

    /* More Kafka keys Kanal uses. */
    int64_t log_roll_jitter_ms;               /* log.roll.jitter.ms / log.roll.jitter.hours (0) */
    bool log_preallocate;                     /* false */
    char *log_message_timestamp_type;         /* CreateTime | LogAppendTime */
    int64_t log_message_timestamp_difference_max_ms; /* Long.MAX */
    bool log_cleaner_enable;                  /* true */
    int64_t log_cleaner_delete_retention_ms;  /* 86400000: tombstone retention */
    int64_t log_cleaner_min_compaction_lag_ms; /* 0 */
    int64_t log_cleaner_max_compaction_lag_ms; /* Long.MAX */
    double log_cleaner_min_cleanable_ratio;   /* 0.5 */
    int64_t log_cleaner_backoff_ms;           /* 15000 */
    int32_t log_flush_offset_checkpoint_interval_ms;       /* 60000: recovery-point checkpoint */
    int32_t log_flush_start_offset_checkpoint_interval_ms; /* 60000 */
    int64_t replica_high_watermark_checkpoint_interval_ms; /* 5000 */
    int32_t fetch_max_bytes;                  /* 57671680, min 1024 */
    int32_t num_replica_fetchers;             /* 1 */
    int32_t replica_fetch_max_bytes;          /* 1048576 */
    int32_t replica_fetch_min_bytes;          /* 1 */
    int32_t replica_fetch_wait_max_ms;        /* 500 */
    int32_t replica_fetch_response_max_bytes; /* 10485760 */
    int32_t replica_fetch_backoff_ms;         /* 1000 */
    int32_t replica_socket_timeout_ms;        /* 30000 */
    int32_t controller_socket_timeout_ms;     /* 30000 */
    bool controlled_shutdown_enable;          /* true */
    int32_t controlled_shutdown_max_retries;  /* 3 */
    int64_t controlled_shutdown_retry_backoff_ms; /* 5000 */
    int32_t leader_imbalance_per_broker_percentage; /* 10 */
    int32_t offsets_retention_minutes;        /* 10080 */
    int64_t offsets_retention_check_interval_ms; /* 600000 */
    int32_t offsets_commit_timeout_ms;        /* 5000 */
    int32_t offset_metadata_max_bytes;        /* 4096 */
    int32_t offsets_topic_segment_bytes;      /* 104857600 */
    int32_t group_max_size;                   /* Int.MAX */
    int32_t socket_send_buffer_bytes;         /* 102400; -1 = OS default */
    int32_t socket_receive_buffer_bytes;      /* 102400; -1 = OS default */
    int32_t socket_listen_backlog_size;       /* 50 */
    int32_t max_connections;                  /* Int.MAX */
    int32_t max_connections_per_ip;           /* Int.MAX */
    int32_t request_timeout_ms;               /* 30000: inter-broker requests */

    /* Raw values of the fallback keys; read the resolved fields above instead. */
    char *log_dir;                            /* log.dir */
    int32_t log_retention_minutes;            /* log.retention.minutes (null unless set) */
    int32_t log_retention_hours;              /* log.retention.hours */
    int32_t log_roll_hours;                   /* log.roll.hours */
    int32_t log_roll_jitter_hours;            /* log.roll.jitter.hours */

    /* Bit i set: table key i was given explicitly (file, override or set). */
    uint8_t explicit_set[KN_BROKER_CONFIG_MAX_KEYS / 8];
} kn_broker_config_t;

typedef enum {
    KN_CFG_INT16,
    KN_CFG_INT32,
    KN_CFG_INT64,
    KN_CFG_BOOL,
    KN_CFG_DOUBLE,
    KN_CFG_STRING,
    KN_CFG_LIST, /* comma list, stored normalised ("a,b") in a char* */
} kn_cfg_type_t;

/* Kafka's "Update Mode": read-only, or dynamic per broker / cluster-wide. */
typedef enum {
    KN_CFG_READ_ONLY,
    KN_CFG_PER_BROKER,
    KN_CFG_CLUSTER_WIDE,
} kn_cfg_mode_t;

/* One row of the table with its current value, for DescribeConfigs. */
typedef struct kn_broker_config_entry_s {
    const char *name;
    const char *doc;
    const char *default_text;  /* as documented; NULL = null */
    const char *valid_text;    /* "[1,...]", "[delete, compact]", "" */
    const char *value;         /* current value as text (in the caller's buf); NULL = null */
    kn_cfg_type_t type;
    kn_cfg_mode_t mode;
    bool is_default;           /* not set explicitly */
    bool read_only;            /* mode == KN_CFG_READ_ONLY */
    bool kanal_only;           /* not an Apache Kafka key */
} kn_broker_config_entry_t;

/* Defaults for every key (strings allocated: kn_broker_config_free after).
 * broker.id is -1 and zookeeper.connect NULL until set. */
void kn_broker_config_defaults(kn_broker_config_t *c);

/* Initialise *c with defaults (do not call kn_broker_config_defaults first),
 * then apply the file at path (may be NULL), then the overrides ("key=value",
 * may be NULL), then check required keys and cross-key rules. Unused Kafka
 * keys are logged (WARN) and skipped. Every error is logged (ERROR, ctx
 * "config") and the first one is copied to err, e.g.
 *   unknown config key 'log.segmnet.bytes' at conf/x.properties:12 (did you mean 'log.segment.bytes'?)
 * Overrides are located as "--override". Returns 0, or KN_EINVAL / KN_ERANGE
 * (bad key or value), KN_ENOTFOUND / KN_EIO (file); on failure *c is freed. */
int kn_broker_config_load(kn_broker_config_t *c, const char *path, const char *const *overrides,
                          size_t noverrides, char *err, size_t errsz);

/* Set one key from text, validating type, range and choices, and re-resolve
 * fallback keys. Does not check read-only: AlterConfigs callers check
 * kn_broker_config_entry(...).read_only themselves. Returns 0; KN_EINVAL
 * (unknown key, bad value), KN_ERANGE (out of range) or KN_EUNSUPPORTED (a
 * Kafka key Kanal does not use); err names the key and value. */
int kn_broker_config_set(kn_broker_config_t *c, const char *key, const char *value, char *err,
                         size_t errsz);

/* Free owned strings; *c is left zeroed (safe to call twice). */
void kn_broker_config_free(kn_broker_config_t *c);

/* Current value of key as text in buf (n bytes, truncated). Null values give
 * "" and return 1. Returns 0, 1, or KN_ENOTFOUND for an unknown key. */
int kn_broker_config_get_string(const kn_broker_config_t *c, const char *key, char *buf, size_t n);

/* Iteration over the table in its fixed order, 0 .. count-1. */
size_t kn_broker_config_count(void);
/* Index of key in the table, or KN_ENOTFOUND. */
int kn_broker_config_find(const char *key);
/* Fill *e for entry i; e->value points into buf (n bytes). Returns 0 or
 * KN_ENOTFOUND when i >= count. */
int kn_broker_config_entry(const kn_broker_config_t *c, size_t i, kn_broker_config_entry_t *e,
                           char *buf, size_t n);

/* True for real Kafka 3.x broker keys Kanal accepts but ignores (including
 * any "listener.name.*" key). */
bool kn_broker_config_is_unused_kafka_key(const char *key);

/* Write docs/configuration.md (generated from the tables). */
void kn_broker_config_write_markdown(FILE *f);

/* Parse the first listener of "NAME://host:port[,...]". host gets the bind
 * address: empty host -> "0.0.0.0"; "[::1]" -> "::1". Port 0..65535 (0 =
 * ephemeral). Returns 0 or KN_EINVAL (also when host does not fit). */
int kn_listener_parse(const char *spec, char *host, size_t hostsz, int *port);

/* Address clients should be told about (Metadata, ZooKeeper registration):
 * advertised.listeners if set, else listeners; a wildcard host becomes
 * "127.0.0.1" (see the top of this file). Returns 0 or KN_EINVAL. */
int kn_broker_config_advertised(const kn_broker_config_t *c, char *host, size_t hostsz, int *port);

/* ---- Topic-level keys (CreateTopics, AlterConfigs, DescribeConfigs) ---- */

typedef struct kn_topic_config_info_s {
    const char *name;
    const char *broker_key;    /* broker key whose value is the default; NULL if none */
    const char *kafka_default; /* default when broker_key is not a Kanal key or is null */
    const char *valid_text;
    const char *doc;
    kn_cfg_type_t type;
} kn_topic_config_info_t;

/* Validate one topic config; unknown key -> KN_EINVAL "unknown topic config
 * key 'x' (did you mean ...)"; bad value -> KN_EINVAL/KN_ERANGE naming key and
 * value. */
int kn_topic_config_validate(const char *key, const char *value, char *err, size_t errsz);
/* Broker key that supplies key's default ("segment.bytes" ->
 * "log.segment.bytes"), or NULL (unknown key or no broker key). */
const char *kn_topic_config_broker_key(const char *key);
size_t kn_topic_config_count(void);
/* Returns 0 or KN_ENOTFOUND when i >= count. */
int kn_topic_config_info(size_t i, kn_topic_config_info_t *out);
/* Default of topic key as text, derived from the broker config c. Returns 0,
 * or KN_ENOTFOUND for an unknown key. */
int kn_topic_config_default(const kn_broker_config_t *c, const char *key, char *buf, size_t n);

#endif
