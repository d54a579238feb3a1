/* SPDX-License-Identifier: MIT */
/*
 * tulip-trace: turn a trace written by TULIP_TRACE (Chrome trace-event
 * JSON, one event per line) into one self-contained HTML page with an
 * inline SVG timeline: a row per task (and per generator, and the loop's
 * own row), its running slices, its waits coloured by what ended them (a
 * timer, an object such as a future, lock, queue or fd, a cancel, a
 * sleep(0) yield), cancel marks, ready-fd ticks on the loop row. A few
 * lines of inline JavaScript zoom (wheel) and pan (drag); the page loads
 * nothing from elsewhere.
 *
 *   tulip-trace trace.json [-o page.html]
 *   tulip-trace --json trace [-o trace.json]
 *
 * The input is the JSON that tulip_trace_stop() writes, or the binary trace
 * that a program leaves when it dies before stopping (trace_fmt.h): that is
 * converted first, every complete record of it, and --json only converts
 * (for Perfetto). A JSON trace cut short (no closing "]", a partial last
 * line) is rendered up to its last complete event. Either way a note on
 * stderr says the trace was truncated. Lines
 * that are not events of the kinds tulip writes are skipped. Slices closer
 * together than a pixel at full view are merged, so that a long trace
 * makes a page of bounded size.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_fmt.h"

#define WIDTH 1400.0  /* timeline width in SVG units */
#define ROW_H 22      /* row height */
#define LABEL_W 190   /* label column */
#define MERGE_PX 0.25 /* merge slices closer than this at full view */

struct span {
    double t0, t1;
    char kind; /* 'r' running, 'w' wait */
    char why;  /* wait: 't' timer, 'o' object, 'c' cancel, 'y' yield */
};

struct row {
    long long tid;
    char name[64];
    bool named;
    struct span *spans;
    size_t n, cap;
    double open_b; /* ts of an open B, or -1 */
    double open_s; /* ts of an open s, or -1 */
    char last_why; /* reason of the last wake seen */
    double *marks; /* cancel (task rows) or fd-ready (loop row) */
    size_t nmarks, capmarks;
    long long steps; /* B/E slices before merging */
};

static struct row *rows;
static size_t nrows, caprows;
static double tmin = 1e300, tmax = -1e300;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 16;
    p = realloc(p, *cap * size);
    if (!p) {
        fprintf(stderr, "tulip-trace: out of memory\n");
        exit(1);
    }
    return p;
}

static struct row *row_of(long long tid)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].tid == tid)
            return &rows[i];
    rows = grow(rows, &caprows, nrows, sizeof(*rows));
    struct row *r = &rows[nrows++];
    memset(r, 0, sizeof(*r));
    r->tid = tid;
    r->open_b = r->open_s = -1;
    r->last_why = 'o';
    snprintf(r->name, sizeof(r->name), tid == 0 ? "loop" : "%lld", tid);
    return r;
}

static void add_span(struct row *r, double t0, double t1, char kind, char why)
{
    r->spans = grow(r->spans, &r->cap, r->n, sizeof(*r->spans));
    r->spans[r->n++] = (struct span){t0, t1, kind, why};
}

static void add_mark(struct row *r, double t)
{
    r->marks = grow(r->marks, &r->capmarks, r->nmarks, sizeof(double));
    r->marks[r->nmarks++] = t;
}

/* ---- reading one event line ----------------------------------------------
 * Just enough of JSON for tulip's lines: find "key": and read a string or
 * a number after it, at the top level of the object or inside "args".
 */

static const char *find_key(const char *line, const char *key)
{
    char pat[48];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(line, pat);
    return p ? p + strlen(pat) : NULL;
}

static bool get_str(const char *line, const char *key, char *out, size_t cap)
{
    const char *p = find_key(line, key);
    size_t n = 0;

    if (!p || *p != '"')
        return false;
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        if (n + 1 < cap)
            out[n++] = *p;
    }
    out[n] = '\0';
    return *p == '"';
}

static bool get_num(const char *line, const char *key, double *out)
{
    const char *p = find_key(line, key);
    char *end;

    if (!p)
        return false;
    *out = strtod(p, &end);
    return end != p;
}

static char why_of(const char *name)
{
    if (strstr(name, "timer"))
        return 't';
    if (strstr(name, "cancel"))
        return 'c';
    if (strstr(name, "yield"))
        return 'y';
    return 'o';
}

/* One line; false if it is not a complete event. */
static bool take_line(const char *line)
{
    char ph[4], name[128];
    double tid, ts = 0;
    struct row *r;
    const char *end = strrchr(line, '}');

    if (!strchr(line, '{') || !end || !get_str(line, "ph", ph, sizeof(ph)) ||
        !get_num(line, "tid", &tid))
        return false;
    if (ph[0] != 'M' && !get_num(line, "ts", &ts))
        return false;
    r = row_of((long long)tid);
    if (ph[0] != 'M') {
        if (ts < tmin)
            tmin = ts;
        if (ts > tmax)
            tmax = ts;
    }
    switch (ph[0]) {
    case 'M':
        if (get_str(line, "name", name, sizeof(name)) &&
            strcmp(name, "thread_name") == 0) {
            const char *args = strstr(line, "\"args\":");
            if (args && get_str(args, "name", r->name, sizeof(r->name)))
                r->named = true;
        }
        break;
    case 'B':
        r->open_b = ts;
        if (!r->named && get_str(line, "name", name, sizeof(name))) {
            snprintf(r->name, sizeof(r->name), "%.63s", name);
            r->named = true;
        }
        break;
    case 'E':
        if (r->open_b >= 0) {
            add_span(r, r->open_b, ts, 'r', 0);
            r->steps++;
        }
        r->open_b = -1;
        break;
    case 's':
        r->open_s = ts;
        break;
    case 'f':
        if (r->open_s >= 0)
            add_span(r, r->open_s, ts, 'w', r->last_why);
        r->open_s = -1;
        break;
    case 'i':
    case 'I':
        if (!get_str(line, "name", name, sizeof(name)))
            break;
        if (strncmp(name, "woken", 5) == 0)
            r->last_why = why_of(name);
        else
            add_mark(r, ts);
        break;
    default:
        break;
    }
    return true;
}

/* ---- the page -------------------------------------------------------------
 */

static const char *fill_of(const struct span *s)
{
    if (s->kind == 'r')
        return "#3b7dd8";
    switch (s->why) {
    case 't':
        return "#f0a030";
    case 'c':
        return "#d83b3b";
    case 'y':
        return "#a0a0a0";
    default:
        return "#3bb56a";
    }
}

static const char *why_word(char why)
{
    switch (why) {
    case 't':
        return "a timer";
    case 'c':
        return "a cancel";
    case 'y':
        return "sleep(0)";
    default:
        return "an object (future, task, lock, queue, fd...)";
    }
}

static void html_text(FILE *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", o);
        else if (*s == '&')
            fputs("&amp;", o);
        else if (*s == '"')
            fputs("&quot;", o);
        else
            fputc(*s, o);
    }
}

static double x_of(double t)
{
    return (t - tmin) * WIDTH / (tmax - tmin);
}

static void span_svg(FILE *o, const struct span *s, int y, long merged)
{
    double x = x_of(s->t0), w = x_of(s->t1) - x;

    if (s->kind == 'r' && w < 0.8)
        w = 0.8; /* a step of a few microseconds is still seen */

    if (s->kind == 'r')
        fprintf(o,
                "<rect class=\"run\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" "
                "height=\"%d\" fill=\"%s\">",
                x, y + 3, w, ROW_H - 6, fill_of(s));
    else
        fprintf(o,
                "<rect class=\"wait\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" "
                "height=\"4\" fill=\"%s\">",
                x, y + ROW_H / 2 - 2, w, fill_of(s));
    fprintf(o, "<title>%s %.3f ms", s->kind == 'r' ? "running" : "waiting",
            (s->t1 - s->t0) / 1000.0);
    if (merged)
        fprintf(o, " (%ld merged)", merged + 1);
    if (s->kind == 'w')
        fprintf(o, ", ended by %s", why_word(s->why));
    fputs("</title></rect>\n", o);
}

static void row_svg(FILE *o, const struct row *r, int y)
{
    double merge_us = (tmax - tmin) * MERGE_PX / WIDTH;

    fprintf(o, "<g class=\"row\" data-task=\"");
    html_text(o, r->name);
    fprintf(o, "\" data-steps=\"%lld\">\n", r->steps);
    fprintf(o,
            "<rect x=\"0\" y=\"%d\" width=\"%.0f\" height=\"%d\" "
            "fill=\"%s\"/>\n",
            y, WIDTH, ROW_H, (y / ROW_H) % 2 ? "#f4f4f4" : "#ffffff");
    /* waits first (a thin bar), then the running slices over them */
    for (int pass = 0; pass < 2; pass++) {
        char kind = pass ? 'r' : 'w';
        struct span cur = {0, 0, 0, 0};
        long merged = 0;
        for (size_t i = 0; i <= r->n; i++) {
            const struct span *s = i < r->n ? &r->spans[i] : NULL;
            if (s && s->kind != kind)
                continue;
            /* merge runs of spans too small to see apart */
            if (s && cur.kind && s->why == cur.why &&
                s->t0 - cur.t1 < merge_us && s->t1 - s->t0 < merge_us &&
                cur.t1 - cur.t0 < 4 * merge_us) {
                cur.t1 = s->t1;
                merged++;
                continue;
            }
            if (cur.kind)
                span_svg(o, &cur, y, merged);
            if (s)
                cur = *s;
            merged = 0;
        }
    }
    for (size_t i = 0; i < r->nmarks; i++)
        fprintf(o,
                "<rect class=\"mark\" x=\"%.3f\" y=\"%d\" width=\"0.6\" "
                "height=\"%d\" fill=\"%s\"><title>%s</title></rect>\n",
                x_of(r->marks[i]), y, ROW_H, r->tid ? "#d83b3b" : "#7a3bd8",
                r->tid ? "cancel requested" : "fd ready");
    fputs("</g>\n", o);
}

static const char page_js[] =
    "<script>\n"
    "(function(){var s=document.getElementById('tl');var W=%.0f,H=%d;\n"
    "var x0=0,w=W,drag=null;function set(){if(w>W)w=W;if(w<W/1e6)w=W/1e6;\n"
    "if(x0<0)x0=0;if(x0+w>W)x0=W-w;s.setAttribute('viewBox',x0+' 0 '+w+' "
    "'+H);\n"
    "document.getElementById('zoom').textContent=(W/w).toFixed(1)+'x';}\n"
    "s.addEventListener('wheel',function(e){e.preventDefault();\n"
    "var r=s.getBoundingClientRect();var f=(e.clientX-r.left)/r.width;\n"
    "var nw=w*(e.deltaY<0?0.8:1.25);x0=x0+f*(w-nw);w=nw;set();});\n"
    "s.addEventListener('mousedown',function(e){drag=[e.clientX,x0];});\n"
    "window.addEventListener('mouseup',function(){drag=null;});\n"
    "window.addEventListener('mousemove',function(e){if(!drag)return;\n"
    "var r=s.getBoundingClientRect();x0=drag[1]-(e.clientX-drag[0])*w/r.width;"
    "set();});\n"
    "document.getElementById('reset').onclick=function(){x0=0;w=W;set();};"
    "set();})();\n"
    "</script>\n";

static void write_page(FILE *o, const char *title)
{
    int h = (int)nrows * ROW_H;

    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>", o);
    html_text(o, title);
    fputs("</title>\n<style>\n"
          "body{font:13px sans-serif;margin:12px;background:#fff;color:#222}\n"
          ".tl{display:flex;border:1px solid #ccc}\n"
          ".labels div{height:22px;line-height:22px;padding:0 6px;"
          "white-space:nowrap;overflow:hidden;width:178px}\n"
          ".labels div:nth-child(even){background:#f4f4f4}\n"
          "#tl{flex:1;cursor:grab}\n"
          ".key span{display:inline-block;width:14px;height:10px;"
          "margin:0 4px 0 12px}\n"
          "</style></head><body>\n<h3>",
          o);
    html_text(o, title);
    fprintf(o,
            "</h3>\n<p>%zu rows, %.3f ms. Wheel: zoom; drag: pan. "
            "<button id=\"reset\">reset</button> <span id=\"zoom\">"
            "</span></p>\n",
            nrows, (tmax - tmin) / 1000.0);
    fputs("<p class=\"key\"><span style=\"background:#3b7dd8\"></span>running"
          "<span style=\"background:#f0a030\"></span>wait ended by a timer"
          "<span style=\"background:#3bb56a\"></span>by an object"
          "<span style=\"background:#d83b3b\"></span>by a cancel"
          "<span style=\"background:#a0a0a0\"></span>sleep(0)"
          "<span style=\"background:#7a3bd8\"></span>fd ready</p>\n",
          o);
    fputs("<div class=\"tl\"><div class=\"labels\">\n", o);
    for (size_t i = 0; i < nrows; i++) {
        fputs("<div class=\"label\">", o);
        html_text(o, rows[i].name);
        fputs("</div>\n", o);
    }
    fprintf(o,
            "</div>\n<svg id=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" "
            "height=\"%d\" viewBox=\"0 0 %.0f %d\" "
            "preserveAspectRatio=\"none\">\n",
            h, WIDTH, h);
    for (size_t i = 0; i < nrows; i++)
        row_svg(o, &rows[i], (int)i * ROW_H);
    fputs("</svg></div>\n", o);
    fprintf(o, page_js, WIDTH, h);
    fputs("</body></html>\n", o);
}

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

static void usage(void)
{
    fprintf(stderr, "usage: tulip-trace trace [-o page.html]\n"
                    "       tulip-trace --json trace [-o trace.json]\n");
}

/* f is a binary trace: its JSON, in a temporary file (or into out for
 * --json). Returns the JSON to read, NULL after a message. */
static FILE *from_binary(FILE *f, const char *in, FILE *out, bool *cut)
{
    struct trec_stats st;
    FILE *tmp = out ? out : tmpfile();
    int rc;

    if (!tmp) {
        fprintf(stderr, "tulip-trace: a temporary file: %s\n", strerror(errno));
        return NULL;
    }
    rewind(f);
    rc = tulip__trec_to_json(f, tmp, &st);
    if (rc) {
        fprintf(stderr, "tulip-trace: %s: %s\n", in,
                rc == -EINVAL ? "not a tulip trace" : strerror(-rc));
        if (!out)
            fclose(tmp);
        return NULL;
    }
    *cut = st.truncated;
    if (st.truncated)
        fprintf(stderr,
                "tulip-trace: %s: the trace is truncated (the program did "
                "not stop tracing: a crash?); using its %lld complete "
                "records\n",
                in, st.records);
    if (!out)
        rewind(tmp);
    return tmp;
}

int main(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL;
    FILE *f, *o = stdout;
    char *line = NULL, head[8];
    size_t cap = 0;
    long long events = 0, bad = 0;
    bool closed = false, json_only = false, cut = false;
    ssize_t len;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            outp = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json_only = true;
        else if (!in && argv[i][0] != '-')
            in = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (!in) {
        usage();
        return 2;
    }
    f = fopen(in, "r");
    if (!f) {
        fprintf(stderr, "tulip-trace: %s: %s\n", in, strerror(errno));
        return 1;
    }
    bool binary = fread(head, 1, sizeof(head), f) == sizeof(head) &&
                  tulip__trec_is_binary(head, sizeof(head));
    if (json_only) {
        if (!binary) {
            fprintf(stderr,
                    "tulip-trace: %s: not a binary trace (a JSON "
                    "one loads as it is)\n",
                    in);
            return 1;
        }
        if (outp && !(o = fopen(outp, "w"))) {
            fprintf(stderr, "tulip-trace: %s: %s\n", outp, strerror(errno));
            return 1;
        }
        if (!from_binary(f, in, o, &cut) || (outp && fclose(o) != 0)) {
            fprintf(stderr, "tulip-trace: writing the JSON failed\n");
            return 1;
        }
        fclose(f);
        return 0;
    }
    if (binary) {
        FILE *j = from_binary(f, in, NULL, &cut);
        fclose(f);
        if (!j)
            return 1;
        f = j;
    } else {
        rewind(f);
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        char *p = line;
        while (isspace((unsigned char)*p) || *p == ',' || *p == '[')
            p++;
        if (*p == ']') {
            closed = true;
            continue;
        }
        if (!*p)
            continue;
        if (take_line(p))
            events++;
        else
            bad++;
    }
    free(line);
    fclose(f);
    if (events == 0 || tmax <= tmin) {
        fprintf(stderr, "tulip-trace: %s: no events to show\n", in);
        return 1;
    }
    if (!binary && (!closed || bad))
        fprintf(stderr,
                "tulip-trace: %s: %s; showing the %lld complete events\n", in,
                closed ? "some lines are not events"
                       : "the trace is truncated (no closing ])",
                events);
    /* slices still open at the cut end where the trace does */
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].open_b >= 0)
            add_span(&rows[i], rows[i].open_b, tmax, 'r', 0);
    qsort(rows, nrows, sizeof(*rows), row_cmp);
    if (outp) {
        o = fopen(outp, "w");
        if (!o) {
            fprintf(stderr, "tulip-trace: %s: %s\n", outp, strerror(errno));
            return 1;
        }
    }
    write_page(o, strrchr(in, '/') ? strrchr(in, '/') + 1 : in);
    if (fflush(o) != 0 || ferror(o) || (outp && fclose(o) != 0)) {
        fprintf(stderr, "tulip-trace: writing the page: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
