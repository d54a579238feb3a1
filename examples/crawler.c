/* SPDX-License-Identifier: MIT */
/*
 * A web crawler's shape: a task per page found, and a semaphore that lets
 * at most two of them fetch at once (a pool of two connections). Fetches
 * are fake: each page of a small site answers after its own delay with the
 * links it holds; one link is dead.
 *
 *   sem = asyncio.Semaphore(2)
 *   seen, pending, busy = {"/"}, 1, 0
 *
 *   async def crawl(url):
 *       global pending, busy
 *       async with sem:                        # waits while 2 are busy
 *           busy += 1
 *           print(f"{t()} fetch {url} ({busy} busy)")
 *           try:
 *               links = await fetch(url)       # a sleep, then the links
 *           except LookupError:
 *               links = None
 *           busy -= 1
 *       if links is None:
 *           print(f"{t()} {url}: 404")
 *       else:
 *           new = [l for l in links if l not in seen]
 *           seen.update(new)
 *           print(f"{t()} {url}: {len(links)} links, new: {' '.join(new)}")
 *           for l in new:
 *               pending += 1
 *               asyncio.create_task(crawl(l))
 *       pending -= 1
 *       if pending == 0:
 *           done.set()
 *
 * Runs on the virtual clock, so the times printed (seconds since the start)
 * are exact and the output is always the same; --real runs in real time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

#define LIMIT 2     /* fetches at once */
#define MAX_LINKS 3 /* per page */

struct page {
    const char *url;
    int delay_ms;                     /* how long the fetch takes */
    const char *links[MAX_LINKS + 1]; /* NULL-terminated */
};

static const struct page site[] = {
    {"/", 300, {"/docs", "/blog", "/about", NULL}},
    {"/docs", 200, {"/docs/intro", "/docs/api", "/", NULL}},
    {"/blog", 400, {"/blog/1", "/blog/2", "/docs/api", NULL}},
    {"/about", 100, {"/", "/old", NULL}},
    {"/docs/intro", 100, {"/docs/api", NULL}},
    {"/docs/api", 300, {NULL}},
    {"/blog/1", 200, {"/blog/2", NULL}},
    {"/blog/2", 200, {"/about", NULL}},
};

#define PAGES (sizeof(site) / sizeof(site[0]))
#define MAX_SEEN 16

static tulip_sem *sem;
static tulip_event *done;
static const char *seen[MAX_SEEN];
static int n_seen, pending, busy, max_busy, fetched, dead;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/* Seconds since the start, like f"{loop.time() - start:4.1f}". */
static double t(void)
{
    static int64_t start = -1;

    if (start < 0)
        start = tulip_now();
    return (double)(tulip_now() - start) / (double)TULIP_SEC;
}

/* The fake network: the page after its delay, or -ENOENT after 100 ms. */
static int fetch(const char *url, const struct page **out)
{
    for (size_t i = 0; i < PAGES; i++) {
        if (strcmp(site[i].url, url) == 0) {
            *out = &site[i];
            return tulip_sleep(site[i].delay_ms * TULIP_MSEC);
        }
    }
    int rc = tulip_sleep(100 * TULIP_MSEC);
    return rc < 0 ? rc : -ENOENT;
}

static bool was_seen(const char *url)
{
    for (int i = 0; i < n_seen; i++)
        if (strcmp(seen[i], url) == 0)
            return true;
    return false;
}

static int crawl(void *arg)
{
    const char *url = arg;
    const struct page *p = NULL;
    char new_links[128] = "";
    int rc, links = 0;

    rc = tulip_sem_acquire(sem);
    if (rc < 0)
        return fail("tulip_sem_acquire", rc);
    busy++;
    if (busy > max_busy)
        max_busy = busy;
    printf("%4.1f fetch %s (%d busy)\n", t(), url, busy);
    rc = fetch(url, &p);
    busy--;
    tulip_sem_release(sem);
    if (rc == -ENOENT) {
        printf("%4.1f %s: 404\n", t(), url);
        dead++;
    } else if (rc < 0) {
        return fail("fetch", rc);
    } else {
        fetched++;
        for (; p->links[links]; links++) {
            const char *l = p->links[links];
            if (was_seen(l) || n_seen == MAX_SEEN)
                continue;
            seen[n_seen++] = l;
            strcat(new_links, " ");
            strcat(new_links, l);
            pending++;
            rc = tulip_spawn(NULL, NULL, crawl, (void *)(uintptr_t)l);
            if (rc < 0)
                return fail("tulip_spawn", rc);
        }
        printf("%4.1f %s: %d links, new:%s\n", t(), url, links,
               new_links[0] ? new_links : " none");
    }
    if (--pending == 0)
        tulip_event_set(done);
    return 0;
}

static int main_task(void *arg)
{
    int rc;

    (void)arg;
    t(); /* the start */
    rc = tulip_sem_new(&sem, LIMIT);
    if (rc < 0)
        return fail("tulip_sem_new", rc);
    rc = tulip_event_new(&done);
    if (rc < 0) {
        tulip_sem_free(sem);
        return fail("tulip_event_new", rc);
    }
    seen[n_seen++] = "/";
    pending = 1;
    rc = tulip_spawn(NULL, NULL, crawl, (void *)(uintptr_t) "/");
    if (rc == 0)
        rc = tulip_event_wait(done);
    if (rc == 0)
        printf("%4.1f crawled %d pages, %d dead link, at most %d fetches at "
               "once\n",
               t(), fetched, dead, max_busy);
    tulip_event_free(done);
    tulip_sem_free(sem);
    return rc < 0 ? fail("crawl", rc) : 0;
}

int main(int argc, char **argv)
{
    struct tulip_run_opts opts = {0};
    int result = 0;
    int rc;

    opts.loop.virtual_clock = !(argc > 1 && strcmp(argv[1], "--real") == 0);
    rc = tulip_run(main_task, NULL, &result, &opts);
    if (rc < 0)
        return fail("tulip_run", rc);
    return result == 0 ? 0 : 1;
}
