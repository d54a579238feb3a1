/* SPDX-License-Identifier: MIT */
/*
 * The task dump: every live task with its state, what it waits on (another
 * task, an object, time), who awaits it, and the backtrace of its suspended
 * stack walked from the saved frame pointer, printed from inside a task.
 */
/* ctest: labels=unit timeout=60 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tulip.h"

static tulip_event *ev;
static tulip_task *sleeper_t;
static char *dump;
static size_t dump_len;

static int sleeper(void *arg)
{
    (void)arg;
    return tulip_sleep(TULIP_FOREVER);
}

static int joiner(void *arg)
{
    int r;
    (void)arg;
    return tulip_task_join(sleeper_t, &r);
}

static int event_waiter(void *arg)
{
    (void)arg;
    return tulip_event_wait(ev);
}

static int main_body(void *arg)
{
    struct tulip_task_opts o = {0};
    tulip_task *j, *w;
    FILE *f;

    (void)arg;
    tulip_event_new(&ev);
    o.name = "sleeper";
    tulip_spawn_ex(&sleeper_t, NULL, sleeper, NULL, &o);
    o.name = "joiner";
    tulip_spawn_ex(&j, NULL, joiner, NULL, &o);
    o.name = "evwaiter";
    tulip_spawn_ex(&w, NULL, event_waiter, NULL, &o);
    tulip_sleep(1000000);
    f = open_memstream(&dump, &dump_len);
    tulip_dump_tasks(f);
    fclose(f);
    tulip_task_cancel(sleeper_t);
    tulip_event_set(ev);
    int r;
    tulip_task_join(j, &r);
    tulip_task_join(w, &r);
    tulip_task_release(j);
    tulip_task_release(w);
    tulip_task_release(sleeper_t);
    tulip_event_free(ev);
    return 0;
}

Test(dump, tasks_states_waits_awaited_by_stacks)
{
    int result;

    cr_assert_eq(tulip_run(main_body, NULL, &result, NULL), 0);
    cr_assert(dump);
    fputs(dump, stderr);
    cr_expect(strstr(dump, "sleeper (#") != NULL);
    cr_expect(strstr(dump, "joiner (#") != NULL);
    cr_expect(strstr(dump, "waits on: task sleeper") != NULL);
    cr_expect(strstr(dump, "awaited by: joiner") != NULL);
    cr_expect(strstr(dump, "waits on: nothing but time") != NULL);
    cr_expect(strstr(dump, "waits on: an object") != NULL);
    cr_expect(strstr(dump, "running") != NULL); /* the dumping task */
    cr_expect(strstr(dump, "stack:\n      ") != NULL);
    free(dump);
}

Test(dump, bad_arguments)
{
    cr_expect_eq(tulip_dump_tasks_of(NULL, stderr), -EINVAL);
}
