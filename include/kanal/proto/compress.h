/* Kafka's record-batch compression codecs, and the batch-level operations the
 * Produce path needs on compressed batches: bounded decompression of a batch's
 * records, record walking, and rebuilding a batch with another codec or a
 * LogAppendTime timestamp (fresh CRC).
 *
 * Codecs as Kafka writes them (attributes bits 0-2, KN_COMPRESSION_*):
 *   gzip   RFC 1952 members (zlib); concatenated members are read too.
 *   snappy raw snappy (librdkafka) or xerial framing (Java, kafka-python),
 *          recognised by its 8-byte magic "\x82SNAPPY\0"; we write xerial, as
 *          Kafka's broker does (every client reads it).
 *   lz4    the LZ4 frame format (KIP-57 fixed header checksum).
 *   zstd   zstd frames.
 * Decompression never produces more than `cap` bytes: output past the cap is
 * KN_ETOOBIG, so a zip bomb costs at most cap bytes of memory. All output
 * memory comes from kn_trymalloc (client-sized). Pure functions: any thread. */
#ifndef KANAL_PROTO_COMPRESS_H
#define KANAL_PROTO_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default per-batch cap on decompressed records (bytes). */
#define KN_DECOMPRESS_CAP_DEFAULT (64u * 1024u * 1024u)

/* "gzip"/"snappy"/"lz4"/"zstd"/"none" for a codec id ("?" otherwise). */
const char *kn_compression_name(int codec);
/* Kafka's compression.type names -> codec id: "uncompressed"/"none" 0,
 * "gzip" 1, "snappy" 2, "lz4" 3, "zstd" 4, "producer" -1; KN_EINVAL otherwise. */
int kn_compression_parse(const char *name, int *codec);

/* Decompress in[0..inlen) with codec into a new buffer (*out, caller frees
 * with kn_free; *out is non-NULL even when *outlen is 0). Returns 0,
 * KN_ECORRUPT (malformed or truncated input), KN_ETOOBIG (more than cap
 * bytes), KN_ENOMEM, or KN_EUNSUPPORTED (unknown codec, or codec NONE). */
int kn_decompress(int codec, const uint8_t *in, size_t inlen, size_t cap, uint8_t **out,
                  size_t *outlen);
/* Compress into a new buffer (caller frees). 0, KN_ENOMEM or KN_EUNSUPPORTED. */
int kn_compress(int codec, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen);

/* The records section of one whole batch (size bytes, header parsed and CRC
 * checked by the caller), uncompressed: for codec NONE *records points into
 * the batch and *owned is NULL; otherwise it is a decompressed copy in
 * *owned (caller frees). Same errors as kn_decompress. */
int kn_batch_records(const uint8_t *batch, size_t size, size_t cap, const uint8_t **records,
                     size_t *len, uint8_t **owned);

/* Rebuild a batch: same header fields, records recompressed with codec (or
 * stored uncompressed for KN_COMPRESSION_NONE); if log_append_time >= 0 the
 * timestamp-type bit is set and maxTimestamp = log_append_time (Kafka's
 * setMaxTimestamp). `records` is the batch's uncompressed records section
 * (from kn_batch_records). New CRC. *out is caller-freed (kn_free).
 * Returns 0, KN_ENOMEM, KN_EUNSUPPORTED or KN_ETOOBIG (result over 2 GiB). */
int kn_batch_rebuild(const uint8_t *batch, size_t size, const uint8_t *records, size_t rlen,
                     int codec, int64_t log_append_time, uint8_t **out, size_t *outlen);

/* In place: set LogAppendTime (attributes bit 3, maxTimestamp) and the CRC,
 * leaving the records as they are (no recompression needed for that). */
void kn_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t now_ms);

#endif
