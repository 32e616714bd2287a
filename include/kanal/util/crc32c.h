/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by Kafka's
 * RecordBatch v2. Pure computation; safe on any thread. */
#ifndef KANAL_UTIL_CRC32C_H
#define KANAL_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over n more bytes. Start with crc = 0; chaining works:
 * kn_crc32c(kn_crc32c(0, a, na), b, nb) == kn_crc32c(0, ab, na + nb).
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else slicing-by-8. */
uint32_t kn_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable implementation, exposed so tests can compare both paths. */
uint32_t kn_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
