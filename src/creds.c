#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sign.h"

static int set_value(char *dst, const char *v, size_t len, const char *what,
                     const char *where, struct ab_err *err)
{
    size_t i;
    if (len == 0)
        return ab_err_set(err, AB_ECONFIG, "%s: %s is empty", where, what);
    if (len >= AB_CREDS_MAX)
        return ab_err_set(err, AB_ECONFIG, "%s: %s is too long", where, what);
    for (i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x21 || v[i] == 0x7f)
            return ab_err_set(err, AB_ECONFIG,
                              "%s: %s contains spaces or control characters",
                              where, what);
    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}

static int load_file(struct ab_creds *c, const char *file, struct ab_err *err)
{
    char line[1024], where[4200], iobuf[4096];
    struct stat st;
    FILE *f;
    int fd, lineno = 0, rc = 0;

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ab_err_set(err, AB_ECONFIG,
                          "cannot open credentials file '%s': %s", file,
                          strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ab_err_set(err, AB_ECONFIG,
                          "credentials file '%s' is not a regular file", file);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return ab_err_set(err, AB_ECONFIG,
                          "credentials file '%s' is accessible by group or "
                          "others (mode %03o): chmod 600 it",
                          file, (unsigned)(st.st_mode & 0777));
    }
    if (!(f = fdopen(fd, "r"))) {
        close(fd);
        return ab_err_set(err, AB_ENOMEM, "out of memory");
    }
    /* Our buffer, not stdio's: wiped below with the values in it. */
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *p = line, *eq, *end;
        lineno++;
        snprintf(where, sizeof where, "%s:%d", file, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = ab_err_set(err, AB_ECONFIG, "%s: line too long", where);
            break;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
                           end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*p == '\0' || *p == '#')
            continue;
        if (!(eq = strchr(p, '='))) {
            rc = ab_err_set(err, AB_ECONFIG, "%s: expected key=value", where);
            break;
        }
        *eq = '\0';
        for (end = eq; end > p && (end[-1] == ' ' || end[-1] == '\t');)
            *--end = '\0';
        eq++;
        while (*eq == ' ' || *eq == '\t')
            eq++;
        if (strcmp(p, "access_token") == 0)
            rc =
                set_value(c->token, eq, strlen(eq), "access_token", where, err);
        else if (strcmp(p, "access_secret") == 0)
            rc = set_value(c->secret, eq, strlen(eq), "access_secret", where,
                           err);
        else
            /* Never echo the key: a secret pasted on a line of its own
             * (base64 ends in '=') would be the "key". */
            rc = ab_err_set(err, AB_ECONFIG,
                            "%s: not an access_token= or access_secret= "
                            "line (the line is not shown: it may hold a "
                            "secret)",
                            where);
    }
    fclose(f);
    ab_sign_wipe(line, sizeof line);
    ab_sign_wipe(iobuf, sizeof iobuf);
    return rc;
}

int ab_creds_load(struct ab_creds *c, const char *file, struct ab_err *err)
{
    const char *t, *s;
    int rc;

    memset(c, 0, sizeof *c);
    /* No core dump, no ptrace by other users' tools: the secret stays here. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (file) {
        if ((rc = load_file(c, file, err)) != 0) {
            ab_creds_release(c);
            return rc;
        }
    } else {
        t = getenv("QYS_ACCESS_TOKEN");
        s = getenv("QYS_ACCESS_SECRET");
        if (t && (rc = set_value(c->token, t, strlen(t), "QYS_ACCESS_TOKEN",
                                 "environment", err)) != 0)
            return rc;
        if (s && (rc = set_value(c->secret, s, strlen(s), "QYS_ACCESS_SECRET",
                                 "environment", err)) != 0) {
            ab_creds_release(c);
            return rc;
        }
        /* Copied: wipe the originals, which /proc/PID/environ would show
         * for the rest of the run. */
        if (s) {
            ab_sign_wipe((char *)s, strlen(s));
            unsetenv("QYS_ACCESS_SECRET");
        }
    }
    if (!c->token[0] || !c->secret[0]) {
        ab_creds_release(c);
        return ab_err_set(err, AB_ECONFIG,
                          "missing credentials: set QYS_ACCESS_TOKEN and "
                          "QYS_ACCESS_SECRET, or use --credentials FILE%s%s%s",
                          file ? " (missing in '" : "", file ? file : "",
                          file ? "')" : "");
    }
    return 0;
}

void ab_creds_release(struct ab_creds *c)
{
    ab_sign_wipe(c, sizeof *c);
}
