/* systemd readiness notification (the sd_notify protocol) without
 * libsystemd: one datagram of "KEY=VALUE\n..." to the AF_UNIX socket named
 * by $NOTIFY_SOCKET ('@' first = Linux abstract namespace). Without the
 * variable (not started by systemd, or Type=simple) this does nothing.
 * Why not libsystemd: the protocol is a dozen lines, and kanald then runs
 * and builds the same on systems without systemd (docs/operations.md). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker_int.h"
#include "kanal/util/err.h"
#include "kanal/util/log.h"

int kn_notify__send(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        kn_log(KN_LOG_WARN, NULL, "NOTIFY_SOCKET '%s' is not a socket path; not notifying systemd", path);
        return KN_EINVAL;
    }
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
    /* Non-blocking: a full receive queue must not stall the loop. */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return kn_err_from_errno(errno);
    int rc = 0;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0) {
        rc = kn_err_from_errno(errno);
        kn_log(KN_LOG_WARN, NULL, "cannot notify systemd at %s: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

void kn_notify__ready(kn_broker_t *b) {
    char msg[512];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving Kafka on %s:%d, controller %d\nMAINPID=%ld\n",
             b->listen_host[0] ? b->listen_host : "0.0.0.0", b->listen_port,
             b->cluster ? kn_cluster_controller_id(b->cluster) : -1, (long)getpid());
    kn_notify__send(msg);
}
