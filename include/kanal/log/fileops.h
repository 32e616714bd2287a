/* The file-operations table every file access of the log module goes through
 * (SQLite's VFS idea): the real POSIX calls by default, a fault-injecting
 * table in tests (fail the Nth write or fsync, short/torn writes).
 * Each entry has POSIX semantics: returns -1 (or a short count) and sets
 * errno on failure. */
#ifndef KANAL_LOG_FILEOPS_H
#define KANAL_LOG_FILEOPS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct kn_fileops_s {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *p, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *p, size_t n, off_t off);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fstat)(int fd, struct stat *st);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    int (*rmdir)(const char *path);
} kn_fileops_t;

/* The POSIX table. */
const kn_fileops_t *kn_log_posix_fileops(void);
/* Install a table for the whole log module (NULL restores POSIX). The table
 * is borrowed and must outlive its use. Call while no file is open. */
void kn_log_set_fileops(const kn_fileops_t *ops);
/* The table in use. */
const kn_fileops_t *kn_log_fileops(void);

#endif
