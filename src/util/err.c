#include "kanal/util/err.h"

#include <errno.h>

const char *kn_strerror(int err) {
    switch (err) {
    case KN_OK: return "success";
#define KN__ERR_STR(name, num, msg) case KN_E##name: return msg;
        KN_ERRNO_MAP(KN__ERR_STR)
#undef KN__ERR_STR
    default: return "unknown error";
    }
}

const char *kn_err_name(int err) {
    switch (err) {
    case KN_OK: return "KN_OK";
#define KN__ERR_NAME(name, num, msg) case KN_E##name: return "KN_E" #name;
        KN_ERRNO_MAP(KN__ERR_NAME)
#undef KN__ERR_NAME
    default: return "KN_E?";
    }
}

int kn_err_from_errno(int e) {
    switch (e) {
    case ENOSPC:
    case EDQUOT: return KN_ENOSPC;
    case ENOMEM: return KN_ENOMEM;
    case ENOENT: return KN_ENOTFOUND;
    case EEXIST: return KN_EEXISTS;
    case EAGAIN: return KN_EAGAIN;
    case EINVAL: return KN_EINVAL;
    default: return KN_EIO;
    }
}
