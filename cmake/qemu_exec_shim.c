/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD shim for aarch64 test programs run under qemu-user without
 * binfmt_misc (a container, a CI machine without root on /proc/sys/fs).
 *
 * Criterion runs each test in a worker that its runner starts with
 * execve("/proc/self/exe" as a path, ...) (BoxFort). Under qemu-user that
 * execve goes to the host kernel, which cannot run an aarch64 ELF unless
 * binfmt_misc knows qemu, and Criterion stops with "Could not spawn test
 * instance: Protocol error". This shim turns an execve of an aarch64 ELF
 * into an execve of qemu itself (TULIP_QEMU) with the program as argument,
 * and hands LD_PRELOAD and LD_LIBRARY_PATH to the new guest through qemu's
 * -E rather than to the host qemu. Any other execve (a host /bin/sh) goes
 * through unchanged. Built by scripts/cross-aarch64.sh, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int execve_fn(const char *, char *const[], char *const[]);

static int is_aarch64_elf(const char *path)
{
    Elf64_Ehdr eh;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, &eh, sizeof(eh));
    close(fd);
    return n == (ssize_t)sizeof(eh) &&
           memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
           eh.e_machine == EM_AARCH64;
}

static int is_guest_var(const char *kv)
{
    return strncmp(kv, "LD_PRELOAD=", 11) == 0 ||
           strncmp(kv, "LD_LIBRARY_PATH=", 16) == 0;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    execve_fn *real = (execve_fn *)dlsym(RTLD_NEXT, "execve");
    const char *qemu = getenv("TULIP_QEMU");
    size_t argc = 0, envc = 0, i, a = 0, e = 0;
    char **nargv, **nenv;

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!qemu || !is_aarch64_elf(path))
        return real(path, argv, envp);
    while (argv[argc])
        argc++;
    while (envp[envc])
        envc++;
    /* qemu [-E var]... -0 argv0 path argv[1..] */
    nargv = calloc(2 * envc + argc + 5, sizeof(char *));
    nenv = calloc(envc + 1, sizeof(char *));
    if (!nargv || !nenv) {
        errno = ENOMEM;
        return -1;
    }
    nargv[a++] = (char *)qemu;
    for (i = 0; i < envc; i++) {
        if (is_guest_var(envp[i])) {
            nargv[a++] = "-E";
            nargv[a++] = envp[i];
        } else {
            nenv[e++] = envp[i];
        }
    }
    nargv[a++] = "-0";
    nargv[a++] = argc ? argv[0] : (char *)path;
    nargv[a++] = (char *)path;
    for (i = 1; i < argc; i++)
        nargv[a++] = argv[i];
    return real(qemu, nargv, nenv);
}
