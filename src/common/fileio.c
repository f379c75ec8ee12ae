/*
 * fileio.c — the few POSIX file helpers every module that writes files needs.
 *
 * What: mkdir -p, directory fsync, full writes and positioned full reads
 * that retry on EINTR and short transfers, path joining, and the durable
 * replace-a-small-file protocol (schema, roles, node metadata).
 *
 * Why: durability depends on doing these exactly right every time (a new
 * file's directory entry is only durable once the directory is fsynced; a
 * write(2) may be short), so they are written once.
 *
 * Invariants:
 *  1. Every failure is reported as HLN_EIO naming the path and strerror,
 *     except a read that hits end of file early, which is HLN_ECORRUPT
 *     through hln_corrupt (the file is shorter than its own metadata says).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>

#include "common/common.h"

int hln_mkdirs(const char *path, hln_error *err)
{
    char *p = hln_strdup(path);
    if (!p) return hln_fail(err, HLN_ENOMEM, "out of memory");
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            hln_free(p);
            return hln_fail(err, HLN_EIO, "cannot create directory %s: %s", path, strerror(e));
        }
        p[i] = c;
    }
    hln_free(p);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return hln_fail(err, HLN_EIO, "%s is not a directory", path);
    return 0;
}

int hln_fsync_dir(const char *path, hln_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return hln_fail(err, HLN_EIO, "cannot open directory %s: %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) < 0)
        rc = hln_fail(err, HLN_EIO, "fsync of directory %s failed: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int hln_write_full(int fd, const void *p, size_t n, const char *path, hln_error *err)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return hln_fail(err, HLN_EIO, "write to %s failed: %s", path, strerror(errno));
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int hln_pread_full(int fd, void *p, size_t n, uint64_t off, const char *path, hln_error *err)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return hln_fail(err, HLN_EIO, "read of %s failed: %s", path, strerror(errno));
        }
        if (r == 0)
            return hln_corrupt(err, path, "unexpected end of file at offset %llu",
                               (unsigned long long)off);
        b += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

char *hln_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = hln_malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

int hln_write_file_durably(const char *path, const void *data, size_t len, int mode, hln_error *err)
{
    size_t pl = strlen(path);
    char *tmp = hln_malloc(pl + 5);
    char *dir = hln_strdup(path);
    if (!tmp || !dir) {
        hln_free(tmp);
        hln_free(dir);
        return hln_fail(err, HLN_ENOMEM, "out of memory writing %s", path);
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");

    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = hln_fail(err, HLN_EIO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        rc = hln_write_full(fd, data, len, tmp, err);
        if (rc == 0 && fsync(fd) < 0)
            rc = hln_fail(err, HLN_EIO, "fsync of %s failed: %s", tmp, strerror(errno));
        if (close(fd) < 0 && rc == 0)
            rc = hln_fail(err, HLN_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rc == 0 && rename(tmp, path) < 0)
        rc = hln_fail(err, HLN_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc == 0) rc = hln_fsync_dir(dir, err);
    if (rc < 0) unlink(tmp);
    hln_free(tmp);
    hln_free(dir);
    return rc;
}
