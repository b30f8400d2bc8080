/*
 * fuzz_reports.c - the six reporters (reports/) on reports whose check
 * ids, resource names, endpoints, case names, messages, source/target
 * values, statuses and durations come from the input.
 *
 * Input layout (a little program, so mutations keep most of it): strings
 * end at a NUL byte (or the end); numbers are single bytes picking from
 * tables of interesting values. First a flags byte (phase; strict;
 * colour for the text report; JUnit and JSON through
 * co_report_write_file to a file rather than to memory), then ops: an op byte
 * with (op % 4 == 0) starts a result (check id, resource, source?, target?,
 * duration), anything else adds a case to the current one (status, name,
 * message, source?, target?, duration). Bits of the op byte say which optional
 * strings follow.
 *
 * Invariants, beyond not crashing: every reporter returns 0; the JUnit
 * XML parses with libxml2 without a single error and holds one
 * <testsuite> per distinct check id (one when there is none) and one
 * <testcase> per case; the
 * JSON parses with jansson and its summary and cases match the report;
 * the text report without colour is valid UTF-8 holding no control
 * character but newlines, no C1 control and no bidi override; the
 * Markdown stays under GitHub's 64 KiB, is valid UTF-8, and every row of
 * a table has as many cells as the table's first row; the GitHub
 * workflow commands are valid UTF-8 lines, each one `::error title=` or
 * `::warning title=` command with no CR and no unescaped ':' or ',' in
 * its title, at most 10 of each level; the Code Quality JSON is an array
 * with one issue per fail, error and warn case, fingerprints unique.
 */
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "fuzz.h"

#define MAX_RESULTS 64
#define MAX_CASES   512

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t rd_byte(struct reader *r)
{
    uint8_t b;

    if (r->n == 0)
        return 0;
    b = *r->p++;
    r->n--;
    return b;
}

/* The bytes up to the next NUL, as an allocated string. */
static char *rd_str(struct reader *r)
{
    const uint8_t *nul = memchr(r->p, 0, r->n);
    size_t len = nul ? (size_t)(nul - r->p) : r->n;
    char *s = co_strndup((const char *)r->p, len);

    r->p += len;
    r->n -= len;
    if (r->n > 0) { /* the NUL */
        r->p++;
        r->n--;
    }
    return s;
}

static double rd_ms(struct reader *r)
{
    static const double v[] = {0,        0.4,     0.5,    1.5,       999.5,
                               1234.567, 59999.9, 3.6e6,  -1,        -0.0,
                               1e300,    9.1e15,  1e-300, 86400000.5};
    uint8_t b = rd_byte(r);

    if (b == 0xfd)
        return NAN;
    if (b == 0xfe)
        return INFINITY;
    if (b == 0xff)
        return -INFINITY;
    return v[b % (sizeof(v) / sizeof(v[0]))];
}

/* Strings the report borrows (check ids, resource names). */
struct owned {
    char **v;
    size_t n;
};

static const char *own(struct owned *o, char *s)
{
    o->v = co_realloc(o->v, (o->n + 1) * sizeof(*o->v));
    o->v[o->n++] = s;
    return s;
}

static struct co_result *new_result(struct co_report *rep, struct owned *o,
                                    struct reader *r, uint8_t op)
{
    struct co_result *res;

    rep->results =
        co_realloc(rep->results, (rep->nresults + 1) * sizeof(*rep->results));
    res = &rep->results[rep->nresults++];
    memset(res, 0, sizeof(*res));
    res->check = own(o, rd_str(r));
    res->resource = own(o, rd_str(r));
    res->kind = "postgres";
    res->source = (op & 0x10) ? rd_str(r) : NULL;
    res->target = (op & 0x20) ? rd_str(r) : NULL;
    res->duration_ms = rd_ms(r);
    return res;
}

static void add_case(struct co_result *res, struct reader *r, uint8_t op)
{
    enum co_status st = (enum co_status)(rd_byte(r) % CO_NSTATUS);
    char *name = rd_str(r), *msg = rd_str(r);
    char *src = (op & 0x10) ? rd_str(r) : NULL;
    char *tgt = (op & 0x20) ? rd_str(r) : NULL;

    co_result_add(res, st, name, msg, src, tgt, rd_ms(r));
    free(name);
    free(msg);
    free(src);
    free(tgt);
}

static void build(struct co_report *rep, struct owned *o, struct reader *r)
{
    struct co_result *cur = NULL;
    size_t ncases = 0;

    while (r->n > 0 && ncases < MAX_CASES) {
        uint8_t op = rd_byte(r);

        if (op % 4 == 0 || cur == NULL) {
            if (rep->nresults == MAX_RESULTS)
                break;
            cur = new_result(rep, o, r, op);
            if (op % 4 == 0)
                continue;
        }
        add_case(cur, r, op);
        ncases++;
    }
}

/* Runs reporter `name` into a new buffer. */
static char *render(const struct co_report *rep, const char *name, bool color,
                    size_t *len)
{
    const struct co_reporter *w = co_reporter_find(name);
    struct co_report_opts opts = {color, color, false};
    char *text = NULL;
    FILE *f;
    int rc;

    FUZZ_CHECK(w != NULL, "no reporter %s", name);
    f = open_memstream(&text, len);
    FUZZ_CHECK(f != NULL, "open_memstream");
    rc = w->write(rep, &opts, f);
    FUZZ_CHECK(fclose(f) == 0 && rc == 0, "%s reporter failed", name);
    return text;
}

/* A directory for report files, made once: in /dev/shm when there is
 * one, so the fsync of the atomic write costs nothing. */
static char report_dir_path[64];

static void report_dir_remove(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/report.junit", report_dir_path);
    unlink(path);
    snprintf(path, sizeof(path), "%s/report.json", report_dir_path);
    unlink(path);
    rmdir(report_dir_path);
}

static const char *report_dir(void)
{
    char *dir = report_dir_path;

    if (dir[0] == '\0') {
        snprintf(dir, sizeof(report_dir_path),
                 "/dev/shm/cutover-fuzz-reports.XXXXXX");
        if (mkdtemp(dir) == NULL) {
            snprintf(dir, sizeof(report_dir_path),
                     "/tmp/cutover-fuzz-reports.XXXXXX");
            FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        }
        atexit(report_dir_remove);
    }
    return dir;
}

/* The same through co_report_write_file (temporary file, rename), read
 * back from the file. */
static char *render_file(const struct co_report *rep, const char *name,
                         size_t *len)
{
    struct co_report_opts opts = {false, false, false};
    char path[128], err[CO_ERRLEN], *text;
    struct co_buf b;
    char chunk[8192];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/report.%s", report_dir(), name);
    FUZZ_CHECK(
        co_report_write_file(rep, name, &opts, path, err, sizeof(err)) == 0,
        "%s report file: %s", name, err);
    f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL, "cannot read %s back", path);
    co_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        co_buf_add(&b, chunk, n);
    fclose(f);
    *len = b.len;
    text = co_buf_take(&b);
    return text ? text : co_strdup("");
}

/* ---- JUnit -------------------------------------------------------------
 */

static size_t count_elems(xmlNode *n, const char *name)
{
    size_t k = 0;

    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, name) == 0)
            k++;
        k += count_elems(n->children, name);
    }
    return k;
}

static size_t distinct_checks(const struct co_report *rep)
{
    size_t k = 0;

    for (size_t i = 0; i < rep->nresults; i++) {
        size_t j = 0;

        while (j < i && strcmp(rep->results[j].check, rep->results[i].check))
            j++;
        k += j == i;
    }
    return k;
}

static void check_junit(const struct co_report *rep, const char *xml,
                        size_t len, size_t ncases)
{
    xmlDoc *doc;
    xmlNode *root;
    const xmlError *e;
    size_t want;

    xmlResetLastError();
    doc = xmlReadMemory(xml, (int)len, "junit.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING);
    e = xmlGetLastError();
    FUZZ_CHECK(doc != NULL && e == NULL, "JUnit XML does not parse: %s\n%s",
               e && e->message ? e->message : "?", xml);
    root = xmlDocGetRootElement(doc);
    FUZZ_CHECK(root != NULL &&
                   strcmp((const char *)root->name, "testsuites") == 0,
               "root is not <testsuites>");
    /* an empty run still has one (empty) suite, for the schemas */
    want = distinct_checks(rep);
    if (want == 0)
        want = 1;
    FUZZ_CHECK(count_elems(root, "testsuite") == want,
               "%zu <testsuite> for %zu check ids",
               count_elems(root, "testsuite"), distinct_checks(rep));
    FUZZ_CHECK(count_elems(root, "testcase") == ncases,
               "%zu <testcase> for %zu cases", count_elems(root, "testcase"),
               ncases);
    xmlFreeDoc(doc);
}

/* ---- JSON -------------------------------------------------------------- */

static size_t summary_of(json_t *sum, const char *key)
{
    json_t *v = json_object_get(sum, key);

    FUZZ_CHECK(json_is_integer(v), "summary.%s is not an integer", key);
    return (size_t)json_integer_value(v);
}

static void check_json(const struct co_report *rep, const char *text,
                       size_t len)
{
    json_error_t e;
    json_t *root = json_loadb(text, len, 0, &e), *checks, *sum;
    struct co_summary s;

    FUZZ_CHECK(root != NULL, "JSON does not parse: %s (line %d)\n%s", e.text,
               e.line, text);
    checks = json_object_get(root, "checks");
    FUZZ_CHECK(json_is_array(checks) &&
                   json_array_size(checks) == rep->nresults,
               "checks array does not match the %zu results", rep->nresults);
    for (size_t i = 0; i < rep->nresults; i++) {
        json_t *cases = json_object_get(json_array_get(checks, i), "cases");
        FUZZ_CHECK(json_is_array(cases) &&
                       json_array_size(cases) == rep->results[i].ncases,
                   "result %zu: cases do not match", i);
    }
    co_report_summary(rep, &s);
    sum = json_object_get(root, "summary");
    FUZZ_CHECK(summary_of(sum, "passed") == s.passed &&
                   summary_of(sum, "warned") == s.warned &&
                   summary_of(sum, "failed") == s.failed &&
                   summary_of(sum, "errors") == s.errors &&
                   summary_of(sum, "skipped") == s.skipped,
               "summary does not match");
    json_decref(root);
}

/* ---- text and Markdown -------------------------------------------------
 */

/* Decodes one UTF-8 sequence at p (n bytes left): its length, or 0 when
 * the bytes are not valid UTF-8 (overlongs and surrogates included). */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t min;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2, min = 0x80, *cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3, min = 0x800, *cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4, min = 0x10000, *cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

static void check_text(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);

        FUZZ_CHECK(n > 0, "text report: invalid UTF-8 at %zu", i);
        FUZZ_CHECK(cp == '\n' || (cp >= 0x20 && cp != 0x7F),
                   "text report: control 0x%02x at %zu", (unsigned)cp, i);
        FUZZ_CHECK(!(cp >= 0x80 && cp <= 0x9F) &&
                       !(cp >= 0x202A && cp <= 0x202E) &&
                       !(cp >= 0x2066 && cp <= 0x2069),
                   "text report: U+%04X at %zu", (unsigned)cp, i);
        i += n;
    }
}

/* Cells of a Markdown table row: unescaped '|' count. */
static size_t row_pipes(const char *line, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\\')
            i++;
        else if (line[i] == '|')
            k++;
    }
    return k;
}

static void check_markdown(const char *md, size_t len)
{
    const char *line = md;
    size_t want = 0;

    FUZZ_CHECK(len <= 64 * 1024, "Markdown is %zu bytes", len);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)md + i, len - i, &cp);

        FUZZ_CHECK(n > 0, "Markdown: invalid UTF-8 at %zu", i);
        i += n;
    }
    while (line < md + len) {
        const char *nl = memchr(line, '\n', (size_t)(md + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(md + len - line);

        if (n > 0 && line[0] == '|') {
            size_t k = row_pipes(line, n);
            if (want == 0)
                want = k;
            FUZZ_CHECK(k == want, "Markdown row has %zu '|', table %zu: %.*s",
                       k, want, (int)n, line);
            FUZZ_CHECK(memchr(line, '<', n) == NULL &&
                           memchr(line, '\r', n) == NULL,
                       "Markdown row holds '<' or CR: %.*s", (int)n, line);
        } else {
            want = 0;
        }
        line += n + 1;
    }
}

/* The workflow commands (check_github): valid UTF-8 lines, each a
 * command whose title has no raw ':' or ','. */
static void check_github(const char *text, size_t len)
{
    const char *line = text;
    size_t errors = 0, warnings = 0;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)text + i, len - i, &cp);

        FUZZ_CHECK(n > 0, "workflow commands: invalid UTF-8 at %zu", i);
        FUZZ_CHECK(cp != '\r', "workflow commands: CR at %zu", i);
        i += n;
    }
    FUZZ_CHECK(len == 0 || text[len - 1] == '\n', "last command unended");
    while (line < text + len) {
        const char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = (size_t)(nl - line);
        const char *title = NULL, *end;

        if (n > 15 && memcmp(line, "::error title=", 14) == 0) {
            errors++;
            title = line + 14;
        } else if (n > 17 && memcmp(line, "::warning title=", 16) == 0) {
            warnings++;
            title = line + 16;
        }
        FUZZ_CHECK(title != NULL, "not a command: %.*s", (int)n, line);
        end = title;
        while (end + 1 < nl && !(end[0] == ':' && end[1] == ':'))
            end++;
        end = end + 1 < nl ? end : NULL;
        FUZZ_CHECK(end != NULL, "no message: %.*s", (int)n, line);
        FUZZ_CHECK(memchr(title, ',', (size_t)(end - title)) == NULL &&
                       memchr(title, ':', (size_t)(end - title)) == NULL,
                   "title not escaped: %.*s", (int)n, line);
        line = nl + 1;
    }
    FUZZ_CHECK(errors <= 10 && warnings <= 10, "%zu errors, %zu warnings",
               errors, warnings);
}

static void check_codequality(const struct co_report *rep, const char *text,
                              size_t len)
{
    json_error_t e;
    json_t *arr = json_loadb(text, len, 0, &e), *it, *seen = json_object();
    size_t want = 0, i;

    FUZZ_CHECK(arr != NULL && json_is_array(arr), "Code Quality: %s", e.text);
    for (i = 0; i < rep->nresults; i++)
        for (size_t k = 0; k < rep->results[i].ncases; k++) {
            enum co_status st = rep->results[i].cases[k].status;
            want += st == CO_FAIL || st == CO_ERROR || st == CO_WARN;
        }
    FUZZ_CHECK(json_array_size(arr) == want, "%zu issues, want %zu",
               json_array_size(arr), want);
    json_array_foreach(arr, i, it)
    {
        const char *fp = json_string_value(json_object_get(it, "fingerprint"));
        FUZZ_CHECK(fp != NULL && strlen(fp) == 64, "fingerprint");
        FUZZ_CHECK(json_object_get(seen, fp) == NULL, "repeated %s", fp);
        json_object_set_new(seen, fp, json_true());
        FUZZ_CHECK(json_is_string(json_object_get(it, "description")),
                   "description");
    }
    json_decref(seen);
    json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    struct co_report rep;
    struct owned o = {NULL, 0};
    uint8_t flags = rd_byte(&r);
    size_t len, ncases = 0;
    char *out;

    memset(&rep, 0, sizeof(rep));
    rep.tool_version = "0.1.0-fuzz";
    rep.phase = (const char *[]){"pre", "post", "drift", "all"}[flags & 3];
    rep.started = 1700000000.25;
    rep.duration_ms = rd_ms(&r);
    rep.strict = (flags & 4) != 0;
    snprintf(rep.hostname, sizeof(rep.hostname), "fuzz-host");
    build(&rep, &o, &r);
    for (size_t i = 0; i < rep.nresults; i++)
        ncases += rep.results[i].ncases;

    /* JUnit and JSON as the CLI writes them (a file, atomically) for
     * some inputs; in memory, which is faster, for the rest. */
    if (flags & 0x10)
        out = render_file(&rep, "junit", &len);
    else
        out = render(&rep, "junit", false, &len);
    check_junit(&rep, out, len, ncases);
    free(out);
    if (flags & 0x10)
        out = render_file(&rep, "json", &len);
    else
        out = render(&rep, "json", false, &len);
    check_json(&rep, out, len);
    free(out);
    out = render(&rep, "text", false, &len);
    check_text(out, len);
    free(out);
    out = render(&rep, "text", (flags & 8) != 0, &len);
    free(out);
    out = render(&rep, "markdown", false, &len);
    check_markdown(out, len);
    free(out);
    out = render(&rep, "github", false, &len);
    check_github(out, len);
    free(out);
    out = render(&rep, "codequality", false, &len);
    check_codequality(&rep, out, len);
    free(out);
    (void)co_report_exit_code(&rep);

    co_report_free(&rep);
    for (size_t i = 0; i < o.n; i++)
        free(o.v[i]);
    free(o.v);
    return 0;
}
