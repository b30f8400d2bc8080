/*
 * test_reports.c - the four reporters, the reporter table, atomic report
 * files and co_utf8_sanitize, on reports built by hand.
 * label: unit
 *
 * The reports hold what a hostile database could name its tables:
 * control bytes, terminal escapes, invalid UTF-8, "]]>", markup, emoji,
 * very long and duplicate names. The JUnit file is checked by the tools
 * that consume it (xmllint against both schemas in tests/data/junit,
 * python3-junitparser, libxml2), the JSON by parsing it back, the text
 * and Markdown by what a terminal or a table renderer would misread.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define FFFD    "\xEF\xBF\xBD"
#define ONE_DOT "\xE2\x80\xA4" /* U+2024 ONE DOT LEADER */

/* ---- building reports ----------------------------------------------------
 */

static void report_init(struct co_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->tool_version = "0.1.0-test";
    rep->phase = "post";
    rep->started = 1700000000.25; /* 2023-11-14T22:13:20Z */
    rep->duration_ms = 1234.5;
    snprintf(rep->hostname, sizeof rep->hostname, "ci-host");
}

/* A long name, allocated once per process. */
static const char *long_name(void)
{
    static char name[20001];

    if (name[0] == '\0') {
        memset(name, 'x', sizeof name - 1);
        memcpy(name, "long<", 5);
    }
    return name;
}

/*
 * The hostile report. Totals: 9 pass, 2 warn, 5 fail, 3 error, 2 skip
 * (21 cases) in 3 checks; pg.rowcount runs on two resources.
 */
enum { H_PASS = 9, H_WARN = 2, H_FAIL = 5, H_ERROR = 3, H_SKIP = 2 };
#define H_CASES (H_PASS + H_WARN + H_FAIL + H_ERROR + H_SKIP)

static void hostile_report(struct co_report *rep)
{
    struct co_result *r;

    report_init(rep);
    r = tu_add_result(rep, "pg.rowcount", "main", "postgres://u:***@src/db",
                      "postgres://u:***@dst/db");
    co_result_add(r, CO_PASS, "public.users", "source 5 rows, target 5", "5",
                  "5", 2.6);
    co_result_add(r, CO_FAIL, "public.orders", "source 100 rows, target 99",
                  "100", "99", 1500.4);
    co_result_add(r, CO_WARN, "public.big", "table is large, counted late",
                  NULL, NULL, 0);
    co_result_add(r, CO_ERROR, "public.locked", "lock timeout\nafter 5s", NULL,
                  NULL, 5000);
    co_result_add(r, CO_SKIP, "public.view", "not a table", NULL, NULL, 0);
    co_result_add(r, CO_PASS, "dup", "first", NULL, NULL, 1);
    co_result_add(r, CO_FAIL, "dup", "second", "1", "2", 1);
    co_result_add(r, CO_PASS, "dup", "third", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "dup (2)", "a real name like a suffix", NULL,
                  NULL, 1);
    co_result_add(r, CO_PASS,
                  "\x01"
                  "ctl\x1b[31mred\x1b]0;pwn\x07",
                  "esc", NULL, NULL, 1);
    co_result_add(r, CO_FAIL, "bad\xff\xfeutf", "bytes \xe2\x82", "\xc0\x80",
                  "ok", 1);

    r = tu_add_result(rep, "pg.rowcount", "replica", "postgres://u:***@src/db",
                      NULL);
    co_result_add(r, CO_PASS, "]]>", "cdata <![CDATA[ x ]]> end", NULL, NULL,
                  1);
    co_result_add(r, CO_ERROR, "<&\"'", "quote \" apos ' amp & lt <", NULL,
                  NULL, 1);
    co_result_add(r, CO_PASS, "emoji \xF0\x9F\x9A\x80", "rocket", NULL, NULL,
                  1);
    co_result_add(r, CO_PASS, long_name(), "long", NULL, NULL, 1);
    co_result_add(r, CO_FAIL, "pipe|name`code`", "a | b", "x|y", "z", 1);

    r = tu_add_result(rep, "dns.ttl", "app.example.com", NULL, NULL);
    r->duration_ms = 2000.6; /* the task's time wins over its cases' */
    co_result_add(r, CO_WARN, "A", "TTL 600 > 300", "600", "600", 3);
    co_result_add(r, CO_FAIL, "AAAA", "TTL 3600 > 300", NULL, NULL, 3);
    co_result_add(r, CO_SKIP, "CNAME", "no CNAME", NULL, NULL, 0);
    co_result_add(r, CO_ERROR, "MX", "resolver timed out", NULL, NULL, 3);
    co_result_add(r, CO_PASS, "TXT", "", NULL, NULL, 0.4);
}

/* ---- helpers -------------------------------------------------------------
 */

static char *write_report(const struct co_report *rep, const char *fmt,
                          const struct co_report_opts *opts, const char *ext)
{
    char err[CO_ERRLEN] = "";
    char *dir = tu_tmpdir();
    char *path = co_asprintf("%s/report.%s", dir, ext);

    ck_assert_msg(
        co_report_write_file(rep, fmt, opts, path, err, sizeof err) == 0,
        "write %s: %s", fmt, err);
    free(dir);
    return path;
}

/* The whole output of a reporter, through a memory stream. */
static char *render(const struct co_report *rep, const char *fmt,
                    const struct co_report_opts *opts)
{
    const struct co_reporter *r = co_reporter_find(fmt);
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_ptr_nonnull(r);
    f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(r->write(rep, opts, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    return buf;
}

static void assert_schema(const char *xml, const char *xsd)
{
    char *cmd = co_asprintf("xmllint --noout --nonet --schema '%s/%s' "
                            "'%s' 2>&1",
                            tu_xsd_dir(), xsd, xml);
    char *out = NULL;
    int st = tu_sh(cmd, &out);

    ck_assert_msg(st == 0, "%s invalid against %s:\n%.1500s", xml, xsd, out);
    free(out);
    free(cmd);
}

/* Reads the file with junitparser and prints totals; asserts inside
 * Python that every suite's attributes equal its cases and that
 * classname+name pairs are unique. */
static const char junitparser_script[] =
    "import sys\n"
    "from junitparser import JUnitXml, Failure, Error, Skipped\n"
    "x = JUnitXml.fromfile(sys.argv[1])\n"
    "seen = set()\n"
    "t = [0, 0, 0, 0, 0]\n"
    "for s in x:\n"
    "    n = f = e = k = 0\n"
    "    for c in s:\n"
    "        key = (c.classname, c.name)\n"
    "        assert key not in seen, 'duplicate %r' % (key,)\n"
    "        seen.add(key)\n"
    "        n += 1\n"
    "        r = c.result\n"
    "        f += any(isinstance(i, Failure) for i in r)\n"
    "        e += any(isinstance(i, Error) for i in r)\n"
    "        k += any(isinstance(i, Skipped) for i in r)\n"
    "    assert (n, f, e, k) == (s.tests, s.failures, s.errors, s.skipped),"
    " (s.name, n, f, e, k)\n"
    "    t[0] += 1; t[1] += n; t[2] += f; t[3] += e; t[4] += k\n"
    "print('suites=%d tests=%d failures=%d errors=%d skipped=%d' % "
    "tuple(t))\n";

static char *junitparser_totals(const char *xml)
{
    char *script = tu_write_file(NULL, "check.py", junitparser_script);
    char *cmd = co_asprintf("/usr/bin/python3 '%s' '%s' 2>&1", script, xml);
    char *out = NULL;
    int st = tu_sh(cmd, &out);

    ck_assert_msg(st == 0, "junitparser on %s:\n%.1500s", xml, out);
    free(cmd);
    free(script);
    return out;
}

static xmlDocPtr parse_xml(const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);

    ck_assert_msg(doc != NULL, "libxml2 cannot parse %s", path);
    return doc;
}

static double xp_num(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    double v;

    ck_assert_msg(o != NULL, "xpath %s", expr);
    v = xmlXPathCastToNumber(o);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return v;
}

static char *xp_str(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlChar *s;
    char *v;

    ck_assert_msg(o != NULL, "xpath %s", expr);
    s = xmlXPathCastToString(o);
    v = co_strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return v;
}

static void assert_xp_str(xmlDocPtr doc, const char *expr, const char *want)
{
    char *got = xp_str(doc, expr);

    ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", expr, got,
                  want);
    free(got);
}

/* Both schemas, junitparser and libxml2 accept the file. */
static void assert_junit_ok(const char *xml, const char *want_totals)
{
    char *totals;

    assert_schema(xml, "ant-junit-windyroad.xsd");
    assert_schema(xml, "jenkins-junit-10.xsd");
    totals = junitparser_totals(xml);
    ck_assert_msg(strstr(totals, want_totals) != NULL, "totals '%s', want %s",
                  totals, want_totals);
    free(totals);
}

/* ---- co_utf8_sanitize ------------------------------------------------------
 */

static void assert_clean(const char *in, const char *want)
{
    char *got = co_utf8_sanitize(in);

    ck_assert_msg(strcmp(got, want) == 0, "sanitize: got '%s', want '%s'", got,
                  want);
    free(got);
}

START_TEST(sanitize_vectors)
{
    ck_assert_ptr_null(co_utf8_sanitize(NULL));
    assert_clean("", "");
    assert_clean("plain ascii", "plain ascii");
    assert_clean("tab\tnl\ncr\r", "tab\tnl\ncr\r");
    assert_clean("\x01x\x1b\x7f", FFFD "x" FFFD "\x7f");
    assert_clean("caf\xc3\xa9 \xF0\x9F\x9A\x80",
                 "caf\xc3\xa9 \xF0\x9F\x9A\x80");
    assert_clean("\xff\xfe", FFFD FFFD);
    /* A truncated sequence is one replacement, what follows survives. */
    assert_clean("\xe2\x82"
                 "A",
                 FFFD "A");
    assert_clean("end\xe2\x82", "end" FFFD);
    assert_clean("\xc0\x80", FFFD FFFD);                   /* overlong NUL */
    assert_clean("\xed\xa0\x80", FFFD FFFD FFFD);          /* surrogate */
    assert_clean("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
    assert_clean("\xef\xbf\xbe\xef\xbf\xbf", FFFD FFFD);   /* U+FFFE U+FFFF */
    assert_clean("\xef\xbf\xbd", FFFD);
    assert_clean("\xc2\x85", "\xc2\x85"); /* C1 is XML 1.0 Char */
}
END_TEST

/* ---- reporter table and files --------------------------------------------
 */

START_TEST(table_lists_six)
{
    static const char *const names[] = {"junit", "json",   "markdown",
                                        "text",  "github", "codequality"};
    size_t i;

    /* and openmetrics (test_openmetrics.c) */
    ck_assert_uint_eq(co_nreporter, 7);
    for (i = 0; i < 6; i++) {
        ck_assert_ptr_nonnull(co_reporter_find(names[i]));
        ck_assert_str_eq(co_reporter_find(names[i])->name, names[i]);
    }
    ck_assert_ptr_null(co_reporter_find("html"));
    ck_assert_ptr_null(co_reporter_find(NULL));
}
END_TEST

static size_t count_entries(const char *dir)
{
    char *cmd = co_asprintf("ls -A '%s' | wc -l", dir);
    char *out = NULL;
    size_t n;

    ck_assert_int_eq(tu_sh(cmd, &out), 0);
    n = strtoul(out, NULL, 10);
    free(out);
    free(cmd);
    return n;
}

START_TEST(write_file_errors)
{
    struct co_report rep;
    char err[CO_ERRLEN];
    char *dir = tu_tmpdir();
    char *missing = co_asprintf("%s/nope/report.xml", dir);
    char *isdir = co_asprintf("%s/out.xml", dir);

    report_init(&rep);
    err[0] = '\0';
    ck_assert_int_eq(
        co_report_write_file(&rep, "yaml", NULL, isdir, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "yaml") != NULL, "err: %s", err);

    err[0] = '\0';
    ck_assert_int_eq(
        co_report_write_file(&rep, "junit", NULL, missing, err, sizeof err),
        -1);
    ck_assert_msg(strstr(err, missing) != NULL, "err: %s", err);

    /* rename onto a directory fails: the temp file must be gone. */
    ck_assert_int_eq(mkdir(isdir, 0755), 0);
    err[0] = '\0';
    ck_assert_int_eq(
        co_report_write_file(&rep, "json", NULL, isdir, err, sizeof err), -1);
    ck_assert_msg(strstr(err, isdir) != NULL, "err: %s", err);
    ck_assert_uint_eq(count_entries(dir), 1); /* only out.xml/ */

    co_report_free(&rep);
    free(isdir);
    free(missing);
    free(dir);
}
END_TEST

/* A full disk is reported, by every format, with the path. */
START_TEST(write_file_full_disk)
{
    static const char *const names[] = {"junit", "json", "markdown", "text"};
    struct co_report rep;
    char err[CO_ERRLEN];
    size_t i;

    if (access("/dev/full", W_OK) != 0) {
        fprintf(stderr, "test_reports: no /dev/full, skipped\n");
        return;
    }
    hostile_report(&rep);
    for (i = 0; i < 4; i++) {
        err[0] = '\0';
        ck_assert_int_eq(co_report_write_file(&rep, names[i], NULL,
                                              "/dev/full", err, sizeof err),
                         -1);
        ck_assert_msg(strstr(err, "/dev/full") != NULL, "%s: %s", names[i],
                      err);
    }
    co_report_free(&rep);
}
END_TEST

START_TEST(write_file_replaces)
{
    struct co_report rep;
    char err[CO_ERRLEN] = "";
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "r.json", "old contents");
    struct stat st;
    mode_t mask;
    char *s;

    hostile_report(&rep);
    mask = umask(022);
    ck_assert_int_eq(
        co_report_write_file(&rep, "json", NULL, path, err, sizeof err), 0);
    umask(mask);
    s = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(s[0] == '{', "new report written: %.40s", s);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_uint_eq(count_entries(dir), 1); /* no temp file left */
    free(s);
    co_report_free(&rep);
    free(path);
    free(dir);
}
END_TEST

/* ---- JUnit ----------------------------------------------------------------
 */

START_TEST(junit_hostile_valid)
{
    struct co_report rep;
    char *path, *xml, *v;
    xmlDocPtr doc;

    hostile_report(&rep);
    path = write_report(&rep, "junit", NULL, "xml");
    assert_junit_ok(path, "suites=2 tests=21 failures=5 errors=3 skipped=2");

    xml = tu_read_file(path, NULL);
    ck_assert_ptr_null(strstr(xml, "CDATA[ x"));
    ck_assert_ptr_null(strstr(xml, "<![CDATA["));
    ck_assert_ptr_null(strchr(xml, '\x1b'));
    ck_assert_ptr_null(strchr(xml, '\x01'));
    ck_assert_ptr_nonnull(strstr(xml, "<testsuites>"));
    free(xml);

    doc = parse_xml(path);
    ck_assert(xp_num(doc, "count(/testsuites/@*)") == 0);
    ck_assert(xp_num(doc, "count(/testsuites/testsuite)") == 2);
    assert_xp_str(doc, "/testsuites/testsuite[1]/@name", "pg.rowcount");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@package", "cutover");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@id", "0");
    assert_xp_str(doc, "/testsuites/testsuite[2]/@id", "1");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@timestamp",
                  "2023-11-14T22:13:20");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@hostname", "ci-host");
    assert_xp_str(doc, "/testsuites/testsuite[2]/@time", "2.001");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@tests", "16");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@failures", "4");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@errors", "2");
    assert_xp_str(doc, "/testsuites/testsuite[1]/@skipped", "1");

    /* Properties: phase, version, masked endpoints per resource. */
    assert_xp_str(doc,
                  "//testsuite[1]/properties/property[@name='phase']"
                  "/@value",
                  "post");
    assert_xp_str(doc,
                  "//testsuite[1]/properties/property"
                  "[@name='tool.version']/@value",
                  "0.1.0-test");
    assert_xp_str(doc,
                  "//testsuite[1]/properties/property"
                  "[@name='main.source']/@value",
                  "postgres://u:***@src/db");
    assert_xp_str(doc,
                  "//testsuite[1]/properties/property"
                  "[@name='replica.source']/@value",
                  "postgres://u:***@src/db");
    ck_assert(xp_num(doc, "count(//property[@name='replica.target'])") == 0);

    /* A failure: type, message attribute, and text with both values. */
    assert_xp_str(doc, "//testcase[@name='public.orders']/@classname",
                  "pg.rowcount.main (post)");
    assert_xp_str(doc, "//testcase[@name='public.orders']/@time", "1.500");
    assert_xp_str(doc, "//testcase[@name='public.orders']/failure/@type",
                  "fail");
    assert_xp_str(doc, "//testcase[@name='public.orders']/failure/@message",
                  "source 100 rows, target 99");
    assert_xp_str(doc, "//testcase[@name='public.orders']/failure",
                  "source 100 rows, target 99\nsource: 100\ntarget: 99");
    assert_xp_str(doc, "//testcase[@name='public.locked']/error/@type",
                  "error");
    /* An error reads as "could not check" where it is shown as a
     * failure (the GitHub actions). */
    assert_xp_str(doc, "//testcase[@name='public.locked']/error/@message",
                  "could not check: lock timeout\nafter 5s");
    assert_xp_str(doc, "//testcase[@name='public.locked']/error",
                  "could not check: lock timeout\nafter 5s");
    /* The skip reason as text too: GitLab reads only the text. */
    assert_xp_str(doc, "//testcase[@name='public.view']/skipped/@message",
                  "not a table");
    assert_xp_str(doc, "//testcase[@name='public.view']/skipped",
                  "not a table");
    ck_assert(xp_num(doc, "count(//testcase[@name='public.big']/*)") == 0);
    assert_xp_str(doc, "//testcase[@name='TXT']/@time", "0.000");

    /* Duplicates get suffixes; an existing "dup (2)" is not reused. */
    ck_assert(xp_num(doc, "count(//testcase[@name='dup'])") == 1);
    assert_xp_str(doc, "//testcase[@name='dup (2)']/failure/@message",
                  "second");
    assert_xp_str(doc, "//testcase[@name='dup (3)']/@classname",
                  "pg.rowcount.main (post)");
    ck_assert(xp_num(doc, "count(//testcase[starts-with(@name,'dup')])") == 4);

    /* Hostile names arrive sanitized, not dropped. */
    assert_xp_str(doc,
                  "//testcase[@name='" FFFD "ctl" FFFD "[31mred" FFFD
                  "]0;pwn" FFFD "']/@classname",
                  "pg.rowcount.main (post)");
    assert_xp_str(doc, "//testcase[@name='bad" FFFD FFFD "utf']/failure",
                  "bytes " FFFD "\nsource: " FFFD FFFD "\ntarget: ok");
    ck_assert(xp_num(doc, "count(//testcase[@name=']]>'])") == 1);
    ck_assert(
        xp_num(doc, "count(//testcase[@name='emoji \xF0\x9F\x9A\x80'])") == 1);
    ck_assert(xp_num(doc, "string-length(//testcase[starts-with(@name,"
                          "'long<')]/@name)") == 20000);
    assert_xp_str(doc,
                  "//testcase[@classname='pg.rowcount.replica (post)'][2]"
                  "/error/@message",
                  "could not check: quote \" apos ' amp & lt <");
    assert_xp_str(doc,
                  "//testcase[@classname='pg.rowcount.replica (post)'][2]"
                  "/@name",
                  "<&\"'");

    /* Warnings pass and are listed in the suite's system-out. */
    v = xp_str(doc, "/testsuites/testsuite[1]/system-out");
    ck_assert_str_eq(v, "pg.rowcount.main (post) public.big: "
                        "table is large, counted late\n");
    free(v);
    /* The resource's dots are U+2024: Jenkins splits the classname at
     * its last '.', into package "dns.ttl" and class "app.example.com". */
    assert_xp_str(doc, "/testsuites/testsuite[2]/system-out",
                  "dns.ttl.app" ONE_DOT "example" ONE_DOT
                  "com (post) A: TTL 600 > 300\n");
    ck_assert(xp_num(doc, "count(//testsuite/system-err)") == 2);
    xmlFreeDoc(doc);
    co_report_free(&rep);
    free(path);
}
END_TEST

START_TEST(junit_empty_report)
{
    struct co_report rep;
    xmlDocPtr doc;
    char *path;

    report_init(&rep);
    rep.hostname[0] = '\0'; /* must fall back to a non-blank token */
    path = write_report(&rep, "junit", NULL, "xml");
    assert_junit_ok(path, "suites=1 tests=0 failures=0 errors=0 skipped=0");
    doc = parse_xml(path);
    assert_xp_str(doc, "/testsuites/testsuite/@name", "cutover");
    assert_xp_str(doc, "/testsuites/testsuite/@tests", "0");
    assert_xp_str(doc, "/testsuites/testsuite/@hostname", "localhost");
    xmlFreeDoc(doc);
    free(path);
}
END_TEST

/* Many repeats of one name stay unique and quick (no n^2 probing). */
START_TEST(junit_many_duplicates)
{
    struct co_report rep;
    struct co_result *r;
    char *path;
    xmlDocPtr doc;
    int i;

    report_init(&rep);
    r = tu_add_result(&rep, "redis.keyspace", "jobs", NULL, NULL);
    for (i = 0; i < 20000; i++)
        co_result_add(r, i % 2 ? CO_PASS : CO_FAIL, "same", "m", "1", "2", 0);
    path = write_report(&rep, "junit", NULL, "xml");
    assert_junit_ok(path,
                    "suites=1 tests=20000 failures=10000 errors=0 skipped=0");
    doc = parse_xml(path);
    assert_xp_str(doc, "//testcase[20000]/@name", "same (20000)");
    xmlFreeDoc(doc);
    co_report_free(&rep);
    free(path);
}
END_TEST

/* A locale with a decimal comma, made with localedef when the system has
 * none installed. Returns false when it cannot be had. */
static bool use_comma_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
                                        "fr_FR.UTF-8"};
    char buf[16];
    char *dir, *cmd;
    size_t i;

    for (i = 0; i < 3; i++)
        if (setlocale(LC_NUMERIC, names[i]) != NULL)
            goto check;
    dir = tu_tmpdir();
    cmd = co_asprintf("localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' "
                      ">/dev/null 2>&1",
                      dir);
    (void)tu_sh(cmd, NULL);
    setenv("LOCPATH", dir, 1);
    free(cmd);
    free(dir);
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL)
        return false;
check:
    snprintf(buf, sizeof buf, "%.1f", 0.5);
    return strcmp(buf, "0,5") == 0;
}

START_TEST(junit_json_locale)
{
    struct co_report rep;
    char *path, *totals;
    xmlDocPtr doc;
    json_t *root;
    json_error_t jerr;

    if (!use_comma_locale()) {
        fprintf(stderr, "test_reports: no decimal-comma locale, "
                        "locale sub-assert skipped\n");
        return;
    }
    hostile_report(&rep);
    path = write_report(&rep, "junit", NULL, "xml");
    assert_schema(path, "ant-junit-windyroad.xsd");
    assert_schema(path, "jenkins-junit-10.xsd");
    totals = junitparser_totals(path);
    free(totals);
    doc = parse_xml(path);
    assert_xp_str(doc, "//testcase[@name='public.orders']/@time", "1.500");
    /* 2.6 + 1500.4 + 5000 + 6 x 1 + 5 x 1 ms of cases */
    assert_xp_str(doc, "/testsuites/testsuite[1]/@time", "6.514");
    xmlFreeDoc(doc);
    free(path);

    path = write_report(&rep, "json", NULL, "json");
    root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "json: %s", jerr.text);
    json_decref(root);
    free(path);
    co_report_free(&rep);
    setlocale(LC_NUMERIC, "C");
}
END_TEST

/* ---- JSON -----------------------------------------------------------------
 */

static void assert_keys(json_t *obj, const char *const *keys, size_t n)
{
    const char *k;
    json_t *v;
    size_t i;

    ck_assert(json_is_object(obj));
    json_object_foreach(obj, k, v)
    {
        for (i = 0; i < n; i++)
            if (strcmp(k, keys[i]) == 0)
                break;
        ck_assert_msg(i < n, "unexpected key '%s'", k);
    }
    (void)v;
}

static void assert_has_keys(json_t *obj, const char *const *keys, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        ck_assert_msg(json_object_get(obj, keys[i]) != NULL, "missing '%s'",
                      keys[i]);
}

static const char *jget_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "'%s' is not a string", key);
    return json_string_value(v);
}

static long long jget_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "'%s' is not an integer", key);
    return json_integer_value(v);
}

START_TEST(json_contract)
{
    static const char *const top[] = {"version", "tool", "phase", "summary",
                                      "checks"};
    static const char *const top_extra[] = {
        "version",    "tool",        "phase",     "summary",     "checks",
        "started_at", "duration_ms", "exit_code", "tool_version"};
    static const char *const sum[] = {"passed", "warned", "failed", "errors",
                                      "skipped"};
    static const char *const chk[] = {"check", "resource", "cases"};
    static const char *const cas[] = {"name",   "status", "message",
                                      "source", "target", "duration_ms"};
    struct co_report rep;
    json_error_t jerr;
    json_t *root, *s, *checks, *c, *cases, *k;
    size_t i, j, ncases = 0;
    char *path, *text;
    size_t len;

    hostile_report(&rep);
    path = write_report(&rep, "json", NULL, "json");
    text = tu_read_file(path, &len);
    ck_assert(len > 2 && text[len - 1] == '\n' && text[len - 2] == '}');
    ck_assert_ptr_nonnull(strstr(text, "\n  \"version\": 1,"));
    root = json_loads(text, 0, &jerr);
    ck_assert_msg(root != NULL, "json: %s (line %d)", jerr.text, jerr.line);

    assert_has_keys(root, top, 5);
    assert_keys(root, top_extra, 9);
    ck_assert_int_eq(jget_int(root, "version"), 1);
    ck_assert_str_eq(jget_str(root, "tool"), "cutover");
    ck_assert_str_eq(jget_str(root, "phase"), "post");
    ck_assert_str_eq(jget_str(root, "tool_version"), "0.1.0-test");
    ck_assert_str_eq(jget_str(root, "started_at"), "2023-11-14T22:13:20Z");
    ck_assert_int_eq(jget_int(root, "duration_ms"), 1235);
    ck_assert_int_eq(jget_int(root, "exit_code"), 1);

    s = json_object_get(root, "summary");
    assert_has_keys(s, sum, 5);
    assert_keys(s, sum, 5);
    ck_assert_int_eq(jget_int(s, "passed"), H_PASS);
    ck_assert_int_eq(jget_int(s, "warned"), H_WARN);
    ck_assert_int_eq(jget_int(s, "failed"), H_FAIL);
    ck_assert_int_eq(jget_int(s, "errors"), H_ERROR);
    ck_assert_int_eq(jget_int(s, "skipped"), H_SKIP);

    checks = json_object_get(root, "checks");
    ck_assert(json_is_array(checks));
    ck_assert_uint_eq(json_array_size(checks), rep.nresults);
    json_array_foreach(checks, i, c)
    {
        assert_has_keys(c, chk, 3);
        assert_keys(c, chk, 3);
        ck_assert_str_eq(jget_str(c, "check"), rep.results[i].check);
        ck_assert_str_eq(jget_str(c, "resource"), rep.results[i].resource);
        cases = json_object_get(c, "cases");
        ck_assert_uint_eq(json_array_size(cases), rep.results[i].ncases);
        json_array_foreach(cases, j, k)
        {
            assert_has_keys(k, cas, 6);
            assert_keys(k, cas, 6);
            ck_assert_str_eq(jget_str(k, "status"),
                             co_status_name(rep.results[i].cases[j].status));
            ncases++;
        }
    }
    ck_assert_uint_eq(ncases, H_CASES);

    c = json_array_get(checks, 0);
    cases = json_object_get(c, "cases");
    k = json_array_get(cases, 0); /* public.users: pass, 2.6 ms */
    ck_assert_str_eq(jget_str(k, "name"), "public.users");
    ck_assert_int_eq(jget_int(k, "duration_ms"), 3);
    k = json_array_get(cases, 1);
    ck_assert_str_eq(jget_str(k, "name"), "public.orders");
    ck_assert_str_eq(jget_str(k, "status"), "fail");
    ck_assert_str_eq(jget_str(k, "message"), "source 100 rows, target 99");
    ck_assert_str_eq(jget_str(k, "source"), "100");
    ck_assert_str_eq(jget_str(k, "target"), "99");
    ck_assert_int_eq(jget_int(k, "duration_ms"), 1500);
    k = json_array_get(cases, 2); /* no values: null, not "" */
    ck_assert(json_is_null(json_object_get(k, "source")));
    ck_assert(json_is_null(json_object_get(k, "target")));
    k = json_array_get(cases, 10); /* invalid UTF-8, kept sanitized */
    ck_assert_str_eq(jget_str(k, "name"), "bad" FFFD FFFD "utf");
    ck_assert_str_eq(jget_str(k, "source"), FFFD FFFD);
    k = json_array_get(cases, 9);
    ck_assert_str_eq(jget_str(k, "name"),
                     FFFD "ctl" FFFD "[31mred" FFFD "]0;pwn" FFFD);

    json_decref(root);
    free(text);
    free(path);
    co_report_free(&rep);
}
END_TEST

START_TEST(json_empty_report)
{
    struct co_report rep;
    json_t *root;
    char *out;

    report_init(&rep);
    out = render(&rep, "json", NULL);
    root = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "checks")), 0);
    /* Nothing checked is never green. */
    ck_assert_int_eq(jget_int(root, "exit_code"), 2);
    ck_assert_int_eq(jget_int(json_object_get(root, "summary"), "passed"), 0);
    json_decref(root);
    free(out);
}
END_TEST

/* ---- text -----------------------------------------------------------------
 */

START_TEST(text_plain)
{
    struct co_report_opts opts = {false, false, false};
    struct co_report rep;
    char *out;

    hostile_report(&rep);
    out = render(&rep, "text", &opts);
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_null(strchr(out, '\x01'));
    ck_assert_ptr_null(strchr(out, '\x07'));
    ck_assert_ptr_nonnull(strstr(out, "pg.rowcount\n"));
    ck_assert_ptr_nonnull(strstr(out, "\ndns.ttl\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "  FAIL  main/public.orders: source 100 rows, target 99 "
                    "(source: 100, target: 99)\n"));
    /* Passing cases: one line, no details unless verbose. */
    ck_assert_ptr_nonnull(strstr(out, "  PASS  main/public.users\n"));
    ck_assert_ptr_nonnull(strstr(out, "  ERROR main/public.locked: "
                                      "lock timeout\\nafter 5s\n"));
    ck_assert_ptr_nonnull(strstr(out, "  SKIP  main/public.view: "
                                      "not a table\n"));
    ck_assert_ptr_nonnull(strstr(out, "  WARN  app.example.com/A: "
                                      "TTL 600 > 300 "
                                      "(source: 600, target: 600)\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "main/\\x01ctl\\x1b[31mred\\x1b]0;pwn\\x07\n"));
    ck_assert_ptr_nonnull(strstr(out, "main/bad\\xff\\xfeutf: bytes "
                                      "\\xe2\\x82 (source: \\xc0\\x80, "
                                      "target: ok)\n"));
    ck_assert_ptr_nonnull(strstr(out, "replica/emoji \xF0\x9F\x9A\x80\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\n9 passed, 2 warned, 5 failed, 3 errors, 2 skipped "
                    "in 1.23s\nresult: FAIL (exit 1)\n"));
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(text_color_and_verbose)
{
    struct co_report_opts opts = {true, true, false};
    struct co_report rep;
    const char *p;
    char *out;

    hostile_report(&rep);
    out = render(&rep, "text", &opts);
    ck_assert_ptr_nonnull(strstr(out, "\x1b[31mFAIL\x1b[0m  main/"));
    ck_assert_ptr_nonnull(strstr(out, "\x1b[32mPASS\x1b[0m  main/"));
    ck_assert_ptr_nonnull(strstr(out, "\x1b[35mERROR\x1b[0m main/"));
    ck_assert_ptr_nonnull(strstr(out, "\x1b[33mWARN\x1b[0m  app"));
    ck_assert_ptr_nonnull(strstr(out, "\x1b[2mSKIP\x1b[0m  main/"));
    ck_assert_ptr_nonnull(strstr(out, "result: \x1b[31mFAIL\x1b[0m (exit 1)"));
    /* verbose shows passing details */
    ck_assert_ptr_nonnull(strstr(out,
                                 "main/public.users: source 5 rows, target 5 "
                                 "(source: 5, target: 5)\n"));
    /* Every ESC in the output is one of ours: "[<digits>m". */
    for (p = strchr(out, '\x1b'); p != NULL; p = strchr(p + 1, '\x1b')) {
        size_t n = strspn(p + 2, "0123456789");

        ck_assert_msg(p[1] == '[' && n > 0 && p[2 + n] == 'm',
                      "foreign escape: %.20s", p);
    }
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(text_verdicts)
{
    struct co_report_opts opts = {false, false, false};
    struct co_report rep;
    struct co_result *r;
    char *out;

    report_init(&rep);
    out = render(&rep, "text", &opts);
    ck_assert_ptr_nonnull(strstr(out, "0 passed, 0 warned, 0 failed, "
                                      "0 errors, 0 skipped in 1.23s\n"
                                      "nothing was checked: every case was "
                                      "skipped\n"
                                      "result: ERROR (exit 2)\n"));
    free(out);
    r = tu_add_result(&rep, "tcp.reach", "stripe", NULL, NULL);
    co_result_add(r, CO_WARN, "api", "slow", NULL, NULL, 0);
    out = render(&rep, "text", &opts);
    ck_assert_ptr_nonnull(strstr(out, "result: PASS (exit 0)\n"));
    free(out);
    co_result_add(r, CO_ERROR, "api6", "refused", NULL, NULL, 0);
    out = render(&rep, "text", &opts);
    ck_assert_ptr_nonnull(strstr(out, "1 errors, 0 skipped in 1.23s\n"
                                      "result: ERROR (exit 2)\n"));
    free(out);
    co_report_free(&rep);
}
END_TEST

/* Valid characters that reorder or control the display are escaped. */
START_TEST(text_hides_bidi_and_c1)
{
    struct co_report rep;
    struct co_result *r;
    char *out;

    report_init(&rep);
    r = tu_add_result(&rep, "env.diff", "app", NULL, NULL);
    co_result_add(r, CO_FAIL,
                  "KEY\xe2\x80\xae"
                  "cba",
                  "csi \xc2\x9b"
                  "2J",
                  NULL, NULL, 0);
    out = render(&rep, "text", NULL);
    ck_assert_ptr_nonnull(
        strstr(out, "  FAIL  app/KEY\\u202ecba: csi \\u009b2J\n"));
    free(out);
    co_report_free(&rep);
}
END_TEST

/* ---- Markdown -------------------------------------------------------------
 */

/* Table cell separators: '|' not preceded by a backslash. */
static size_t bare_pipes(const char *line, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (line[i] == '|' && (i == 0 || line[i - 1] != '\\'))
            n++;
    return n;
}

START_TEST(markdown_escapes)
{
    struct co_report rep;
    const char *p, *nl;
    size_t rows = 0;
    char *out;

    hostile_report(&rep);
    out = render(&rep, "markdown", NULL);
    ck_assert_ptr_nonnull(strstr(out, "## cutover: FAIL\n"));
    ck_assert_ptr_nonnull(strstr(out, "| fail | 5 |\n"));
    ck_assert_ptr_nonnull(strstr(out, "| pass | 9 |\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "| pg.rowcount | replica | pipe\\|name\\`code\\` | fail | "
                    "a \\| b (source: x\\|y, target: z) |\n"));
    ck_assert_ptr_nonnull(strstr(out, "| &lt;&amp;\"' | error |"));
    ck_assert_ptr_nonnull(strstr(out, "lock timeout after 5s"));
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_ptr_null(strchr(out, '<'));
    /* Passing cases are not listed; worst first. */
    ck_assert_ptr_null(strstr(out, "public.users"));
    ck_assert_ptr_nonnull(strstr(out, "| skip | not a table |"));
    ck_assert(strstr(out, "| fail | source 100") <
              strstr(out, "| error | lock timeout"));
    ck_assert(strstr(out, "| error | resolver") < strstr(out, "| warn | TTL"));
    ck_assert(strstr(out, "| warn | TTL") < strstr(out, "| skip | not a"));
    /* Every table line has exactly its columns' separators. */
    for (p = strstr(out, "| Check |"); p != NULL && *p == '|'; p = nl + 1) {
        nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_uint_eq(bare_pipes(p, (size_t)(nl - p)), 6);
        rows++;
    }
    ck_assert_uint_eq(rows, 2 + H_WARN + H_FAIL + H_ERROR + H_SKIP);
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(markdown_all_passed)
{
    struct co_report rep;
    struct co_result *r;
    char *out;

    report_init(&rep);
    r = tu_add_result(&rep, "pg.connect", "main", NULL, NULL);
    co_result_add(r, CO_PASS, "source", "ok", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "target", "ok", NULL, NULL, 1);
    out = render(&rep, "markdown", NULL);
    ck_assert_ptr_nonnull(strstr(out, "## cutover: PASS\n"));
    ck_assert_ptr_nonnull(strstr(out, "All 2 cases passed.\n"));
    ck_assert_ptr_null(strstr(out, "| Check |"));
    free(out);
    co_report_free(&rep);
}
END_TEST

START_TEST(markdown_truncates)
{
    enum { N = 100000 };
    struct co_report rep;
    struct co_result *r;
    const char *p;
    size_t rows = 0, more = 0;
    char name[32];
    char *out;
    int i;

    report_init(&rep);
    r = tu_add_result(&rep, "pg.checksum", "main", NULL, NULL);
    co_result_add(r, CO_FAIL, long_name(), long_name(), long_name(), NULL, 1);
    for (i = 1; i < N; i++) {
        snprintf(name, sizeof name, "public.t%d", i);
        co_result_add(r, CO_FAIL, name, "chunk 3 differs", "a", "b", 1);
    }
    out = render(&rep, "markdown", NULL);
    ck_assert_uint_lt(strlen(out), 60 * 1024);
    for (p = strstr(out, "| pg.checksum |"); p != NULL;
         p = strstr(p + 1, "| pg.checksum |"))
        rows++;
    p = strstr(out, "\n... and ");
    ck_assert_ptr_nonnull(p);
    more = strtoul(p + 9, NULL, 10);
    ck_assert_uint_gt(rows, 100);
    ck_assert_uint_eq(rows + more, N);
    ck_assert_ptr_nonnull(strstr(p, " more\n"));
    /* the long cell was cut, not the row dropped */
    ck_assert_ptr_nonnull(strstr(out, "| pg.checksum | main | long&lt;xxx"));
    free(out);
    co_report_free(&rep);
}
END_TEST

/* ---- suite ----------------------------------------------------------------
 */

static Suite *reports_suite(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("reports");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sanitize_vectors);
    tcase_add_test(tc, table_lists_six);
    tcase_add_test(tc, write_file_errors);
    tcase_add_test(tc, write_file_replaces);
    tcase_add_test(tc, write_file_full_disk);
    tcase_add_test(tc, junit_hostile_valid);
    tcase_add_test(tc, junit_empty_report);
    tcase_add_test(tc, junit_many_duplicates);
    tcase_add_test(tc, junit_json_locale);
    tcase_add_test(tc, json_contract);
    tcase_add_test(tc, json_empty_report);
    tcase_add_test(tc, text_plain);
    tcase_add_test(tc, text_color_and_verbose);
    tcase_add_test(tc, text_verdicts);
    tcase_add_test(tc, text_hides_bidi_and_c1);
    tcase_add_test(tc, markdown_escapes);
    tcase_add_test(tc, markdown_all_passed);
    tcase_add_test(tc, markdown_truncates);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = reports_suite);
