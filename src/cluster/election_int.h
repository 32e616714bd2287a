/* The controller's decisions, kept free of I/O so they are unit-tested alone
 * (tests/unit/test_controller.c): offline and controlled-shutdown leader
 * election with ISR clean-up, preferred-leader election, AlterPartition
 * validation, leader imbalance. Any thread; no allocation except where said.
 *
 * Rules follow Kafka 3.x's ZK-mode controller (KafkaController,
 * PartitionLeaderElectionAlgorithms, ReplicaStateMachine). */
#ifndef KANAL_CLUSTER_ELECTION_INT_H
#define KANAL_CLUSTER_ELECTION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/cluster/cluster.h"

/* A set of brokers: ids (any order) and, optionally, their broker epochs
 * (czxid), parallel to ids; epochs may be NULL. */
typedef struct kn_brokerset_s {
    const int32_t *ids;
    const int64_t *epochs;
    int32_t n;
} kn_brokerset_t;

bool kn_cluster__set_has(const kn_brokerset_t *s, int32_t id);
/* Epoch of id in s, or -1 when absent or epochs unknown. */
int64_t kn_cluster__set_epoch(const kn_brokerset_t *s, int32_t id);

/* A partition's next leader and ISR. isr points to caller storage of at
 * least max(nreplicas, nisr) entries. */
typedef struct kn_lisr_s {
    int32_t leader;
    int32_t leader_epoch;
    int32_t *isr;
    int32_t nisr;
} kn_lisr_t;

/* First replica in assignment order that is in `eligible` and in the ISR;
 * with `unclean`, failing that, the first eligible replica. -1 if none. */
int32_t kn_cluster__pick_leader(const kn_partition_state_t *ps, const kn_brokerset_t *eligible, bool unclean);

/* What a present partition needs after brokers died or began a controlled
 * shutdown. `eligible`: registered and not shutting down; `registered`:
 * everything with a /brokers/ids entry (shutting-down brokers included).
 *  - leader eligible: drop non-eligible members from the ISR (epoch+1) if any;
 *  - leader not eligible: elect pick_leader (clean first; unclean only when
 *    the old leader is not registered), ISR = old ISR ∩ eligible (or just the
 *    unclean leader), epoch+1;
 *  - no candidate: a still-registered (shutting-down) leader keeps leading;
 *    a dead one gives leader -1 with the ISR kept as it is, epoch+1; an
 *    already leaderless partition is left alone.
 * Returns true (and fills out) when a write is needed. */
bool kn_cluster__offline_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                  const kn_brokerset_t *registered, bool unclean, kn_lisr_t *out);

/* Preferred-replica election (ElectLeaders PREFERRED, auto rebalance):
 * returns 0 and fills out (leader = first replica, epoch+1, same ISR), or
 * ELECTION_NOT_NEEDED (84) when it already leads, or
 * PREFERRED_LEADER_NOT_AVAILABLE (80) when it is not eligible or not in the
 * ISR. */
int16_t kn_cluster__preferred_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                       kn_lisr_t *out);

/* Unclean election on request (ElectLeaders UNCLEAN): 84 if the leader is
 * eligible, 83 ELIGIBLE_LEADERS_NOT_AVAILABLE if no replica is, else 0 and
 * out (clean candidate first). */
int16_t kn_cluster__unclean_decision(const kn_partition_state_t *ps, const kn_brokerset_t *eligible,
                                     kn_lisr_t *out);

/* One partition of an AlterPartition (KIP-497) checked against the current
 * state. `member_epochs` (v3 NewIsrWithEpochs) may be NULL; an entry of -1
 * is not checked. Returns a Kafka error, or 0 with *noop true when the
 * partition is already in the proposed state (answer with the current
 * state, no write), or 0 with *noop false (write it: same leader and leader
 * epoch, new ISR, conditional on partition_epoch). Order as Kafka's
 * processAlterPartition: NOT_CONTROLLER (41) for epochs from the future,
 * FENCED_LEADER_EPOCH (74), NOT_LEADER_OR_FOLLOWER (6) from a non-leader,
 * idempotent no-op, INVALID_UPDATE_VERSION (95), INVALID_REQUEST (42) for an
 * ISR without the leader, INELIGIBLE_REPLICA (107) for a member that is not
 * a replica, not eligible or has a stale broker epoch. */
int16_t kn_cluster__alter_check(const kn_partition_state_t *cur, int32_t requester, int32_t leader_epoch,
                                int32_t partition_epoch, const int32_t *new_isr, int32_t nisr,
                                const int64_t *member_epochs, const kn_brokerset_t *eligible, bool *noop);

/* Kafka's leader imbalance of broker b: among partitions whose preferred
 * (first) replica is b, the fraction not led by b. 0 when there are none. */
double kn_cluster__imbalance(int32_t b, const kn_partition_state_t *const *parts, size_t n);

#endif
