#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct ab_lock {
    int fd;
};

int ab_lock_acquire(const char *db_path, struct ab_lock **out,
                    struct ab_err *err)
{
    char path[4096], buf[32];
    struct ab_lock *l;
    ssize_t n;
    int fd, len;

    *out = NULL;
    if (snprintf(path, sizeof path, "%s.lock", db_path) >= (int)sizeof path)
        return ab_err_set(err, AB_EINVAL, "database path too long");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ab_err_set(err, AB_EIO, "cannot open lock file '%s': %s", path,
                          strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno, tries;
        /* The holder writes its pid right after taking the lock: give it a
         * moment rather than report pid 0, or the pid an earlier, dead
         * holder left in the file. */
        for (tries = 0; tries < 50; tries++) {
            long pid;
            n = pread(fd, buf, sizeof buf - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            pid = strtol(buf, NULL, 10);
            if (pid > 0 && pid <= INT_MAX &&
                (kill((pid_t)pid, 0) == 0 || errno == EPERM))
                break;
            usleep(2000);
        }
        close(fd);
        if (e == EWOULDBLOCK)
            return ab_err_set(err, AB_EBUSY,
                              "database '%s' is in use by another run "
                              "(pid %ld)",
                              db_path, strtol(buf, NULL, 10));
        return ab_err_set(err, AB_EIO, "cannot lock '%s': %s", path,
                          strerror(e));
    }
    /* Write, then cut: a reader never sees the file empty, only an old pid
     * or the new one. */
    len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) != 0) {
        /* The lock holds without the pid; only the message suffers. */
    }
    if (!(l = malloc(sizeof *l))) {
        close(fd);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    l->fd = fd;
    *out = l;
    return 0;
}

void ab_lock_release(struct ab_lock *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}
