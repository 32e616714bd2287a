/* Small metadata files in Kafka's formats, all written durably (temp file,
 * fsync, rename, directory fsync). Blocking file I/O; any thread that owns
 * the path. */
#ifndef KANAL_LOG_CHECKPOINT_H
#define KANAL_LOG_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanal/proto/types.h"

/* recovery-point-offset-checkpoint, replication-offset-checkpoint,
 * log-start-offset-checkpoint: "0\n<count>\n" then "<topic> <partition> <offset>\n". */
typedef struct kn_checkpoint_entry_s {
    char *topic; /* read: owned by the array (kn_checkpoint_free); write: borrowed */
    int32_t partition;
    int64_t offset;
} kn_checkpoint_entry_t;

#define KN_CHECKPOINT_RECOVERY_POINT "recovery-point-offset-checkpoint"
#define KN_CHECKPOINT_REPLICATION "replication-offset-checkpoint"
#define KN_CHECKPOINT_LOG_START "log-start-offset-checkpoint"
#define KN_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define KN_PARTITION_METADATA_FILE "partition.metadata"

int kn_checkpoint_write(const char *path, const kn_checkpoint_entry_t *e, size_t n);
/* Parse a checkpoint file: *out (kn_checkpoint_free) and *n. KN_ENOTFOUND if
 * the file does not exist, KN_ECORRUPT if malformed (names the line in the
 * log), KN_ETOOBIG over 64 MiB. */
int kn_checkpoint_read(const char *path, kn_checkpoint_entry_t **out, size_t *n);
void kn_checkpoint_free(kn_checkpoint_entry_t *e, size_t n);

/* <partition dir>/partition.metadata: "version: 0\ntopic_id: <base64url>\n". */
int kn_partition_metadata_write(const char *dir, const kn_uuid_t *topic_id);
int kn_partition_metadata_read(const char *dir, kn_uuid_t *topic_id);
/* Kafka's Uuid text form: 22 chars of unpadded base64url. out: 23 bytes. */
void kn_uuid_to_base64(const kn_uuid_t *u, char out[23]);
int kn_uuid_from_base64(const char *s, size_t len, kn_uuid_t *u);

/* <logdir>/.kafka_cleanshutdown: written at the end of a clean shutdown,
 * removed once the log dir is loaded. */
int kn_clean_shutdown_create(const char *logdir);
bool kn_clean_shutdown_exists(const char *logdir);
int kn_clean_shutdown_remove(const char *logdir);

#endif
