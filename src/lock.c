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
    int db_fd;  /* the flock is on this descriptor of the database file */
    int pid_fd; /* "<database>.lock", holding our pid */
    char path[PATH_MAX];
};

/* path with its symbolic links resolved; a file that does not exist yet is
 * resolved through its directory. */
static int resolve(const char *path, char *out, struct ab_err *err)
{
    char dir[PATH_MAX], rdir[PATH_MAX];
    const char *slash, *base;

    if (realpath(path, out))
        return 0;
    if (errno != ENOENT)
        return ab_err_set(err, AB_EIO, "cannot open database '%s': %s", path,
                          strerror(errno));
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s",
                 (int)(slash == path ? 1 : slash - path), path);
    if (!realpath(dir, rdir))
        return ab_err_set(err, AB_EIO,
                          "cannot open database '%s': directory '%s': %s", path,
                          dir, strerror(errno));
    if (!*base || snprintf(out, PATH_MAX, "%s/%s",
                           strcmp(rdir, "/") ? rdir : "", base) >= PATH_MAX)
        return ab_err_set(err, AB_EINVAL, "database path '%s' too long", path);
    return 0;
}

/* The holder's pid as its file says, waiting briefly for a holder that
 * has the lock but has not written its pid yet (rather than report pid 0,
 * or the pid an earlier, dead holder left there). */
static long holder_pid(const char *pidfile)
{
    char buf[32];
    long pid = 0;
    ssize_t n;
    int tries, fd = open(pidfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return 0;
    for (tries = 0; tries < 50; tries++) {
        n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        pid = strtol(buf, NULL, 10);
        if (pid > 0 && pid <= INT_MAX &&
            (kill((pid_t)pid, 0) == 0 || errno == EPERM))
            break;
        usleep(2000);
    }
    close(fd);
    return pid;
}

int ab_lock_acquire(const char *db_path, struct ab_lock **out,
                    struct ab_err *err)
{
    char pidfile[PATH_MAX + 8], shown[PATH_MAX + 8], buf[32];
    struct ab_lock *l;
    int len, rc;

    *out = NULL;
    if (!(l = calloc(1, sizeof *l)))
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    l->db_fd = l->pid_fd = -1;
    if ((rc = resolve(db_path, l->path, err)) != 0)
        goto out_free;
    snprintf(pidfile, sizeof pidfile, "%s.lock", l->path);
    snprintf(shown, sizeof shown, "%s.lock", db_path);
    /* O_NOFOLLOW: the links were resolved just now; a link appearing in
     * between is refused rather than followed. */
    l->db_fd = open(l->path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (l->db_fd < 0) {
        rc = ab_err_set(err, AB_EIO, "cannot open database '%s': %s", db_path,
                        strerror(errno));
        goto out_free;
    }
    if (flock(l->db_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            rc = ab_err_set(err, AB_EBUSY,
                            "database '%s' is in use by another run (pid %ld)",
                            db_path, holder_pid(pidfile));
        else
            rc = ab_err_set(err, AB_EIO, "cannot lock '%s': %s", db_path,
                            strerror(e));
        goto out_free;
    }
    l->pid_fd = open(pidfile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (l->pid_fd < 0) {
        rc = ab_err_set(err, AB_EIO, "cannot open lock file '%s': %s", shown,
                        strerror(errno));
        goto out_free;
    }
    /* Write, then cut: a reader never sees the file empty, only an old pid
     * or the new one. */
    len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (pwrite(l->pid_fd, buf, (size_t)len, 0) != len ||
        ftruncate(l->pid_fd, len) != 0) {
        /* The lock holds without the pid; only the message suffers. */
    }
    *out = l;
    return 0;

out_free:
    ab_lock_release(l);
    return rc;
}

const char *ab_lock_db_path(const struct ab_lock *l)
{
    return l->path;
}

int ab_lock_held(const char *db_path)
{
    char path[PATH_MAX];
    int fd, held;

    if (resolve(db_path, path, NULL) != 0)
        return 0;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return 0;
    held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* also drops the shared lock, if it was taken */
    return held;
}

void ab_lock_release(struct ab_lock *l)
{
    if (!l)
        return;
    if (l->pid_fd >= 0)
        close(l->pid_fd);
    if (l->db_fd >= 0)
        close(l->db_fd);
    free(l);
}
