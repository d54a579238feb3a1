/* SPDX-License-Identifier: MIT */
/*
 * A small Redis-compatible server on tulip's streams and servers: what
 * redis-cli, redis-benchmark and nc can talk to.
 *
 *     resp_server [--host H] [--port N] [--max-bulk BYTES] [--max-args N]
 *                 [--max-query BYTES] [--sweep-ms MS] [--idle-ms MS]
 *
 * It prints "listening on port N" (port 0 picks a free one) and serves
 * until SIGINT or SIGTERM, then shuts down gracefully: it stops accepting,
 * closes the connections once the replies already made are flushed (a
 * handler still busy gets 2 s), prints "shutdown: ..." and exits with 0.
 *
 * Commands, with Redis's replies and error messages: PING [msg], ECHO,
 * SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL], GET, MGET, STRLEN, DEL,
 * EXISTS, INCR, DECR, INCRBY, DECRBY, EXPIRE/PEXPIRE key n [NX|XX|GT|LT],
 * TTL, PTTL, PERSIST, DBSIZE, FLUSHALL/FLUSHDB, SELECT 0, QUIT, and just enough
 * of CONFIG GET and COMMAND for redis-benchmark and redis-cli. Requests are
 * RESP arrays or inline lines (examples/resp_parse.h); pipelined requests
 * are answered in order, their replies gathered into one write per batch.
 *
 * Keys and values are byte strings in a chained hash table keyed with
 * SipHash-1-3 under a random key (as Redis, against collision floods),
 * which doubles as it fills. Expiry is Redis's: a key past its time is
 * deleted when a command touches it (lazily), and a sweep task samples 20
 * keys with a time to live every --sweep-ms (100) and goes on while more
 * than a quarter of them had expired, for at most 1 ms per pass. Times are
 * milliseconds of the monotonic clock.
 *
 * Limits: a bulk string above --max-bulk (1 MiB), an array above
 * --max-args (4096), an inline line above 64 KiB, or a request that would
 * need more than --max-query (16 MiB) of buffer is answered with an error
 * and the connection is closed (lingering: input is swallowed for up to a
 * second so that the client gets the reply), before anything is allocated
 * for it.
 * With --idle-ms, a connection on which no whole request arrives for that
 * long is closed (Redis's timeout; 0, the default, never closes one), so
 * a client trickling a request byte by byte is closed too.
 * Replies are flushed and drained (back-pressure) whenever 64 KiB gather,
 * so a client that pipelines without reading stops being read; one reply
 * is built whole, though (as Redis does), so an MGET of many big values
 * takes their size in memory for a moment.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strncasecmp */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "resp_parse.h"
#include "tulip.h"

#define IN_START 4096          /* first input buffer of a connection */
#define IN_READ_MIN 4096       /* free space to read into */
#define OUT_FLUSH (64 * 1024)  /* write and drain the replies from here */
#define MAX_INLINE (64 * 1024) /* Redis's PROTO_INLINE_MAX_SIZE */
#define SWEEP_SAMPLES 20       /* keys sampled per round (Redis's 20) */
#define SWEEP_BUDGET_NS (1000 * 1000)
#define GRACE_NS (2 * TULIP_SEC) /* for handlers at shutdown */
#define LINGER_NS TULIP_SEC      /* to swallow input after an error */
#define LINGER_BYTES (1024 * 1024)

/* ---- the key space --------------------------------------------------- */

struct entry {
    struct entry *next; /* in its bucket */
    uint64_t hash;      /* of the key */
    int64_t expire_ms;  /* when it expires; -1: never */
    size_t vol_idx;     /* its index in db.vol while expire_ms >= 0 */
    char *val;          /* the value */
    size_t vlen;        /* its length */
    size_t klen;        /* the key's length */
    char key[];         /* the key */
};

struct db {
    struct entry **tab; /* buckets */
    size_t mask;        /* buckets - 1 (a power of two) */
    size_t count;       /* keys */
    struct entry **vol; /* the keys with an expiry, in no order */
    size_t nvol;        /* their number */
    size_t capvol;      /* vol's capacity */
    uint64_t k0, k1;    /* SipHash key */
    uint64_t rng;       /* xorshift state for the sweep's samples */
    uint64_t expired;   /* keys deleted for their time (statistics) */
};

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                               \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = rotl(v1, 13);                                                     \
        v1 ^= v0;                                                              \
        v0 = rotl(v0, 32);                                                     \
        v2 += v3;                                                              \
        v3 = rotl(v3, 16);                                                     \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = rotl(v3, 21);                                                     \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = rotl(v1, 17);                                                     \
        v1 ^= v2;                                                              \
        v2 = rotl(v2, 32);                                                     \
    } while (0)

/* SipHash-1-3 (one compression round, three finalisation rounds). */
static uint64_t siphash(const void *p, size_t n, uint64_t k0, uint64_t k1)
{
    const unsigned char *s = p;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t b = (uint64_t)n << 56, m;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        m = 0;
        for (int k = 7; k >= 0; k--)
            m = (m << 8) | s[i + (size_t)k];
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (int k = 0; i + (size_t)k < n; k++)
        b |= (uint64_t)s[i + (size_t)k] << (8 * k);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_init(struct db *db)
{
    uint64_t seed[3] = {0, 0, 0};
    FILE *f = fopen("/dev/urandom", "rb");

    if (f) {
        if (fread(seed, sizeof(seed), 1, f) != 1)
            seed[0] = (uint64_t)time(NULL);
        fclose(f);
    }
    memset(db, 0, sizeof(*db));
    db->k0 = seed[0];
    db->k1 = seed[1];
    db->rng = seed[2] | 1;
    db->mask = 15;
    db->tab = calloc(db->mask + 1, sizeof(*db->tab));
    return db->tab ? 0 : -ENOMEM;
}

static void vol_remove(struct db *db, struct entry *e)
{
    struct entry *last = db->vol[--db->nvol];

    db->vol[e->vol_idx] = last;
    last->vol_idx = e->vol_idx;
    e->expire_ms = -1;
}

/* Give e an expiry (when >= 0) or take it away (when -1). */
static int db_set_expire(struct db *db, struct entry *e, int64_t when)
{
    if (when < 0) {
        if (e->expire_ms >= 0)
            vol_remove(db, e);
        return 0;
    }
    if (e->expire_ms < 0) {
        if (db->nvol == db->capvol) {
            size_t cap = db->capvol ? db->capvol * 2 : 64;
            struct entry **v = realloc(db->vol, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            db->vol = v;
            db->capvol = cap;
        }
        e->vol_idx = db->nvol;
        db->vol[db->nvol++] = e;
    }
    e->expire_ms = when;
    return 0;
}

/* The link that points at the key's entry (or the bucket's last NULL). */
static struct entry **db_slot(struct db *db, const char *k, size_t n,
                              uint64_t h)
{
    struct entry **pp = &db->tab[h & db->mask];

    while (*pp && !((*pp)->hash == h && (*pp)->klen == n &&
                    memcmp((*pp)->key, k, n) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void db_unlink(struct db *db, struct entry **pp)
{
    struct entry *e = *pp;

    *pp = e->next;
    if (e->expire_ms >= 0)
        vol_remove(db, e);
    db->count--;
    free(e->val);
    free(e);
}

/* The key's entry, deleting it first if its time has passed. */
static struct entry *db_lookup(struct db *db, const struct resp_arg *k)
{
    uint64_t h = siphash(k->p, k->len, db->k0, db->k1);
    struct entry **pp = db_slot(db, k->p, k->len, h);

    if (*pp && (*pp)->expire_ms >= 0 && (*pp)->expire_ms <= now_ms()) {
        db_unlink(db, pp);
        db->expired++;
    }
    return *pp;
}

static bool db_delete(struct db *db, const struct resp_arg *k)
{
    if (!db_lookup(db, k))
        return false;
    db_unlink(db,
              db_slot(db, k->p, k->len, siphash(k->p, k->len, db->k0, db->k1)));
    return true;
}

static void db_grow(struct db *db)
{
    size_t n = (db->mask + 1) * 2;
    struct entry **tab = calloc(n, sizeof(*tab));

    if (!tab)
        return; /* chains just get longer */
    for (size_t i = 0; i <= db->mask; i++) {
        struct entry *e = db->tab[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = tab[e->hash & (n - 1)];
            tab[e->hash & (n - 1)] = e;
        }
    }
    free(db->tab);
    db->tab = tab;
    db->mask = n - 1;
}

/* Set key to val (copied); keep or drop its expiry. NULL if out of memory. */
static struct entry *db_set(struct db *db, const struct resp_arg *k,
                            const char *val, size_t vlen, bool keepttl)
{
    uint64_t h = siphash(k->p, k->len, db->k0, db->k1);
    struct entry **pp = db_slot(db, k->p, k->len, h), *e = *pp;
    char *v = malloc(vlen ? vlen : 1);

    if (!v)
        return NULL;
    memcpy(v, val, vlen);
    if (!e) {
        e = malloc(sizeof(*e) + k->len);
        if (!e) {
            free(v);
            return NULL;
        }
        e->next = NULL;
        e->hash = h;
        e->expire_ms = -1;
        e->val = NULL;
        e->klen = k->len;
        memcpy(e->key, k->p, k->len);
        *pp = e;
        if (++db->count > db->mask + 1)
            db_grow(db);
    }
    free(e->val);
    e->val = v;
    e->vlen = vlen;
    if (!keepttl)
        db_set_expire(db, e, -1);
    return e;
}

static void db_flush(struct db *db)
{
    for (size_t i = 0; i <= db->mask; i++) {
        struct entry *e = db->tab[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->val);
            free(e);
        }
        db->tab[i] = NULL;
    }
    db->count = 0;
    db->nvol = 0;
}

static void db_free(struct db *db)
{
    db_flush(db);
    free(db->tab);
    free(db->vol);
}

/* One pass of the sweep (Redis's activeExpireCycle, simplified). */
static void db_sweep(struct db *db)
{
    struct timespec t0, t;
    size_t expired;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        int64_t now = now_ms();
        expired = 0;
        for (int i = 0; i < SWEEP_SAMPLES && db->nvol; i++) {
            struct entry *e;
            db->rng ^= db->rng << 13;
            db->rng ^= db->rng >> 7;
            db->rng ^= db->rng << 17;
            e = db->vol[db->rng % db->nvol];
            if (e->expire_ms <= now) {
                struct resp_arg k = {e->key, e->klen};
                db_lookup(db, &k); /* deletes it */
                expired++;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (expired > SWEEP_SAMPLES / 4 &&
             (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) <
                 SWEEP_BUDGET_NS);
}

/* ---- connections and replies ----------------------------------------- */

struct config {
    const char *host;
    const char *port;
    struct resp_limits lim;
    size_t max_query;
    int64_t sweep_ms;
    int64_t idle_ms; /* close a connection without a request this long */
};

static struct {
    struct config cfg;
    struct db db;
    struct resp_arg *argv; /* shared: commands run without suspending */
    tulip_server *srv;
    uint64_t conns;    /* connections accepted */
    uint64_t commands; /* commands run */
} S;

struct conn {
    tulip_stream *s;
    char *in;          /* input: in[off, len) not parsed yet */
    size_t off;        /* parsed up to here */
    size_t len;        /* bytes in in */
    size_t cap;        /* in's size */
    char *out;         /* replies not written yet */
    size_t olen;       /* their length */
    size_t ocap;       /* out's size */
    bool oom;          /* a reply could not be built: close */
    bool quit;         /* QUIT: close after the replies */
    bool proto_err;    /* a protocol error was answered: close */
    uint64_t requests; /* whole requests parsed */
    struct resp_arg *argv;
    size_t argc;
};

static void out_add(struct conn *c, const void *p, size_t n)
{
    if (c->oom)
        return;
    if (c->ocap - c->olen < n) {
        size_t cap = c->ocap ? c->ocap : 1024;
        while (cap - c->olen < n)
            cap *= 2;
        char *o = realloc(c->out, cap);
        if (!o) {
            c->oom = true;
            return;
        }
        c->out = o;
        c->ocap = cap;
    }
    memcpy(c->out + c->olen, p, n);
    c->olen += n;
}

static void out_str(struct conn *c, const char *s)
{
    out_add(c, s, strlen(s));
}

/* "<prefix><n>\r\n" */
static void out_num(struct conn *c, char prefix, int64_t n)
{
    char b[32];
    int k = snprintf(b, sizeof(b), "%c%lld\r\n", prefix, (long long)n);
    out_add(c, b, (size_t)k);
}

static void out_bulk(struct conn *c, const char *p, size_t n)
{
    out_num(c, '$', (int64_t)n);
    out_add(c, p, n);
    out_add(c, "\r\n", 2);
}

static void out_nil(struct conn *c)
{
    out_str(c, "$-1\r\n");
}

/* "-ERR <fmt>\r\n"; newlines in it become spaces (Redis does so too). */
static void out_err(struct conn *c, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(b))
        n = (int)sizeof(b) - 1;
    for (int i = 0; i < n; i++)
        if (b[i] == '\r' || b[i] == '\n')
            b[i] = ' ';
    out_add(c, "-ERR ", 5);
    out_add(c, b, (size_t)n);
    out_add(c, "\r\n", 2);
}

static bool arg_is(const struct resp_arg *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* The argument as an int64, or a Redis error reply and false. */
static bool arg_ll(struct conn *c, const struct resp_arg *a, int64_t *v)
{
    if (resp_str2ll(a->p, a->len, v))
        return true;
    out_err(c, "value is not an integer or out of range");
    return false;
}

static const char wrong_args[] = "wrong number of arguments for '%s' command";

/* ---- commands ---------------------------------------------------------- */

static void cmd_ping(struct conn *c)
{
    if (c->argc > 2)
        out_err(c, wrong_args, "ping");
    else if (c->argc == 2)
        out_bulk(c, c->argv[1].p, c->argv[1].len);
    else
        out_str(c, "+PONG\r\n");
}

static void cmd_echo(struct conn *c)
{
    out_bulk(c, c->argv[1].p, c->argv[1].len);
}

static void cmd_get(struct conn *c)
{
    struct entry *e = db_lookup(&S.db, &c->argv[1]);

    if (e)
        out_bulk(c, e->val, e->vlen);
    else
        out_nil(c);
}

static void cmd_strlen(struct conn *c)
{
    struct entry *e = db_lookup(&S.db, &c->argv[1]);

    out_num(c, ':', e ? (int64_t)e->vlen : 0);
}

static void cmd_mget(struct conn *c)
{
    out_num(c, '*', (int64_t)c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        struct entry *e = db_lookup(&S.db, &c->argv[i]);
        if (e)
            out_bulk(c, e->val, e->vlen);
        else
            out_nil(c);
    }
}

enum {
    SET_NX = 1,
    SET_XX = 2,
    SET_GET = 4,
    SET_KEEPTTL = 8,
    SET_EX = 16,
    SET_PX = 32
};

/* SET's options, as Redis parses them; false after an error reply. */
static bool set_options(struct conn *c, unsigned *flags, int64_t *when)
{
    const struct resp_arg *expire = NULL;
    int64_t ms;

    for (size_t j = 3; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        bool next = j + 1 < c->argc;
        if (arg_is(a, "nx") && !(*flags & SET_XX)) {
            *flags |= SET_NX;
        } else if (arg_is(a, "xx") && !(*flags & SET_NX)) {
            *flags |= SET_XX;
        } else if (arg_is(a, "get")) {
            *flags |= SET_GET;
        } else if (arg_is(a, "keepttl") && !(*flags & (SET_EX | SET_PX))) {
            *flags |= SET_KEEPTTL;
        } else if (arg_is(a, "ex") && !(*flags & (SET_KEEPTTL | SET_PX)) &&
                   next) {
            *flags |= SET_EX;
            expire = &c->argv[++j];
        } else if (arg_is(a, "px") && !(*flags & (SET_KEEPTTL | SET_EX)) &&
                   next) {
            *flags |= SET_PX;
            expire = &c->argv[++j];
        } else {
            out_err(c, "syntax error");
            return false;
        }
    }
    *when = -1;
    if (!expire)
        return true;
    if (!arg_ll(c, expire, &ms))
        return false;
    if (ms <= 0 || ((*flags & SET_EX) && ms > INT64_MAX / 1000))
        goto invalid;
    if (*flags & SET_EX)
        ms *= 1000;
    if (ms > INT64_MAX - now_ms())
        goto invalid;
    *when = ms + now_ms();
    return true;
invalid:
    out_err(c, "invalid expire time in 'set' command");
    return false;
}

static void cmd_set(struct conn *c)
{
    unsigned flags = 0;
    int64_t when;
    struct entry *e;

    if (!set_options(c, &flags, &when))
        return;
    e = db_lookup(&S.db, &c->argv[1]);
    if (flags & SET_GET) {
        if (e)
            out_bulk(c, e->val, e->vlen);
        else
            out_nil(c);
    }
    if ((e && (flags & SET_NX)) || (!e && (flags & SET_XX))) {
        if (!(flags & SET_GET))
            out_nil(c);
        return;
    }
    e = db_set(&S.db, &c->argv[1], c->argv[2].p, c->argv[2].len,
               flags & SET_KEEPTTL);
    if (!e || (when >= 0 && db_set_expire(&S.db, e, when) < 0)) {
        c->oom = true;
        return;
    }
    if (!(flags & SET_GET))
        out_str(c, "+OK\r\n");
}

static void cmd_del(struct conn *c)
{
    int64_t n = 0;

    for (size_t i = 1; i < c->argc; i++)
        n += db_delete(&S.db, &c->argv[i]);
    out_num(c, ':', n);
}

static void cmd_exists(struct conn *c)
{
    int64_t n = 0;

    for (size_t i = 1; i < c->argc; i++)
        n += db_lookup(&S.db, &c->argv[i]) != NULL;
    out_num(c, ':', n);
}

static void incr_by(struct conn *c, int64_t by)
{
    struct entry *e = db_lookup(&S.db, &c->argv[1]);
    int64_t v = 0;
    char b[24];
    int n;

    if (e && !resp_str2ll(e->val, e->vlen, &v)) {
        out_err(c, "value is not an integer or out of range");
        return;
    }
    if ((by < 0 && v < 0 && by < INT64_MIN - v) ||
        (by > 0 && v > 0 && by > INT64_MAX - v)) {
        out_err(c, "increment or decrement would overflow");
        return;
    }
    v += by;
    n = snprintf(b, sizeof(b), "%lld", (long long)v);
    if (!db_set(&S.db, &c->argv[1], b, (size_t)n, true)) {
        c->oom = true;
        return;
    }
    out_num(c, ':', v);
}

static void cmd_incr(struct conn *c)
{
    incr_by(c, 1);
}

static void cmd_decr(struct conn *c)
{
    incr_by(c, -1);
}

static void cmd_incrby(struct conn *c)
{
    int64_t by;

    if (arg_ll(c, &c->argv[2], &by))
        incr_by(c, by);
}

static void cmd_decrby(struct conn *c)
{
    int64_t by;

    if (!arg_ll(c, &c->argv[2], &by))
        return;
    if (by == INT64_MIN)
        out_err(c, "decrement would overflow");
    else
        incr_by(c, -by);
}

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE and PEXPIRE (Redis's expireGenericCommand). */
static void expire_generic(struct conn *c, bool seconds, const char *name)
{
    unsigned f = 0;
    int64_t when, base = now_ms(), cur;
    struct entry *e;

    for (size_t j = 3; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        if (arg_is(a, "nx"))
            f |= EXP_NX;
        else if (arg_is(a, "xx"))
            f |= EXP_XX;
        else if (arg_is(a, "gt"))
            f |= EXP_GT;
        else if (arg_is(a, "lt"))
            f |= EXP_LT;
        else {
            out_err(c, "Unsupported option %.*s", (int)a->len, a->p);
            return;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        out_err(c, "NX and XX, GT or LT options at the same time are not "
                   "compatible");
        return;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        out_err(c, "GT and LT options at the same time are not compatible");
        return;
    }
    if (!arg_ll(c, &c->argv[2], &when))
        return;
    if (seconds && (when > INT64_MAX / 1000 || when < INT64_MIN / 1000))
        goto invalid;
    if (seconds)
        when *= 1000;
    if (when > INT64_MAX - base)
        goto invalid;
    when += base;
    e = db_lookup(&S.db, &c->argv[1]);
    if (!e) {
        out_str(c, ":0\r\n");
        return;
    }
    cur = e->expire_ms;
    if (((f & EXP_NX) && cur >= 0) || ((f & EXP_XX) && cur < 0) ||
        ((f & EXP_GT) && (cur < 0 || when <= cur)) ||
        ((f & EXP_LT) && cur >= 0 && when >= cur)) {
        out_str(c, ":0\r\n");
        return;
    }
    if (when <= base)
        db_delete(&S.db, &c->argv[1]);
    else
        db_set_expire(&S.db, e, when);
    out_str(c, ":1\r\n");
    return;
invalid:
    out_err(c, "invalid expire time in '%s' command", name);
}

static void cmd_expire(struct conn *c)
{
    expire_generic(c, true, "expire");
}

static void cmd_pexpire(struct conn *c)
{
    expire_generic(c, false, "pexpire");
}

static void ttl_generic(struct conn *c, bool seconds)
{
    struct entry *e = db_lookup(&S.db, &c->argv[1]);
    int64_t t;

    if (!e) {
        out_str(c, ":-2\r\n");
        return;
    }
    if (e->expire_ms < 0) {
        out_str(c, ":-1\r\n");
        return;
    }
    t = e->expire_ms - now_ms();
    if (t < 0)
        t = 0;
    out_num(c, ':', seconds ? (t + 500) / 1000 : t);
}

static void cmd_ttl(struct conn *c)
{
    ttl_generic(c, true);
}

static void cmd_pttl(struct conn *c)
{
    ttl_generic(c, false);
}

static void cmd_persist(struct conn *c)
{
    struct entry *e = db_lookup(&S.db, &c->argv[1]);

    if (!e || e->expire_ms < 0) {
        out_str(c, ":0\r\n");
        return;
    }
    db_set_expire(&S.db, e, -1);
    out_str(c, ":1\r\n");
}

static void cmd_dbsize(struct conn *c)
{
    out_num(c, ':', (int64_t)S.db.count);
}

static void cmd_flushall(struct conn *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "sync") &&
                        !arg_is(&c->argv[1], "async"))) {
        out_err(c, "syntax error");
        return;
    }
    db_flush(&S.db);
    out_str(c, "+OK\r\n");
}

static void cmd_select(struct conn *c)
{
    int64_t db;

    if (!arg_ll(c, &c->argv[1], &db))
        return;
    if (db != 0)
        out_err(c, "DB index is out of range");
    else
        out_str(c, "+OK\r\n");
}

static void cmd_quit(struct conn *c)
{
    out_str(c, "+OK\r\n");
    c->quit = true;
}

/* CONFIG GET for redis-benchmark, which asks for "save" and "appendonly":
 * this server keeps nothing on disk. */
static void cmd_config(struct conn *c)
{
    static const char *const params[][2] = {{"save", ""}, {"appendonly", "no"}};
    size_t n = 0;

    if (!arg_is(&c->argv[1], "get")) {
        out_err(c, "unknown subcommand '%.*s'. Try CONFIG HELP.",
                (int)c->argv[1].len, c->argv[1].p);
        return;
    }
    for (size_t i = 2; i < c->argc; i++)
        for (size_t k = 0; k < 2; k++)
            n += arg_is(&c->argv[i], params[k][0]);
    out_num(c, '*', (int64_t)(2 * n));
    for (size_t i = 2; i < c->argc; i++)
        for (size_t k = 0; k < 2; k++)
            if (arg_is(&c->argv[i], params[k][0])) {
                out_bulk(c, params[k][0], strlen(params[k][0]));
                out_bulk(c, params[k][1], strlen(params[k][1]));
            }
}

/* COMMAND (redis-cli asks for COMMAND DOCS): no documentation here. */
static void cmd_command(struct conn *c)
{
    out_str(c, "*0\r\n");
}

struct command {
    const char *name; /* lower case, as in Redis's messages */
    int arity;        /* argc exactly; negative: at least -arity */
    void (*fn)(struct conn *c);
};

static const struct command commands[] = {
    {"get", 2, cmd_get},           {"set", -3, cmd_set},
    {"ping", -1, cmd_ping},        {"incr", 2, cmd_incr},
    {"mget", -2, cmd_mget},        {"del", -2, cmd_del},
    {"echo", 2, cmd_echo},         {"expire", -3, cmd_expire},
    {"pexpire", -3, cmd_pexpire},  {"ttl", 2, cmd_ttl},
    {"pttl", 2, cmd_pttl},         {"persist", 2, cmd_persist},
    {"exists", -2, cmd_exists},    {"decr", 2, cmd_decr},
    {"incrby", 3, cmd_incrby},     {"decrby", 3, cmd_decrby},
    {"dbsize", 1, cmd_dbsize},     {"flushall", -1, cmd_flushall},
    {"flushdb", -1, cmd_flushall}, {"select", 2, cmd_select},
    {"quit", -1, cmd_quit},        {"config", -2, cmd_config},
    {"command", -1, cmd_command},  {"strlen", 2, cmd_strlen},
};

static void unknown_command(struct conn *c)
{
    char args[160];
    size_t n = 0;

    args[0] = '\0';
    for (size_t i = 1; i < c->argc && n < 128; i++) {
        int k =
            snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                     (int)(c->argv[i].len < 128 - n ? c->argv[i].len : 128 - n),
                     c->argv[i].p);
        if (k < 0)
            break;
        n += (size_t)k < sizeof(args) - n ? (size_t)k : sizeof(args) - n - 1;
    }
    out_err(c, "unknown command '%.*s', with args beginning with: %s",
            (int)(c->argv[0].len < 128 ? c->argv[0].len : 128), c->argv[0].p,
            args);
}

static void execute(struct conn *c)
{
    const struct command *cmd = NULL;

    S.commands++;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (arg_is(&c->argv[0], commands[i].name)) {
            cmd = &commands[i];
            break;
        }
    if (!cmd) {
        unknown_command(c);
        return;
    }
    if ((cmd->arity > 0 && c->argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && c->argc < (size_t)-cmd->arity)) {
        out_err(c, wrong_args, cmd->name);
        return;
    }
    cmd->fn(c);
}

/* Write the gathered replies and wait for the stream to take them. */
static int flush(struct conn *c)
{
    int rc;

    if (c->olen == 0)
        return 0;
    rc = tulip_stream_write(c->s, c->out, c->olen);
    c->olen = 0;
    if (c->ocap > 4 * OUT_FLUSH) { /* a big reply went: give it back */
        free(c->out);
        c->out = NULL;
        c->ocap = 0;
    }
    return rc ? rc : tulip_stream_drain(c->s);
}

/*
 * Make room to read: keep the unparsed bytes, at the front, and have at
 * least IN_READ_MIN free (more if the request in progress needs it).
 * need: the bytes the request in progress needs, counted from its start.
 * Returns false, after an error reply, if that passes --max-query.
 */
static bool make_room(struct conn *c, size_t need)
{
    size_t rest = c->len - c->off, cap = c->cap, want;

    memmove(c->in, c->in + c->off, rest);
    c->len = rest;
    c->off = 0;
    if (need > S.cfg.max_query || rest >= S.cfg.max_query) {
        out_err(c, "Protocol error: request over %zu bytes", S.cfg.max_query);
        c->proto_err = true;
        return false;
    }
    want = need > rest + IN_READ_MIN ? need : rest + IN_READ_MIN;
    if (want > S.cfg.max_query)
        want = S.cfg.max_query;
    if (cap < want) {
        while (cap < want)
            cap *= 2;
        if (cap > S.cfg.max_query)
            cap = S.cfg.max_query;
    } else if (cap > 8 * IN_START && want <= IN_START) {
        cap = IN_START; /* a big request went: give its memory back */
    } else {
        return true;
    }
    char *in = realloc(c->in, cap);
    if (!in) {
        c->oom = true;
        return false;
    }
    c->in = in;
    c->cap = cap;
    return true;
}

/*
 * After a protocol error: half-close, then swallow what the client still
 * sends (up to LINGER_BYTES, for LINGER_NS), so that closing with unread
 * input does not make the kernel answer with a reset, which would destroy
 * the error reply before the client reads it (HTTP servers' lingering
 * close).
 */
static void linger(struct conn *c)
{
    int64_t deadline = tulip_now() + LINGER_NS;
    size_t total = 0;
    ssize_t n;

    if (tulip_stream_write_eof(c->s) < 0)
        return;
    while (total < LINGER_BYTES) {
        n = tulip_stream_read_until(c->s, c->in, c->cap, deadline);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

/* Parse and run every whole request buffered; false to close. */
static bool run_requests(struct conn *c, size_t *need)
{
    struct resp_req req = {.argv = S.argv};

    *need = 0;
    while (c->off < c->len) {
        long r = resp_parse(c->in + c->off, c->len - c->off, &S.cfg.lim, &req);
        if (r == RESP_MORE) {
            *need = req.need;
            return true;
        }
        if (r == RESP_ERR) {
            out_err(c, "%s", req.err);
            c->proto_err = true;
            return false;
        }
        c->off += (size_t)r;
        c->requests++;
        c->argv = req.argv;
        c->argc = req.argc;
        if (c->argc)
            execute(c);
        if (c->oom || c->quit)
            return false;
        if (c->olen >= OUT_FLUSH && flush(c) < 0)
            return false;
    }
    return true;
}

static int serve_conn(tulip_stream *s, void *arg)
{
    struct conn c = {.s = s, .cap = IN_START};
    int64_t idle = S.cfg.idle_ms * TULIP_MSEC, deadline = TULIP_FOREVER;
    uint64_t done = 0;
    size_t need;
    ssize_t n;

    (void)arg;
    S.conns++;
    c.in = malloc(c.cap);
    if (!c.in)
        return 0; /* the server closes the connection */
    for (;;) {
        bool go_on = run_requests(&c, &need);
        if (flush(&c) < 0 || !go_on || !make_room(&c, need))
            break;
        /* --idle-ms: a whole request must come within it, so that a
         * client trickling bytes is closed too (Redis's timeout). */
        if (idle && (deadline == TULIP_FOREVER || c.requests != done)) {
            deadline = tulip_now() + idle;
            done = c.requests;
        }
        n = tulip_stream_read_until(s, c.in + c.len, c.cap - c.len, deadline);
        if (n <= 0)
            break;
        c.len += (size_t)n;
    }
    if (flush(&c) == 0 && c.proto_err) /* the error reply */
        linger(&c);
    free(c.in);
    free(c.out);
    return 0;
}

/* ---- the server's tasks ---------------------------------------------- */

static int sweeper(void *arg)
{
    (void)arg;
    while (tulip_sleep(S.cfg.sweep_ms * TULIP_MSEC) == 0)
        db_sweep(&S.db);
    return 0;
}

static int serve(void *arg)
{
    struct tulip_server_opts o = {.host = S.cfg.host, .port = S.cfg.port};
    struct tulip_scope scope;
    tulip_task *sweep;
    int rc, sig, left;

    (void)arg;
    o.linger_ns = GRACE_NS;
    rc = tulip_server_start(&S.srv, serve_conn, NULL, &o);
    if (rc) {
        fprintf(stderr, "resp_server: %s\n", tulip_strerror(rc));
        return 1;
    }
    rc = tulip_spawn(&sweep, NULL, sweeper, NULL);
    if (rc) {
        fprintf(stderr, "resp_server: %s\n", tulip_strerror(rc));
        tulip_server_free(S.srv);
        return 1;
    }
    printf("listening on port %d\n", tulip_server_port(S.srv));
    fflush(stdout);

    /* SIGTERM comes here; tulip_run() turns SIGINT into cancelling this
     * task, which ends the wait with -ECANCELED. Either way, shut down in
     * a shield (cancellation is level-triggered) with a deadline. */
    sig = tulip_signal_wait(SIGTERM);
    tulip_scope_enter(&scope, tulip_now() + GRACE_NS + TULIP_SEC,
                      TULIP_SCOPE_SHIELD);
    tulip_server_stop(S.srv);
    tulip_server_close_clients(S.srv); /* replies made are still flushed */
    left = tulip_server_close(S.srv, GRACE_NS);
    tulip_task_cancel(sweep);
    tulip_task_join(sweep, NULL);
    tulip_scope_exit(&scope);
    tulip_task_release(sweep);
    tulip_server_free(S.srv);
    printf("shutdown (%s): %llu connections, %llu commands, %zu keys, "
           "%llu expired, %d handlers cancelled\n",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)S.conns,
           (unsigned long long)S.commands, S.db.count,
           (unsigned long long)S.db.expired, left < 0 ? 0 : left);
    fflush(stdout);
    return 0;
}

/* A size argument: digits, at least min. */
static bool parse_size(const char *s, size_t min, size_t *out)
{
    int64_t v;

    if (!resp_str2ll(s, strlen(s), &v) || v < (int64_t)min)
        return false;
    *out = (size_t)v;
    return true;
}

int main(int argc, char **argv)
{
    size_t sweep = 100, idle = 0;
    int result = 1;

    S.cfg = (struct config){
        .host = "127.0.0.1",
        .port = "6379",
        .lim = {.max_bulk = 1024 * 1024,
                .max_args = 4096,
                .max_inline = MAX_INLINE},
        .max_query = 16 * 1024 * 1024,
    };
    for (int i = 1; i < argc; i++) {
        bool ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--port") == 0)
            S.cfg.port = argv[++i];
        else if (ok && strcmp(argv[i], "--host") == 0)
            S.cfg.host = argv[++i];
        else if (ok && strcmp(argv[i], "--max-bulk") == 0)
            ok = parse_size(argv[++i], 1, &S.cfg.lim.max_bulk);
        else if (ok && strcmp(argv[i], "--max-args") == 0)
            ok = parse_size(argv[++i], 1, &S.cfg.lim.max_args);
        else if (ok && strcmp(argv[i], "--max-query") == 0)
            ok = parse_size(argv[++i], IN_START, &S.cfg.max_query);
        else if (ok && strcmp(argv[i], "--sweep-ms") == 0)
            ok = parse_size(argv[++i], 1, &sweep);
        else if (ok && strcmp(argv[i], "--idle-ms") == 0)
            ok = parse_size(argv[++i], 0, &idle);
        else
            ok = false;
        if (!ok) {
            fprintf(stderr,
                    "usage: %s [--host H] [--port N] [--max-bulk BYTES] "
                    "[--max-args N] [--max-query BYTES] [--sweep-ms MS] "
                    "[--idle-ms MS]\n",
                    argv[0]);
            return 2;
        }
    }
    S.cfg.sweep_ms = (int64_t)sweep;
    S.cfg.idle_ms = (int64_t)idle;
    if (S.cfg.lim.max_inline > S.cfg.max_query - 2)
        S.cfg.lim.max_inline = S.cfg.max_query - 2; /* the line and CRLF */
    S.argv = calloc(S.cfg.lim.max_args, sizeof(*S.argv));
    if (!S.argv || db_init(&S.db) < 0) {
        fprintf(stderr, "resp_server: out of memory\n");
        return 1;
    }
    tulip_run(serve, NULL, &result, NULL); /* -EINTR after a SIGINT */
    db_free(&S.db);
    free(S.argv);
    return result;
}
