#define _POSIX_C_SOURCE 200809L
#include "kanal/util/time.h"

#include <time.h>

int64_t kn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kn_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kn_mono_ms(void) { return kn_mono_ns() / 1000000; }
