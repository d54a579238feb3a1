/* SPDX-License-Identifier: MIT */
/*
 * Files on the blocking pool: write, pwrite, fsync, read, pread and
 * read_all round trips in a temporary directory, errors (ENOENT, EISDIR,
 * EBADF, bad arguments, calls outside tasks), and cancellation: a
 * cancelled open returns -ECANCELED at once, and its abandoned job frees
 * what it owns and closes the fd it opened. Every
 * test closes its loop with 0, leaks no byte and no fd, and joins the
 * pool's threads.
 */
/* ctest: labels=unit;backends timeout=180 */
#define _GNU_SOURCE 1
#include "task_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static int fds0;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

static void file_begin(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/tulip-file-XXXXXX", tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/data", dir);
    fx_begin();
    cr_assert_eq(tulip_loop_close(loop), 0);
    fds0 = count_fds();
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0); /* the real clock */
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
}

/* An existing file at path. */
static void make_file(void)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);
}

static void file_end(void)
{
    fx_end();
    tulip_pool_shutdown();
    cr_assert_eq(count_fds(), fds0, "fds: %d, not %d", count_fds(), fds0);
    unlink(path);
    rmdir(dir);
}

static ssize_t rcs[32];
static int nrc;
static char got[64];
static struct tulip_bytes all;

static void rec(ssize_t rc)
{
    rcs[nrc++] = rc;
}

static int round_trip(void *arg)
{
    int fd;

    (void)arg;
    fd = tulip_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    rec(fd >= 0);
    rec(tulip_file_write(fd, "hello, world", 12));
    rec(tulip_file_pwrite(fd, "W", 1, 7));
    rec(tulip_file_fsync(fd));
    rec(tulip_file_close(fd));
    fd = tulip_file_open(path, O_RDONLY, 0);
    rec(fd >= 0);
    rec(tulip_file_read(fd, got, 5));
    rec(tulip_file_pread(fd, got + 5, 5, 7));
    rec(tulip_file_read(fd, got + 10, sizeof(got) - 11)); /* the rest */
    rec(tulip_file_read(fd, got, 1));                     /* end of file */
    rec(tulip_file_close(fd));
    rec(tulip_file_read_all(path, &all));
    return 0;
}

Test(file, round_trip)
{
    file_begin();
    nrc = 0;
    memset(got, 0, sizeof(got));
    cr_assert_eq(tulip_spawn(NULL, loop, round_trip, NULL), 0);
    fx_run();
    cr_assert_eq(nrc, 12);
    cr_assert_eq(rcs[0], 1);
    cr_assert_eq(rcs[1], 12);
    cr_assert_eq(rcs[2], 1);
    cr_assert_eq(rcs[3], 0);
    cr_assert_eq(rcs[4], 0);
    cr_assert_eq(rcs[5], 1);
    cr_assert_eq(rcs[6], 5);
    cr_assert_eq(rcs[7], 5);
    cr_assert_eq(rcs[8], 7);
    cr_assert_eq(rcs[9], 0);
    cr_assert_eq(rcs[10], 0);
    cr_assert_eq(rcs[11], 0);
    cr_assert_str_eq(got, "helloWorld, World");
    cr_assert_eq(all.len, 12);
    cr_assert_str_eq(all.data, "hello, World");
    tulip_bytes_free(&all);
    file_end();
}

static int errors(void *arg)
{
    char buf[4];

    (void)arg;
    rec(tulip_file_open("/nonexistent/tulip/x", O_RDONLY, 0));
    rec(tulip_file_open(dir, O_WRONLY, 0));
    rec(tulip_file_read_all("/nonexistent/tulip/x", &all));
    rec(tulip_file_read_all(dir, &all)); /* read(2) of a directory */
    rec(tulip_file_read(-1, buf, 1));
    rec(tulip_file_read(1000, buf, 1)); /* not open */
    rec(tulip_file_close(-1));
    rec(tulip_file_open(NULL, O_RDONLY, 0));
    rec(tulip_file_write(3, NULL, 1));
    return 0;
}

Test(file, errors)
{
    char buf[4];

    file_begin();
    nrc = 0;
    cr_assert_eq(tulip_file_read(0, buf, 1), -EPERM);
    cr_assert_eq(tulip_spawn(NULL, loop, errors, NULL), 0);
    fx_run();
    cr_assert_eq(nrc, 9);
    cr_assert_eq(rcs[0], -ENOENT);
    cr_assert_eq(rcs[1], -EISDIR);
    cr_assert_eq(rcs[2], -ENOENT);
    cr_assert_eq(rcs[3], -EISDIR);
    cr_assert_eq(rcs[4], -EINVAL);
    cr_assert_eq(rcs[5], -EBADF);
    cr_assert_eq(rcs[6], -EBADF);
    cr_assert_eq(rcs[7], -EINVAL);
    cr_assert_eq(rcs[8], -EINVAL);
    cr_assert_null(all.data);
    file_end();
}

/* ---- cancellation -------------------------------------------------------- */

static int open_then_cancelled(void *arg)
{
    (void)arg;
    rec(tulip_file_open(path, O_RDONLY, 0));
    return 0;
}

/* A task already cancelled: every call is refused before the pool sees
 * its job, and the job (with the copy of the path or the data) is freed. */
static int cancelled_first(void *arg)
{
    char buf[4];

    (void)arg;
    tulip_task_cancel(tulip_task_current());
    rec(tulip_file_open(path, O_RDONLY, 0));
    rec(tulip_file_pread(0, buf, sizeof(buf), 0));
    rec(tulip_file_write(1, "abc", 3));
    rec(tulip_file_fsync(1));
    rec(tulip_file_read_all(path, &all));
    return 0;
}

Test(file, calls_of_a_cancelled_task_free_their_job)
{
    file_begin();
    make_file();
    nrc = 0;
    cr_assert_eq(tulip_spawn(NULL, loop, cancelled_first, NULL), 0);
    fx_run();
    cr_assert_eq(nrc, 5);
    for (int i = 0; i < nrc; i++)
        cr_assert_eq(rcs[i], -ECANCELED, "call %d: %zd", i, rcs[i]);
    cr_assert_null(all.data);
    file_end();
}

/* An open that has started runs to its end; the abandoned fd is closed. */
static int slow_open_holder(void *arg)
{
    tulip_task *t = arg;

    tulip_task_cancel(t);
    return 0;
}

Test(file, open_cancelled_while_running_closes_its_fd)
{
    tulip_task *t;

    file_begin();
    make_file();
    nrc = 0;
    t = fx_spawn(open_then_cancelled, NULL);
    /* runs after t has submitted its open */
    cr_assert_eq(tulip_spawn(NULL, loop, slow_open_holder, t), 0);
    fx_run();
    cr_assert_eq(nrc, 1);
    /* either it finished first or it was abandoned; no fd is left */
    if (rcs[0] >= 0)
        close((int)rcs[0]);
    else
        cr_assert_eq(rcs[0], -ECANCELED);
    tulip_task_release(t);
    file_end();
}
