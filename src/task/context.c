/* SPDX-License-Identifier: MIT */
/*
 * Task-local storage with Python's contextvars semantics (PEP 567): context
 * variables, contexts, tokens, and how tasks and callbacks inherit them.
 *
 * A context (struct tulip_context) points to an immutable map from
 * variables to value records; copying a context shares the map (a
 * reference), and a set builds a new map with one entry changed. Maps are
 * small sorted arrays: a program sets a handful of variables, so a set
 * copying n pointers beats a HAMT. A value record (struct cvcell) is
 * shared by every map that holds it and counted, so that the variable's
 * destructor runs on the value exactly once, when the last map (or token)
 * lets go of it.
 *
 * Where the current context lives:
 *   - a task: an index into its loop's table of contexts (t->ctx, 0 for
 *     the empty context): 4 bytes in the task object, which has no room
 *     for a pointer, and nothing to do on a task switch, since the current
 *     task tells which entry is current;
 *   - a callback of call_soon/call_later/call_at: the context captured
 *     when it was scheduled, in cb_ctx while it runs. The loop layer asks
 *     us, through tulip__cbwrap, to wrap a callback scheduled from a
 *     non-empty context into a trampoline that carries a copy; a callback
 *     scheduled from an empty one runs bare, and if it sets a variable,
 *     that goes to a fresh context (stray) that the loop drops when the
 *     callback returns;
 *   - anything else on the thread (no loop running): the root context.
 * tulip__cbwrap stays NULL until the first set in the process, so until
 * then call_soon, spawn and the handle runners pay one predicted branch.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>
#include <string.h>

struct tulip_ctxvar {
    unsigned long refs;         /* the creator's, plus one per value record */
    void *dflt;                 /* what get returns where it is unset */
    tulip_ctxvar_dtor_fn *dtor; /* destructor of values, or NULL */
};

/* One value set: shared by the maps that hold it (and tokens). */
struct cvcell {
    unsigned long refs;
    tulip_ctxvar *var; /* a reference */
    void *value;
};

/* An immutable map, sorted by variable address. Never empty: the empty
 * map is NULL. */
struct cvmap {
    unsigned long refs;
    uint32_t n;         /* entries */
    struct cvcell *e[]; /* each a reference */
};

struct tulip_context {
    unsigned long refs;    /* holders: a slot, the caller, tokens */
    struct cvmap *map;     /* NULL: empty */
    int entered;           /* in tulip_context_run() */
    tulip_context *saved;  /* while entered: what the slot held before */
    tulip_callback_fn *fn; /* a wrapped callback: the user's */
    void *arg;             /* and its argument */
};

/* A loop's table of task contexts, in tulip__tasks.contexts. Entry 0 is
 * unused (the empty context); free entries hold (next << 1) | 1. */
struct cvtable {
    tulip_context **v;
    uint32_t cap;
    uint32_t free_head; /* 0: none */
};

/* The largest index: t->ctx has 24 bits. */
#define TABLE_MAX 0xffffffu

static TULIP_TLS tulip_context *cb_ctx; /* running wrapped callback's */
/* A bare callback's context, once it set a variable: tulip__cb_local,
 * which the loop layer checks after each callback. */
#define stray (*(tulip_context **)&tulip__cb_local)
static TULIP_TLS tulip_context *root; /* the thread's, outside the loop */

/* ---- values and maps ------------------------------------------------------
 */

static void var_release(tulip_ctxvar *var)
{
    if (--var->refs == 0)
        tulip__free(var, sizeof(*var));
}

static void cell_release(struct cvcell *c)
{
    if (!c || --c->refs > 0)
        return;
    tulip_ctxvar *var = c->var;
    void *value = c->value;
    tulip__free(c, sizeof(*c));
    if (var->dtor)
        var->dtor(value);
    var_release(var);
}

static size_t map_bytes(uint32_t n)
{
    return sizeof(struct cvmap) + n * sizeof(struct cvcell *);
}

static void map_release(struct cvmap *m)
{
    if (!m || --m->refs > 0)
        return;
    for (uint32_t i = 0; i < m->n; i++)
        cell_release(m->e[i]);
    tulip__free(m, map_bytes(m->n));
}

static struct cvcell *map_find(const struct cvmap *m, const tulip_ctxvar *var)
{
    if (!m)
        return NULL;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->e[i]->var == var)
            return m->e[i];
    return NULL;
}

/*
 * A new map: m with var's entry replaced by c (a new reference taken
 * here), or removed if c is NULL. *out is NULL for the empty map.
 * Returns 0 or -ENOMEM.
 */
static int map_put(const struct cvmap *m, const tulip_ctxvar *var,
                   struct cvcell *c, struct cvmap **out)
{
    uint32_t n = m ? m->n : 0;
    uint32_t i, j = 0, pos = n;
    bool found = false;

    for (i = 0; i < n; i++) {
        if (m->e[i]->var == var) {
            found = true;
            pos = i;
            break;
        }
        if ((uintptr_t)m->e[i]->var > (uintptr_t)var) {
            pos = i;
            break;
        }
    }
    uint32_t nn = n + (c ? 1u : 0u) - (found ? 1u : 0u);
    if (nn == 0) {
        *out = NULL;
        return 0;
    }
    struct cvmap *r = tulip__alloc(map_bytes(nn));
    if (!r)
        return -ENOMEM;
    r->refs = 1;
    r->n = nn;
    for (i = 0; i < pos; i++)
        r->e[j++] = m->e[i];
    if (c)
        r->e[j++] = c;
    for (i = pos + (found ? 1u : 0u); i < n; i++)
        r->e[j++] = m->e[i];
    for (i = 0; i < nn; i++)
        r->e[i]->refs++;
    *out = r;
    return 0;
}

/* ---- context objects ------------------------------------------------------
 */

static tulip_context *ctx_new(struct cvmap *m)
{
    tulip_context *c = tulip__calloc(sizeof(*c));
    if (!c)
        return NULL;
    c->refs = 1;
    c->map = m;
    if (m)
        m->refs++;
    return c;
}

static void ctx_release(tulip_context *c)
{
    if (!c || --c->refs > 0)
        return;
    struct cvmap *m = c->map;
    tulip__free(c, sizeof(*c));
    map_release(m);
}

/* Give back what a slot holds: the object, and if it is entered (a task
 * destroyed inside tulip_context_run), what the run saved. */
static void slot_drop(tulip_context *c)
{
    while (c) {
        tulip_context *next = c->entered ? c->saved : NULL;
        c->entered = 0;
        c->saved = NULL;
        ctx_release(c);
        c = next;
    }
}

/* ---- the per-loop table of task contexts ----------------------------------
 */

static struct cvtable *table_of(tulip_loop *loop, bool create)
{
    struct tulip__tasks *ts = tulip__tasks_of(loop);
    if (!ts)
        return NULL;
    if (!ts->contexts && create)
        ts->contexts = tulip__calloc(sizeof(struct cvtable));
    return ts->contexts;
}

static bool table_is_free(const tulip_context *c)
{
    return ((uintptr_t)c & 1u) != 0;
}

/* A new entry, holding NULL; 0 if out of memory. */
static uint32_t table_take(tulip_loop *loop)
{
    struct cvtable *tb = table_of(loop, true);
    if (!tb)
        return 0;
    if (!tb->free_head) {
        uint32_t cap = tb->cap ? tb->cap * 2 : 16;
        if (cap - 1 > TABLE_MAX)
            return 0; /* indices must fit t->ctx */
        /* NOLINTBEGIN(bugprone-sizeof-expression): an array of pointers */
        tulip_context **v =
            tulip__realloc(tb->v, tb->cap * sizeof(*v), cap * sizeof(*v));
        /* NOLINTEND(bugprone-sizeof-expression) */
        if (!v)
            return 0;
        for (uint32_t i = cap - 1; i >= (tb->cap ? tb->cap : 1u); i--) {
            v[i] =
                (tulip_context *)(uintptr_t)(((uintptr_t)tb->free_head << 1) |
                                             1u);
            tb->free_head = i;
        }
        v[0] = NULL;
        tb->v = v;
        tb->cap = cap;
    }
    uint32_t i = tb->free_head;
    tb->free_head = (uint32_t)((uintptr_t)tb->v[i] >> 1);
    tb->v[i] = NULL;
    return i;
}

static void table_give(struct cvtable *tb, uint32_t i)
{
    slot_drop(tb->v[i]);
    tb->v[i] =
        (tulip_context *)(uintptr_t)(((uintptr_t)tb->free_head << 1) | 1u);
    tb->free_head = i;
}

/* ---- the current context --------------------------------------------------
 */

static void stray_drop(void)
{
    tulip_context *s = stray;
    stray = NULL;
    slot_drop(s);
}

/* The current context object; NULL for an empty one that has none. */
static tulip_context *cur_ctx(void)
{
    struct tulip_task *t = tulip__task_running();

    if (t)
        return t->ctx ? table_of(t->loop, false)->v[t->ctx] : NULL;
    if (cb_ctx)
        return cb_ctx;
    if (tulip_loop_current())
        return stray;
    return root;
}

/* The variable that holds the current context object, made for a task
 * that had none; NULL if out of memory. */
static tulip_context **cur_slot(void)
{
    struct tulip_task *t = tulip__task_running();

    if (t) {
        if (!t->ctx)
            t->ctx = table_take(t->loop) & TABLE_MAX;
        if (!t->ctx)
            return NULL;
        return &table_of(t->loop, false)->v[t->ctx];
    }
    if (cb_ctx)
        return &cb_ctx;
    if (tulip_loop_current())
        return &stray;
    if (stray)
        stray_drop(); /* left by a callback the loop did not report */
    return &root;
}

/* The object of slot, made if it has none; NULL if out of memory. */
static tulip_context *slot_ctx(tulip_context **slot)
{
    if (!*slot)
        *slot = ctx_new(NULL);
    return *slot;
}

/* An empty context only its slot holds is given back, so that the root
 * and tasks that reset everything hold no memory. */
static void slot_compact(tulip_context **slot)
{
    tulip_context *c = *slot;
    if (c && !c->map && c->refs == 1 && !c->entered) {
        *slot = NULL;
        ctx_release(c);
    }
}

/* ---- the loop's callback wrapping -----------------------------------------
 */

static void cv_trampoline(void *p)
{
    tulip_context *c = p;
    tulip_context *prev = cb_ctx;

    cb_ctx = c;
    c->fn(c->arg);
    cb_ctx = prev;
    ctx_release(c);
}

static int cv_wrap(tulip_callback_fn **fn, void **arg)
{
    tulip_context *cur = cur_ctx();

    if (!cur || !cur->map)
        return 0; /* runs bare, starting empty */
    tulip_context *c = ctx_new(cur->map);
    if (!c)
        return -ENOMEM;
    c->fn = *fn;
    c->arg = *arg;
    *fn = cv_trampoline;
    *arg = c;
    return 0;
}

static void cv_discard(void *arg)
{
    ctx_release(arg);
}

static void cv_after(void)
{
    if (stray)
        stray_drop();
}

static const struct tulip__cbwrap cv_wrapper = {
    cv_wrap,
    cv_trampoline,
    cv_discard,
    cv_after,
};

/* ---- the task layer's side ------------------------------------------------
 */

int tulip__context_inherit(struct tulip_task *t, tulip_loop *loop)
{
    tulip_context *cur = cur_ctx();

    t->ctx = 0;
    if (!cur || !cur->map)
        return 0;
    tulip_context *c = ctx_new(cur->map);
    if (!c)
        return -ENOMEM;
    uint32_t i = table_take(loop);
    if (!i) {
        ctx_release(c);
        return -ENOMEM;
    }
    table_of(loop, false)->v[i] = c;
    t->ctx = i & TABLE_MAX;
    return 0;
}

void tulip__context_task_done(struct tulip_task *t)
{
    if (!t->ctx)
        return;
    uint32_t i = t->ctx;
    t->ctx = 0;
    table_give(table_of(t->loop, false), i);
}

void tulip__context_loop_close(struct tulip__tasks *ts)
{
    struct cvtable *tb = ts->contexts;

    if (stray)
        stray_drop();
    if (!tb)
        return;
    for (uint32_t i = 1; i < tb->cap; i++)
        if (!table_is_free(tb->v[i]))
            slot_drop(tb->v[i]); /* not reached: tasks give theirs back */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tulip__free(tb->v, tb->cap * sizeof(*tb->v));
    tulip__free(tb, sizeof(*tb));
    ts->contexts = NULL;
}

int tulip__context_capture(void **ctx)
{
    tulip_context *cur = cur_ctx();

    *ctx = NULL;
    if (!cur || !cur->map)
        return 0;
    *ctx = ctx_new(cur->map);
    return *ctx ? 0 : -ENOMEM;
}

void *tulip__context_enter(void *ctx)
{
    tulip_context *prev = cb_ctx;

    cb_ctx = ctx;
    return prev;
}

void tulip__context_leave(void *prev)
{
    cb_ctx = prev;
}

void tulip__context_release(void *ctx)
{
    ctx_release(ctx);
}

/* ---- variables ------------------------------------------------------------
 */

int tulip_ctxvar_new(tulip_ctxvar **out, void *default_value,
                     tulip_ctxvar_dtor_fn *dtor)
{
    if (!out)
        return -EINVAL;
    tulip_ctxvar *v = tulip__alloc(sizeof(*v));
    *out = v;
    if (!v)
        return -ENOMEM;
    v->refs = 1;
    v->dflt = default_value;
    v->dtor = dtor;
    return 0;
}

void tulip_ctxvar_free(tulip_ctxvar *var)
{
    if (var)
        var_release(var);
}

void *tulip_ctxvar_get(const tulip_ctxvar *var)
{
    if (!var)
        return NULL;
    tulip_context *c = cur_ctx();
    struct cvcell *cell = c ? map_find(c->map, var) : NULL;
    return cell ? cell->value : var->dflt;
}

int tulip_ctxvar_lookup(const tulip_ctxvar *var, void **out)
{
    if (!var || !out)
        return -EINVAL;
    tulip_context *c = cur_ctx();
    struct cvcell *cell = c ? map_find(c->map, var) : NULL;
    *out = cell ? cell->value : var->dflt;
    return cell ? 0 : -ENOENT;
}

/* Replace var's record in the current context by cell (NULL: unset it);
 * fill tok (if any) with a reference to the record it replaced. */
static int ctx_put(tulip_ctxvar *var, struct cvcell *cell,
                   struct tulip_ctxvar_token *tok)
{
    tulip_context **slot = cur_slot();
    tulip_context *c = slot ? slot_ctx(slot) : NULL;
    struct cvmap *m;

    if (!c)
        return -ENOMEM;
    if (map_put(c->map, var, cell, &m) < 0) {
        slot_compact(slot);
        return -ENOMEM;
    }
    struct cvmap *old_map = c->map;
    struct cvcell *old = map_find(old_map, var);
    if (tok) {
        tok->ctx = c;
        tok->var = var;
        tok->old = old;
        tok->state = 1;
        c->refs++;
        if (old)
            old->refs++;
    }
    c->map = m;
    map_release(old_map); /* may destroy the old value */
    slot = cur_slot();    /* a destructor may have moved the table */
    if (slot)
        slot_compact(slot);
    return 0;
}

int tulip_ctxvar_set(tulip_ctxvar *var, void *value,
                     struct tulip_ctxvar_token *tok)
{
    if (!var)
        return -EINVAL;
    if (tulip__unlikely(!__atomic_load_n(&tulip__cbwrap, __ATOMIC_RELAXED)))
        __atomic_store_n(&tulip__cbwrap, &cv_wrapper, __ATOMIC_RELAXED);
    struct cvcell *cell = tulip__alloc(sizeof(*cell));
    if (!cell)
        return -ENOMEM;
    cell->refs = 1;
    cell->var = var;
    cell->value = value;
    var->refs++;
    int rc = ctx_put(var, cell, tok);
    if (rc < 0) {
        var->refs--;
        tulip__free(cell, sizeof(*cell));
        return rc;
    }
    cell->refs--; /* the map's reference is the one left */
    return 0;
}

void tulip_ctxvar_token_drop(struct tulip_ctxvar_token *tok)
{
    if (!tok || tok->state != 1)
        return;
    tok->state = 2;
    cell_release(tok->old);
    ctx_release(tok->ctx);
    if (tok->ctx == root)
        slot_compact(&root);
    tok->old = NULL;
    tok->ctx = NULL;
}

int tulip_ctxvar_reset(tulip_ctxvar *var, struct tulip_ctxvar_token *tok)
{
    if (!var || !tok || (tok->state == 1 && tok->var != var))
        return -EINVAL;
    if (tok->state != 1)
        return -EALREADY;
    if (tok->ctx != cur_ctx())
        return -EXDEV;
    int rc = ctx_put(var, tok->old, NULL);
    if (rc < 0)
        return rc;
    tulip_ctxvar_token_drop(tok);
    tulip_context **slot = cur_slot();
    if (slot)
        slot_compact(slot);
    return 0;
}

/* ---- contexts -------------------------------------------------------------
 */

int tulip_context_copy(tulip_context **out)
{
    if (!out)
        return -EINVAL;
    tulip_context *cur = cur_ctx();
    *out = ctx_new(cur ? cur->map : NULL);
    return *out ? 0 : -ENOMEM;
}

void tulip_context_free(tulip_context *ctx)
{
    ctx_release(ctx);
}

int tulip_context_lookup(const tulip_context *ctx, const tulip_ctxvar *var,
                         void **out)
{
    if (!ctx || !var || !out)
        return -EINVAL;
    struct cvcell *cell = map_find(ctx->map, var);
    *out = cell ? cell->value : var->dflt;
    return cell ? 0 : -ENOENT;
}

int tulip_context_run(tulip_context *ctx, tulip_callback_fn *fn, void *arg)
{
    if (!ctx || !fn)
        return -EINVAL;
    if (ctx->entered)
        return -EBUSY;
    tulip_context **slot = cur_slot();
    if (!slot)
        return -ENOMEM;
    ctx->refs++; /* the slot's, while entered */
    ctx->entered = 1;
    ctx->saved = *slot;
    *slot = ctx;
    fn(arg);
    slot = cur_slot(); /* the table may have moved meanwhile */
    *slot = ctx->saved;
    ctx->saved = NULL;
    ctx->entered = 0;
    ctx_release(ctx);
    return 0;
}
