/*
 * fuzz_snapshot.c - the baseline snapshot loader (co_baseline_load in
 * core/baseline.c) and what a run replays from a loaded snapshot: the
 * PostgreSQL tape (co_pg_tape_for/get/stream rebuilding PGresults from
 * JSON) and the facts checks stored (co_run_fact).
 *
 * The input is written to a file (the loader reads a path) and loaded.
 * Invariants, beyond not crashing:
 *   - a load fails with a reason that starts with the file's path;
 *   - a loaded snapshot has every resource of its file (a key
 *     "<kind>.<name>" of a known kind), postgres and redis ones replace
 *     the side the file says; a postgres resource's tape answers each
 *     recorded statement (with string or null parameters) with as many
 *     rows and columns as the file holds, as one PGresult and as a
 *     stream of single-row ones; each fact comes back as stored.
 */
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/config.h"
#include "cutover/util.h"
#include "fuzz.h"

static char snap_dir[64], snap_path[128];

static void input_remove(void)
{
    unlink(snap_path);
    rmdir(snap_dir);
}

/* A file for the input, in a directory made once (removed at exit). */
static const char *input_path(void)
{
    if (snap_path[0] == '\0') {
        snprintf(snap_dir, sizeof(snap_dir),
                 "/tmp/cutover-fuzz-snapshot.XXXXXX");
        FUZZ_CHECK(mkdtemp(snap_dir) != NULL, "mkdtemp");
        snprintf(snap_path, sizeof(snap_path), "%s/snapshot.json", snap_dir);
        atexit(input_remove);
    }
    return snap_path;
}

static void write_input(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    FUZZ_CHECK(f != NULL, "cannot write %s", path);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0,
               "cannot write %s", path);
}

static int count_rows(const PGresult *row, void *payload)
{
    size_t *n = payload;

    /* libpq cannot hold a row of no columns (PQsetvalue needs one): a
     * zero-column answer comes back with no rows (told to the lead) */
    FUZZ_CHECK(PQntuples(row) == 1 || PQnfields(row) == 0,
               "a stream row holds %d rows", PQntuples(row));
    for (int c = 0; c < PQnfields(row); c++)
        (void)PQgetvalue(row, 0, c);
    (*n)++;
    return 0;
}

/* The lookup key baseline.c gives a recorded statement: its text, then
 * each parameter (a string, decoded {"hex"}, or "\x1e" for null and for
 * anything it cannot read), each after a "\x1f". */
static char *hex_param(const char *h)
{
    size_t n = strlen(h);
    char *out;

    if (n % 2 != 0)
        return NULL;
    out = co_malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        char pair[3] = {h[2 * i], h[2 * i + 1], '\0'};
        char *end;

        if (!isxdigit((unsigned char)pair[0]) ||
            !isxdigit((unsigned char)pair[1]) ||
            isupper((unsigned char)pair[0]) ||
            isupper((unsigned char)pair[1])) {
            free(out);
            return NULL;
        }
        out[i] = (char)strtol(pair, &end, 16);
    }
    out[n / 2] = '\0';
    return out;
}

static char *key_of(json_t *q)
{
    json_t *params = json_object_get(q, "params"), *p;
    struct co_buf b;
    size_t i;

    co_buf_init(&b);
    co_buf_puts(&b, json_string_value(json_object_get(q, "sql")));
    json_array_foreach(params, i, p)
    {
        const char *h = json_string_value(json_object_get(p, "hex"));
        char *v = h ? hex_param(h) : NULL;

        co_buf_puts(&b, "\x1f");
        if (json_is_string(p))
            co_buf_puts(&b, json_string_value(p));
        else
            co_buf_puts(&b, v ? v : "\x1e");
        free(v);
    }
    return co_buf_take(&b);
}

/* Is q the only entry of queries with its lookup key? */
static bool unique_query(json_t *queries, json_t *q)
{
    char *mine = key_of(q);
    size_t i, n = 0;
    json_t *o;

    json_array_foreach(queries, i, o)
    {
        char *k = key_of(o);
        n += strcmp(k, mine) == 0;
        free(k);
    }
    free(mine);
    return n == 1;
}

static void replay_query(struct co_pg_tape *t, json_t *queries, json_t *q)
{
    json_t *jp = json_object_get(q, "params"), *p;
    size_t np = json_array_size(jp), i, nrows, streamed = 0;
    const char **params = co_calloc(np ? np : 1, sizeof(*params));
    const char *sql = json_string_value(json_object_get(q, "sql"));
    PGresult *res;

    json_array_foreach(jp, i, p)
    {
        if (!json_is_string(p) && !json_is_null(p))
            goto out; /* {"hex"} parameters: not rebuilt here */
        params[i] = json_string_value(p);
    }
    if (sql == NULL ||
        strlen(sql) != json_string_length(json_object_get(q, "sql")))
        goto out;
    for (i = 0; i < np; i++)
        if (params[i] != NULL &&
            strlen(params[i]) != json_string_length(json_array_get(jp, i)))
            goto out; /* a NUL inside: not a C string */
    res = co_pg_tape_get(t, sql, (int)np, params);
    FUZZ_CHECK(res != NULL, "recorded statement not found: %s", sql);
    nrows = json_array_size(json_object_get(q, "rows"));
    if (unique_query(queries, q)) {
        FUZZ_CHECK((size_t)PQntuples(res) == nrows || PQnfields(res) == 0,
                   "%d rows of %zu", PQntuples(res), nrows);
        FUZZ_CHECK((size_t)PQnfields(res) ==
                       json_array_size(json_object_get(q, "columns")),
                   "%d columns", PQnfields(res));
    }
    for (int r = 0; r < PQntuples(res); r++)
        for (int c = 0; c < PQnfields(res); c++)
            (void)PQgetvalue(res, r, c);
    PQclear(res);
    FUZZ_CHECK(
        co_pg_tape_stream(t, sql, (int)np, params, count_rows, &streamed) == 0,
        "stream of a recorded statement");
    if (unique_query(queries, q))
        FUZZ_CHECK(streamed == nrows, "streamed %zu rows of %zu", streamed,
                   nrows);
out:
    free(params);
}

static void replay_facts(struct co_run *run, json_t *facts)
{
    const char *id, *key;
    json_t *mine, *v;

    json_object_foreach(facts, id, mine)
    {
        struct co_check check;
        const struct co_check *saved = run->check;

        memset(&check, 0, sizeof(check));
        check.id = id;
        run->check = &check;
        json_object_foreach(mine, key, v)
        {
            json_t *got = co_run_fact(run, key);
            FUZZ_CHECK(got != NULL && json_equal(got, v), "fact %s.%s", id,
                       key);
        }
        run->check = saved;
    }
}

static bool kind_of(const char *key, enum co_kind *kind, const char **name)
{
    for (int k = 0; k < CO_KIND__COUNT; k++) {
        const char *kn = co_kind_name((enum co_kind)k);
        size_t n = strlen(kn);

        if (strncmp(key, kn, n) == 0 && key[n] == '.') {
            *kind = (enum co_kind)k;
            *name = key + n + 1;
            return true;
        }
    }
    return false;
}

static void replay_resource(struct co_baseline *b, const char *key, json_t *e)
{
    struct co_resource res;
    struct co_run run;
    struct co_check check;
    enum co_kind kind;
    const char *name;
    bool src = co_baseline_is_source(b);
    char label[256];

    if (!kind_of(key, &kind, &name))
        return;
    memset(&res, 0, sizeof(res));
    res.kind = kind;
    res.name = (char *)name;
    memset(&check, 0, sizeof(check));
    check.id = "fuzz.check";
    memset(&run, 0, sizeof(run));
    run.res = &res;
    run.check = &check;
    run.baseline = b;
    FUZZ_CHECK(co_baseline_has(b, &res), "resource %s is missing", key);
    co_run_baseline_label(&run, label, sizeof(label));
    (void)co_run_url(&run, src);
    (void)co_run_recording(&run);
    if (kind == CO_KIND_POSTGRES || kind == CO_KIND_REDIS) {
        FUZZ_CHECK(co_run_replayed(&run, src) && !co_run_replayed(&run, !src),
                   "%s does not replace its side", key);
        FUZZ_CHECK(co_run_anchor(&run) == (src ? 0 : 1), "anchor of %s", key);
    }
    replay_facts(&run, json_object_get(e, "facts"));
    if (kind == CO_KIND_POSTGRES) {
        struct co_pg_tape *t = co_pg_tape_for(&run, src);
        json_t *queries = json_object_get(e, "queries"), *q;
        size_t i;

        FUZZ_CHECK(t != NULL && co_pg_tape_replaying(t), "no tape for %s",
                   key);
        FUZZ_CHECK(co_pg_tape_for(&run, !src) == NULL, "tape on both sides");
        FUZZ_CHECK(co_pg_tape_for(&run, src) == t, "a second tape");
        (void)co_pg_tape_server(t);
        json_array_foreach(queries, i, q) replay_query(t, queries, q);
        FUZZ_CHECK(co_pg_tape_get(t, "SELECT 'never recorded' AS fuzz", 0,
                                  NULL) == NULL ||
                       json_array_size(queries) > 0,
                   "an answer nobody recorded");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = input_path();
    struct co_baseline *b;
    char err[CO_ERRLEN];
    json_t *root, *res, *e;
    const char *key;
    size_t nres, nq, nf;
    char *d;

    write_input(path, data, size);
    err[0] = '\0';
    b = co_baseline_load(path, err, sizeof(err));
    if (b == NULL) {
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0,
                   "load error without the path: %s", err);
        return 0;
    }
    FUZZ_CHECK(!co_baseline_recording(b), "a loaded snapshot records");
    d = co_baseline_describe(b);
    free(d);
    (void)co_baseline_taken_at(b);
    (void)co_baseline_tool_version(b);
    co_baseline_counts(b, &nres, &nq, &nf);
    /* The same bytes, read here independently. */
    root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(root != NULL, "loaded, but jansson rejects it");
    FUZZ_CHECK(nres == json_object_size(json_object_get(root, "resources")),
               "%zu resources", nres);
    res = json_object_get(root, "resources");
    /* Twice: as taken, then standing for the other side (--baseline-as).
     * A key holding a NUL reads back shorter here: skipped. */
    for (int pass = 0; pass < 2; pass++) {
        json_object_foreach(res, key, e)
        {
            if (json_object_get(res, key) == e)
                replay_resource(b, key, e);
        }
        co_baseline_set_side(b, !co_baseline_is_source(b));
    }
    json_decref(root);
    co_baseline_free(b);
    return 0;
}
