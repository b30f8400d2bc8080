/*
 * test_ci_surfaces.c - what the CI systems make of a report: the JUnit
 * file as the GitHub actions, GitLab and Jenkins read it, the GitHub
 * workflow commands, the step summary and the GitLab Code Quality file,
 * on reports built by hand.
 * label: unit
 *
 * The consumers' rules are restated here from their sources (README, "CI
 * examples"): action-junit-report titles a case "SUITE LAST/NAME" with
 * its check_title_template recipe, LAST being the classname's last
 * '.'-segment, which it also globs as a file; GitLab keys a case by suite
 * + classname + name, per status, across every file of a job; Jenkins
 * splits the classname at its last '.' into package and class.
 */
#include <check.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- building reports ---------------------------------------------------
 */

static void report_init(struct co_report *rep, const char *phase)
{
    memset(rep, 0, sizeof *rep);
    rep->tool_version = "0.1.0-test";
    rep->phase = phase;
    rep->started = 1700000000.0;
    snprintf(rep->hostname, sizeof rep->hostname, "ci-host");
}

/* One database down in six checks (the same resource and case name in
 * each), a domain with dots, a warning, a skip and a duplicate name. */
static void sample_report(struct co_report *rep, const char *phase)
{
    static const char *const checks[] = {"pg.connect", "pg.schema",
                                         "pg.rowcount", "pg.checksum",
                                         "pg.sequences"};
    struct co_result *r;
    size_t i;

    report_init(rep, phase);
    rep->config_path = "./ci/cutover.yml";
    for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        r = tu_add_result(rep, checks[i], "main", NULL, NULL);
        r->line = 7;
        co_result_add(r, CO_ERROR, "target",
                      "target: connection refused (127.0.0.1:5432)", NULL,
                      NULL, 1);
    }
    r = tu_add_result(rep, "pg.rowcount", "reports", NULL, NULL);
    r->line = 12;
    co_result_add(r, CO_FAIL, "public.orders", "source 100 rows, target 99",
                  "100", "99", 3);
    co_result_add(r, CO_FAIL, "public.orders", "again", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "public.users", "100 rows", NULL, NULL, 1);
    co_result_add(r, CO_SKIP, "public.view", "not a table", NULL, NULL, 0);
    r = tu_add_result(rep, "dns.ttl", "app.example.com", NULL, NULL);
    r->kind = "domain";
    co_result_add(r, CO_WARN, "A", "TTL 600 > 300 at 127.0.0.1:53", NULL, NULL,
                  2);
    co_result_add(r, CO_PASS, "AAAA", "TTL 60", NULL, NULL, 2);
}

static char *write_report(const struct co_report *rep, const char *format,
                          const char *dir, const char *name)
{
    char *path = co_asprintf("%s/%s", dir, name);
    char err[256] = "";

    ck_assert_msg(
        co_report_write_file(rep, format, NULL, path, err, sizeof err) == 0,
        "%s: %s", format, err);
    return path;
}

static char *github_commands(const struct co_report *rep)
{
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(f);
    ck_assert_msg(
        co_report_write_stream(rep, "github", NULL, f, err, sizeof err) == 0,
        "%s", err);
    fclose(f);
    return buf;
}

static size_t count_lines_starting(const char *text, const char *prefix)
{
    size_t n = 0;
    const char *p = text;

    while (p != NULL && *p != '\0') {
        n += strncmp(p, prefix, strlen(prefix)) == 0;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

/* ---- JUnit as the consumers read it --------------------------------------
 */

struct seen {
    char **v;
    size_t n;
};

/* Adds key; false when it was there already. */
static bool seen_add(struct seen *s, char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], key) == 0) {
            free(key);
            return false;
        }
    s->v = co_realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = key;
    return true;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

struct views {
    struct seen ajr, gitlab, jenkins;
};

static void assert_schema(const char *xml, const char *xsd)
{
    char *cmd = co_asprintf("xmllint --noout --nonet --schema "
                            "'%s/tests/data/junit/%s' '%s' 2>&1",
                            tu_source_dir(), xsd, xml);
    char *out = NULL;

    ck_assert_msg(tu_sh(cmd, &out) == 0, "%s invalid against %s:\n%.1500s",
                  xml, xsd, out);
    free(out);
    free(cmd);
}

/* Adds every case of the file to the three views, asserting each title
 * or key is new, and that no classname's last segment could name a file
 * of the user's repository. */
static void read_as_consumers(const char *path, struct views *v)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr o;

    ck_assert_ptr_nonnull(doc);
    ctx = xmlXPathNewContext(doc);
    o = xmlXPathEvalExpression(BAD_CAST "//testcase", ctx);
    ck_assert(o && o->nodesetval && o->nodesetval->nodeNr > 0);
    for (int i = 0; i < o->nodesetval->nodeNr; i++) {
        xmlNodePtr tc = o->nodesetval->nodeTab[i];
        char *cn = (char *)xmlGetProp(tc, BAD_CAST "classname");
        char *name = (char *)xmlGetProp(tc, BAD_CAST "name");
        char *suite = (char *)xmlGetProp(tc->parent, BAD_CAST "name");
        char *dot = strrchr(cn, '.');
        char *last = dot ? dot + 1 : cn;

        /* action-junit-report globs "**" "/LAST.*": the phase in
         * parentheses is a name no file has. */
        ck_assert_msg(strstr(last, " (") != NULL, "bare segment '%s'", last);
        ck_assert_msg(
            seen_add(&v->ajr, co_asprintf("%s %s/%s", suite, last, name)),
            "action-junit-report title repeats: %s %s/%s", suite, last, name);
        ck_assert_msg(
            seen_add(&v->gitlab, co_asprintf("%s_%s_%s", suite, cn, name)),
            "GitLab key repeats: %s %s %s", suite, cn, name);
        ck_assert_msg(
            seen_add(&v->jenkins, co_asprintf("%.*s|%s|%s", (int)(last - cn),
                                              cn, last, name)),
            "Jenkins case repeats: %s %s", cn, name);
        /* Jenkins' package is the check id: dots come from it only. */
        ck_assert_msg(strncmp(cn, suite, strlen(suite)) == 0 &&
                          dot == cn + strlen(suite),
                      "package of '%s' is not '%s'", cn, suite);
        xmlFree(cn);
        xmlFree(name);
        xmlFree(suite);
    }
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
}

START_TEST(junit_titles_unique_pre_and_post)
{
    char *dir = tu_tmpdir();
    struct co_report pre, post;
    struct views v;
    char *a, *b;

    memset(&v, 0, sizeof v);
    sample_report(&pre, "pre");
    sample_report(&post, "post");
    a = write_report(&pre, "junit", dir, "pre.xml");
    b = write_report(&post, "junit", dir, "post.xml");
    assert_schema(a, "ant-junit-windyroad.xsd");
    assert_schema(a, "jenkins-junit-10.xsd");
    assert_schema(b, "ant-junit-windyroad.xsd");
    assert_schema(b, "jenkins-junit-10.xsd");
    /* Both files as one GitLab job uploads them: nothing merges. */
    read_as_consumers(a, &v);
    read_as_consumers(b, &v);
    ck_assert_uint_eq(v.gitlab.n, 2 * 11);
    ck_assert_uint_eq(v.ajr.n, 2 * 11);
    ck_assert_uint_eq(v.jenkins.n, 2 * 11);
    seen_free(&v.ajr);
    seen_free(&v.gitlab);
    seen_free(&v.jenkins);
    co_report_free(&pre);
    co_report_free(&post);
    free(a);
    free(b);
    free(dir);
}
END_TEST

START_TEST(junit_reads_apart)
{
    char *dir = tu_tmpdir();
    struct co_report rep;
    char *path, *xml;

    sample_report(&rep, "post");
    path = write_report(&rep, "junit", dir, "r.xml");
    xml = tu_read_file(path, NULL);
    /* A domain keeps its look but no '.': Jenkins' class, not "com". */
    ck_assert_ptr_nonnull(strstr(xml, "classname=\"dns.ttl.app\xE2\x80\xA4"
                                      "example\xE2\x80\xA4"
                                      "com (post)\""));
    /* Could-not-check reads so from its first words... */
    ck_assert_ptr_nonnull(
        strstr(xml, "<error type=\"error\" message=\"could not check: "
                    "target: connection refused (127.0.0.1:5432)\">could not "
                    "check: target: connection refused"));
    /* ...and a skip reason is text, not only an attribute. */
    ck_assert_ptr_nonnull(
        strstr(xml, "<skipped message=\"not a table\">not a table</skipped>"));
    /* No line of the failure text ends in "LAST:NNN" for
     * action-junit-report to read a line number from: LAST ("main
     * (post)") appears in no message. */
    ck_assert_ptr_null(strstr(xml, "main (post):"));
    free(xml);
    co_report_free(&rep);
    free(path);
    free(dir);
}
END_TEST

/* ---- GitHub workflow commands ---------------------------------------------
 */

START_TEST(github_escapes)
{
    struct co_report rep;
    struct co_result *r;
    char *out;

    report_init(&rep, "post");
    r = tu_add_result(&rep, "pg.rowcount", "db:1,2", NULL, NULL);
    co_result_add(r, CO_FAIL, "100%\n::set-env name=X::y",
                  "50% off\r\nnext: line, here", "a\nb", NULL, 1);
    out = github_commands(&rep);
    ck_assert_str_eq(out, "::error title=pg.rowcount db%3A1%2C2/100%25%0A"
                          "%3A%3Aset-env name=X%3A%3Ay::50%25 off%0D%0Anext: "
                          "line, here%0Asource: a%0Ab\n");
    /* One line: nothing a name holds starts a command of its own. */
    ck_assert_uint_eq(count_lines_starting(out, "::"), 1);
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(github_levels_and_order)
{
    struct co_report rep;
    char *out;

    sample_report(&rep, "post");
    out = github_commands(&rep);
    /* 2 fails first, then the 5 errors; then the warning. */
    ck_assert_uint_eq(count_lines_starting(out, "::error "), 7);
    ck_assert_uint_eq(count_lines_starting(out, "::warning "), 1);
    ck_assert_uint_eq(count_lines_starting(out, "::"), 8);
    ck_assert_ptr_nonnull(
        strstr(out, "::error title=pg.rowcount reports/public.orders::source "
                    "100 rows, target 99%0Asource: 100%0Atarget: 99\n"
                    "::error title=pg.rowcount reports/public.orders::again\n"
                    "::error title=pg.connect main/target::could not check: "
                    "target: connection refused (127.0.0.1:5432)\n"));
    ck_assert_ptr_nonnull(strstr(out, "::warning title=dns.ttl "
                                      "app.example.com/A::TTL 600 > 300 at "
                                      "127.0.0.1:53\n"));
    ck_assert_ptr_null(strstr(out, "public.users"));
    ck_assert_ptr_null(strstr(out, "public.view"));
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(github_limits)
{
    struct co_report rep;
    struct co_result *r;
    char name[32], *out;
    int i;

    report_init(&rep, "pre");
    r = tu_add_result(&rep, "pg.schema", "main", NULL, NULL);
    for (i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "error%d", i);
        co_result_add(r, CO_ERROR, name, "timeout", NULL, NULL, 1);
    }
    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "warn%d", i);
        co_result_add(r, CO_WARN, name, "late", NULL, NULL, 1);
    }
    for (i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "fail%d", i);
        co_result_add(r, CO_FAIL, name, "differs", NULL, NULL, 1);
    }
    out = github_commands(&rep);
    /* GitHub shows 10 of each level a step: 9 cases and one line that
     * says how many more, the worst (fail) first. */
    ck_assert_uint_eq(count_lines_starting(out, "::error "), 10);
    ck_assert_uint_eq(count_lines_starting(out, "::warning "), 10);
    ck_assert_ptr_nonnull(strstr(out, "::error title=pg.schema main/fail0::"));
    ck_assert_ptr_nonnull(strstr(out, "::error title=pg.schema main/fail2::"));
    ck_assert_ptr_nonnull(strstr(out, "main/error5::"));
    ck_assert_ptr_null(strstr(out, "main/error6::"));
    ck_assert_ptr_nonnull(strstr(out,
                                 "::error title=cutover pre::6 more failed or "
                                 "could-not-check cases not annotated;"));
    ck_assert_ptr_nonnull(strstr(out, "main/warn8::"));
    ck_assert_ptr_null(strstr(out, "main/warn9::"));
    ck_assert_ptr_nonnull(
        strstr(out, "::warning title=cutover pre::11 more warnings not "
                    "annotated;"));
    free(out);
    co_report_free(&rep);

    /* Exactly ten: all of them, no "more" line. */
    report_init(&rep, "pre");
    r = tu_add_result(&rep, "pg.schema", "main", NULL, NULL);
    for (i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "fail%d", i);
        co_result_add(r, CO_FAIL, name, "differs", NULL, NULL, 1);
    }
    out = github_commands(&rep);
    ck_assert_uint_eq(count_lines_starting(out, "::error "), 10);
    ck_assert_ptr_null(strstr(out, "more"));
    free(out);
    co_report_free(&rep);

    /* Nothing to say: nothing printed. */
    report_init(&rep, "pre");
    r = tu_add_result(&rep, "pg.schema", "main", NULL, NULL);
    co_result_add(r, CO_PASS, "ok", "fine", NULL, NULL, 1);
    out = github_commands(&rep);
    ck_assert_str_eq(out, "");
    free(out);
    co_report_free(&rep);
}
END_TEST

/* ---- step summary ---------------------------------------------------------
 */

START_TEST(step_summary_appends)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "summary.md", "# earlier step\n");
    struct co_report pre, post;
    char err[256] = "", *text;

    sample_report(&pre, "pre");
    sample_report(&post, "post");
    ck_assert_msg(co_report_append_file(&pre, "markdown", NULL, path, err,
                                        sizeof err) == 0,
                  "%s", err);
    ck_assert_msg(co_report_append_file(&post, "markdown", NULL, path, err,
                                        sizeof err) == 0,
                  "%s", err);
    text = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strncmp(text, "# earlier step\n## cutover: FAIL", 31) == 0,
                  "%.200s", text);
    ck_assert_ptr_nonnull(strstr(text, "Phase pre,"));
    ck_assert_ptr_nonnull(strstr(strstr(text, "Phase pre,"), "Phase post,"));
    free(text);
    /* A directory cannot be appended to: an error, not a crash. */
    ck_assert_int_eq(
        co_report_append_file(&pre, "markdown", NULL, dir, err, sizeof err),
        -1);
    ck_assert_ptr_nonnull(strstr(err, dir));
    co_report_free(&pre);
    co_report_free(&post);
    free(path);
    free(dir);
}
END_TEST

/* ---- GitLab Code Quality --------------------------------------------------
 */

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);

    ck_assert_msg(j != NULL, "%s: %s at %d", path, e.text, e.line);
    ck_assert(json_is_array(j));
    return j;
}

/* The string (or integer, as text) at a dotted path of an issue; "" when
 * absent. */
static const char *jget(json_t *issue, const char *path)
{
    static char num[32];
    json_t *v = issue;
    const char *p = path, *dot;
    char key[64];

    while (v != NULL && *p != '\0') {
        dot = strchr(p, '.');
        snprintf(key, sizeof key, "%.*s",
                 (int)(dot ? (size_t)(dot - p) : strlen(p)), p);
        v = json_object_get(v, key);
        p = dot ? dot + 1 : p + strlen(p);
    }
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return num;
    }
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Every issue well-formed; fingerprints are 64 hex digits, unique. */
static void assert_issues(json_t *arr, struct seen *prints)
{
    size_t i;
    json_t *it;

    json_array_foreach(arr, i, it)
    {
        const char *fp = jget(it, "fingerprint");
        ck_assert_str_eq(jget(it, "type"), "issue");
        ck_assert(strlen(jget(it, "description")) > 0);
        ck_assert(strlen(jget(it, "check_name")) > 0);
        ck_assert_uint_eq(strlen(fp), 64);
        ck_assert_uint_eq(strspn(fp, "0123456789abcdef"), 64);
        ck_assert_msg(seen_add(prints, co_strdup(fp)), "repeated %s", fp);
        ck_assert(strlen(jget(it, "location.path")) > 0);
        ck_assert(strtol(jget(it, "location.lines.begin"), NULL, 10) >= 1);
    }
}

START_TEST(codequality_issues)
{
    char *dir = tu_tmpdir();
    struct co_report rep;
    struct seen prints;
    json_t *arr, *it;
    char *path;

    memset(&prints, 0, sizeof prints);
    sample_report(&rep, "post");
    path = write_report(&rep, "codequality", dir, "cq.json");
    arr = load_json(path);
    /* 5 errors, 2 fails, 1 warning; no pass, no skip. */
    ck_assert_uint_eq(json_array_size(arr), 8);
    assert_issues(arr, &prints);
    it = json_array_get(arr, 0);
    ck_assert_str_eq(jget(it, "check_name"), "pg.connect");
    ck_assert_str_eq(jget(it, "severity"), "critical");
    ck_assert_str_eq(jget(it, "description"),
                     "pg.connect main/target (post): could not check: target: "
                     "connection refused (127.0.0.1:5432)");
    ck_assert_str_eq(jget(it, "location.path"), "ci/cutover.yml");
    ck_assert_str_eq(jget(it, "location.lines.begin"), "7");
    it = json_array_get(arr, 5);
    ck_assert_str_eq(jget(it, "severity"), "major");
    ck_assert_str_eq(jget(it, "description"),
                     "pg.rowcount reports/public.orders (post): source 100 "
                     "rows, target 99 (source: 100, target: 99)");
    ck_assert_str_eq(jget(it, "location.lines.begin"), "12");
    it = json_array_get(arr, 7);
    ck_assert_str_eq(jget(it, "severity"), "minor");
    ck_assert_str_eq(jget(it, "check_name"), "dns.ttl");
    /* No line known: line 1 of the config. */
    ck_assert_str_eq(jget(it, "location.lines.begin"), "1");
    json_decref(arr);
    seen_free(&prints);
    co_report_free(&rep);
    free(path);
    free(dir);
}
END_TEST

/* Fingerprints: the same case gives the same print whatever its verdict
 * or message (GitLab compares them across pipelines), and the pre and
 * post files of one pipeline never share one. */
START_TEST(codequality_fingerprints_stable)
{
    char *dir = tu_tmpdir();
    struct co_report a, b, pre;
    struct seen prints;
    json_t *ja, *jb, *jp;
    char *pa, *pb, *pp;
    size_t i;

    memset(&prints, 0, sizeof prints);
    sample_report(&a, "post");
    sample_report(&b, "post");
    b.results[0].cases[0].status = CO_FAIL;
    free(b.results[0].cases[0].message);
    b.results[0].cases[0].message = co_strdup("other words");
    sample_report(&pre, "pre");
    pa = write_report(&a, "codequality", dir, "a.json");
    pb = write_report(&b, "codequality", dir, "b.json");
    pp = write_report(&pre, "codequality", dir, "pre.json");
    ja = load_json(pa);
    jb = load_json(pb);
    jp = load_json(pp);
    ck_assert_uint_eq(json_array_size(ja), json_array_size(jb));
    for (i = 0; i < json_array_size(ja); i++)
        ck_assert_str_eq(jget(json_array_get(ja, i), "fingerprint"),
                         jget(json_array_get(jb, i), "fingerprint"));
    ck_assert_str_eq(jget(json_array_get(jb, 0), "severity"), "major");
    assert_issues(ja, &prints);
    assert_issues(jp, &prints);
    json_decref(ja);
    json_decref(jb);
    json_decref(jp);
    seen_free(&prints);
    co_report_free(&a);
    co_report_free(&b);
    co_report_free(&pre);
    free(pa);
    free(pb);
    free(pp);
    free(dir);
}
END_TEST

START_TEST(codequality_path_in_project)
{
    char *dir = tu_tmpdir();
    struct co_report rep;
    json_t *arr;
    char *path;

    sample_report(&rep, "post");
    rep.config_path = "/builds/acme/app/deploy/cutover.yml";
    setenv("CI_PROJECT_DIR", "/builds/acme/app", 1);
    path = write_report(&rep, "codequality", dir, "cq.json");
    unsetenv("CI_PROJECT_DIR");
    arr = load_json(path);
    ck_assert_str_eq(jget(json_array_get(arr, 0), "location.path"),
                     "deploy/cutover.yml");
    json_decref(arr);
    free(path);

    /* Nothing to report: an empty array, still a valid file. */
    co_report_free(&rep);
    report_init(&rep, "post");
    path = write_report(&rep, "codequality", dir, "empty.json");
    arr = load_json(path);
    ck_assert_uint_eq(json_array_size(arr), 0);
    json_decref(arr);
    co_report_free(&rep);
    free(path);
    free(dir);
}
END_TEST

/* Hostile bytes reach every surface as valid UTF-8, one line a command,
 * and a secret that the masking layer replaced stays replaced. */
START_TEST(hostile_bytes)
{
    char *dir = tu_tmpdir();
    struct co_report rep;
    struct co_result *r;
    json_t *arr;
    char *path, *out;

    report_init(&rep, "post");
    r = tu_add_result(&rep, "pg.schema", "m\xff\x01ain", NULL, NULL);
    co_result_add(r, CO_FAIL, "t\x1b[31m\xc3", "bad \xe2\x82 bytes\x7f", NULL,
                  NULL, 1);
    path = write_report(&rep, "codequality", dir, "cq.json");
    arr = load_json(path);
    ck_assert_uint_eq(json_array_size(arr), 1);
    json_decref(arr);
    out = github_commands(&rep);
    ck_assert_uint_eq(count_lines_starting(out, "::error "), 1);
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_null(strchr(out, '\x01'));
    ck_assert_ptr_null(strstr(out, "\xff"));
    free(out);
    co_report_free(&rep);
    free(path);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ci_surfaces");
    TCase *tc = tcase_create("ci");

    tcase_add_test(tc, junit_titles_unique_pre_and_post);
    tcase_add_test(tc, junit_reads_apart);
    tcase_add_test(tc, github_escapes);
    tcase_add_test(tc, github_levels_and_order);
    tcase_add_test(tc, github_limits);
    tcase_add_test(tc, step_summary_appends);
    tcase_add_test(tc, codequality_issues);
    tcase_add_test(tc, codequality_fingerprints_stable);
    tcase_add_test(tc, codequality_path_in_project);
    tcase_add_test(tc, hostile_bytes);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = suite);
