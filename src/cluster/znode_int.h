/* Pure helpers of the cluster module: JSON of each znode we read or write,
 * topic id text form, topic name rule, replica assignment. No I/O, no
 * ZooKeeper, any thread. Decoders take untrusted bytes (anything can write
 * ZooKeeper) and return 0 or KN_ECORRUPT; encoders return a kn_malloc'd
 * NUL-terminated string the caller frees with kn_free. */
#ifndef KANAL_CLUSTER_ZNODE_INT_H
#define KANAL_CLUSTER_ZNODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/cluster/cluster.h"

/* Kafka's topic id text: URL-safe base64 of 16 bytes, no padding, 22 chars. */
#define KN_CLUSTER_UUID_B64_LEN 22
void kn_cluster__uuid_to_b64(const kn_uuid_t *u, char out[KN_CLUSTER_UUID_B64_LEN + 1]);
int kn_cluster__uuid_from_b64(const char *s, size_t len, kn_uuid_t *u);
/* Random v4 uuid whose text does not start with '-' (Kafka's rule, so ids
 * never look like command-line flags) and is not all zero. */
void kn_cluster__random_uuid(kn_uuid_t *u);

/* Kafka's rule: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". Returns 0
 * or KN_EINVAL with *why set to a static reason. */
int kn_cluster__validate_topic_name(const char *name, size_t len, const char **why);

/* Kafka's rack-unaware assignment: partition p's first replica is broker
 * (p + start) % n of the sorted list; followers are shifted by
 * 1 + (shift + j) % (n - 1), shift growing by one every n partitions.
 * out[p * rf + j]. Returns 0 or KN_EINVAL (rf < 1, rf > n, npart < 1). */
int kn_cluster__assign_replicas(const int32_t *sorted_brokers, int nbrokers, int32_t npart,
                                int16_t rf, int start_index, int shift, int32_t *out);

/* /brokers/ids/<id>, version 5. */
char *kn_cluster__broker_json(const char *host, int port, const char *rack, int64_t ts_ms);
/* Fills host/port/rack (kn_malloc'd, rack NULL if absent). Takes the first
 * PLAINTEXT endpoint when host is null. id/epoch untouched. */
int kn_cluster__broker_parse(const char *data, size_t len, kn_broker_meta_t *out);
void kn_cluster__broker_meta_clear(kn_broker_meta_t *b);

/* /controller, version 2. */
char *kn_cluster__controller_json(int32_t broker_id, int64_t ts_ms);
int kn_cluster__controller_parse(const char *data, size_t len, int32_t *broker_id);

/* /controller_epoch: bare decimal. */
int kn_cluster__epoch_parse(const char *data, size_t len, int32_t *epoch);

/* /cluster/id: {"version":"1","id":"..."}. out gets a kn_malloc'd id. */
char *kn_cluster__cluster_id_json(const char *id);
int kn_cluster__cluster_id_parse(const char *data, size_t len, char **out);

/* /brokers/topics/<t>, version 3. parts[p].replicas for p < npart. */
char *kn_cluster__assignment_json(const kn_uuid_t *id, int32_t npart, const kn_partition_state_t *parts);
/* Allocates *parts (npart entries, leader -1, zk_version -1, replicas set,
 * isr empty). Partition keys must be 0..n-1; a missing one has no replicas.
 * *has_id false when topic_id is absent. */
int kn_cluster__assignment_parse(const char *data, size_t len, kn_uuid_t *id, bool *has_id,
                                 int32_t *npart, kn_partition_state_t **parts);

/* .../partitions/<p>/state, version 1. */
char *kn_cluster__state_json(int32_t leader, int32_t leader_epoch, int32_t controller_epoch,
                             const int32_t *isr, int32_t nisr);
/* Sets leader, leader_epoch, controller_epoch and isr (old isr freed). */
int kn_cluster__state_parse(const char *data, size_t len, kn_partition_state_t *st);

/* /config/topics/<t>: {"version":1,"config":{k:v}} with string values. */
char *kn_cluster__config_json(const char *const *keys, const char *const *vals, size_t n);
int kn_cluster__config_parse(const char *data, size_t len, char ***keys, char ***vals, size_t *n);
void kn_cluster__config_free(char **keys, char **vals, size_t n);

/* Free replicas/isr of n partition states and the array itself. */
void kn_cluster__parts_free(kn_partition_state_t *parts, int32_t n);

#endif
