/* SPDX-License-Identifier: MIT */
/*
 * Subprocesses, after the asyncio documentation's "Subprocesses" page:
 * run `echo` and read what it prints, feed `cat` through communicate(),
 * run a shell command that writes to both outputs and exits with a code,
 * and kill a child that would sleep for a minute. The output is the same
 * on every run.
 *
 *   async def run(cmd):
 *       proc = await asyncio.create_subprocess_shell(
 *           cmd, stdout=asyncio.subprocess.PIPE,
 *           stderr=asyncio.subprocess.PIPE)
 *       stdout, stderr = await proc.communicate()
 *       print(f'[{cmd!r} exited with {proc.returncode}]')
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

static const struct tulip_process_opts piped = {
    .stdin_mode = TULIP_STDIO_PIPE,
    .stdout_mode = TULIP_STDIO_PIPE,
    .stderr_mode = TULIP_STDIO_PIPE,
};

/* Run argv (or a shell command), feed it input, print what it said. */
static int run(const char *const argv[], const char *cmd, const char *input)
{
    struct tulip_bytes out, err;
    tulip_process *p;
    int rc, status = 0;

    if (argv)
        rc = tulip_process_spawn(&p, tulip_loop_current(), argv, &piped);
    else
        rc = tulip_process_shell(&p, tulip_loop_current(), cmd, &piped);
    if (rc < 0) {
        printf("spawn failed: %s\n", tulip_strerror(rc));
        return rc;
    }
    rc = tulip_process_communicate(p, input, input ? strlen(input) : 0, &out,
                                   &err, &status, tulip_now() + 30 * TULIP_SEC);
    printf("[%s exited with %d]\n", argv ? argv[0] : cmd, status);
    if (out.len)
        printf("[stdout]\n%s", out.data);
    if (err.len)
        printf("[stderr]\n%s", err.data);
    tulip_bytes_free(&out);
    tulip_bytes_free(&err);
    tulip_process_free(p);
    return rc;
}

static int main_task(void *arg)
{
    const char *const echo[] = {"echo", "hello from echo", NULL};
    const char *const cat[] = {"cat", NULL};
    const char *const sleeper[] = {"sleep", "60", NULL};
    tulip_process *p;
    int status = 0;

    (void)arg;
    run(echo, NULL, NULL);
    run(cat, NULL, "fed through cat\n");
    run(NULL, "echo out; echo err >&2; exit 3", NULL);
    if (tulip_process_spawn(&p, tulip_loop_current(), sleeper, NULL) == 0) {
        tulip_process_kill(p);
        tulip_process_wait(p, &status);
        printf("[sleep 60 killed: returncode %d (-SIGKILL)]\n", status);
        tulip_process_free(p);
    }
    return 0;
}

int main(void)
{
    return tulip_run(main_task, NULL, NULL, NULL) == 0 ? 0 : 1;
}
