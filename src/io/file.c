/* SPDX-License-Identifier: MIT */
/*
 * Regular files without blocking the loop. Readiness means nothing for a
 * regular file (epoll refuses it, poll always says ready), so each call runs
 * its system call on the blocking pool, as aiofiles and trio.Path do
 * (asyncio has nothing built in).
 *
 * A job owns copies of everything it touches (path, data written, a buffer
 * for data read), never the caller's memory: a cancelled call returns at
 * once, and the pool finishes a job that had started in its thread and
 * hands it to the abandon callback, which frees it (and closes the fd an
 * abandoned open made).
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most one read job asks for: a bigger read returns a short count. */
#define FILE_READ_MAX ((size_t)1 << 20)

enum { OP_OPEN, OP_READ, OP_WRITE, OP_FSYNC, OP_CLOSE };

struct file_job {
    int op;          /* OP_* */
    int fd;          /* the file (OP_OPEN: unused) */
    int flags;       /* OP_OPEN */
    mode_t mode;     /* OP_OPEN */
    bool positional; /* pread/pwrite at off */
    off_t off;
    char *buf;   /* the job's own copy or buffer, or the path */
    size_t n;    /* its size (path: strlen + 1) */
    ssize_t res; /* OUT: result or negative errno */
};

static void job_free(struct file_job *j)
{
    if (j->buf)
        tulip__free(j->buf, j->n);
    tulip__free(j, sizeof(*j));
}

static ssize_t write_all(struct file_job *j)
{
    size_t done = 0;
    ssize_t w;

    while (done < j->n) {
        if (j->positional)
            w = pwrite(j->fd, j->buf + done, j->n - done, j->off + (off_t)done);
        else
            w = TULIP_SYS(write)(j->fd, j->buf + done, j->n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        done += (size_t)w;
    }
    return (ssize_t)done;
}

/* On a pool thread: the system call. */
static int file_work(void *arg)
{
    struct file_job *j = arg;
    ssize_t r;

    switch (j->op) {
    case OP_OPEN:
        r = open(j->buf, j->flags | O_CLOEXEC, j->mode);
        break;
    case OP_READ:
        do
            r = j->positional ? pread(j->fd, j->buf, j->n, j->off)
                              : TULIP_SYS(read)(j->fd, j->buf, j->n);
        while (r < 0 && errno == EINTR);
        break;
    case OP_WRITE:
        j->res = write_all(j);
        return 0;
    case OP_FSYNC:
        r = fsync(j->fd);
        break;
    default: /* OP_CLOSE; Linux closes the fd even on EINTR */
        r = close(j->fd);
        if (r < 0 && errno == EINTR)
            r = 0;
        break;
    }
    j->res = r < 0 ? -errno : r;
    return 0;
}

/* On the loop's thread, once an abandoned job is over (result -ECANCELED
 * if it never ran). */
static void file_abandon(void *arg, int result)
{
    struct file_job *j = arg;

    if (j->op == OP_OPEN && result == 0 && j->res >= 0)
        close((int)j->res);
    job_free(j);
}

static struct file_job *job_new(int op, int fd, size_t n)
{
    struct file_job *j = tulip__calloc(sizeof(*j));

    if (!j)
        return NULL;
    j->op = op;
    j->fd = fd;
    j->n = n;
    if (n) {
        j->buf = tulip__alloc(n);
        if (!j->buf) {
            tulip__free(j, sizeof(*j));
            return NULL;
        }
    }
    return j;
}

/* Run j in the calling task; j is freed here or by the abandon callback. */
static ssize_t job_run(struct file_job *j, void *out)
{
    struct tulip_task *t = tulip__task_running();
    ssize_t res;
    int rc;

    if (!t) {
        job_free(j);
        return -EPERM;
    }
    rc = tulip__task_check(t);
    if (rc) {
        job_free(j); /* refused before the pool saw it */
        return rc;
    }
    rc = tulip__pool_run(t, TULIP_POOL_BLOCKING, file_work, j, file_abandon,
                         TULIP_FOREVER, NULL);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        return rc; /* the pool hands j to file_abandon */
    if (rc) {
        job_free(j);
        return rc;
    }
    res = j->res;
    if (out && res > 0)
        memcpy(out, j->buf, (size_t)res);
    job_free(j);
    return res;
}

/* ---- public API ---------------------------------------------------------- */

int tulip_file_open(const char *path, int flags, mode_t mode)
{
    struct file_job *j;

    if (!path)
        return -EINVAL;
    j = job_new(OP_OPEN, -1, strlen(path) + 1);
    if (!j)
        return -ENOMEM;
    memcpy(j->buf, path, j->n);
    j->flags = flags;
    j->mode = mode;
    return (int)job_run(j, NULL);
}

static ssize_t file_read(int fd, void *buf, size_t n, bool positional,
                         off_t off)
{
    struct file_job *j;

    if (fd < 0 || (!buf && n) || (positional && off < 0))
        return -EINVAL;
    if (n > FILE_READ_MAX)
        n = FILE_READ_MAX;
    j = job_new(OP_READ, fd, n);
    if (!j)
        return -ENOMEM;
    j->positional = positional;
    j->off = off;
    return job_run(j, buf);
}

static ssize_t file_write(int fd, const void *buf, size_t n, bool positional,
                          off_t off)
{
    struct file_job *j;

    if (fd < 0 || (!buf && n) || (positional && off < 0) ||
        n > (size_t)SSIZE_MAX)
        return -EINVAL;
    j = job_new(OP_WRITE, fd, n);
    if (!j)
        return -ENOMEM;
    if (n)
        memcpy(j->buf, buf, n);
    j->positional = positional;
    j->off = off;
    return job_run(j, NULL);
}

ssize_t tulip_file_read(int fd, void *buf, size_t n)
{
    return file_read(fd, buf, n, false, 0);
}

ssize_t tulip_file_pread(int fd, void *buf, size_t n, off_t offset)
{
    return file_read(fd, buf, n, true, offset);
}

ssize_t tulip_file_write(int fd, const void *buf, size_t n)
{
    return file_write(fd, buf, n, false, 0);
}

ssize_t tulip_file_pwrite(int fd, const void *buf, size_t n, off_t offset)
{
    return file_write(fd, buf, n, true, offset);
}

static int file_simple(int op, int fd)
{
    struct file_job *j;

    if (fd < 0)
        return op == OP_CLOSE ? -EBADF : -EINVAL;
    j = job_new(op, fd, 0);
    if (!j)
        return -ENOMEM;
    return (int)job_run(j, NULL);
}

int tulip_file_fsync(int fd)
{
    return file_simple(OP_FSYNC, fd);
}

int tulip_file_close(int fd)
{
    return file_simple(OP_CLOSE, fd);
}

int tulip_file_read_all(const char *path, struct tulip_bytes *out)
{
    size_t cap = 0;
    char *d;
    ssize_t n;
    int fd, rc = 0;

    if (!out)
        return -EINVAL;
    *out = (struct tulip_bytes){0};
    fd = tulip_file_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    for (;;) {
        if (cap - out->len < 65536 + 1) {
            d = tulip__realloc(out->data, cap, cap ? cap * 2 : 131072);
            if (!d) {
                rc = -ENOMEM;
                break;
            }
            out->data = d;
            cap = cap ? cap * 2 : 131072;
        }
        n = tulip_file_read(fd, out->data + out->len, cap - out->len - 1);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        out->len += (size_t)n;
    }
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        close(fd); /* no more waiting: close(2) of a read fd is quick */
    else
        tulip_file_close(fd);
    if (tulip__process_bytes_finish(out, cap) && rc == 0)
        rc = -ENOMEM;
    if (rc)
        tulip_bytes_free(out);
    return rc;
}
