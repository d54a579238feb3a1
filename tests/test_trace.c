/* SPDX-License-Identifier: MIT */
/*
 * The tracer: a program with sleeping, joined, event-woken and cancelled
 * tasks and a generator writes a trace file that passes a validator of the
 * Chrome trace-event format (the rules Perfetto and chrome://tracing rely
 * on: a JSON array or an object with traceEvents; per phase its required
 * fields; B/E balanced per tid; each flow's s before its f, ids paired;
 * timestamps never going back within a tid), and has the expected content
 * (a slice per step named by the task, a flow per wait, what woke it).
 * Bad input: an unwritable path is refused with its errno; a disk that
 * fills while the program runs (a file size limit) and a full disk at the
 * conversion (/dev/full) stop the tracer with a message and -EIO while the
 * program goes on; a program killed while tracing leaves a binary trace
 * whose complete records still convert to a valid JSON trace.
 */
/* ctest: labels=unit timeout=120 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag/trace_fmt.h"
#include "tulip.h"

/* ---- a small JSON reader, enough for trace events ----------------------- */

/* The reader allocates from an arena freed after each validation, so that
 * traces it rejects half-way leak nothing (the suite runs under LSan). */
static void **arena;
static size_t arena_n, arena_cap;

static void *arena_keep(void *p)
{
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? 2 * arena_cap : 256;
        arena = realloc(arena, arena_cap * sizeof(*arena));
    }
    arena[arena_n++] = p;
    return p;
}

static void *arena_realloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    size_t i = arena_n;

    while (i-- > 0)
        if (arena[i] == old) {
            arena[i] = p;
            return p;
        }
    return arena_keep(p);
}

static void arena_free(void)
{
    while (arena_n)
        free(arena[--arena_n]);
    free(arena);
    arena = NULL;
    arena_cap = 0;
}

#define malloc(n) arena_keep(malloc(n))
#define calloc(n, m) arena_keep(calloc(n, m))
#define realloc(p, n) arena_realloc(p, n)

struct jv {
    char type; /* 'o' object, 'a' array, 's' string, 'n' number, 'l' lit */
    char *str; /* string value / literal */
    double num;
    struct jv *kids; /* elements, or values of members */
    char **keys;     /* member names (objects) */
    size_t n;
};

static const char *jp;

static void ws(void)
{
    while (isspace((unsigned char)*jp))
        jp++;
}

static bool parse(struct jv *v);

static bool parse_str(char **out)
{
    size_t cap = 16, n = 0;
    char *s = malloc(cap);

    if (*jp != '"')
        return false;
    jp++;
    while (*jp && *jp != '"') {
        char c = *jp++;
        if (c == '\\') {
            c = *jp++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*jp++))
                        return false;
                c = '?';
            } else if (!strchr("\"\\/bfnrt", c)) {
                return false;
            }
        } else if ((unsigned char)c < 0x20) {
            return false;
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    if (*jp != '"')
        return false;
    jp++;
    s[n] = '\0';
    *out = s;
    return true;
}

static bool parse_seq(struct jv *v, char close, bool members)
{
    size_t cap = 8;

    v->kids = calloc(cap, sizeof(*v->kids));
    v->keys = calloc(cap, sizeof(char *));
    jp++;
    ws();
    if (*jp == close) {
        jp++;
        return true;
    }
    for (;;) {
        if (v->n == cap) {
            cap *= 2;
            v->kids = realloc(v->kids, cap * sizeof(*v->kids));
            v->keys = realloc(v->keys, cap * sizeof(char *));
        }
        ws();
        if (members) {
            if (!parse_str(&v->keys[v->n]))
                return false;
            ws();
            if (*jp++ != ':')
                return false;
        }
        if (!parse(&v->kids[v->n]))
            return false;
        v->n++;
        ws();
        if (*jp == ',') {
            jp++;
            continue;
        }
        if (*jp == close) {
            jp++;
            return true;
        }
        return false;
    }
}

static bool parse(struct jv *v)
{
    memset(v, 0, sizeof(*v));
    ws();
    if (*jp == '{') {
        v->type = 'o';
        return parse_seq(v, '}', true);
    }
    if (*jp == '[') {
        v->type = 'a';
        return parse_seq(v, ']', false);
    }
    if (*jp == '"') {
        v->type = 's';
        return parse_str(&v->str);
    }
    if (*jp == '-' || isdigit((unsigned char)*jp)) {
        char *end;
        v->type = 'n';
        v->num = strtod(jp, &end);
        jp = end;
        return true;
    }
    for (const char *const *l =
             (const char *const[]){"true", "false", "null", NULL};
         *l; l++)
        if (strncmp(jp, *l, strlen(*l)) == 0) {
            v->type = 'l';
            jp += strlen(*l);
            return true;
        }
    return false;
}

static const struct jv *get(const struct jv *o, const char *key)
{
    for (size_t i = 0; o->type == 'o' && i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->kids[i];
    return NULL;
}

static const char *get_str(const struct jv *o, const char *key)
{
    const struct jv *v = get(o, key);
    return v && v->type == 's' ? v->str : NULL;
}

static bool get_num(const struct jv *o, const char *key, double *out)
{
    const struct jv *v = get(o, key);
    if (!v || v->type != 'n')
        return false;
    *out = v->num;
    return true;
}

/* ---- the validator ------------------------------------------------------ */

#define MAX_TIDS 4096

struct tidstate {
    double tid;
    double last_ts;
    int depth;
};

struct counts {
    int b, e, s, f, i, c, m;
};

static char verr[256];

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(verr, sizeof(verr), __VA_ARGS__);                             \
        return false;                                                          \
    } while (0)

static struct tidstate *tid_of(struct tidstate *t, size_t *n, double tid)
{
    for (size_t i = 0; i < *n; i++)
        if (t[i].tid == tid)
            return &t[i];
    t[*n] = (struct tidstate){tid, -1e300, 0};
    return &t[(*n)++];
}

#undef malloc
#undef calloc
#undef realloc

/* Validate the trace text; counts per phase in *c. */
static bool validate(const char *text, struct counts *c, struct jv *root)
{
    static struct tidstate tids[MAX_TIDS];
    static double open_flows[MAX_TIDS];
    size_t ntids = 0, nflows = 0;
    const struct jv *evs;

    memset(c, 0, sizeof(*c));
    jp = text;
    if (!parse(root))
        FAIL("not JSON near offset %ld", (long)(jp - text));
    ws();
    if (*jp)
        FAIL("trailing text at offset %ld", (long)(jp - text));
    evs = root->type == 'a' ? root : get(root, "traceEvents");
    if (!evs || evs->type != 'a')
        FAIL("neither an array nor an object with traceEvents");
    for (size_t k = 0; k < evs->n; k++) {
        const struct jv *e = &evs->kids[k];
        const char *ph = get_str(e, "ph");
        double pid, tid, ts, id;
        if (e->type != 'o' || !ph || strlen(ph) != 1)
            FAIL("event %zu: not an object with a one-letter ph", k);
        if (!get_num(e, "pid", &pid) || !get_num(e, "tid", &tid))
            FAIL("event %zu: pid and tid must be numbers", k);
        if (*ph == 'M') {
            const struct jv *args = get(e, "args");
            if (!get_str(e, "name") || !args || args->type != 'o')
                FAIL("event %zu: M needs name and args", k);
            c->m++;
            continue;
        }
        if (!get_num(e, "ts", &ts))
            FAIL("event %zu: ts must be a number", k);
        struct tidstate *t = tid_of(tids, &ntids, tid);
        if (ts < t->last_ts)
            FAIL("event %zu: ts goes back on tid %.0f", k, tid);
        t->last_ts = ts;
        switch (*ph) {
        case 'B':
            if (!get_str(e, "name"))
                FAIL("event %zu: B needs a name", k);
            t->depth++;
            c->b++;
            break;
        case 'E':
            if (--t->depth < 0)
                FAIL("event %zu: E without B on tid %.0f", k, tid);
            c->e++;
            break;
        case 's':
        case 'f': {
            size_t j;
            if (!get_num(e, "id", &id) || !get_str(e, "name") ||
                !get_str(e, "cat"))
                FAIL("event %zu: flow needs id, name, cat", k);
            if (t->depth == 0)
                FAIL("event %zu: flow %c outside a slice", k, *ph);
            for (j = 0; j < nflows && open_flows[j] != id; j++)
                ;
            if (*ph == 's') {
                if (j < nflows)
                    FAIL("event %zu: flow %.0f started twice", k, id);
                open_flows[nflows++] = id;
                c->s++;
            } else {
                if (j == nflows)
                    FAIL("event %zu: flow %.0f ends unstarted", k, id);
                open_flows[j] = open_flows[--nflows];
                c->f++;
            }
            break;
        }
        case 'i':
        case 'I': {
            const char *s = get_str(e, "s");
            if (!get_str(e, "name") || (s && !strchr("gpt", *s)))
                FAIL("event %zu: bad instant", k);
            c->i++;
            break;
        }
        case 'C': {
            const struct jv *args = get(e, "args");
            if (!get_str(e, "name") || !args || args->type != 'o')
                FAIL("event %zu: C needs name and args", k);
            for (size_t a = 0; a < args->n; a++)
                if (args->kids[a].type != 'n')
                    FAIL("event %zu: counter values are numbers", k);
            c->c++;
            break;
        }
        default:
            FAIL("event %zu: phase %s not written by tulip", k, ph);
        }
    }
    for (size_t i = 0; i < ntids; i++)
        if (tids[i].depth != 0)
            FAIL("tid %.0f: %d slices left open", tids[i].tid, tids[i].depth);
    return true;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

/* ---- the traced program -------------------------------------------------- */

static tulip_event *ev;
static tulip_task *victim;

static int gen_body(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    for (int i = 0; i < 3; i++)
        tulip_yield(NULL, NULL);
    return 0;
}

static int sleeper(void *arg)
{
    tulip_gen *g;
    void *v;

    (void)arg;
    for (int i = 0; i < 3; i++)
        tulip_sleep(1000000);
    if (tulip_gen_new(&g, gen_body, NULL) == 0) {
        while (tulip_gen_next(g, &v) == 0)
            ;
        tulip_gen_free(g);
    }
    tulip_event_set(ev);
    return 0;
}

static int setter_waiter(void *arg)
{
    (void)arg;
    return tulip_event_wait(ev);
}

static int forever(void *arg)
{
    (void)arg;
    return tulip_sleep(TULIP_FOREVER);
}

static int main_body(void *arg)
{
    tulip_task *a, *b;
    int r;

    (void)arg;
    tulip_event_new(&ev);
    tulip_spawn(&a, NULL, sleeper, NULL);
    tulip_spawn(&b, NULL, setter_waiter, NULL);
    tulip_spawn(&victim, NULL, forever, NULL);
    tulip_sleep(0);
    tulip_task_cancel(victim);
    tulip_task_join(a, &r);
    tulip_task_join(b, &r);
    tulip_task_join(victim, &r);
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_task_release(victim);
    tulip_event_free(ev);
    return 0;
}

Test(trace, valid_file_with_expected_content)
{
    char path[] = "/tmp/tulip_trace_XXXXXX";
    int fd = mkstemp(path);
    struct counts c;
    struct jv root;
    int result;

    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(tulip_trace_start(path), 0);
    cr_assert_eq(tulip_trace_start(path), -EBUSY);
    cr_assert_eq(tulip_run(main_body, NULL, &result, NULL), 0);
    cr_assert_eq(tulip_trace_stop(), 0);
    cr_assert_eq(tulip_trace_stop(), -EALREADY);
    char *text = slurp(path);
    cr_assert(text);
    bool ok = validate(text, &c, &root);
    arena_free();
    cr_assert(ok, "invalid trace: %s", verr);
    cr_expect(c.b == c.e && c.b >= 10, "B %d E %d", c.b, c.e);
    cr_expect(c.s >= 6 && c.f >= 6, "s %d f %d", c.s, c.f);
    cr_expect(c.c >= 1, "ready counter");
    cr_expect(strstr(text, "\"woken: timer\""));
    cr_expect(strstr(text, "\"woken: object\""));
    cr_expect(strstr(text, "\"woken: cancel\""));
    cr_expect(strstr(text, "\"cat\":\"cancel\""));
    cr_expect(strstr(text, "\"cat\":\"generator\""));
    cr_expect(strstr(text, "\"thread_name\""));
    free(text);
    unlink(path);
}

static int many_steps(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        tulip_sleep(0);
    return 7;
}

Test(trace, unwritable_path)
{
    cr_assert_eq(tulip_trace_start("/nonexistent-dir/trace.json"), -ENOENT);
    cr_assert_eq(tulip_trace_start("/tmp"), -EISDIR);
    cr_assert_eq(tulip_trace_start(NULL), -EINVAL);
    cr_assert_eq(tulip_trace_stop(), -EALREADY);
}

/* stderr into a file, for the messages; returns what was written. */
static char errpath[] = "/tmp/tulip_trace_err_XXXXXX";
static int saved_err = -1;

static void capture(void)
{
    int fd = mkstemp(errpath);
    cr_assert(fd >= 0);
    fflush(stderr);
    saved_err = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *captured(void)
{
    char *text;

    fflush(stderr);
    dup2(saved_err, 2);
    close(saved_err);
    text = slurp(errpath);
    unlink(errpath);
    return text;
}

/* Validate the JSON made of the binary trace at path; counts in *c. */
static bool binary_to_valid_json(const char *path, struct counts *c,
                                 struct trec_stats *st)
{
    FILE *in = fopen(path, "r"), *out;
    char *json = NULL;
    size_t len = 0;
    struct jv root;
    bool ok;

    cr_assert(in);
    out = open_memstream(&json, &len);
    cr_assert_eq(tulip__trec_to_json(in, out, st), 0);
    fclose(in);
    fclose(out);
    ok = validate(json, c, &root);
    arena_free();
    free(json);
    return ok;
}

/* Two traces in one process: the second has its own names and events. */
Test(trace, two_traces_in_a_row)
{
    char path[] = "/tmp/tulip_trace_XXXXXX";
    int fd = mkstemp(path), result;
    struct counts c;
    struct jv root;

    cr_assert(fd >= 0);
    close(fd);
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(tulip_trace_start(path), 0);
        cr_assert_eq(tulip_run(main_body, NULL, &result, NULL), 0);
        cr_assert_eq(tulip_trace_stop(), 0);
        char *text = slurp(path);
        bool ok = validate(text, &c, &root);
        arena_free();
        cr_assert(ok, "round %d: %s", round, verr);
        cr_expect(c.b >= 10 && c.s >= 6, "round %d", round);
        free(text);
    }
    unlink(path);
}

/* A program killed while tracing (no tulip_trace_stop, no exit): the file
 * is the binary trace, cut anywhere; its complete records convert. */
static int forever_sleeps(void *arg)
{
    (void)arg;
    for (;;)
        tulip_sleep(1000000);
    return 0;
}

static int killer(void *arg)
{
    tulip_task *t;

    (void)arg;
    tulip_spawn(&t, NULL, forever_sleeps, NULL);
    tulip_sleep(150 * 1000000LL); /* buffers older than 50 ms are written */
    fflush(NULL);
    raise(SIGKILL);
    return 0;
}

Test(trace, killed_program_leaves_a_readable_trace)
{
    char path[] = "/tmp/tulip_trace_XXXXXX";
    int fd = mkstemp(path), status;
    struct counts c;
    struct trec_stats st;
    char head[8];
    FILE *f;
    pid_t pid;

    cr_assert(fd >= 0);
    close(fd);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int r;
        if (tulip_trace_start(path) != 0)
            _exit(3);
        tulip_run(killer, NULL, &r, NULL);
        _exit(4);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    f = fopen(path, "r");
    cr_assert(f && fread(head, 1, 8, f) == 8);
    fclose(f);
    cr_assert(tulip__trec_is_binary(head, 8), "not the binary trace");
    cr_assert(binary_to_valid_json(path, &c, &st), "%s", verr);
    cr_expect(st.truncated);
    cr_expect(c.b >= 50 && c.b == c.e, "B %d E %d", c.b, c.e);
    /* cut in the middle of a record: the complete ones still count */
    cr_assert_eq(truncate(path, 32 * 40 + 13), 0);
    cr_assert(binary_to_valid_json(path, &c, &st), "%s", verr);
    cr_expect(st.truncated && st.records <= 39, "%lld", st.records);
    /* not a trace at all */
    f = fopen(path, "w");
    fputs("[{\"ph\":\"B\"", f);
    fclose(f);
    f = fopen(path, "r");
    cr_expect_eq(tulip__trec_to_json(f, stdout, &st), -EINVAL);
    fclose(f);
    unlink(path);
}

/* The disk fills while the program runs (a file size limit makes write(2)
 * fail with EFBIG): one message, the program goes on, stop says -EIO. */
Test(trace, disk_full_while_running)
{
    char path[] = "/tmp/tulip_trace_XXXXXX";
    int fd = mkstemp(path), result = 0;
    struct rlimit lim = {256 * 1024, RLIM_INFINITY}, old;
    char *err;

    cr_assert(fd >= 0);
    close(fd);
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    capture();
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cr_assert_eq(tulip_trace_start(path), 0);
    cr_assert_eq(tulip_run(many_steps, NULL, &result, NULL), 0);
    cr_assert_eq(result, 7);
    cr_assert_eq(tulip_run(many_steps, NULL, &result, NULL), 0);
    cr_assert_eq(result, 7);
    cr_assert_eq(tulip_trace_stop(), -EIO);
    setrlimit(RLIMIT_FSIZE, &old);
    err = captured();
    fprintf(stdout, "%s", err);
    cr_expect(strstr(err, "tulip: trace: write failed (File too large); "
                          "tracing stopped, the program goes on") != NULL,
              "%s", err);
    free(err);
    unlink(path);
}

/* /dev/full: the binary goes to a temporary file meanwhile, the JSON to
 * the device at the stop, which fails with a message. */
Test(trace, full_disk_stops_tracing_program_goes_on)
{
    int result = 0;
    char *err;

    capture();
    cr_assert_eq(tulip_trace_start("/dev/full"), 0);
    cr_assert_eq(tulip_run(many_steps, NULL, &result, NULL), 0);
    cr_assert_eq(result, 7);
    cr_assert_eq(tulip_trace_stop(), -EIO);
    err = captured();
    fprintf(stdout, "%s", err);
    cr_expect(strstr(err, "tulip: trace: writing /dev/full failed (No space "
                          "left on device)") != NULL,
              "%s", err);
    free(err);
}

Test(trace, validator_rejects_bad_traces)
{
    struct counts c;
    struct jv root;

    cr_expect(validate("[{\"ph\":\"B\",\"pid\":1,\"tid\":1,\"ts\":1,"
                       "\"name\":\"x\"}]",
                       &c, &root) == false);
    cr_expect(validate("[{\"ph\":\"E\",\"pid\":1,\"tid\":1,\"ts\":1}]", &c,
                       &root) == false);
    cr_expect(validate("{\"traceEvents\":[{\"ph\":\"B\",\"pid\":1,\"tid\":1,"
                       "\"ts\":2,\"name\":\"x\"},{\"ph\":\"E\",\"pid\":1,"
                       "\"tid\":1,\"ts\":1}]}",
                       &c, &root) == false);
    cr_expect(validate("{\"traceEvents\":[{\"ph\":\"B\",\"pid\":1,\"tid\":1,"
                       "\"ts\":1,\"name\":\"x\"},{\"ph\":\"E\",\"pid\":1,"
                       "\"tid\":1,\"ts\":2}]}",
                       &c, &root) == true);
    arena_free();
}
