#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ab_atomicfile {
    FILE *fp;
    char *path;
    char *tmp;
    char *dir;
    int private; /* mode 0600 */
};

static void free_handle(struct ab_atomicfile *f)
{
    if (f->fp)
        fclose(f->fp);
    free(f->path);
    free(f->tmp);
    free(f->dir);
    free(f);
}

int ab_atomicfile_open(const char *path, struct ab_atomicfile **out,
                       struct ab_err *err)
{
    struct ab_atomicfile *f;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    int fd;

    *out = NULL;
    if (!*base)
        return ab_err_set(err, AB_EINVAL, "cannot write '%s': not a file name",
                          path);
    f = calloc(1, sizeof *f);
    if (!f)
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    f->path = strdup(path);
    f->dir = slash ? strndup(path, dirlen ? dirlen : 1) : strdup(".");
    f->tmp = malloc(strlen(path) + 16);
    if (!f->path || !f->dir || !f->tmp) {
        free_handle(f);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    sprintf(f->tmp, "%.*s%s.%s.XXXXXX", (int)dirlen, path, slash ? "/" : "",
            base);
    fd = mkstemp(f->tmp);
    if (fd < 0) {
        int e = errno;
        free_handle(f);
        return ab_err_set(err, e == ENOENT ? AB_ENOENT : AB_EIO,
                          "cannot create a file next to '%s': %s", path,
                          strerror(e));
    }
    f->fp = fdopen(fd, "w");
    if (!f->fp) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        free_handle(f);
        return ab_err_set(err, AB_ENOMEM, "cannot write '%s': %s", path,
                          strerror(e));
    }
    *out = f;
    return 0;
}

void ab_atomicfile_private(struct ab_atomicfile *f)
{
    f->private = 1;
}

FILE *ab_atomicfile_stream(struct ab_atomicfile *f)
{
    return f->fp;
}

static mode_t current_umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

int ab_atomicfile_commit(struct ab_atomicfile *f, struct ab_err *err)
{
    int fd, dfd, e = 0;
    const char *what = "write";

    if (!f)
        return 0;
    fd = fileno(f->fp);
    if (fflush(f->fp) != 0 || ferror(f->fp))
        e = errno ? errno : EIO;
    else if (fsync(fd) != 0)
        e = errno, what = "sync";
    else if (fchmod(fd, f->private ? 0600 : 0666 & ~current_umask()) != 0)
        e = errno, what = "set the mode of";
    if (fclose(f->fp) != 0 && !e)
        e = errno;
    f->fp = NULL;
    if (!e && rename(f->tmp, f->path) != 0)
        e = errno, what = "rename into";
    if (e) {
        unlink(f->tmp);
        ab_err_set(err, e == ENOSPC ? AB_EFULL : AB_EIO, "cannot %s '%s': %s",
                   what, f->path, strerror(e));
        free_handle(f);
        return e == ENOSPC ? AB_EFULL : AB_EIO;
    }
    /* Make the rename itself durable; failure here loses nothing visible. */
    dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free_handle(f);
    return 0;
}

void ab_atomicfile_abort(struct ab_atomicfile *f)
{
    if (!f)
        return;
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    unlink(f->tmp);
    free_handle(f);
}
