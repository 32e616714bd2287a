/* Leader-epoch cache of one partition (KIP-101/KIP-279): for each leader
 * epoch, the first offset written in it, kept in the partition directory as
 * `leader-epoch-checkpoint` in Kafka's format ("0\n<n>\n<epoch> <offset>\n").
 * It answers "where did epoch E end?", which is how a follower finds the
 * divergent tail of its log after a leader change. Loop thread only. */
#ifndef KANAL_LOG_EPOCH_H
#define KANAL_LOG_EPOCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct kn_epoch_entry_s {
    int32_t epoch;
    int64_t start_offset;
} kn_epoch_entry_t;

typedef struct kn_epoch_cache_s {
    char *path;
    kn_epoch_entry_t *e;
    size_t n, cap;
} kn_epoch_cache_t;

/* Load dir/leader-epoch-checkpoint (missing = empty). Entries at or past
 * log_end are dropped (a truncated log cannot have them). */
int kn_epoch_cache_open(kn_epoch_cache_t *c, const char *dir, int64_t log_end);
void kn_epoch_cache_close(kn_epoch_cache_t *c);
/* Record that `epoch` starts at `offset` (ignored unless epoch is newer
 * than the latest); persisted (temp file + fsync + rename) when it changes. */
int kn_epoch_cache_assign(kn_epoch_cache_t *c, int32_t epoch, int64_t offset);
/* Latest epoch, -1 if none. */
int32_t kn_epoch_cache_latest(const kn_epoch_cache_t *c);
/* End offset of `epoch` as a leader computes it for OffsetForLeaderEpoch and
 * Fetch's DivergingEpoch: the start of the first epoch after it, or log_end
 * when it is the latest. If the cache has no such epoch, the largest epoch
 * below it is answered instead (*found_epoch says which); -1/-1 when the
 * requested epoch is older than every entry. */
void kn_epoch_cache_end_offset(const kn_epoch_cache_t *c, int32_t epoch, int64_t log_end, int32_t *found_epoch,
                               int64_t *end_offset);
/* Drop entries that start at or after offset (log truncated to offset). */
int kn_epoch_cache_truncate_from(kn_epoch_cache_t *c, int64_t offset);
/* Drop everything (log emptied / restarted at a new start). */
int kn_epoch_cache_clear(kn_epoch_cache_t *c);

#endif
