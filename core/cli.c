/*
 * cli.c - the command line: `check`, `list`, `config`, `snapshot`,
 * `--help`, `--version`. It parses arguments, loads the config, hands the
 * run to the runner and the report to the reporters, and maps the outcome
 * to the exit codes of DESIGN.md. It is the only place that exits.
 */
#include "cli.h"

#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutover/baseline.h"
#include "cutover/cutover.h"
#include "cutover/tls.h"
#include "runner.h"

#define DEFAULT_CONFIG "cutover.yml"

static const char usage_text[] =
    "usage: cutover check    [-c FILE] [--phase pre|post|drift|all]\n"
    "                        [--only GLOB]... [--skip GLOB]...\n"
    "                        [--junit FILE] [--json FILE] [--markdown FILE]\n"
    "                        [--text FILE] [--baseline FILE]\n"
    "                        [--baseline-as source|target] [--jobs N]\n"
    "                        [--timeout DUR] [--strict]\n"
    "                        [--color auto|always|never] "
    "[--quiet|--verbose]\n"
    "                        [--shard I/N] [--progress auto|plain|none]\n"
    "       cutover snapshot [-c FILE] --side source|target [-o FILE]\n"
    "                        [--only GLOB]... [--skip GLOB]... [--jobs N]\n"
    "                        [--timeout DUR] [--quiet|--verbose]\n"
    "                        [--shard I/N] [--progress auto|plain|none]\n"
    "       cutover list     [--phase P] [--verbose]\n"
    "       cutover config   [-c FILE]\n"
    "       cutover --help | --version\n";

static const char help_text[] =
    "\n"
    "cutover checks both sides of a Heroku -> Aptible migration\n"
    "(PostgreSQL, Redis, DNS, TLS, HTTP, outbound reach, config vars) and\n"
    "writes JUnit XML, JSON, Markdown and text reports for CI gates.\n"
    "\n"
    "  -c, --config FILE   config file (default ./cutover.yml)\n"
    "      --phase P       pre, post, drift or all (default all)\n"
    "      --only GLOB     run only checks whose id matches (repeatable)\n"
    "      --skip GLOB     skip checks whose id matches (repeatable)\n"
    "      --junit FILE    write a JUnit XML report\n"
    "      --json FILE     write a JSON report\n"
    "      --markdown FILE write a Markdown summary\n"
    "      --text FILE     also write the text report to FILE\n"
    "      --baseline FILE a snapshot stands in for the side it was taken\n"
    "                      from; that side's server is not contacted\n"
    "      --baseline-as S the snapshot stands in for side S instead\n"
    "                      (source: compare the live target with a blessed\n"
    "                      snapshot of itself)\n"
    "      --side S        snapshot: the side to record (source or target)\n"
    "  -o, --output FILE   snapshot: where to write it (default stdout)\n"
    "      --jobs N        tasks run in parallel (default settings.jobs)\n"
    "      --timeout DUR   deadline per task, e.g. 30s (default "
    "settings.timeout)\n"
    "      --strict        warnings fail the run\n"
    "      --color WHEN    auto, always or never (NO_COLOR honoured)\n"
    "  -q, --quiet         no text report on stdout\n"
    "  -v, --verbose       more detail\n"
    "      --shard I/N     run part I of N (CI matrix jobs): tables, "
    "patterns,\n"
    "                      domains, endpoints and outbound targets split by\n"
    "                      size; whole-resource checks in part 1 only\n"
    "      --progress M    auto (live on a terminal; with --verbose a line\n"
    "                      every 10 s otherwise), plain (a line every 10 s,\n"
    "                      CUTOVER_PROGRESS_INTERVAL) or none; stderr only\n"
    "\n"
    "Exit codes: 0 passed, 1 a check failed, 2 a check could not run,\n"
    "64 usage error, 78 configuration error.\n";

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

/* What every command does with --help, a missing option value and an
 * unknown option; getopt_long runs with a leading ':' in its optstring. */
static int option_end(int c, char **argv)
{
    if (c == 'h') {
        fputs(usage_text, stdout);
        fputs(help_text, stdout);
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

/* ---- check ------------------------------------------------------------- */

enum {
    OPT_PHASE = 256,
    OPT_ONLY,
    OPT_SKIP,
    OPT_JUNIT,
    OPT_JSON,
    OPT_MARKDOWN,
    OPT_TEXT,
    OPT_BASELINE,
    OPT_JOBS,
    OPT_TIMEOUT,
    OPT_STRICT,
    OPT_COLOR,
    OPT_SIDE,
    OPT_MAN,
    OPT_BASELINE_AS,
    OPT_SHARD,
    OPT_PROGRESS
};

struct check_args {
    bool snapshot; /* `cutover snapshot`, not `check` */
    const char *config;
    const char *out[4]; /* junit, json, markdown, text */
    const char *baseline;
    const char *baseline_as;
    const char *side;   /* snapshot */
    const char *output; /* snapshot */
    const char *color;
    const char *progress; /* auto, plain, none */
    bool quiet, verbose, strict;
    struct co_runner_opts ro;
};

static const char *const out_names[4] = {"junit", "json", "markdown", "text"};

static int parse_jobs(const char *s, int *jobs)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 256)
        return -1;
    *jobs = (int)v;
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

/* Options that belong to the other command: `check` has no --side or
 * -o, `snapshot` no --phase, --baseline or reports. */
static bool wrong_command(int c, bool snapshot, const struct option *opts)
{
    static const int check_only[] = {OPT_PHASE,       OPT_JUNIT,  OPT_JSON,
                                     OPT_MARKDOWN,    OPT_TEXT,   OPT_BASELINE,
                                     OPT_BASELINE_AS, OPT_STRICT, OPT_COLOR};
    const char *cmd = snapshot ? "snapshot" : "check";
    bool wrong = !snapshot && (c == OPT_SIDE || c == 'o');

    for (size_t i = 0; snapshot && i < sizeof(check_only) / sizeof(int); i++)
        wrong = wrong || c == check_only[i];
    while (wrong && opts->name && opts->val != c)
        opts++;
    if (wrong)
        usage_error("--%s is not an option of `cutover %s`",
                    opts->name ? opts->name : "?", cmd);
    return wrong;
}

/* Fills a from the command line. Returns -1 to go on, or the exit code
 * to leave with (0 after --help, 64 on a usage error). */
static int parse_check_args(int argc, char **argv, struct check_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"phase", required_argument, NULL, OPT_PHASE},
        {"only", required_argument, NULL, OPT_ONLY},
        {"skip", required_argument, NULL, OPT_SKIP},
        {"junit", required_argument, NULL, OPT_JUNIT},
        {"json", required_argument, NULL, OPT_JSON},
        {"markdown", required_argument, NULL, OPT_MARKDOWN},
        {"text", required_argument, NULL, OPT_TEXT},
        {"baseline", required_argument, NULL, OPT_BASELINE},
        {"baseline-as", required_argument, NULL, OPT_BASELINE_AS},
        {"side", required_argument, NULL, OPT_SIDE},
        {"output", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"color", required_argument, NULL, OPT_COLOR},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"shard", required_argument, NULL, OPT_SHARD},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {NULL, 0, NULL, 0},
    };
    int c;

    a->config = DEFAULT_CONFIG;
    a->color = "auto";
    a->progress = "auto";
    a->ro.phase = CO_ALL;
    a->ro.handle_signals = true;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:o:qvh", opts, NULL)) != -1) {
        if (wrong_command(c, a->snapshot, opts))
            return CO_EXIT_USAGE;
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case OPT_SIDE:
        case OPT_BASELINE_AS:
            if (strcmp(optarg, "source") && strcmp(optarg, "target"))
                return usage_error("--%s must be source or target, not "
                                   "\"%s\"",
                                   c == OPT_SIDE ? "side" : "baseline-as",
                                   optarg);
            if (c == OPT_SIDE)
                a->side = optarg;
            else
                a->baseline_as = optarg;
            break;
        case OPT_PHASE:
            if (phase_option(optarg, &a->ro.phase) != 0)
                return CO_EXIT_USAGE;
            break;
        case OPT_ONLY:
            co_strlist_add(&a->ro.only, optarg);
            break;
        case OPT_SKIP:
            co_strlist_add(&a->ro.skip, optarg);
            break;
        case OPT_JUNIT:
        case OPT_JSON:
        case OPT_MARKDOWN:
        case OPT_TEXT:
            a->out[c - OPT_JUNIT] = optarg;
            break;
        case OPT_BASELINE:
            a->baseline = optarg;
            break;
        case OPT_JOBS:
            if (parse_jobs(optarg, &a->ro.jobs) < 0)
                return usage_error("--jobs must be 1..256, not \"%s\"",
                                   optarg);
            break;
        case OPT_TIMEOUT:
            if (co_duration_parse(optarg, &a->ro.timeout_ms) < 0 ||
                a->ro.timeout_ms <= 0)
                return usage_error("--timeout must be a duration like "
                                   "500ms, 30s or 5m, not \"%s\"",
                                   optarg);
            break;
        case OPT_STRICT:
            a->strict = true;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
                strcmp(optarg, "never"))
                return usage_error("--color must be auto, always or "
                                   "never, not \"%s\"",
                                   optarg);
            a->color = optarg;
            break;
        case OPT_SHARD:
            if (parse_shard(optarg, &a->ro.shard, &a->ro.nshards) < 0)
                return usage_error("--shard must be I/N with 1 <= I <= N "
                                   "<= 1000 (e.g. 2/8), not \"%s\"",
                                   optarg);
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") && strcmp(optarg, "plain") &&
                strcmp(optarg, "none"))
                return usage_error("--progress must be auto, plain or "
                                   "none, not \"%s\"",
                                   optarg);
            a->progress = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'v':
            a->verbose = true;
            break;
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (a->snapshot && a->side == NULL)
        return usage_error("%s", "snapshot needs --side source or --side "
                                 "target");
    if (a->baseline_as && a->baseline == NULL)
        return usage_error("%s", "--baseline-as needs --baseline FILE");
    if (a->output && check_out_dir(a->output) < 0)
        return usage_error("cannot write snapshot \"%s\": its directory "
                           "does not exist or is not writable",
                           a->output);
    if (a->quiet && a->verbose)
        return usage_error("%s", "--quiet and --verbose exclude each other");
    for (int i = 0; i < 4; i++)
        if (a->out[i] && check_out_dir(a->out[i]) < 0)
            return usage_error("cannot write report \"%s\": its directory "
                               "does not exist or is not writable",
                               a->out[i]);
    return -1;
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
    for (int i = 0; i < 4; i++) {
        if (a->out[i] == NULL)
            continue;
        if (co_report_write_file(rep, out_names[i], &ro, a->out[i], err,
                                 sizeof(err)) < 0) {
            fprintf(stderr, "cutover: %s\n", err);
            failed++;
        }
    }
    return failed;
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
    if (a.baseline) {
        char err[CO_ERRLEN];
        b = co_baseline_load(a.baseline, err, sizeof(err));
        if (b == NULL) {
            fprintf(stderr, "cutover: --baseline %s\n", err);
            memset(&rep, 0, sizeof(rep));
            return finish(CO_EXIT_CONFIG, false, &rep, cfg, &a, NULL);
        }
        if (a.baseline_as)
            co_baseline_set_side(b, strcmp(a.baseline_as, "source") == 0);
        a.ro.baseline = b;
    }
    abandoned = run_checks(cfg, &a, &rep);
    code = co_report_exit_code(&rep);
    if (write_reports(&rep, &a) && code == CO_EXIT_OK)
        code = CO_EXIT_ERROR;
    return finish(code, abandoned, &rep, cfg, &a, b);
}

/* ---- list -------------------------------------------------------------- */

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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned phase = CO_ALL;
    bool verbose = false, man = false;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
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
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
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
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG;
    struct co_config *cfg;
    int c, rc;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        default:
            return option_end(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    cfg = load_config(path);
    if (cfg == NULL)
        return CO_EXIT_CONFIG;
    rc = co_config_dump(cfg, stdout) < 0 ? CO_EXIT_ERROR : CO_EXIT_OK;
    co_config_free(cfg);
    return rc;
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
    b = co_baseline_new(strcmp(a.side, "source") == 0);
    a.ro.baseline = b;
    a.ro.phase = CO_ALL;
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
    {"snapshot", cmd_snapshot}, {NULL, NULL},
};

int co_cli_main(int argc, char **argv)
{
    const char *names[5];
    const char *hint;
    size_t n = 0;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return CO_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        fputs(help_text, stdout);
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
