/*
 * pg_query.c - the `pg.query` check: user-declared read-only SQL that
 * must give the same result on both sides ("SELECT count(*) FROM
 * orders WHERE status = 'open'"), or a declared value (`expect:`).
 *
 * Each statement of the `sql` list is one case, named by the statement
 * (its first 60 characters) or by a "name: SQL" prefix. Statements are
 * checked before anything is sent: one statement, starting with SELECT,
 * WITH, VALUES, SHOW or TABLE, and no INSERT/UPDATE/DELETE/MERGE/
 * TRUNCATE/INTO word outside quotes and comments. The session is
 * read-only anyway (SQLSTATE 25006 for what slips through, e.g. FOR
 * UPDATE); the scan means a write never even reaches the server log.
 *
 * Results are streamed row by row (co_pg_stream). Every row is hashed
 * (SHA-256 of an unambiguous encoding of its fields); the result is
 * compared by row count and by the sum of row hashes (a multiset: row
 * order does not matter) or, when the statement has a top-level ORDER
 * BY, by a digest of the row hashes in order. Up to `max_rows` rows per
 * side are also kept so a failure can show the first differing row;
 * beyond that memory stays flat and the verdict comes from the hashes.
 * Column names are compared too.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"

#define QUERY_NAME_MAX 60  /* characters of a statement in a case name */
#define QUERY_SHOW_MAX 200 /* bytes of a row shown in a message */

static const struct co_param query_params[] = {
    {"sql", CO_P_LIST, NULL,
     "read-only statements (SELECT, WITH, VALUES, SHOW, TABLE), one case "
     "each; \"name: SQL\" names the case"},
    {"expect", CO_P_STRING, NULL,
     "compare a one-row, one-column result with this value instead of "
     "comparing the two sides"},
    {"side", CO_P_STRING, "both",
     "where to run the statements: both, source or target"},
    {"max_rows", CO_P_INT, "10000",
     "rows kept per side to show the first difference (results are "
     "compared by hash beyond it)"},
    {0},
};

/* ---- the statement scanner ------------------------------------------ */

/* What the scanner found in one statement. */
struct scan {
    const char *first;  /* the first keyword (lower case) or NULL */
    bool several;       /* more than one statement */
    bool ordered;       /* a top-level ORDER BY */
    const char *writes; /* a data-modifying keyword, or NULL */
    char firstbuf[16];
};

static size_t skip_comment(const char *s, size_t i)
{
    if (s[i] == '-' && s[i + 1] == '-') {
        while (s[i] != '\0' && s[i] != '\n')
            i++;
        return i;
    }
    if (s[i] == '/' && s[i + 1] == '*') {
        int depth = 0;
        do {
            if (s[i] == '/' && s[i + 1] == '*') {
                depth++;
                i += 2;
            } else if (s[i] == '*' && s[i + 1] == '/') {
                depth--;
                i += 2;
            } else {
                i++;
            }
        } while (s[i] != '\0' && depth > 0);
    }
    return i;
}

/* Past a quoted literal or identifier starting at s[i] (a quote). */
static size_t skip_quoted(const char *s, size_t i, bool backslash)
{
    char q = s[i++];

    while (s[i] != '\0') {
        if (backslash && s[i] == '\\' && s[i + 1] != '\0') {
            i += 2;
            continue;
        }
        if (s[i] == q) {
            if (s[i + 1] != q)
                return i + 1;
            i++;
        }
        i++;
    }
    return i;
}

/* Past a dollar-quoted string ($tag$...$tag$) at s[i], or i when s[i]
 * starts no such quote (a parameter like $1). */
static size_t skip_dollar(const char *s, size_t i)
{
    size_t j = i + 1, taglen;
    const char *end;
    char tag[64];

    while (isalnum((unsigned char)s[j]) || s[j] == '_')
        j++;
    if (s[j] != '$' || isdigit((unsigned char)s[i + 1]))
        return i;
    taglen = j - i + 1;
    if (taglen >= sizeof(tag))
        return i;
    memcpy(tag, s + i, taglen);
    tag[taglen] = '\0';
    end = strstr(s + j + 1, tag);
    return end ? (size_t)(end - s) + taglen : strlen(s);
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' ||
           (unsigned char)c >= 0x80;
}

static const char *const write_words[] = {
    "insert", "update", "delete", "merge", "truncate", "into", "copy"};

/* One word of the statement (lower-cased in w) at paren depth. */
static void scan_word(struct scan *sc, const char *w, int depth, char *prev)
{
    if (sc->first == NULL) {
        snprintf(sc->firstbuf, sizeof(sc->firstbuf), "%s", w);
        sc->first = sc->firstbuf;
    }
    for (size_t k = 0; k < sizeof(write_words) / sizeof(*write_words); k++)
        if (sc->writes == NULL && strcmp(w, write_words[k]) == 0)
            sc->writes = write_words[k];
    if (depth == 0 && strcmp(prev, "order") == 0 && strcmp(w, "by") == 0)
        sc->ordered = true;
    snprintf(prev, 16, "%s", w);
}

/* Scans a statement outside quotes and comments: its first keyword,
 * whether a second statement follows a ';', a top-level ORDER BY and
 * data-modifying words. */
static void scan_sql(const char *s, struct scan *sc)
{
    size_t i = 0;
    int depth = 0;
    bool ended = false;
    char prev[16] = "";

    memset(sc, 0, sizeof(*sc));
    while (s[i] != '\0') {
        char c = s[i];
        size_t j;
        if ((c == '-' && s[i + 1] == '-') || (c == '/' && s[i + 1] == '*')) {
            i = skip_comment(s, i);
            continue;
        }
        if (isspace((unsigned char)c)) {
            i++;
            continue;
        }
        if (ended) {
            sc->several = true;
            return;
        }
        if (c == '\'' || c == '"') {
            bool esc =
                c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
            i = skip_quoted(s, i, esc);
            prev[0] = '\0';
        } else if (c == '$' && (j = skip_dollar(s, i)) != i) {
            i = j;
            prev[0] = '\0';
        } else if (is_word_char(c)) {
            char w[16];
            size_t n = 0;
            for (j = i; is_word_char(s[j]); j++)
                if (n + 1 < sizeof(w))
                    w[n++] = (char)tolower((unsigned char)s[j]);
            w[n] = '\0';
            scan_word(sc, w, depth, prev);
            i = j;
        } else {
            depth += c == '(';
            depth -= c == ')' && depth > 0;
            ended = c == ';';
            prev[0] = '\0';
            i++;
        }
    }
}

/* NULL when the statement may be sent, else why not. */
static const char *sql_refusal(const char *sql, struct scan *sc)
{
    static const char *const allowed[] = {"select", "with", "values", "show",
                                          "table"};

    scan_sql(sql, sc);
    if (sc->first == NULL)
        return "empty statement";
    if (sc->several)
        return "one statement per entry";
    for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++)
        if (strcmp(sc->first, allowed[i]) == 0)
            return NULL;
    return "it does not start with SELECT, WITH, VALUES, SHOW or TABLE";
}

/* "name: SQL" -> name and SQL; else the statement's first characters,
 * whitespace collapsed. Both allocated. */
static void split_name(const char *entry, char **name, char **sql)
{
    const char *colon = strchr(entry, ':');
    size_t n = colon ? (size_t)(colon - entry) : 0;
    bool named = colon != NULL && n > 0 && n <= QUERY_NAME_MAX &&
                 isspace((unsigned char)colon[1]);
    struct co_buf b;

    for (size_t i = 0; named && i < n; i++)
        if (!isalnum((unsigned char)entry[i]) &&
            strchr("_ .-", entry[i]) == NULL)
            named = false;
    if (named) {
        *name = co_strndup(entry, n);
        *sql = co_strdup(colon + 1);
        return;
    }
    *sql = co_strdup(entry);
    co_buf_init(&b);
    for (const char *p = entry; *p && b.len < QUERY_NAME_MAX; p++) {
        if (isspace((unsigned char)*p)) {
            if (b.len > 0 && b.s[b.len - 1] != ' ')
                co_buf_puts(&b, " ");
            continue;
        }
        co_buf_add(&b, p, 1);
    }
    while (b.len > 0 && b.s[b.len - 1] == ' ')
        b.s[--b.len] = '\0';
    if (strlen(entry) > b.len && b.len >= QUERY_NAME_MAX)
        co_buf_puts(&b, "...");
    *name = b.len ? co_buf_take(&b) : co_strdup("(empty)");
    co_buf_free(&b);
}

/* ---- one side's result ---------------------------------------------- */

/* A row in an unambiguous encoding: per field 0 (NULL) or 1 + 4-byte
 * length + bytes. */
struct row {
    unsigned char *p;
    size_t len;
};

struct result {
    const EVP_MD *md;
    EVP_MD_CTX *row_ctx, *ord_ctx;
    size_t nrows;
    uint64_t sum[2]; /* multiset hash: sums of the row hashes' halves */
    unsigned char ordered[EVP_MAX_MD_SIZE];
    struct co_buf cols; /* "a, b, c" */
    bool have_cols;
    struct row *rows; /* the first max_rows rows */
    size_t nkept, cap, max_rows;
    bool failed; /* out of hashing */
};

static void result_init(struct result *r, const EVP_MD *md, size_t max_rows)
{
    memset(r, 0, sizeof(*r));
    r->md = md;
    r->row_ctx = EVP_MD_CTX_new();
    r->ord_ctx = EVP_MD_CTX_new();
    r->max_rows = max_rows;
    co_buf_init(&r->cols);
    if (r->row_ctx == NULL || r->ord_ctx == NULL ||
        EVP_DigestInit_ex2(r->ord_ctx, md, NULL) != 1)
        r->failed = true;
}

static void result_free(struct result *r)
{
    EVP_MD_CTX_free(r->row_ctx);
    EVP_MD_CTX_free(r->ord_ctx);
    for (size_t i = 0; i < r->nkept; i++)
        free(r->rows[i].p);
    free(r->rows);
    co_buf_free(&r->cols);
}

static void encode_row(const PGresult *res, struct co_buf *b)
{
    for (int c = 0; c < PQnfields(res); c++) {
        unsigned char hdr[5] = {0};
        uint32_t len;
        if (PQgetisnull(res, 0, c)) {
            co_buf_add(b, (const char *)hdr, 1);
            continue;
        }
        len = (uint32_t)PQgetlength(res, 0, c);
        hdr[0] = 1;
        hdr[1] = (unsigned char)(len >> 24);
        hdr[2] = (unsigned char)(len >> 16);
        hdr[3] = (unsigned char)(len >> 8);
        hdr[4] = (unsigned char)len;
        co_buf_add(b, (const char *)hdr, 5);
        co_buf_add(b, PQgetvalue(res, 0, c), len);
    }
}

static void keep_row(struct result *r, struct co_buf *enc)
{
    if (r->nkept == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->rows = co_realloc(r->rows, r->cap * sizeof(*r->rows));
    }
    r->rows[r->nkept].len = enc->len;
    r->rows[r->nkept].p = (unsigned char *)co_buf_take(enc);
    if (r->rows[r->nkept].p == NULL) /* a row without columns */
        r->rows[r->nkept].p = co_calloc(1, 1);
    r->nkept++;
}

static int on_row(const PGresult *res, void *payload)
{
    struct result *r = payload;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    struct co_buf enc;
    uint64_t a = 0, b = 0;

    if (!r->have_cols) {
        for (int c = 0; c < PQnfields(res); c++)
            co_buf_addf(&r->cols, "%s%s", c ? ", " : "", PQfname(res, c));
        r->have_cols = true;
    }
    co_buf_init(&enc);
    encode_row(res, &enc);
    if (EVP_DigestInit_ex2(r->row_ctx, r->md, NULL) != 1 ||
        EVP_DigestUpdate(r->row_ctx, enc.s ? enc.s : "", enc.len) != 1 ||
        EVP_DigestFinal_ex(r->row_ctx, h, &hlen) != 1 || hlen < 16 ||
        EVP_DigestUpdate(r->ord_ctx, h, hlen) != 1) {
        r->failed = true;
        co_buf_free(&enc);
        return 1;
    }
    for (int i = 0; i < 8; i++) {
        a = a << 8 | h[i];
        b = b << 8 | h[8 + i];
    }
    r->sum[0] += a;
    r->sum[1] += b;
    r->nrows++;
    if (r->nkept < r->max_rows)
        keep_row(r, &enc);
    co_buf_free(&enc);
    return 0;
}

static int result_finish(struct result *r)
{
    unsigned int n = 0;

    if (r->failed || EVP_DigestFinal_ex(r->ord_ctx, r->ordered, &n) != 1)
        return -1;
    return 0;
}

/* A row for people: (1, alice, NULL), cut to QUERY_SHOW_MAX bytes. */
static void show_row(const struct row *row, struct co_buf *b)
{
    size_t i = 0, start = b->len;

    co_buf_puts(b, "(");
    while (i < row->len) {
        if (i > 0)
            co_buf_puts(b, ", ");
        if (row->p[i] == 0) {
            co_buf_puts(b, "NULL");
            i++;
            continue;
        }
        uint32_t len = (uint32_t)row->p[i + 1] << 24 |
                       (uint32_t)row->p[i + 2] << 16 |
                       (uint32_t)row->p[i + 3] << 8 | row->p[i + 4];
        co_buf_add(b, (const char *)row->p + i + 5, len);
        i += 5 + len;
    }
    co_buf_puts(b, ")");
    if (b->len - start > QUERY_SHOW_MAX) {
        b->len = start + QUERY_SHOW_MAX;
        b->s[b->len] = '\0';
        co_buf_puts(b, "...");
    }
}

/* ---- comparing ------------------------------------------------------- */

static int row_cmp(const struct row *a, const struct row *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);

    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int row_qsort_cmp(const void *a, const void *b)
{
    return row_cmp(a, b);
}

/* The first row that differs in order: at i, or an extra one. */
static void first_diff_ordered(struct result *r[2], struct co_buf *b)
{
    size_t n = r[0]->nkept < r[1]->nkept ? r[0]->nkept : r[1]->nkept;

    for (size_t i = 0; i < n; i++) {
        if (row_cmp(&r[0]->rows[i], &r[1]->rows[i]) == 0)
            continue;
        co_buf_addf(b, "; first difference at row %zu: source ", i + 1);
        show_row(&r[0]->rows[i], b);
        co_buf_puts(b, ", target ");
        show_row(&r[1]->rows[i], b);
        return;
    }
    for (int s = 0; s < 2; s++)
        if (r[s]->nkept > n) {
            co_buf_addf(b, "; row %zu only on %s: ", n + 1,
                        s ? "target" : "source");
            show_row(&r[s]->rows[n], b);
            return;
        }
}

/* The first row (in sorted order) one side has more often. */
static void first_diff_unordered(struct result *r[2], struct co_buf *b)
{
    size_t i = 0, j = 0;

    for (int s = 0; s < 2; s++)
        qsort(r[s]->rows, r[s]->nkept, sizeof(struct row), row_qsort_cmp);
    while (i < r[0]->nkept || j < r[1]->nkept) {
        int c;
        if (i == r[0]->nkept)
            c = 1;
        else if (j == r[1]->nkept)
            c = -1;
        else
            c = row_cmp(&r[0]->rows[i], &r[1]->rows[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        co_buf_addf(b, "; row only on %s: ", c < 0 ? "source" : "target");
        show_row(c < 0 ? &r[0]->rows[i] : &r[1]->rows[j], b);
        return;
    }
}

struct query {
    struct co_run *run;
    struct co_pg *pg[2]; /* NULL for a side not used */
    const char *expect;
    size_t max_rows;
    const EVP_MD *md;
};

static void compare_sides(struct query *q, const char *name, bool ordered,
                          struct result *r[2])
{
    char cnt[2][32];
    struct co_buf msg;
    bool complete = r[0]->nrows <= q->max_rows && r[1]->nrows <= q->max_rows;

    for (int s = 0; s < 2; s++)
        snprintf(cnt[s], sizeof(cnt[s]), "%zu row%s", r[s]->nrows,
                 r[s]->nrows == 1 ? "" : "s");
    if (r[0]->have_cols && r[1]->have_cols &&
        strcmp(r[0]->cols.s, r[1]->cols.s) != 0) {
        co_case_addf(q->run, CO_FAIL, name, r[0]->cols.s, r[1]->cols.s,
                     "columns differ: source (%s), target (%s)", r[0]->cols.s,
                     r[1]->cols.s);
        return;
    }
    if (r[0]->nrows == r[1]->nrows &&
        (ordered
             ? memcmp(r[0]->ordered, r[1]->ordered,
                      (size_t)EVP_MD_get_size(q->md)) == 0
             : r[0]->sum[0] == r[1]->sum[0] && r[0]->sum[1] == r[1]->sum[1])) {
        co_buf_init(&msg);
        if (r[0]->nrows == 1 && r[0]->nkept == 1)
            show_row(&r[0]->rows[0], &msg); /* the answer itself */
        co_case_addf(q->run, CO_PASS, name, cnt[0], cnt[1],
                     "same result on both sides: %s%s%s", cnt[0],
                     msg.len ? " " : "", msg.len ? msg.s : "");
        co_buf_free(&msg);
        return;
    }
    co_buf_init(&msg);
    co_buf_addf(&msg, "results differ: source %s, target %s", cnt[0], cnt[1]);
    if (!complete)
        co_buf_addf(&msg, "; more than max_rows %zu rows, no row shown",
                    q->max_rows);
    else if (ordered)
        first_diff_ordered(r, &msg);
    else
        first_diff_unordered(r, &msg);
    co_case_addf(q->run, CO_FAIL, name, cnt[0], cnt[1], "%s", msg.s);
    co_buf_free(&msg);
}

/* The single value of a one-row, one-column result ("NULL" for NULL),
 * or a description of the shape that is not. Allocated. */
static char *single_value(const struct result *r, bool *ok)
{
    *ok = false;
    if (r->nrows != 1)
        return co_asprintf("%zu rows", r->nrows);
    if (r->nkept != 1)
        return co_strdup("1 row");
    const struct row *row = &r->rows[0];
    if (row->len == 0)
        return co_strdup("no columns");
    if (row->p[0] == 0) {
        *ok = row->len == 1;
        return co_strdup(row->len == 1 ? "NULL" : "several columns");
    }
    uint32_t len = (uint32_t)row->p[1] << 24 | (uint32_t)row->p[2] << 16 |
                   (uint32_t)row->p[3] << 8 | row->p[4];
    if (row->len != 5 + (size_t)len)
        return co_strdup("several columns");
    *ok = true;
    return co_strndup((const char *)row->p + 5, len);
}

static void compare_expect(struct query *q, const char *name,
                           struct result *r[2])
{
    char *val[2] = {NULL, NULL};
    struct co_buf msg;
    bool pass = true;

    co_buf_init(&msg);
    for (int s = 0; s < 2; s++) {
        bool ok;
        if (q->pg[s] == NULL)
            continue;
        val[s] = single_value(r[s], &ok);
        co_buf_addf(&msg, "%s%s %s%s", msg.len ? ", " : "",
                    s ? "target" : "source", ok ? "" : "returned ", val[s]);
        if (!ok || strcmp(val[s], q->expect) != 0)
            pass = false;
    }
    co_case_addf(q->run, pass ? CO_PASS : CO_FAIL, name, val[0], val[1],
                 "%s (expected %s)", msg.s, q->expect);
    co_buf_free(&msg);
    free(val[0]);
    free(val[1]);
}

/* Runs one statement on the sides in use and adds its case. */
static void run_statement(struct query *q, const char *entry)
{
    struct result res[2], *r[2] = {&res[0], &res[1]};
    struct scan sc;
    char *name, *sql;
    const char *why;
    bool ok = true;

    split_name(entry, &name, &sql);
    why = sql_refusal(sql, &sc);
    if (why == NULL && sc.writes != NULL)
        co_case_addf(q->run, CO_ERROR, name, NULL, NULL,
                     "only read-only queries are allowed: it contains the "
                     "data-modifying keyword %s",
                     sc.writes);
    else if (why != NULL)
        co_case_addf(q->run, CO_ERROR, name, NULL, NULL,
                     "only read-only queries are allowed: %s", why);
    if (why != NULL || sc.writes != NULL) {
        free(name);
        free(sql);
        return;
    }
    for (int s = 0; s < 2; s++) {
        result_init(&res[s], q->md, q->max_rows);
        if (q->pg[s] == NULL || !ok)
            continue;
        if (co_pg_stream(q->pg[s], sql, 0, NULL, on_row, &res[s],
                         q->run->deadline, q->run->cancel) < 0) {
            co_pg_case_error(q->run, name, q->pg[s]);
            ok = false;
        } else if (result_finish(&res[s]) < 0) {
            co_case_addf(q->run, CO_ERROR, name, NULL, NULL,
                         "could not hash the %s result (OpenSSL)",
                         s ? "target" : "source");
            ok = false;
        }
    }
    if (ok && q->expect != NULL)
        compare_expect(q, name, r);
    else if (ok && q->pg[0] != NULL && q->pg[1] != NULL)
        compare_sides(q, name, sc.ordered, r);
    else if (ok)
        co_case_addf(q->run, CO_PASS, name, NULL, NULL,
                     "ran on the %s: %zu row(s)",
                     q->pg[0] ? "source" : "target",
                     q->pg[0] ? res[0].nrows : res[1].nrows);
    result_free(&res[0]);
    result_free(&res[1]);
    free(name);
    free(sql);
}

/* Which sides to use: wanted by `side`, present in the resource. Adds a
 * skip or error case and returns -1 when the check cannot run. */
static int choose_sides(struct query *q, bool use[2])
{
    const struct co_resource *res = q->run->res;
    const char *side = co_param_string(q->run, "side");
    bool want[2];

    if (side == NULL || strcmp(side, "both") == 0) {
        want[0] = want[1] = true;
    } else if (strcmp(side, "source") == 0 || strcmp(side, "target") == 0) {
        want[0] = side[0] == 's';
        want[1] = side[0] == 't';
    } else {
        co_case_addf(q->run, CO_ERROR, res->name, NULL, NULL,
                     "side must be both, source or target, not \"%s\"", side);
        return -1;
    }
    use[0] = want[0] && res->source != NULL;
    use[1] = want[1] && res->target != NULL;
    if ((q->expect == NULL && want[0] && want[1] && !(use[0] && use[1])) ||
        (!use[0] && !use[1])) {
        co_case_addf(q->run, CO_SKIP, res->name, NULL, NULL,
                     "no %s configured (comparing needs both sides; "
                     "`expect:` checks one)",
                     use[0] ? "target" : "source");
        return -1;
    }
    return 0;
}

static int query_run(struct co_run *run)
{
    const struct co_strlist *list = co_param_list(run, "sql");
    struct query q;
    bool use[2];
    int64_t max_rows = co_param_int(run, "max_rows");

    if (list->n == 0) {
        co_case_addf(run, CO_SKIP, run->res->name, NULL, NULL,
                     "no statements declared (checks: pg.query: sql: "
                     "[...])");
        return 0;
    }
    memset(&q, 0, sizeof(q));
    q.run = run;
    q.expect = co_param_string(run, "expect");
    q.max_rows = max_rows > 0 ? (size_t)max_rows : 0;
    if (choose_sides(&q, use) < 0)
        return 0;
    q.md = EVP_sha256();
    for (int s = 0; s < 2; s++)
        if (use[s])
            q.pg[s] = co_pg_connect(run, s == 0);
    /* A side that could not connect refuses every statement: each one
     * gets its `error` case with the reason. */
    for (size_t i = 0; i < list->n && !co_run_cancelled(run); i++)
        run_statement(&q, list->v[i]);
    co_pg_free(q.pg[0]);
    co_pg_free(q.pg[1]);
    return 0;
}

const struct co_check co_check_pg_query = {
    .id = "pg.query",
    .summary = "user-declared read-only SQL gives the same result on both "
               "sides (or the expected value)",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_ALL,
    .params = query_params,
    .run = query_run,
    .flags = CO_CHECK_ONE_SIDED,
};
