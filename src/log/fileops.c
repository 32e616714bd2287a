/* The file-ops table (POSIX by default) and small I/O helpers on top of it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kanal/util/err.h"
#include "log_int.h"

static int posix_open(const char *path, int flags, mode_t mode) {
    return open(path, flags | O_CLOEXEC, mode);
}

static const kn_fileops_t posix_ops = {
    .open = posix_open,
    .pwrite = pwrite,
    .pread = pread,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .fstat = fstat,
    .close = close,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .rmdir = rmdir,
};

const kn_fileops_t *kn_log__ops = &posix_ops;

const kn_fileops_t *kn_log_posix_fileops(void) { return &posix_ops; }
void kn_log_set_fileops(const kn_fileops_t *ops) { kn_log__ops = ops ? ops : &posix_ops; }
const kn_fileops_t *kn_log_fileops(void) { return kn_log__ops; }

int kn_log__errno(void) { return kn_err_from_errno(errno ? errno : EIO); }

int kn_log__pwrite_all(int fd, const void *p, size_t n, int64_t off) {
    const uint8_t *b = p;
    while (n > 0) {
        errno = 0;
        ssize_t w = kn_log__ops->pwrite(fd, b, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == ENOSPC || errno == EDQUOT ? KN_ENOSPC : KN_EIO;
        }
        if (w == 0) return KN_ENOSPC; /* no progress: treat as a full disk */
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int kn_log__pread_full(int fd, void *p, size_t n, int64_t off, size_t *got) {
    uint8_t *b = p;
    size_t done = 0;
    while (done < n) {
        ssize_t r = kn_log__ops->pread(fd, b + done, n - done, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR) continue;
            *got = done;
            return KN_EIO;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int kn_log__file_size(int fd, int64_t *size) {
    struct stat st;
    if (kn_log__ops->fstat(fd, &st) < 0) return KN_EIO;
    *size = (int64_t)st.st_size;
    return 0;
}

int kn_log__fsync_dir(const char *dir) {
    int fd = kn_log__ops->open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) return kn_log__errno();
    int rc = kn_log__ops->fsync(fd) < 0 ? KN_EIO : 0;
    kn_log__ops->close(fd);
    return rc;
}
