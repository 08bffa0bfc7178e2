/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local-directory back end of blob.h.  A put writes a temporary file in the
 * destination directory, fsyncs it, renames it over the key and fsyncs the
 * directory, so a crash leaves either the old blob or the new one.
 */
#include "core/base.h"
#include "blob/blob.h"

#include "core/err.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEY 512

struct blob_store {
    char *root; /* owned; no trailing slash */
};

bool blob_key_is_valid(const char *key)
{
    size_t len = strlen(key);
    const char *seg = key;

    if (len == 0 || len > MAX_KEY || key[0] == '/' || key[len - 1] == '/')
        return false;

    for (const char *p = key;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t seg_len = (size_t)(p - seg);

            if (seg_len == 0 || seg[0] == '.')
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return false;
    }
}

/* mkdir -p for the directories of path (not its last segment). */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) && errno != EEXIST) {
            *p = '/';
            return ERR_IO;
        }
        *p = '/';
    }
    return 0;
}

int blob_store_open(const char *url, struct blob_store **out)
{
    const char *dir = url;
    struct blob_store *bs;
    char *probe;
    size_t len;

    if (!strncmp(url, "file:", 5))
        dir = url + 5;
    else if (strstr(url, "://"))
        return ERR_UNSUPPORTED;

    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0)
        return ERR_INVALID;

    bs = xcalloc(1, sizeof(*bs));
    bs->root = xstrndup(dir, len);

    probe = xasprintf("%s/x", bs->root);
    if (make_parents(probe)) {
        free(probe);
        blob_store_free(bs);
        return ERR_IO;
    }
    free(probe);
    *out = bs;
    return 0;
}

void blob_store_free(struct blob_store *bs)
{
    if (!bs)
        return;
    free(bs->root);
    free(bs);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(char *path)
{
    char *slash = strrchr(path, '/');
    int fd, ret = 0;

    *slash = '\0';
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (fd < 0)
        return ERR_IO;
    if (fsync(fd))
        ret = ERR_IO;
    close(fd);
    return ret;
}

int blob_put(struct blob_store *bs, const char *key, const void *data,
             size_t len)
{
    char *path = NULL, *tmp = NULL;
    int fd = -1, ret;

    if (!blob_key_is_valid(key))
        return ERR_INVALID;

    path = xasprintf("%s/%s", bs->root, key);
    tmp = xasprintf("%s.tmp-XXXXXX", path);
    ret = make_parents(path);
    if (ret)
        goto out_free;

    fd = mkstemp(tmp);
    if (fd < 0) {
        ret = ERR_IO;
        goto out_free;
    }
    ret = write_all(fd, data, len);
    if (!ret && fsync(fd))
        ret = ERR_IO;
    if (close(fd) && !ret)
        ret = ERR_IO;
    if (ret)
        goto out_unlink;

    if (rename(tmp, path)) {
        ret = ERR_IO;
        goto out_unlink;
    }
    ret = fsync_dir_of(path);
    goto out_free;

out_unlink:
    unlink(tmp);
out_free:
    free(tmp);
    free(path);
    return ret;
}

int blob_get(struct blob_store *bs, const char *key, size_t max_len,
             void **data, size_t *len)
{
    char *path, *buf = NULL;
    struct stat st;
    size_t size, done = 0;
    int fd, ret = 0;

    if (!blob_key_is_valid(key))
        return ERR_INVALID;

    path = xasprintf("%s/%s", bs->root, key);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;

    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        ret = ERR_IO;
        goto out_close;
    }
    size = (size_t)st.st_size;
    if (size > max_len) {
        ret = ERR_TOO_BIG;
        goto out_close;
    }

    buf = malloc(size ? size : 1);
    if (!buf) {
        ret = ERR_NOMEM;
        goto out_close;
    }
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            ret = ERR_IO;
            goto out_close;
        }
        done += (size_t)n;
    }
    *data = buf;
    *len = size;

out_close:
    close(fd);
    return ret;
}

int blob_delete(struct blob_store *bs, const char *key)
{
    char *path;
    int ret = 0;

    if (!blob_key_is_valid(key))
        return ERR_INVALID;

    path = xasprintf("%s/%s", bs->root, key);
    if (unlink(path) && errno != ENOENT)
        ret = ERR_IO;
    free(path);
    return ret;
}
