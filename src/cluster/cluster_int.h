/* Internals shared by the files of src/cluster: the cluster object, the
 * ZooKeeper operation handoff (zk.c), and the hooks between the broker-side
 * client (cluster.c) and the controller role (controller.c). */
#ifndef KANAL_CLUSTER_CLUSTER_INT_H
#define KANAL_CLUSTER_CLUSTER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <zookeeper/zookeeper.h>

#include "kanal/cluster/cluster.h"

/* ---- ZooKeeper operations (zk.c) ----
 * A kn_zop_t is made on the loop thread, handed to an async ZooKeeper call,
 * and comes back exactly once to its fn on the loop thread (also when the
 * call could not even be issued). ZooKeeper's thread only copies the result
 * into a kn_zres_t and queues it. */
typedef struct kn_zres_s {
    int rc;            /* ZOK or a ZooKeeper error */
    char *data;        /* get: copied data, NUL-terminated; NULL if none */
    int datalen;       /* -1 for null data */
    bool has_stat;
    struct Stat stat;
    char **kids;       /* children */
    int nkids;
} kn_zres_t;

typedef struct kn_zop_s kn_zop_t;
typedef void (*kn_zop_fn)(kn_cluster_t *c, kn_zop_t *op, const kn_zres_t *r);

struct kn_zop_s {
    kn_cluster_t *c;
    struct kn_zop_s *live_prev, *live_next; /* c->live_ops: freed at the end if ZooKeeper never answered */
    uint64_t gen;       /* session generation it was issued on */
    kn_zop_fn fn;
    char *path;         /* relative to the chroot */
    char *abs;          /* with the chroot */
    char *arg;          /* owned string (topic name, ...) */
    char *arg2;         /* owned string (data for a follow-up write) */
    int32_t i1, i2, i3;
    bool counted;       /* part of load_pending */
    kn_cluster_done_cb ucb; /* admin completion, called with an error if the op is dropped */
    void *uud;
    /* multi */
    int nops, capops;
    zoo_op_t *mops;
    zoo_op_result_t *mres;
    struct Stat *mstats;
    char **owned;       /* strings the ops point to */
    int nowned;
};

typedef struct kn_zmsg_s {
    struct kn_zmsg_s *next;
    kn_zop_t *op;    /* NULL for a watch event */
    kn_zres_t res;
    uint64_t gen;    /* watch events: session generation */
    int wtype, wstate;
    char *wpath;     /* absolute path of the event */
} kn_zmsg_t;

/* Per-session watcher context, freed after zookeeper_close returned. */
typedef struct kn_zsess_s {
    kn_cluster_t *c;
    uint64_t gen;
} kn_zsess_t;

/* ---- cache (loop thread) ---- */
enum { KN_PS_UNKNOWN = 0, KN_PS_ABSENT = 1, KN_PS_PRESENT = 2 };

typedef struct kn_ctopic_s {
    char *name;
    bool have_assign;
    bool has_id;
    kn_uuid_t id;
    int32_t npart;
    kn_partition_state_t *parts; /* replicas from the assignment, rest from the state znode */
    uint8_t *pstate;             /* KN_PS_* per partition */
    bool *pbusy;                 /* controller write in flight for this partition */
    char **cfg_keys, **cfg_vals;
    size_t ncfg;
    bool deleting;
    bool del_busy; /* controller deletion in flight */
    int32_t del_wait;     /* StopReplica(delete) replies still awaited */
    int64_t del_deadline; /* ms: remove the znodes by then whatever the replies */
    bool del_znodes;      /* znode removal issued */
    bool parent_ok; /* controller made .../partitions */
    bool cfg_loaded;
} kn_ctopic_t;

typedef struct kn_cbroker_s {
    int32_t id;
    bool loaded;
    kn_broker_meta_t meta;
} kn_cbroker_t;

typedef struct kn_snap_topic_s {
    kn_topic_meta_t meta; /* first: the public view points here */
    char **cfg_keys, **cfg_vals;
    size_t ncfg;
} kn_snap_topic_t;

enum {
    KN_BOOT_NONE = 0,
    KN_BOOT_PATHS,
    KN_BOOT_CLUSTER_ID,
    KN_BOOT_REGISTERING,
    KN_BOOT_STALE_WAIT, /* old session still holds /brokers/ids/<id> */
    KN_BOOT_REGISTERED,
};

struct kn_cluster_s {
    kn_zop_t *live_ops;          /* every op not yet freed (zk.c) */
    uv_loop_t *loop;
    kn_cluster_callbacks_t cb;
    /* config (owned copies) */
    char *hosts; /* zk_connect without the chroot */
    char *root;  /* "" or "/chroot" */
    int32_t session_timeout_ms, connection_timeout_ms, broker_id;
    char *adv_host;
    int adv_port;
    char *rack;
    int32_t default_partitions;
    int16_t default_rf;
    char ctx[32]; /* log context "zk" */

    /* handoff */
    pthread_mutex_t mu;
    kn_zmsg_t *qhead, *qtail;
    uv_async_t async;
    uv_timer_t connect_timer, stale_timer, notify_timer, retry_timer;
    int open_handles;
    bool handles_closing;

    /* session */
    zhandle_t *zh;
    kn_zsess_t *sess;
    uint64_t gen;
    bool connected, ever_connected, gen_connected;
    int64_t session_id;
    bool started, stopping, closing, stopped, free_on_close, fatal;
    bool quiescing;              /* stop: waiting for answers before zookeeper_close */
    int64_t quiesce_deadline_ms;
    void (*stop_done)(void *);
    void *stop_ud;
    int stop_pending;
    int closes_in_flight; /* zookeeper_close running on the threadpool */

    /* startup */
    int boot;
    bool boot_busy;
    int boot_pending;
    bool boot_err;
    int boot_errc;
    uint64_t stale_wait_ms;
    int64_t stale_owner;
    char *cluster_id;
    int64_t broker_epoch;

    /* cache */
    kn_cbroker_t *brokers;
    size_t nbrokers;
    kn_ctopic_t **topics; /* sorted by name */
    size_t ntopics;
    char **del_marks;
    size_t ndel_marks;
    bool marks_fresh; /* list re-read since the controller last looked */
    int32_t controller_id;
    int64_t controller_owner; /* session (ephemeralOwner) of /controller; 0 unknown */
    /* controller probe (ctrl_probe.c): idle connection to another broker
     * that is controller; refused after a loss = its process is gone */
    uv_timer_t cprobe_timer;
    struct cprobe_conn_s *cprobe_conn;
    int32_t cprobe_id; /* -1: not probing */
    int64_t cprobe_owner;
    char cprobe_host[256];
    int cprobe_port;
    int cprobe_fails;
    int64_t cprobe_up_since_ms;
    bool cprobe_acted; /* /controller deletion attempted for this one */
    int load_pending;
    bool loaded_once;
    bool dirty, notify_scheduled, ready_fired;

    /* controller role (controller.c) */
    bool is_controller;
    bool electing;
    int32_t ctrl_epoch;          /* our epoch while controller; last seen otherwise */
    int32_t ctrl_epoch_zkversion; /* fencing: /controller_epoch version after our election */
    struct kn_chan_s *chan;       /* controller channel (channel.c), while controller */
    uv_timer_t chan_timer;        /* channel: send queued requests, retry backoff */
    uv_timer_t ctrl_tick;         /* controller: deletion deadlines, auto rebalance */
    int64_t next_rebalance_ms;
    /* brokers in controlled shutdown (id, epoch): no longer eligible to lead
     * or join an ISR; forgotten when their registration goes or changes */
    int32_t *shut_ids;
    int64_t *shut_epochs;
    size_t nshut;
    struct kn_ctrl_wait_s *waits; /* ControlledShutdown / ElectLeaders / AlterPartition in progress */
    /* controller settings */
    bool unclean_default, auto_rebalance;
    int32_t imbalance_check_ms, imbalance_pct, ctrl_request_timeout_ms, delete_timeout_ms;
    /* ControlledShutdown client (requests.c) */
    struct kn_csclient_s *cs;
    uv_timer_t cs_timer;
    /* dynamic broker configs (admin_ext.c) */
    struct kn_admin_ext_s *ext;

    /* snapshot (public view) */
    kn_snap_topic_t **snap_topics;
    const kn_topic_meta_t **snap_view;
    size_t nsnap_topics;
    kn_broker_meta_t *snap_brokers;
    size_t nsnap_brokers;
};

/* zk.c */
kn_zop_t *kn_cluster__op(kn_cluster_t *c, kn_zop_fn fn, const char *path);
void kn_cluster__op_free(kn_zop_t *op);
void kn_cluster__zget(kn_cluster_t *c, kn_zop_t *op, bool watch);
void kn_cluster__zexists(kn_cluster_t *c, kn_zop_t *op, bool watch);
void kn_cluster__zchildren(kn_cluster_t *c, kn_zop_t *op, bool watch);
/* data NULL = no data. Result stat is the new node's. */
void kn_cluster__zcreate(kn_cluster_t *c, kn_zop_t *op, const char *data, int flags);
void kn_cluster__zset(kn_cluster_t *c, kn_zop_t *op, const char *data, int version);
void kn_cluster__zdelete(kn_cluster_t *c, kn_zop_t *op, int version);
void kn_cluster__mop_init(kn_zop_t *op, int cap);
void kn_cluster__mop_check(kn_cluster_t *c, kn_zop_t *op, const char *path, int version);
void kn_cluster__mop_create(kn_cluster_t *c, kn_zop_t *op, const char *path, const char *data, int flags);
void kn_cluster__mop_set(kn_cluster_t *c, kn_zop_t *op, const char *path, const char *data, int version);
void kn_cluster__mop_delete(kn_cluster_t *c, kn_zop_t *op, const char *path, int version);
void kn_cluster__zmulti(kn_cluster_t *c, kn_zop_t *op);
/* Complete op with rc through the queue (never inline). */
void kn_cluster__post(kn_cluster_t *c, kn_zop_t *op, int rc);
void kn_cluster__watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
void kn_cluster__drain(uv_async_t *a);
char *kn_cluster__abs(const kn_cluster_t *c, const char *rel);
const char *kn_cluster__zstate(int state);

/* cluster.c hooks used by controller.c */
void kn_cluster__mark_dirty(kn_cluster_t *c);
/* ctrl_probe.c */
void kn_cluster__cprobe_sync(kn_cluster_t *c); /* probe the current controller (if another broker) */
void kn_cluster__cprobe_stop(kn_cluster_t *c);
void kn_cluster__cprobe_tick(uv_timer_t *t);
kn_ctopic_t *kn_cluster__find_topic(const kn_cluster_t *c, const char *name);
bool kn_cluster__broker_live(const kn_cluster_t *c, int32_t id);
void kn_cluster__event(kn_cluster_t *c, int type, int state, const char *relpath);
void kn_cluster__fatal(kn_cluster_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool kn_cluster__conn_err(int rc);

/* controller.c */
/* Eligible (registered, not shutting down) and registered brokers, with
 * their epochs, into caller arrays of c->nbrokers entries. */
void kn_cluster__live_sets(const kn_cluster_t *c, int32_t *elig_ids, int64_t *elig_ep, int32_t *nelig,
                           int32_t *reg_ids, int64_t *reg_ep, int32_t *nreg);
bool kn_cluster__unclean_for(const kn_cluster_t *c, const kn_ctopic_t *t);
/* Fenced conditional write of a partition state; the cache is updated when
 * it lands, and then (lair) LeaderAndIsr goes to the replicas (StopReplica
 * to a shutting-down replica that left the ISR) and UpdateMetadata to all.
 * done (may be NULL) gets 0, or a Kafka error for a failed write; it is
 * also called if the op is dropped with the session. */
void kn_cluster__write_state(kn_cluster_t *c, kn_ctopic_t *t, int32_t p, int32_t leader, int32_t le,
                             const int32_t *isr, int32_t nisr, bool lair, kn_cluster_done_cb done, void *ud);
/* A state write landed or failed: pending controller requests recheck. */
void kn_cluster__waits_poke(kn_cluster_t *c);
/* A StopReplica(delete) reply (or its give-up) for a topic being deleted. */
void kn_cluster__ctrl_stop_acked(kn_cluster_t *c, const char *topic);

/* channel.c: one kn_ib_t per registered broker while we are controller;
 * requests queued per broker, one in flight at a time, rebuilt from the
 * cache when sent (so a retry carries the newest state), retried after a
 * backoff while the broker stays registered. */
void kn_cluster__chan_open(kn_cluster_t *c);
/* Close every client and drop what is queued (resign, stop, expiry). */
void kn_cluster__chan_close(kn_cluster_t *c);
/* Bring the clients in line with the registered brokers: a new broker (or
 * a new epoch) gets UpdateMetadata, then LeaderAndIsr for its partitions,
 * and everyone else UpdateMetadata; a gone one is closed. */
void kn_cluster__chan_sync(kn_cluster_t *c);
void kn_cluster__chan_lair(kn_cluster_t *c, int32_t broker, const char *topic, int32_t p, bool is_new);
/* UpdateMetadata for one partition (p -1: every partition of the topic) to
 * every registered broker. */
void kn_cluster__chan_um(kn_cluster_t *c, const char *topic, int32_t p);
void kn_cluster__chan_um_full(kn_cluster_t *c);
void kn_cluster__chan_stop(kn_cluster_t *c, int32_t broker, const char *topic, int32_t p, bool del);
/* Frees what the close left (at cluster free). */
void kn_cluster__chan_free(kn_cluster_t *c);
/* True while the channel holds broker id with this registration (broker
 * epoch) for gone: its probe connection was lost and the reconnect refused
 * (fast failure detection, docs/replication.md). */
bool kn_cluster__chan_cut(const kn_cluster_t *c, int32_t id, int64_t epoch);

/* requests.c */
void kn_cluster__waits_drop(kn_cluster_t *c, int16_t kerr);
void kn_cluster__rebalance(kn_cluster_t *c);
void kn_cluster__cs_free(kn_cluster_t *c);

/* admin_ext.c: /config/brokers/<our id> and /config/brokers/<default>,
 * read and watched with every metadata load. */
typedef struct kn_admin_ext_s kn_admin_ext_t;
void kn_cluster__ext_load(kn_cluster_t *c);
void kn_cluster__ext_event(kn_cluster_t *c, const char *name); /* /config/brokers/<name> changed */
void kn_cluster__ext_free(kn_cluster_t *c);

/* Watch /controller and run for election when it is absent. */
void kn_cluster__ctrl_start(kn_cluster_t *c);
/* /controller changed/created/deleted. */
void kn_cluster__ctrl_on_event(kn_cluster_t *c, int type);
/* Session lost: drop the role without writing. */
void kn_cluster__ctrl_reset(kn_cluster_t *c, const char *why);
/* Bring ZooKeeper in line with the cache: missing partition states,
 * leaderless partitions, pending deletions. Only when everything is loaded. */
void kn_cluster__ctrl_reconcile(kn_cluster_t *c);
/* Fenced stop: delete /controller if ours. Returns true if an op was issued. */
bool kn_cluster__ctrl_stop(kn_cluster_t *c, kn_zop_fn done);

#endif
