/*
 * file.c - writing a file so that a reader sees the old one or the whole
 * new one, never half of one (reports, snapshots): a temporary file in
 * the same directory, made durable, renamed over the target. A path that
 * exists and is not a regular file (a FIFO, /dev/stdout, a terminal)
 * cannot be replaced by rename and is written in place; "-" is stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutover/util.h"

/* "dir/.name.XXXXXX" next to path, so rename stays on one file system. */
static char *temp_template(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return co_asprintf(".%s.XXXXXX", path);
    return co_asprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path,
                       slash + 1);
}

/* Makes the durable copy of dir's entry for the renamed file; failure
 * here loses nothing that was promised, so it is not reported. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    if (slash == NULL)
        dir = co_strdup(".");
    else if (slash == path)
        dir = co_strdup("/");
    else
        dir = co_strndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Fills an open stream; returns -1 with errno set on failure. */
static int fill_stream(FILE *f, co_fill_fn fill, void *arg)
{
    errno = 0;
    if (fill(f, arg) != 0 || fflush(f) != 0 || ferror(f)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

static int write_in_place(const char *path, const char *what, co_fill_fn fill,
                          void *arg, char *err, size_t errlen)
{
    bool out = strcmp(path, "-") == 0;
    FILE *f = out ? stdout : fopen(path, "w");
    int rc, saved;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    rc = fill_stream(f, fill, arg);
    saved = errno;
    if (!out && fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        snprintf(err, errlen, "cannot write %s to %s: %s", what,
                 out ? "stdout" : path, strerror(saved));
    return rc;
}

/* Writes into the temp file and makes it durable; f is closed. */
static int fill_temp(FILE *f, co_fill_fn fill, void *arg)
{
    mode_t mask;
    int saved;

    /* mkstemp makes the file 0600; reports and snapshots are meant to be
     * read by CI tools, so give it the mode a plain fopen would have. */
    mask = umask(0);
    umask(mask);
    if (fchmod(fileno(f), 0666 & ~mask) != 0 || fill_stream(f, fill, arg) ||
        fsync(fileno(f)) != 0) {
        saved = errno ? errno : EIO;
        fclose(f);
        errno = saved;
        return -1;
    }
    return fclose(f);
}

int co_write_atomic(const char *path, const char *what, co_fill_fn fill,
                    void *arg, char *err, size_t errlen)
{
    struct stat st;
    char *tmp;
    FILE *f;
    int fd;

    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "empty path for the %s", what);
        return -1;
    }
    if (strcmp(path, "-") == 0 ||
        (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
        return write_in_place(path, what, fill, arg, err, errlen);

    tmp = temp_template(path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file for %s: %s",
                 path, strerror(errno));
        free(tmp);
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (fill_temp(f, fill, arg) != 0) {
        snprintf(err, errlen, "cannot write %s to %s: %s", what, path,
                 strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    sync_dir(path);
    return 0;

fail:
    unlink(tmp);
    free(tmp);
    return -1;
}
