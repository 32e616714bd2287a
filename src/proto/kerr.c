#include "kanal/proto/kerr.h"

#include <stddef.h>

/* Codes run densely from -1 upwards, so a table indexed by code + 1 serves both
 * lookups; holes (none today) read as NULL. */
#define KN__KERR_NAME(name, code, retriable) [(code) + 1] = #name,
#define KN__KERR_RETRY(name, code, retriable) [(code) + 1] = (retriable),
#define KN__KERR_COUNT(name, code, retriable) +1

enum { KN__KERR_N = 0 KN_KERR_MAP(KN__KERR_COUNT) };

static const char *const kerr_names[KN__KERR_N] = {KN_KERR_MAP(KN__KERR_NAME)};
static const bool kerr_retriable[KN__KERR_N] = {KN_KERR_MAP(KN__KERR_RETRY)};

const char *kn_kerr_name(int16_t code) {
    int i = code + 1;
    if (i < 0 || i >= KN__KERR_N || !kerr_names[i]) return "UNKNOWN";
    return kerr_names[i];
}

bool kn_kerr_retriable(int16_t code) {
    int i = code + 1;
    return i >= 0 && i < KN__KERR_N && kerr_retriable[i];
}
