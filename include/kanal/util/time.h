#ifndef KANAL_UTIL_TIME_H
#define KANAL_UTIL_TIME_H
#include <stdint.h>
/* Wall clock, ms since the epoch (record timestamps, segment.ms). */
int64_t kn_now_ms(void);
/* Monotonic clock in ms and ns (timeouts, latencies). */
int64_t kn_mono_ms(void);
int64_t kn_mono_ns(void);
#endif
