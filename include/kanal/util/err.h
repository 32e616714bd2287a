/* Kanal internal error codes: 0 or a negative KN_E* value, one list. */
#ifndef KANAL_UTIL_ERR_H
#define KANAL_UTIL_ERR_H

#define KN_ERRNO_MAP(X)                                         \
    X(NOMEM, 1, "out of memory")                                \
    X(INVAL, 2, "invalid argument")                             \
    X(TRUNC, 3, "truncated input")                              \
    X(RANGE, 4, "value out of range")                           \
    X(IO, 5, "I/O error")                                       \
    X(CORRUPT, 6, "corrupt data")                               \
    X(NOTFOUND, 7, "not found")                                 \
    X(EXISTS, 8, "already exists")                              \
    X(AGAIN, 9, "try again")                                    \
    X(TIMEOUT, 10, "timed out")                                 \
    X(CLOSED, 11, "closed")                                     \
    X(UNSUPPORTED, 12, "unsupported")                           \
    X(TOOBIG, 13, "too big")                                    \
    X(NOSPC, 14, "no space left on device")                     \
    X(STATE, 15, "invalid state")

enum kn_err_e {
    KN_OK = 0,
#define KN__ERR_ENUM(name, num, msg) KN_E##name = -(num),
    KN_ERRNO_MAP(KN__ERR_ENUM)
#undef KN__ERR_ENUM
};

/* Text for a KN_E* code (static string, never NULL). */
const char *kn_strerror(int err);
/* Symbolic name ("KN_ETRUNC") for a KN_E* code. */
const char *kn_err_name(int err);
/* Map a positive errno to a KN_E* code (ENOSPC -> KN_ENOSPC, else KN_EIO). */
int kn_err_from_errno(int e);

#endif
