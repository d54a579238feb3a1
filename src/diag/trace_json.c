/* SPDX-License-Identifier: MIT */
/*
 * A binary trace (trace_fmt.h) to Chrome trace-event JSON, the format
 * Panopticon writes (asyncio.md B.3), which Perfetto and chrome://tracing
 * load. Each task is a row (tid = its id, named by a thread_name record);
 * each step is a B/E slice named by the task; a wait is a flow arrow (s
 * where the task suspended, f where it resumed, id = task id) with an
 * instant event on the task's row at the moment it was woken, saying by
 * what (a timer, a cancel, another task, an fd); generators resumed get
 * B/E slices on a row of their own; the loop row (tid 0) has instant events
 * for ready fds, and a "ready" counter.
 *
 * Used by tulip_trace_stop (the library) and by tulip-trace (a trace that
 * was never stopped). Standard C and stdio only.
 */
#include "trace_fmt.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* What the converter knows of a row. */
struct row {
    uint64_t tid;
    bool used;
    bool named;
    bool flow_open; /* an s written, its f not yet */
    bool is_gen;
    int depth; /* B written and not yet E */
    int64_t last_ts;
    char name[TREC_NAME_MAX + 1];
};

struct conv {
    FILE *out;
    int pid;
    bool first;
    struct row *rows;
    size_t cap, n; /* open addressing, cap a power of two */
    int64_t last_ts;
    long long events;
    char pid_text[48]; /* ","pid":N,"tid": */
    size_t pid_len;
    size_t on;          /* bytes in obuf */
    char obuf[1 << 16]; /* output, written in large pieces */
};

bool tulip__trec_is_binary(const void *head, size_t n)
{
    return n >= 8 && memcmp(head, TREC_MAGIC, 8) == 0;
}

static size_t slot_of(uint64_t tid, size_t cap)
{
    return (size_t)((tid * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static struct row *row_of(struct conv *c, uint64_t tid)
{
    size_t i;

    if ((c->n + 1) * 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        struct row *nr = calloc(ncap, sizeof(*nr));
        if (!nr)
            return NULL;
        for (size_t k = 0; k < c->cap; k++) {
            if (c->rows[k].used) {
                i = slot_of(c->rows[k].tid, ncap);
                while (nr[i].used)
                    i = (i + 1) & (ncap - 1);
                nr[i] = c->rows[k];
            }
        }
        free(c->rows);
        c->rows = nr;
        c->cap = ncap;
    }
    i = slot_of(tid, c->cap);
    while (c->rows[i].used && c->rows[i].tid != tid)
        i = (i + 1) & (c->cap - 1);
    if (!c->rows[i].used) {
        memset(&c->rows[i], 0, sizeof(c->rows[i]));
        c->rows[i].used = true;
        c->rows[i].tid = tid;
        c->rows[i].last_ts = INT64_MIN;
        c->rows[i].is_gen = tid >= TREC_GEN_TID_BASE;
        c->n++;
    }
    return &c->rows[i];
}

/* Decimal digits of v at p, zero-padded to width; returns the end. Two
 * digits a step: the converter writes millions of numbers. */
static char *put_u(char *p, uint64_t v, int width)
{
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char tmp[24], *t = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        t -= 2;
        memcpy(t, pairs + (v % 100) * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, pairs + v * 2, 2);
    } else {
        *--t = (char)('0' + v);
    }
    while (tmp + sizeof(tmp) - t < width)
        *--t = '0';
    n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

/* A string literal's bytes at p; the end. */
#define PUT_LIT(p, lit)                                                        \
    ((void)memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);

    /* output bytes, not a C string: */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
    memcpy(p, s, n);
    return p + n;
}

/* A JSON string (names are at most TREC_NAME_MAX bytes: 6 each at worst). */
static char *put_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    *p++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            /* control bytes, and bytes of a name cut inside a UTF-8
             * sequence, as \u00XX: the file stays valid JSON */
            p = PUT_LIT(p, "\\u00");
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        } else {
            *p++ = (char)ch;
        }
    }
    *p++ = '"';
    return p;
}

/* The fields every event has; ts is kept from going back on a row. */
static char *put_head(struct conv *c, char *p, char ph, struct row *r,
                      int64_t ts)
{
    if (ts < r->last_ts)
        ts = r->last_ts;
    r->last_ts = ts;
    if (ts < 0)
        ts = 0;
    if (!c->first)
        *p++ = ',';
    c->first = false;
    p = PUT_LIT(p, "\n{\"ph\":\"");
    *p++ = ph;
    memcpy(p, c->pid_text, c->pid_len); /* ","pid":N,"tid": */
    p += c->pid_len;
    p = put_u(p, r->tid, 1);
    if (ph != 'M') {
        p = PUT_LIT(p, ",\"ts\":");
        p = put_u(p, (uint64_t)ts / 1000, 1);
        *p++ = '.';
        p = put_u(p, (uint64_t)ts % 1000, 3);
    }
    c->events++;
    return p;
}

static void flush_out(struct conv *c)
{
    /* a short write sets the error indicator: checked at the end */
    (void)fwrite(c->obuf, 1, c->on, c->out);
    c->on = 0;
}

static void emit(struct conv *c, const char *buf, const char *end)
{
    size_t n = (size_t)(end - buf);

    if (c->on + n > sizeof(c->obuf))
        flush_out(c);
    memcpy(c->obuf + c->on, buf, n);
    c->on += n;
}

static void put_name_meta(struct conv *c, struct row *r)
{
    char buf[256], *p = buf;

    p = put_head(c, p, 'M', r, 0);
    p = PUT_LIT(p, ",\"name\":\"thread_name\",\"args\":{\"name\":");
    p = put_str(p, r->name);
    p = PUT_LIT(p, "}}");
    p = put_head(c, p, 'M', r, 0);
    p = PUT_LIT(p, ",\"name\":\"thread_sort_index\",\"args\":{"
                   "\"sort_index\":");
    p = put_u(p, r->tid, 1);
    p = PUT_LIT(p, "}}");
    emit(c, buf, p);
}

static const char *why_name(uint32_t why)
{
    switch (why) {
    case 1: /* TULIP__WAKE_TIMER */
        return "timer";
    case 2: /* TULIP__WAKE_CANCEL */
        return "cancel";
    case TREC_WAKE_YIELD:
        return "yield";
    default:
        return "object";
    }
}

/* "by": the waking task, fd, or the loop; then the closing braces. */
static char *put_by(char *p, uint64_t by)
{
    if (by >> 32) {
        p = PUT_LIT(p, "\"fd ");
        p = put_u(p, by & 0xffffffffu, 1);
        *p++ = '"';
    } else if (by) {
        p = PUT_LIT(p, "\"Task ");
        p = put_u(p, by, 1);
        *p++ = '"';
    } else {
        p = PUT_LIT(p, "\"loop\"");
    }
    return PUT_LIT(p, "}}");
}

static char *put_flow(struct conv *c, char *p, struct row *r, int64_t ts,
                      bool start)
{
    p = put_head(c, p, start ? 's' : 'f', r, ts);
    p = PUT_LIT(p, ",\"cat\":\"wait\",\"name\":\"wait\",\"id\":");
    p = put_u(p, r->tid, 1);
    if (!start)
        p = PUT_LIT(p, ",\"bp\":\"e\"");
    *p++ = '}';
    r->flow_open = start;
    return p;
}

static char *put_wake(struct conv *c, char *p, struct row *r, int64_t ts,
                      uint32_t why, uint64_t by)
{
    p = put_head(c, p, 'i', r, ts);
    p = PUT_LIT(p, ",\"s\":\"t\",\"cat\":\"wake\",\"name\":\"woken: ");
    p = put_lit(p, why_name(why));
    p = PUT_LIT(p, "\",\"args\":{\"why\":\"");
    p = put_lit(p, why_name(why));
    p = PUT_LIT(p, "\",\"by\":");
    return put_by(p, by);
}

/* One record (and the name payload after a NAME). */
static void convert_one(struct conv *c, const struct trec *e,
                        const struct trec *payload)
{
    char buf[512], *p = buf;
    struct row *r;

    if (e->ts > c->last_ts)
        c->last_ts = e->ts;
    if (e->kind == TREC_IO || e->kind == TREC_READY)
        r = row_of(c, 0);
    else
        r = row_of(c, e->tid);
    if (!r)
        return;
    switch (e->kind) {
    case TREC_NAME:
        if (!payload)
            return;
        if (r->named &&
            strncmp(r->name, (const char *)payload, TREC_NAME_MAX) == 0)
            return; /* named again by a later buffer */
        memcpy(r->name, payload, TREC_NAME_MAX);
        r->name[TREC_NAME_MAX] = '\0';
        r->named = true;
        put_name_meta(c, r);
        return;
    case TREC_BEGIN:
    case TREC_GBEGIN:
        p = put_head(c, p, 'B', r, e->ts);
        p = put_lit(p, e->kind == TREC_BEGIN ? ",\"cat\":\"task\",\"name\":"
                                             : ",\"cat\":\"generator\","
                                               "\"name\":");
        if (r->named) {
            p = put_str(p, r->name);
        } else {
            p = PUT_LIT(p, "\"Task ");
            p = put_u(p, r->tid, 1);
            *p++ = '"';
        }
        *p++ = '}';
        r->depth++;
        if (r->flow_open && e->kind == TREC_BEGIN)
            p = put_flow(c, p, r, e->ts, false);
        break;
    case TREC_END:
    case TREC_GEND:
        if (r->depth == 0)
            return; /* a step begun before tracing started */
        if (e->aux && !r->flow_open)
            p = put_flow(c, p, r, e->ts, true);
        p = put_head(c, p, 'E', r, e->ts);
        *p++ = '}';
        r->depth--;
        break;
    case TREC_YIELD:
        if (r->depth > 0 && !r->flow_open)
            p = put_flow(c, p, r, e->ts, true);
        p = put_wake(c, p, r, e->ts, TREC_WAKE_YIELD, 0);
        break;
    case TREC_WAKE:
        p = put_wake(c, p, r, e->ts, e->aux, e->arg);
        break;
    case TREC_CANCEL:
        p = put_head(c, p, 'i', r, e->ts);
        p = PUT_LIT(p, ",\"s\":\"t\",\"cat\":\"cancel\",\"name\":\"cancel\","
                       "\"args\":{\"by\":");
        p = put_by(p, e->arg);
        break;
    case TREC_IO:
        p = put_head(c, p, 'i', r, e->ts);
        p = PUT_LIT(p, ",\"s\":\"t\",\"cat\":\"io\",\"name\":\"fd ");
        p = put_u(p, e->arg, 1);
        p = PUT_LIT(p, " ready\",\"args\":{\"fd\":");
        p = put_u(p, e->arg, 1);
        p = PUT_LIT(p, ",\"revents\":");
        p = put_u(p, e->aux, 1);
        p = PUT_LIT(p, "}}");
        break;
    case TREC_READY:
        p = put_head(c, p, 'C', r, e->ts);
        p = PUT_LIT(p, ",\"name\":\"ready\",\"args\":{\"ready\":");
        p = put_u(p, e->arg, 1);
        p = PUT_LIT(p, "}}");
        break;
    default: /* SPAWN (its NAME names the row), unknown kinds */
        return;
    }
    emit(c, buf, p);
}

int tulip__trec_to_json(FILE *in, FILE *out, struct trec_stats *st)
{
    struct conv *cp = malloc(sizeof(*cp));
    struct trec hdr, e, payload;
    struct row *loop_row;
    int rc = 0;

    if (!cp)
        return -ENOMEM;
    memset(cp, 0, offsetof(struct conv, obuf));
    cp->out = out;
    cp->first = true;
    cp->last_ts = INT64_MIN;
#define c (*cp)

    memset(st, 0, sizeof(*st));
    st->truncated = true;
    if (fread(&hdr, sizeof(hdr), 1, in) != 1 ||
        !tulip__trec_is_binary(&hdr, sizeof(hdr))) {
        st->bad_header = true;
        free(cp);
        return -EINVAL;
    }
    c.pid = (int)hdr.arg;
    {
        char *p = PUT_LIT(c.pid_text, "\",\"pid\":");
        p = put_u(p, (uint64_t)c.pid, 1);
        p = PUT_LIT(p, ",\"tid\":");
        c.pid_len = (size_t)(p - c.pid_text);
    }
    fputs("[", out);
    loop_row = row_of(&c, 0);
    if (!loop_row) {
        free(cp);
        return -ENOMEM;
    }
    strcpy(loop_row->name, "loop");
    loop_row->named = true;
    put_name_meta(&c, loop_row);
    while (fread(&e, sizeof(e), 1, in) == 1) {
        st->records++;
        if (e.kind == TREC_STOP) {
            st->truncated = false;
            break;
        }
        if (e.kind == TREC_NAME) {
            if (fread(&payload, sizeof(payload), 1, in) != 1)
                break; /* cut between a name and its bytes */
            st->records++;
            convert_one(&c, &e, &payload);
            continue;
        }
        convert_one(&c, &e, NULL);
    }
    /* Close what a cut trace left open, at its last moment. */
    for (size_t i = 0; i < c.cap; i++) {
        struct row *r = &c.rows[i];
        char buf[128], *p;
        while (r->used && r->depth > 0) {
            p = put_head(&c, buf, 'E', r, c.last_ts);
            *p++ = '}';
            emit(&c, buf, p);
            r->depth--;
        }
    }
    flush_out(&c);
    fputs("\n]\n", out);
    if (fflush(out) != 0 || ferror(out))
        rc = errno ? -errno : -EIO;
    st->events = c.events;
    free(c.rows);
    free(cp);
    return rc;
#undef c
}
