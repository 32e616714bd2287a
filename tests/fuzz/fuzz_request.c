/* Fuzz target: one Kafka request frame (without its size prefix) through the
 * request-header parse and the generated body decoder of its API, at every
 * version Kafka defines (not only the ones Kanal advertises), exactly as
 * kanald's request path reads untrusted bytes. */
#include <stddef.h>
#include <stdint.h>

#include "kanal/proto/gen/allocate_producer_ids.h"
#include "kanal/proto/gen/alter_configs.h"
#include "kanal/proto/gen/alter_partition.h"
#include "kanal/proto/gen/api.h"
#include "kanal/proto/gen/api_versions.h"
#include "kanal/proto/gen/controlled_shutdown.h"
#include "kanal/proto/gen/create_partitions.h"
#include "kanal/proto/gen/create_topics.h"
#include "kanal/proto/gen/delete_groups.h"
#include "kanal/proto/gen/delete_records.h"
#include "kanal/proto/gen/delete_topics.h"
#include "kanal/proto/gen/describe_cluster.h"
#include "kanal/proto/gen/describe_configs.h"
#include "kanal/proto/gen/describe_groups.h"
#include "kanal/proto/gen/elect_leaders.h"
#include "kanal/proto/gen/fetch.h"
#include "kanal/proto/gen/find_coordinator.h"
#include "kanal/proto/gen/headers.h"
#include "kanal/proto/gen/heartbeat.h"
#include "kanal/proto/gen/incremental_alter_configs.h"
#include "kanal/proto/gen/init_producer_id.h"
#include "kanal/proto/gen/join_group.h"
#include "kanal/proto/gen/leader_and_isr.h"
#include "kanal/proto/gen/leave_group.h"
#include "kanal/proto/gen/list_groups.h"
#include "kanal/proto/gen/list_offsets.h"
#include "kanal/proto/gen/metadata.h"
#include "kanal/proto/gen/offset_commit.h"
#include "kanal/proto/gen/offset_delete.h"
#include "kanal/proto/gen/offset_fetch.h"
#include "kanal/proto/gen/offset_for_leader_epoch.h"
#include "kanal/proto/gen/produce.h"
#include "kanal/proto/gen/stop_replica.h"
#include "kanal/proto/gen/sync_group.h"
#include "kanal/proto/gen/update_metadata.h"
#include "kanal/proto/batch.h"
#include "kanal/util/mem.h"

#define KN_FUZZ_APIS(X)                                                                                \
    X(FETCH, Fetch) X(LIST_OFFSETS, ListOffsets) X(METADATA, Metadata)            \
    X(LEADER_AND_ISR, LeaderAndIsr) X(STOP_REPLICA, StopReplica) X(UPDATE_METADATA, UpdateMetadata)   \
    X(CONTROLLED_SHUTDOWN, ControlledShutdown) X(OFFSET_COMMIT, OffsetCommit)                         \
    X(OFFSET_FETCH, OffsetFetch) X(FIND_COORDINATOR, FindCoordinator) X(JOIN_GROUP, JoinGroup)        \
    X(HEARTBEAT, Heartbeat) X(LEAVE_GROUP, LeaveGroup) X(SYNC_GROUP, SyncGroup)                       \
    X(DESCRIBE_GROUPS, DescribeGroups) X(LIST_GROUPS, ListGroups) X(API_VERSIONS, ApiVersions)        \
    X(CREATE_TOPICS, CreateTopics) X(DELETE_TOPICS, DeleteTopics) X(DELETE_RECORDS, DeleteRecords)    \
    X(INIT_PRODUCER_ID, InitProducerId) X(OFFSET_FOR_LEADER_EPOCH, OffsetForLeaderEpoch)              \
    X(DESCRIBE_CONFIGS, DescribeConfigs) X(ALTER_CONFIGS, AlterConfigs)                               \
    X(CREATE_PARTITIONS, CreatePartitions) X(DELETE_GROUPS, DeleteGroups)                             \
    X(ELECT_LEADERS, ElectLeaders) X(INCREMENTAL_ALTER_CONFIGS, IncrementalAlterConfigs)              \
    X(OFFSET_DELETE, OffsetDelete) X(ALTER_PARTITION, AlterPartition)                                 \
    X(DESCRIBE_CLUSTER, DescribeCluster) X(ALLOCATE_PRODUCER_IDS, AllocateProducerIds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_body(int16_t key, int16_t ver, kn_rd_t *rd, kn_arena_t *a) {
    if (key == KN_API_PRODUCE) {
        /* Produce goes on to the record-batch validation, as in kanald. */
        kn_ProduceRequest_t pr;
        if (kn_ProduceRequest_decode(rd, ver, a, &pr) != 0) return;
        for (int32_t i = 0; i < pr.topic_data_count; i++)
            for (int32_t j = 0; j < pr.topic_data[i].partition_data_count; j++) {
                kn_records_t *rec = &pr.topic_data[i].partition_data[j].records;
                int16_t ke;
                if (rec->len > 0) kn_batches_validate(rec->p, (size_t)rec->len, 1 << 20, NULL, &ke);
            }
        return;
    }
    switch (key) {
#define KN_FUZZ_CASE(K, N)                              \
    case KN_API_##K: {                                  \
        kn_##N##Request_t m;                            \
        kn_##N##Request_decode(rd, ver, a, &m);         \
        break;                                          \
    }
        KN_FUZZ_APIS(KN_FUZZ_CASE)
#undef KN_FUZZ_CASE
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kn_rd_t rd;
    int16_t key = 0, ver = 0;
    int32_t corr = 0;
    kn_rd_init(&rd, data, size);
    kn_rd_i16(&rd, &key);
    kn_rd_i16(&rd, &ver);
    kn_rd_i32(&rd, &corr);
    if (rd.err) return 0;
    const kn_api_info_t *info = kn_api_info(key);
    if (!info || ver < info->valid_min || ver > info->valid_max) return 0;
    int hv = kn_request_header_version(key, ver);
    const char *cid;
    int32_t cidlen;
    if (hv >= 1) kn_rd_str16(&rd, &cid, &cidlen);
    if (hv >= 2) kn_rd_skip_tags(&rd);
    if (rd.err) return 0;
    kn_arena_t a;
    kn_arena_init(&a);
    decode_body(key, ver, &rd, &a);
    kn_arena_reset(&a);
    return 0;
}
