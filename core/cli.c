/*
 * cli.c - the command line: `check`, `list`, `config`, `snapshot`,
 * `--help`, `--version`. It parses arguments, loads the config, hands the
 * run to the runner and the report to the reporters, and maps the outcome
 * to the exit codes of doc/DESIGN.md. It is the only place that exits.
 */
#include "cli.h"

#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "completion.h"
#include "cutover/baseline.h"
#include "cutover/cutover.h"
#include "cutover/tls.h"
#include "init.h"
#include "runner.h"

#define DEFAULT_CONFIG "cutover.yml"

/* The synopsis and --help. The report files' lines come from the
 * reporter table (co_reporter.option, .metavar, .help): they go between
 * the head and the rest of each. */
static const char usage_head[] =
    "usage: cutover check    [-c FILE] [--phase pre|post|drift|all]\n"
    "                        [--only GLOBS]... [--skip GLOBS]...\n";

static const char usage_rest[] =
    "                        [--baseline FILE] [--baseline-as "
    "source|target]\n"
    "                        [--baseline FILE --baseline FILE]\n"
    "                        [--jobs N] [--timeout DUR] [--strict]\n"
    "                        [--color auto|always|never] "
    "[--quiet|--verbose]\n"
    "                        [--annotations github|none] "
    "[--no-step-summary]\n"
    "                        [--shard I/N] [--progress auto|plain|none]\n"
    "       cutover snapshot [-c FILE] --side source|target [-o FILE]\n"
    "                        [--only GLOBS]... [--skip GLOBS]... [--jobs N]\n"
    "                        [--timeout DUR] [--quiet|--verbose]\n"
    "                        [--shard I/N] [--progress auto|plain|none]\n"
    "       cutover list     [--phase P] [--verbose]\n"
    "       cutover config   [-c FILE] | --schema\n"
    "       cutover init     --heroku FILE --aptible FILE [-o FILE] "
    "[--force]\n"
    "       cutover --help | --version\n";

static const char help_head[] =
    "\n"
    "cutover checks both sides of a Heroku -> Aptible migration\n"
    "(PostgreSQL, Redis, DNS, TLS, HTTP, outbound reach, config vars) and\n"
    "writes JUnit XML, JSON, Markdown and text reports for CI gates.\n"
    "\n"
    "  -c, --config FILE   config file (default ./cutover.yml)\n"
    "      --phase P       pre, post, drift or all (default all)\n"
    "      --only GLOBS    run only checks whose id matches one of GLOBS,\n"
    "                      a comma list (repeatable): pg.schema,pg.ext*\n"
    "      --skip GLOBS    skip checks whose id matches (the same form)\n";

static const char help_rest[] =
    "      --baseline FILE a snapshot stands in for the side it was taken\n"
    "                      from; that side's server is not contacted (twice:\n"
    "                      one snapshot of each side, compared offline)\n"
    "      --baseline-as S the snapshot stands in for side S instead\n"
    "                      (source: compare the live target with a blessed\n"
    "                      snapshot of itself)\n"
    "      --side S        snapshot: the side to record (source or target)\n"
    "  -o, --output FILE   snapshot: where to write it (default stdout)\n"
    "      --schema        config: print the JSON Schema of cutover.yml\n"
    "      --heroku FILE   init: `heroku config --json` output\n"
    "      --aptible FILE  init: `aptible config` output (lines or JSON)\n"
    "      --force         init: replace an existing config file\n"
    "      --jobs N        tasks run in parallel (default settings.jobs)\n"
    "      --timeout DUR   deadline per task, e.g. 30s (default "
    "settings.timeout)\n"
    "      --strict        warnings fail the run\n"
    "      --color WHEN    auto, always or never (NO_COLOR honoured)\n"
    "  -q, --quiet         no text report on stdout\n"
    "  -v, --verbose       more detail\n"
    "      --annotations A github: print workflow commands (::error,\n"
    "                      ::warning) for GitHub Actions; none: do not\n"
    "                      (default: github when GITHUB_ACTIONS=true)\n"
    "      --no-step-summary do not append the Markdown report to\n"
    "                      $GITHUB_STEP_SUMMARY\n"
    "      --shard I/N     run part I of N (CI matrix jobs): tables, "
    "patterns,\n"
    "                      domains, endpoints and outbound targets split by\n"
    "                      size; whole-resource checks in part 1 only\n"
    "      --progress M    auto (live on a terminal; with --verbose a line\n"
    "                      every 10 s otherwise), plain (a line every 10 s,\n"
    "                      CUTOVER_PROGRESS_INTERVAL) or none; stderr only\n"
    "\n"
    "Exit codes: 0 passed, 1 a check failed, 2 a check could not run\n"
    "(or nothing was checked), 64 usage error (also: a --only/--skip\n"
    "pattern that matches no check, a selection that leaves no check to\n"
    "run), 78 configuration error (also: a config that declares nothing\n"
    "to check).\n";

#define SYNOPSIS_INDENT 24 /* where "[--junit FILE]" lines start */
#define SYNOPSIS_WIDTH  72 /* and how far they may run */
#define HELP_COLUMN     22 /* where an option's help text starts */

/* "[--junit FILE] [--json FILE] ...", wrapped under the synopsis. */
static void add_report_synopsis(struct co_buf *b)
{
    size_t col = 0;

    for (size_t i = 0; i < co_nreporter; i++) {
        const struct co_reporter *r = co_reporters[i];
        size_t w;

        if (r->option == NULL)
            continue;
        w = strlen("[-- ]") + strlen(r->option) + strlen(r->metavar);
        if (col > 0 && col + 1 + w > SYNOPSIS_WIDTH) {
            co_buf_puts(b, "\n");
            col = 0;
        }
        co_buf_addf(b, "%*s", col ? 1 : SYNOPSIS_INDENT, "");
        co_buf_addf(b, "[--%s %s]", r->option, r->metavar);
        col += (col ? 1 : SYNOPSIS_INDENT) + w;
    }
    if (col > 0)
        co_buf_puts(b, "\n");
}

/* "      --junit FILE    write a JUnit XML report", one per format. */
static void add_report_help(struct co_buf *b)
{
    for (size_t i = 0; i < co_nreporter; i++) {
        const struct co_reporter *r = co_reporters[i];
        size_t start = b->len, n;

        if (r->option == NULL)
            continue;
        co_buf_addf(b, "      --%s %s", r->option, r->metavar);
        n = b->len - start;
        co_buf_addf(b, "%*s", n < HELP_COLUMN ? (int)(HELP_COLUMN - n) : 1,
                    "");
        for (const char *p = r->help; *p;) {
            n = strcspn(p, "\n");
            co_buf_add(b, p, n);
            co_buf_puts(b, "\n");
            p += n;
            if (*p && *++p)
                co_buf_addf(b, "%*s", HELP_COLUMN, "");
        }
    }
}

/* head, the formats' part (add), rest: built into b once. */
static const char *with_reports(struct co_buf *b, const char *head,
                                void (*add)(struct co_buf *), const char *rest)
{
    if (b->len == 0) {
        co_buf_puts(b, head);
        add(b);
        co_buf_puts(b, rest);
    }
    return b->s;
}

static const char *usage_text(void)
{
    static struct co_buf b;

    return with_reports(&b, usage_head, add_report_synopsis, usage_rest);
}

static const char *help_text(void)
{
    static struct co_buf b;

    return with_reports(&b, help_head, add_report_help, help_rest);
}

static int usage_error(const char *fmt, ...) CO_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("cutover: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'cutover --help'.\n", stderr);
    return CO_EXIT_USAGE;
}

/* Every command parses its options through next_option(). While
 * `cutover list --completion` describes the commands, it records the
 * command's tables instead and answers OPT_DESCRIBED, which option_end()
 * turns into a quiet exit: the scripts come from the tables getopt uses. */
#define OPT_DESCRIBED (-2)
static struct co_cli_command *describing;

static int next_option(int argc, char **argv, const char *shortopts,
                       const struct option *opts)
{
    if (describing) {
        describing->shortopts = shortopts;
        describing->opts = opts;
        return OPT_DESCRIBED;
    }
    return getopt_long(argc, argv, shortopts, opts, NULL);
}

/* What every command does with --help, a missing option value and an
 * unknown option; getopt_long runs with a leading ':' in its optstring. */
static int option_end(int c, char **argv)
{
    if (c == OPT_DESCRIBED)
        return CO_EXIT_OK;
    if (c == 'h') {
        fputs(usage_text(), stdout);
        fputs(help_text(), stdout);
        return CO_EXIT_OK;
    }
    if (c == ':')
        return usage_error("option %s needs a value", argv[optind - 1]);
    return usage_error("unknown option %s", argv[optind - 1]);
}

/* --phase for `check` and `list`: 0, or 64 after saying why. */
static int phase_option(const char *arg, unsigned *phase)
{
    int p = co_phase_parse(arg);

    if (p < 0)
        return usage_error("--phase must be pre, post, drift or all, not "
                           "\"%s\"",
                           arg);
    *phase = (unsigned)p;
    return 0;
}

/* ---- --only / --skip ---------------------------------------------------- */

/* The up to three known check ids closest to pat, as "a, b, c". */
static void closest_ids(const char *pat, char *out, size_t len)
{
    size_t best[3] = {0}, dist[3] = {(size_t)-1, (size_t)-1, (size_t)-1};
    size_t off = 0;

    for (size_t i = 0; i < co_ncheck; i++) {
        size_t d = co_edit_distance(pat, co_checks[i]->id), j = 3;

        while (j > 0 && d < dist[j - 1])
            j--;
        if (j == 3)
            continue;
        memmove(&dist[j + 1], &dist[j], (2 - j) * sizeof(*dist));
        memmove(&best[j + 1], &best[j], (2 - j) * sizeof(*best));
        dist[j] = d;
        best[j] = i;
    }
    out[0] = '\0';
    for (size_t j = 0; j < 3 && dist[j] != (size_t)-1 && off < len; j++)
        off += (size_t)snprintf(out + off, len - off, "%s%s", j ? ", " : "",
                                co_checks[best[j]]->id);
}

/* Adds the patterns of one --only/--skip value (a comma list) to l.
 * A pattern that matches no known check id is a usage error: a typo must
 * never quietly select nothing. Returns 0, or 64 after saying why. */
static int add_patterns(struct co_strlist *l, const char *arg, const char *opt)
{
    char *copy = co_strdup(arg), *save = NULL;
    int rc = 0;

    for (char *p = strtok_r(copy, ",", &save); p && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        char *end = p + strlen(p);
        bool known = false;
        char near[256];

        while (*p == ' ' || *p == '\t')
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*p == '\0')
            continue;
        for (size_t i = 0; i < co_ncheck && !known; i++)
            known = co_glob_match(p, co_checks[i]->id);
        if (known) {
            co_strlist_add(l, p);
            continue;
        }
        closest_ids(p, near, sizeof(near));
        rc = usage_error("--%s \"%s\" matches no check (closest: %s; "
                         "`cutover list` shows them all)",
                         opt, p, near);
    }
    if (rc == 0 && strspn(arg, ", \t") == strlen(arg))
        rc =
            usage_error("--%s needs a check id or glob, not \"%s\"", opt, arg);
    free(copy);
    return rc;
}

/* Lists the checks o selects, each with what it runs on (phase 0) or
 * the phases it runs in; returns how many. */
static size_t list_selected(const struct co_config *cfg,
                            const struct co_runner_opts *o, bool phases,
                            struct co_buf *b)
{
    size_t n = 0;

    for (size_t i = 0; i < co_ncheck; i++) {
        const struct co_check *c = co_checks[i];
        const struct co_check_override *ov = co_config_override(cfg, c->id);
        char ph[64];

        if (!co_runner_selected(c, ov, o))
            continue;
        co_phases_format(ov && ov->has_phases ? ov->phases : c->phases, ph,
                         sizeof(ph));
        co_buf_addf(b, "%s%s (%s%s)", n++ ? ", " : "", c->id,
                    phases ? "runs in " : "",
                    phases       ? ph
                    : c->runs_on ? c->runs_on
                                 : co_kind_name(c->kind));
    }
    return n;
}

/* When the selection leaves nothing to check on this config, says why
 * and returns 64 instead of running a gate that would look at nothing;
 * -1 otherwise. */
static int selection_empty(const struct co_config *cfg,
                           const struct co_runner_opts *o)
{
    struct co_runner_opts any = *o;
    struct co_buf b;
    int rc;

    if (co_runner_count(cfg, o) > 0)
        return -1;
    co_buf_init(&b);
    any.nshards = 1;
    any.shard = 1;
    if (o->nshards > 1 && co_runner_count(cfg, &any) > 0) {
        co_buf_free(&b);
        return usage_error("--shard %d/%d leaves this job nothing to check: "
                           "the selected work splits into fewer than %d "
                           "parts; use fewer shards",
                           o->shard, o->nshards, o->nshards);
    }
    any.phase = CO_ALL;
    if (o->baseline && list_selected(cfg, o, false, &b) > 0)
        rc = usage_error("a snapshot records only the checks a baseline "
                         "can replay, and none of the selected ones runs "
                         "on what the config declares: %s",
                         b.s);
    else if (list_selected(cfg, o, false, &b) > 0)
        rc = usage_error("no check selected for --phase %s runs on what "
                         "the config declares: %s",
                         co_phase_name(o->phase), b.s);
    else if (list_selected(cfg, &any, true, &b) > 0)
        rc = usage_error("no selected check runs in --phase %s: %s",
                         co_phase_name(o->phase), b.s);
    else
        rc = usage_error("%s", "--only/--skip leave no check to run");
    co_buf_free(&b);
    return rc;
}

/* A config with no resource at all: nothing to check is a config error
 * (78), never an empty run that passes. Returns -1 when there is one. */
static int nothing_declared(const struct co_config *cfg, const char *path)
{
    if (cfg->nres > 0)
        return -1;
    fprintf(stderr,
            "cutover: config error: %s declares nothing to check: add a "
            "postgres, redis, domains, endpoints, outbound, egress or env "
            "resource (see examples/cutover.yml)\n",
            path);
    return CO_EXIT_CONFIG;
}

/* Loads the config or prints why not. */
static struct co_config *load_config(const char *path)
{
    char err[CO_ERRLEN] = "";
    struct co_config *cfg = co_config_load(path, err, sizeof(err));

    if (cfg == NULL || err[0]) {
        char *m = co_mask(err[0] ? err : "out of memory");
        fprintf(stderr, "cutover: config error: %s\n", m);
        free(m);
        co_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void global_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    ares_library_init(ARES_LIB_INIT_ALL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

static void global_cleanup(void)
{
    co_tls_stores_free();
    xmlCleanupParser();
    curl_global_cleanup();
    ares_library_cleanup();
}

/* ---- check and snapshot options ---------------------------------------- */

/* Options of the other commands (list, config, init). */
enum {
    OPT_PHASE = 256,
    OPT_MAN,
    OPT_SCHEMA,
    OPT_HEROKU,
    OPT_APTIBLE,
    OPT_FORCE,
    OPT_COMPLETION
};

/* The report formats a `check` can write to files; raise it when the
 * reporter table outgrows it (a test run says so). */
#define MAX_REPORTERS 16

struct check_args {
    bool snapshot; /* `cutover snapshot`, not `check` */
    const char *config;
    /* --junit FILE and the like, by index in co_reporters */
    const char *report[MAX_REPORTERS];
    const char *baseline[2]; /* a second --baseline: the other side's */
    const char *baseline_as;
    const char *side;   /* snapshot */
    const char *output; /* snapshot */
    const char *color;
    const char *progress; /* auto, plain, none */
    bool quiet, verbose, strict;
    struct co_runner_opts ro;
    const char *annotations; /* "github", "none" or NULL (auto) */
    bool no_step_summary;
};

/* The commands that accept an option (check_opt.cmds). */
enum { CMD_CHECK = 1u << 0, CMD_SNAPSHOT = 1u << 1, CMD_BOTH = 3u };

struct check_opt;

/* Stores an option's value (NULL for one that takes none) in a: 0, or
 * 64 after saying why. */
typedef int (*opt_setter)(struct check_args *a, const struct check_opt *o,
                          const char *arg);

/* One option of `check` and `snapshot`: adding one is one table line. */
struct check_opt {
    const char *name;  /* the long name, without "--" */
    const char *alias; /* a second spelling (--colour), or NULL */
    int shortopt;      /* 'c', or 0 */
    int has_arg;       /* no_argument or required_argument */
    unsigned cmds;     /* CMD_*: who accepts it; the other says so */
    opt_setter set;
    size_t off;        /* the check_args field set writes */
    const char *words; /* set_word: the values allowed, '|'-separated */
};

static void *field(struct check_args *a, const struct check_opt *o)
{
    return (char *)a + o->off;
}

static int set_string(struct check_args *a, const struct check_opt *o,
                      const char *arg)
{
    *(const char **)field(a, o) = arg;
    return 0;
}

static int set_true(struct check_args *a, const struct check_opt *o,
                    const char *arg)
{
    (void)arg;
    *(bool *)field(a, o) = true;
    return 0;
}

/* One of o->words ("auto|always|never"); the error lists them as
 * "auto, always or never". */
static int set_word(struct check_args *a, const struct check_opt *o,
                    const char *arg)
{
    struct co_buf list;
    const char *w = o->words;
    int rc;

    while (*w) {
        size_t n = strcspn(w, "|");
        if (strlen(arg) == n && strncmp(arg, w, n) == 0)
            return set_string(a, o, arg);
        w += n + (w[n] == '|');
    }
    co_buf_init(&list);
    for (w = o->words; *w;) {
        size_t n = strcspn(w, "|");
        const char *sep = w == o->words ? "" : w[n] == '\0' ? " or " : ", ";
        co_buf_addf(&list, "%s%.*s", sep, (int)n, w);
        w += n + (w[n] == '|');
    }
    rc = usage_error("--%s must be %s, not \"%s\"", o->name, list.s, arg);
    co_buf_free(&list);
    return rc;
}

static int set_phase(struct check_args *a, const struct check_opt *o,
                     const char *arg)
{
    return phase_option(arg, (unsigned *)field(a, o)) ? CO_EXIT_USAGE : 0;
}

static int set_patterns(struct check_args *a, const struct check_opt *o,
                        const char *arg)
{
    return add_patterns((struct co_strlist *)field(a, o), arg, o->name);
}

static int set_jobs(struct check_args *a, const struct check_opt *o,
                    const char *arg)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || *end || end == arg || v < 1 || v > 256)
        return usage_error("--jobs must be 1..256, not \"%s\"", arg);
    *(int *)field(a, o) = (int)v;
    return 0;
}

static int set_timeout(struct check_args *a, const struct check_opt *o,
                       const char *arg)
{
    int64_t *ms = field(a, o);

    if (co_duration_parse(arg, ms) < 0 || *ms <= 0)
        return usage_error("--timeout must be a duration like 500ms, 30s or "
                           "5m, not \"%s\"",
                           arg);
    return 0;
}

/* "I/N" with 1 <= I <= N <= 1000: 0, or -1. */
static int parse_shard(const char *s, int *shard, int *nshards)
{
    char *end;
    long i, n;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    i = strtol(s, &end, 10);
    if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
        return -1;
    n = strtol(end + 1, &end, 10);
    if (errno || *end || i < 1 || n < 1 || i > n || n > 1000)
        return -1;
    *shard = (int)i;
    *nshards = (int)n;
    return 0;
}

/* --baseline FILE, at most twice (one snapshot of each side). */
static int set_baseline(struct check_args *a, const struct check_opt *o,
                        const char *arg)
{
    const char **b = field(a, o);

    if (b[0] != NULL && b[1] != NULL)
        return usage_error("%s", "--baseline is given at most twice (one "
                                 "snapshot of each side)");
    b[b[0] != NULL] = arg;
    return 0;
}

/* --shard I/N: fills the runner options o->off points at. */
static int set_shard(struct check_args *a, const struct check_opt *o,
                     const char *arg)
{
    struct co_runner_opts *ro = field(a, o);

    if (parse_shard(arg, &ro->shard, &ro->nshards) < 0)
        return usage_error("--shard must be I/N with 1 <= I <= N <= 1000 "
                           "(e.g. 2/8), not \"%s\"",
                           arg);
    return 0;
}

#define AT(f) offsetof(struct check_args, f)
#define ARG   required_argument
#define NOARG no_argument

/* The options of `check` and `snapshot`, in getopt's order; the report
 * files (--junit FILE, ...) follow from the reporter table. */
static const struct check_opt check_opts[] = {
    {"config", NULL, 'c', ARG, CMD_BOTH, set_string, AT(config), NULL},
    {"phase", NULL, 0, ARG, CMD_CHECK, set_phase, AT(ro.phase), NULL},
    {"only", NULL, 0, ARG, CMD_BOTH, set_patterns, AT(ro.only), NULL},
    {"skip", NULL, 0, ARG, CMD_BOTH, set_patterns, AT(ro.skip), NULL},
    {"baseline", NULL, 0, ARG, CMD_CHECK, set_baseline, AT(baseline), NULL},
    {"baseline-as", NULL, 0, ARG, CMD_CHECK, set_word, AT(baseline_as),
     "source|target"},
    {"side", NULL, 0, ARG, CMD_SNAPSHOT, set_word, AT(side), "source|target"},
    {"output", NULL, 'o', ARG, CMD_SNAPSHOT, set_string, AT(output), NULL},
    {"jobs", NULL, 0, ARG, CMD_BOTH, set_jobs, AT(ro.jobs), NULL},
    {"timeout", NULL, 0, ARG, CMD_BOTH, set_timeout, AT(ro.timeout_ms), NULL},
    {"strict", NULL, 0, NOARG, CMD_CHECK, set_true, AT(strict), NULL},
    {"color", "colour", 0, ARG, CMD_CHECK, set_word, AT(color),
     "auto|always|never"},
    {"quiet", NULL, 'q', NOARG, CMD_BOTH, set_true, AT(quiet), NULL},
    {"verbose", NULL, 'v', NOARG, CMD_BOTH, set_true, AT(verbose), NULL},
    {"annotations", NULL, 0, ARG, CMD_CHECK, set_word, AT(annotations),
     "github|none"},
    {"no-step-summary", NULL, 0, NOARG, CMD_CHECK, set_true,
     AT(no_step_summary), NULL},
    {"shard", NULL, 0, ARG, CMD_BOTH, set_shard, AT(ro), NULL},
    {"progress", NULL, 0, ARG, CMD_BOTH, set_word, AT(progress),
     "auto|plain|none"},
};

#define NCHECK_OPTS    (sizeof(check_opts) / sizeof(check_opts[0]))
#define MAX_CHECK_OPTS (NCHECK_OPTS + MAX_REPORTERS)

/* check_opts and the reporters' file options, and the getopt tables
 * built from them (getopt value: the short option, or 256 + index). */
struct check_table {
    struct check_opt opt[MAX_CHECK_OPTS];
    size_t nopt;
    struct option longopts[2 * MAX_CHECK_OPTS + 2];
    char shortopts[2 * MAX_CHECK_OPTS + 3];
};

static void add_getopt(struct check_table *t, size_t *nlong, size_t *nshort,
                       size_t i)
{
    const struct check_opt *o = &t->opt[i];
    int val = o->shortopt ? o->shortopt : 256 + (int)i;

    t->longopts[(*nlong)++] = (struct option){o->name, o->has_arg, NULL, val};
    if (o->alias)
        t->longopts[(*nlong)++] =
            (struct option){o->alias, o->has_arg, NULL, val};
    if (o->shortopt) {
        t->shortopts[(*nshort)++] = (char)o->shortopt;
        if (o->has_arg == required_argument)
            t->shortopts[(*nshort)++] = ':';
    }
}

static const struct check_table *check_table(void)
{
    static struct check_table t;
    size_t nlong = 0, nshort = 0;

    if (t.nopt > 0)
        return &t;
    if (co_nreporter > MAX_REPORTERS) {
        fprintf(stderr, "cutover: core/cli.c: raise MAX_REPORTERS to %zu\n",
                co_nreporter);
        abort();
    }
    memcpy(t.opt, check_opts, sizeof(check_opts));
    t.nopt = NCHECK_OPTS;
    for (size_t i = 0; i < co_nreporter; i++) {
        const struct co_reporter *r = co_reporters[i];
        if (r->option)
            t.opt[t.nopt++] = (struct check_opt){
                .name = r->option,
                .has_arg = required_argument,
                .cmds = CMD_CHECK,
                .set = set_string,
                .off = AT(report) + i * sizeof(char *),
            };
    }
    t.shortopts[nshort++] = ':'; /* a missing value answers ':' */
    for (size_t i = 0; i < t.nopt; i++)
        add_getopt(&t, &nlong, &nshort, i);
    t.longopts[nlong++] = (struct option){"help", no_argument, NULL, 'h'};
    t.shortopts[nshort++] = 'h';
    return &t;
}

/* The table entry for getopt value c, or NULL (help, errors). */
static const struct check_opt *check_opt_of(const struct check_table *t, int c)
{
    if (c >= 256 && (size_t)(c - 256) < t->nopt)
        return &t->opt[c - 256];
    for (size_t i = 0; c > 0 && c < 256 && i < t->nopt; i++)
        if (t->opt[i].shortopt == c)
            return &t->opt[i];
    return NULL;
}

/* Refuse early when a report could never be written: better a usage
 * error now than a finished run whose JUnit file is lost. */
static int check_out_dir(const char *path)
{
    char *dir = co_strdup(path);
    char *slash = strrchr(dir, '/');
    struct stat st;
    int rc = 0;

    if (strcmp(path, "-") == 0) {
        free(dir);
        return 0;
    }
    if (slash == dir) {
        slash[1] = '\0';
    } else if (slash) {
        *slash = '\0';
    } else {
        free(dir);
        dir = co_strdup(".");
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) < 0)
        rc = -1;
    free(dir);
    return rc;
}

/* What the options say together, once all are read: -1 to go on, or 64
 * after saying why. */
static int check_args_valid(const struct check_args *a)
{
    if (a->snapshot && a->side == NULL)
        return usage_error("%s", "snapshot needs --side source or --side "
                                 "target");
    if (a->baseline_as && a->baseline[0] == NULL)
        return usage_error("%s", "--baseline-as needs --baseline FILE");
    if (a->baseline_as && a->baseline[1] != NULL)
        return usage_error("%s", "--baseline-as moves one baseline; two "
                                 "stand for the sides they were taken from");
    if (a->output && check_out_dir(a->output) < 0)
        return usage_error("cannot write snapshot \"%s\": its directory "
                           "does not exist or is not writable",
                           a->output);
    if (a->quiet && a->verbose)
        return usage_error("%s", "--quiet and --verbose exclude each other");
    for (size_t i = 0; i < co_nreporter; i++)
        if (a->report[i] && check_out_dir(a->report[i]) < 0)
            return usage_error("cannot write %s \"%s\": its directory does "
                               "not exist or is not writable",
                               co_reporters[i]->noun, a->report[i]);
    return -1;
}

/* Fills a from the command line. Returns -1 to go on, or the exit code
 * to leave with (0 after --help, 64 on a usage error). */
static int parse_check_args(int argc, char **argv, struct check_args *a)
{
    const struct check_table *t = check_table();
    unsigned cmd = a->snapshot ? CMD_SNAPSHOT : CMD_CHECK;
    int c;

    a->config = DEFAULT_CONFIG;
    a->color = "auto";
    a->progress = "auto";
    a->ro.phase = CO_ALL;
    a->ro.handle_signals = true;
    opterr = 0;
    optind = 1;
    while ((c = next_option(argc, argv, t->shortopts, t->longopts)) != -1) {
        const struct check_opt *o = check_opt_of(t, c);

        if (o == NULL)
            return option_end(c, argv);
        if ((o->cmds & cmd) == 0)
            return usage_error("--%s is not an option of `cutover %s`",
                               o->name, a->snapshot ? "snapshot" : "check");
        if (o->set(a, o, optarg) != 0)
            return CO_EXIT_USAGE;
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    return check_args_valid(a);
}

static bool want_color(const char *when, int fd)
{
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");

    if (strcmp(when, "always") == 0)
        return true;
    if (strcmp(when, "never") == 0)
        return false;
    if (nc && nc[0])
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fd) == 1;
}

/* True when a report a program reads goes to stdout ("-"): then
 * workflow commands go to stderr, which the runner parses too. */
static bool stdout_is_report(const struct check_args *a)
{
    for (size_t i = 0; i < co_nreporter; i++)
        if (a->report[i] && strcmp(a->report[i], "-") == 0 &&
            (co_reporters[i]->flags & CO_REPORTER_CLAIMS_STDOUT))
            return true;
    return false;
}

/* The CI-native outputs: workflow commands and the step summary under
 * GitHub Actions. Returns how many failed. */
static int write_ci_surfaces(const struct co_report *rep,
                             const struct check_args *a,
                             const struct co_report_opts *ro)
{
    const char *gha = getenv("GITHUB_ACTIONS");
    const char *summary = getenv("GITHUB_STEP_SUMMARY");
    bool on_github = gha && strcmp(gha, "true") == 0;
    char err[CO_ERRLEN];
    int failed = 0;

    if (a->annotations ? strcmp(a->annotations, "github") == 0 : on_github) {
        fflush(stdout);
        if (co_report_write_stream(rep, "github", ro,
                                   stdout_is_report(a) ? stderr : stdout, err,
                                   sizeof(err)) < 0) {
            fprintf(stderr, "cutover: %s\n", err);
            failed++;
        }
    }
    if (!a->no_step_summary && summary && summary[0] &&
        co_report_append_file(rep, "markdown", ro, summary, err, sizeof(err)) <
            0) {
        fprintf(stderr, "cutover: $GITHUB_STEP_SUMMARY: %s\n", err);
        failed++;
    }
    return failed;
}

static int write_reports(const struct co_report *rep,
                         const struct check_args *a)
{
    struct co_report_opts ro = {false, a->verbose, a->quiet};
    char err[CO_ERRLEN];
    int failed = 0;

    if (!a->quiet) {
        ro.color = want_color(a->color, STDOUT_FILENO);
        if (co_report_write_file(rep, "text", &ro, "-", err, sizeof(err)) <
            0) {
            fprintf(stderr, "cutover: %s\n", err);
            failed++;
        }
        fflush(stdout);
    }
    ro.color = false;
    for (size_t i = 0; i < co_nreporter; i++) {
        if (a->report[i] == NULL)
            continue;
        if (co_report_write_file(rep, co_reporters[i]->name, &ro, a->report[i],
                                 err, sizeof(err)) < 0) {
            fprintf(stderr, "cutover: %s\n", err);
            failed++;
        }
    }
    return failed + write_ci_surfaces(rep, a, &ro);
}

static void args_free(struct check_args *a)
{
    co_strlist_free(&a->ro.only);
    co_strlist_free(&a->ro.skip);
}

/* Parses the arguments and loads the config. Returns -1 and sets *cfg to
 * go on, or the exit code to leave with. */
static int prepare(int argc, char **argv, struct check_args *a,
                   struct co_config **cfg)
{
    int rc = parse_check_args(argc, argv, a);

    if (rc >= 0) {
        args_free(a);
        return rc;
    }
    *cfg = load_config(a->config);
    if (*cfg == NULL) {
        args_free(a);
        return CO_EXIT_CONFIG;
    }
    if (a->snapshot) {
        /* The recorder first: what a snapshot selects is only what it
         * can record (co_runner_count asks the same as the run). */
        a->ro.baseline = co_baseline_new(strcmp(a->side, "source") == 0);
        a->ro.phase = CO_ALL;
    }
    rc = nothing_declared(*cfg, a->config);
    if (rc < 0)
        rc = selection_empty(*cfg, &a->ro);
    if (rc >= 0) {
        co_config_free(*cfg);
        *cfg = NULL;
        co_baseline_free(a->ro.baseline);
        a->ro.baseline = NULL;
        args_free(a);
        return rc;
    }
    if (a->verbose)
        co_log_set_level(CO_LOG_INFO);
    global_init();
    return -1;
}

/* --progress: auto is live on a terminal (unless --quiet), plain
 * elsewhere with --verbose, else nothing. */
static enum co_progress_mode progress_mode(const struct check_args *a)
{
    const char *term = getenv("TERM");

    if (strcmp(a->progress, "none") == 0)
        return CO_PROGRESS_NONE;
    if (strcmp(a->progress, "plain") == 0)
        return CO_PROGRESS_PLAIN;
    if (a->quiet)
        return CO_PROGRESS_NONE;
    if (isatty(STDERR_FILENO) == 1 && !(term && strcmp(term, "dumb") == 0))
        return CO_PROGRESS_LIVE;
    return a->verbose ? CO_PROGRESS_PLAIN : CO_PROGRESS_NONE;
}

/* CUTOVER_PROGRESS_INTERVAL (a duration) for plain progress; 0: the
 * default. */
static int64_t progress_every(void)
{
    const char *e = getenv("CUTOVER_PROGRESS_INTERVAL");
    int64_t ms = 0;

    if (e == NULL || co_duration_parse(e, &ms) < 0 || ms < 100)
        return 0;
    return ms;
}

/* Runs the selected checks into rep. Returns whether a worker was
 * abandoned inside a check (then leave with _exit). */
static bool run_checks(const struct co_config *cfg, struct check_args *a,
                       struct co_report *rep)
{
    bool abandoned = false;

    memset(rep, 0, sizeof(*rep));
    rep->tool_version = CUTOVER_VERSION;
    rep->phase = co_phase_name(a->ro.phase);
    rep->strict = a->strict;
    if (gethostname(rep->hostname, sizeof(rep->hostname) - 1) < 0)
        snprintf(rep->hostname, sizeof(rep->hostname), "localhost");
    a->ro.progress = progress_mode(a);
    a->ro.progress_every_ms = progress_every();
    rep->shard = a->ro.shard; /* 0 without --shard */
    rep->nshards = a->ro.nshards;
    if (co_runner_run(cfg, &a->ro, rep, &abandoned) == 1)
        fputs("cutover: interrupted; unfinished cases are marked "
              "\"interrupted\"\n",
              stderr);
    return abandoned;
}

/* Where each result's resource is declared, for reports that point at
 * the config (Code Quality). */
static void locate_resources(struct co_report *rep,
                             const struct co_config *cfg)
{
    rep->config_path = cfg->path;
    for (size_t i = 0; i < rep->nresults; i++) {
        struct co_result *r = &rep->results[i];
        for (size_t k = 0; k < cfg->nres && r->resource && r->kind; k++)
            if (strcmp(cfg->res[k].name, r->resource) == 0 &&
                strcmp(co_kind_name(cfg->res[k].kind), r->kind) == 0)
                r->line = cfg->res[k].line;
    }
}

static int finish(int code, bool abandoned, struct co_report *rep,
                  struct co_config *cfg, struct check_args *a,
                  struct co_baseline *b)
{
    if (abandoned) {
        /* A worker is still inside a check: freeing what it points at
         * or running library destructors under it would be unsafe. */
        fflush(NULL);
        _exit(code);
    }
    co_report_free(rep);
    co_config_free(cfg);
    co_baseline_free(b);
    args_free(a);
    global_cleanup();
    return code;
}

/* The --baseline files, the second joined as the other side's; NULL
 * after saying why on stderr. */
static struct co_baseline *load_baselines(const struct check_args *a)
{
    struct co_baseline *b[2] = {NULL, NULL};
    char err[CO_ERRLEN];

    for (int i = 0; i < 2 && a->baseline[i] != NULL; i++) {
        b[i] = co_baseline_load(a->baseline[i], err, sizeof(err));
        if (b[i] == NULL) {
            fprintf(stderr, "cutover: --baseline %s\n", err);
            co_baseline_free(b[0]);
            return NULL;
        }
    }
    if (a->baseline_as)
        co_baseline_set_side(b[0], strcmp(a->baseline_as, "source") == 0);
    if (b[1] != NULL && co_baseline_pair(b[0], b[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "cutover: --baseline %s: %s\n", a->baseline[1], err);
        co_baseline_free(b[0]);
        co_baseline_free(b[1]);
        return NULL;
    }
    return b[0];
}

static int cmd_check(int argc, char **argv)
{
    struct check_args a;
    struct co_config *cfg = NULL;
    struct co_baseline *b = NULL;
    struct co_report rep;
    bool abandoned;
    int rc, code;

    memset(&a, 0, sizeof(a));
    rc = prepare(argc, argv, &a, &cfg);
    if (rc >= 0)
        return rc;
    if (a.baseline[0]) {
        b = load_baselines(&a);
        if (b == NULL) {
            memset(&rep, 0, sizeof(rep));
            return finish(CO_EXIT_CONFIG, false, &rep, cfg, &a, NULL);
        }
        a.ro.baseline = b;
    }
    abandoned = run_checks(cfg, &a, &rep);
    locate_resources(&rep, cfg);
    code = co_report_exit_code(&rep);
    if (write_reports(&rep, &a) && code == CO_EXIT_OK)
        code = CO_EXIT_ERROR;
    return finish(code, abandoned, &rep, cfg, &a, b);
}

/* ---- list -------------------------------------------------------------- */

static int completion(const char *shell);

static void print_param_default(const struct co_param *p, FILE *out)
{
    fprintf(out, "%s", p->def ? p->def : "(none)");
}

static void list_plain(unsigned phase, bool verbose)
{
    printf("%-16s %-18s %s\n", "CHECK", "PHASES", "SUMMARY");
    for (size_t i = 0; i < co_ncheck; i++) {
        const struct co_check *c = co_checks[i];
        char ph[64];

        if ((c->phases & phase) == 0)
            continue;
        co_phases_format(c->phases, ph, sizeof(ph));
        printf("%-16s %-18s %s\n", c->id, ph, c->summary);
        if (!verbose)
            continue;
        if (c->runs_on)
            printf("    runs on: %s\n", c->runs_on);
        else
            printf("    runs on: %s resources\n", co_kind_name(c->kind));
        for (const struct co_param *p = c->params; p && p->name; p++) {
            printf("    %-14s %-9s default: ", p->name,
                   co_ptype_name(p->type));
            print_param_default(p, stdout);
            printf("\n        %s\n", p->help);
        }
    }
}

/* Escapes troff's leading '.'/'\'' and backslashes. */
static void man_text(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

/* The CHECKS section of cutover(1), generated from the descriptors so
 * the man page and `list --verbose` cannot disagree. */
static void list_man(void)
{
    for (size_t i = 0; i < co_ncheck; i++) {
        const struct co_check *c = co_checks[i];
        char ph[64];

        co_phases_format(c->phases, ph, sizeof(ph));
        fputs(".TP\n.B ", stdout);
        man_text(c->id);
        fputs("\n", stdout);
        man_text(c->summary);
        if (c->runs_on) {
            printf(" (phases: %s; runs on ", ph);
            man_text(c->runs_on);
            fputs(")\n", stdout);
        } else {
            printf(" (phases: %s; runs on %s resources)\n", ph,
                   co_kind_name(c->kind));
        }
        for (const struct co_param *p = c->params; p && p->name; p++) {
            fputs(".br\n\\fI", stdout);
            man_text(p->name);
            printf("\\fR (%s, default ", co_ptype_name(p->type));
            man_text(p->def ? p->def : "none");
            fputs("): ", stdout);
            man_text(p->help);
            fputs("\n", stdout);
        }
    }
}

static int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"phase", required_argument, NULL, OPT_PHASE},
        {"verbose", no_argument, NULL, 'v'},
        {"man", no_argument, NULL, OPT_MAN},
        {"completion", required_argument, NULL, OPT_COMPLETION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned phase = CO_ALL;
    bool verbose = false, man = false;
    const char *shell = NULL;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = next_option(argc, argv, ":vh", opts)) != -1) {
        switch (c) {
        case OPT_PHASE:
            if (phase_option(optarg, &phase) != 0)
                return CO_EXIT_USAGE;
            break;
        case 'v':
            verbose = true;
            break;
        case OPT_MAN:
            man = true;
            break;
        case OPT_COMPLETION:
            shell = optarg;
            break;
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (shell)
        return completion(shell);
    if (man)
        list_man();
    else
        list_plain(phase, verbose);
    return CO_EXIT_OK;
}

/* ---- config ------------------------------------------------------------ */

static int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"schema", no_argument, NULL, OPT_SCHEMA},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG;
    struct co_config *cfg;
    bool schema = false;
    int c, rc;

    opterr = 0;
    optind = 1;
    while ((c = next_option(argc, argv, ":c:h", opts)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_SCHEMA:
            schema = true;
            break;
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (schema) /* needs no config: it describes every config */
        return co_config_schema_write(stdout) < 0 ? CO_EXIT_ERROR : CO_EXIT_OK;
    cfg = load_config(path);
    if (cfg == NULL)
        return CO_EXIT_CONFIG;
    rc = co_config_dump(cfg, stdout) < 0 ? CO_EXIT_ERROR : CO_EXIT_OK;
    co_config_free(cfg);
    return rc;
}

/* ---- init -------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"heroku", required_argument, NULL, OPT_HEROKU},
        {"aptible", required_argument, NULL, OPT_APTIBLE},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct co_init_opts o = {NULL, NULL, DEFAULT_CONFIG, false};
    char err[2 * CO_ERRLEN] = "";
    enum co_init_result r;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = next_option(argc, argv, ":o:h", opts)) != -1) {
        switch (c) {
        case OPT_HEROKU:
            o.heroku = optarg;
            break;
        case OPT_APTIBLE:
            o.aptible = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case OPT_FORCE:
            o.force = true;
            break;
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (o.heroku == NULL || o.aptible == NULL)
        return usage_error("%s", "init needs --heroku FILE (`heroku config "
                                 "--json`) and --aptible FILE (`aptible "
                                 "config`)");
    if (strcmp(o.output, "-") != 0 && check_out_dir(o.output) < 0)
        return usage_error("cannot write \"%s\": its directory does not "
                           "exist or is not writable",
                           o.output);
    r = co_init_write(&o, stderr, err, sizeof(err));
    if (r == CO_INIT_OK)
        return CO_EXIT_OK;
    fprintf(stderr, "cutover: init: %s\n", err);
    if (r == CO_INIT_EXISTS)
        return CO_EXIT_USAGE;
    return r == CO_INIT_INPUT ? CO_EXIT_CONFIG : CO_EXIT_ERROR;
}

/* ---- snapshot ---------------------------------------------------------- */

/* The cases that could not be checked, listed on stderr. */
static size_t report_errors(const struct co_report *rep)
{
    size_t n = 0;

    for (size_t i = 0; i < rep->nresults; i++) {
        const struct co_result *r = &rep->results[i];
        for (size_t k = 0; k < r->ncases; k++) {
            if (r->cases[k].status != CO_ERROR)
                continue;
            fprintf(stderr, "cutover: %s.%s %s: %s\n", r->check, r->resource,
                    r->cases[k].name, r->cases[k].message);
            n++;
        }
    }
    return n;
}

static int cmd_snapshot(int argc, char **argv)
{
    struct check_args a;
    struct co_config *cfg = NULL;
    struct co_baseline *b;
    struct co_report rep;
    char err[CO_ERRLEN];
    size_t nerr, nres, nq, nf;
    bool abandoned;
    int rc;

    memset(&a, 0, sizeof(a));
    a.snapshot = true;
    rc = prepare(argc, argv, &a, &cfg);
    if (rc >= 0)
        return rc;
    b = a.ro.baseline;
    abandoned = run_checks(cfg, &a, &rep);
    nerr = report_errors(&rep);
    if (nerr > 0) {
        fprintf(stderr,
                "cutover: snapshot not written: %zu case%s could not be "
                "checked\n",
                nerr, nerr == 1 ? "" : "s");
        return finish(CO_EXIT_ERROR, abandoned, &rep, cfg, &a, b);
    }
    if (co_baseline_save(b, a.output ? a.output : "-", err, sizeof(err)) < 0) {
        fprintf(stderr, "cutover: %s\n", err);
        return finish(CO_EXIT_ERROR, abandoned, &rep, cfg, &a, b);
    }
    co_baseline_counts(b, &nres, &nq, &nf);
    if (!a.quiet)
        fprintf(stderr,
                "cutover: snapshot of the %s written to %s: %zu resource%s, "
                "%zu recorded quer%s, %zu fact%s\n",
                a.side, a.output ? a.output : "stdout", nres,
                nres == 1 ? "" : "s", nq, nq == 1 ? "y" : "ies", nf,
                nf == 1 ? "" : "s");
    return finish(CO_EXIT_OK, abandoned, &rep, cfg, &a, b);
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"check", cmd_check},       {"list", cmd_list}, {"config", cmd_config},
    {"snapshot", cmd_snapshot}, {"init", cmd_init}, {NULL, NULL},
};

/* `cutover list --completion SHELL` (hidden; the build runs it): each
 * command runs once in describe mode and hands over its option tables. */
static int completion(const char *shell)
{
    struct co_cli_command cmds[sizeof(commands) / sizeof(commands[0])];
    size_t n = 0;

    for (; commands[n].name; n++) {
        char *argv[] = {(char *)commands[n].name, (char *)"--help", NULL};
        cmds[n].name = commands[n].name;
        cmds[n].shortopts = NULL;
        cmds[n].opts = NULL;
        describing = &cmds[n];
        commands[n].run(2, argv);
        describing = NULL;
        if (cmds[n].opts == NULL) {
            /* Fails the build (cmake/completion.cmake): a command whose
             * options the scripts cannot see would drift. */
            fprintf(stderr,
                    "cutover: command \"%s\" did not hand over its options: "
                    "parse them with next_option() in core/cli.c\n",
                    commands[n].name);
            return CO_EXIT_ERROR;
        }
    }
    if (co_completion_write(stdout, shell, cmds, n, usage_text(),
                            help_text()) < 0)
        return usage_error("--completion must be bash or zsh, not \"%s\"",
                           shell);
    return CO_EXIT_OK;
}

int co_cli_main(int argc, char **argv)
{
    const char *names[6];
    const char *hint;
    size_t n = 0;

    if (argc < 2) {
        fputs(usage_text(), stderr);
        return CO_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text(), stdout);
        fputs(help_text(), stdout);
        return CO_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("cutover %s\n", CUTOVER_VERSION);
        return CO_EXIT_OK;
    }
    for (size_t i = 0; commands[i].name; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
        names[n++] = commands[i].name;
    }
    hint = co_suggest(argv[1], names, n);
    fprintf(stderr, "cutover: unknown command \"%s\"", argv[1]);
    if (hint)
        fprintf(stderr, " (did you mean \"%s\"?)", hint);
    fputs("\nTry 'cutover --help'.\n", stderr);
    return CO_EXIT_USAGE;
}
