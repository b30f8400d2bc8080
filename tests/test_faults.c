/*
 * label: net
 * test_faults.c - faults during a run, on throwaway servers this suite
 * starts itself (the shared test bed is never killed: CTest runs suites
 * in parallel against it):
 *  - a PostgreSQL 15 cluster (initdb into a temporary directory, a port
 *    in 45560-45569, trust auth on loopback) with a table of
 *    FAULT_PG_ROWS rows in database `src`, copied to `tgt` (source and
 *    target are two databases of the one cluster);
 *  - a redis-server (a port in 45570-45579) with FAULT_REDIS_KEYS keys in
 *    db 0 and the same in db 1.
 * Each test starts `cutover check` in the background, waits until the
 * work is visibly in flight on the server (a hashing statement active in
 * pg_stat_activity; SCAN calls counted in INFO commandstats), then:
 *  - SIGTERM to cutover mid-pg.checksum: the statement is cancelled on
 *    the server (PQcancel) and the case says "interrupted";
 *  - kill -9 of the cluster (the postmaster and every backend: what a
 *    dying host looks like) mid-pg.checksum;
 *  - SIGINT to cutover mid-redis.keyspace SCAN;
 *  - kill -9 of redis-server mid-SCAN.
 * Each asserts: the process ends within its deadline, exits 1 or 2 (2
 * here: nothing was found wrong), every report (JSON, JUnit valid
 * against both schemas, Markdown) is written and well-formed, and the
 * unfinished cases are `error` saying why.
 *
 * test_cli.c covers SIGINT/SIGTERM during hung TCP connects; this suite
 * covers them with statements and scans in flight on live servers.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define PGBIN            "/usr/lib/postgresql/15/bin"
#define FAULT_PG_ROWS    1500000
#define FAULT_REDIS_KEYS 300000

/* The throwaway servers, made by the unchecked fixture in the parent
 * process (every forked test sees them; teardown runs even when a test
 * failed). */
static char *pg_dir; /* data in pg_dir/data, socket in pg_dir */
static int pg_port;
static char *redis_dir; /* pid file, log */
static int redis_port;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A TCP port in lo..hi nothing listens on (bound and released). */
static int free_port(int lo, int hi)
{
    for (int p = lo; p <= hi; p++) {
        struct sockaddr_in a = {0};
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ok;

        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)p);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return p;
    }
    ck_abort_msg("no free port in %d-%d", lo, hi);
    return -1;
}

/* Runs cmdline (a shell line), asserting it succeeds; output in *out
 * when out is not NULL. */
static void sh_ok(const char *cmdline, char **out)
{
    char *o = NULL;
    int rc = tu_sh(cmdline, &o);

    ck_assert_msg(rc == 0, "%s: exit %d: %s", cmdline, rc, o ? o : "");
    if (out != NULL)
        *out = o;
    else
        free(o);
}

/* ---- the throwaway PostgreSQL cluster ---------------------------------- */

/* PostgreSQL refuses to run as root: then its commands run as postgres. */
static const char *as_pg(void)
{
    return geteuid() == 0 ? "runuser -u postgres -- " : "";
}

/* psql as the superuser over the socket; -At output in *out. */
static int pg_psql(const char *db, const char *sql, char **out)
{
    char *cmd = co_asprintf("%s" PGBIN "/psql -X -q -At -v ON_ERROR_STOP=1 "
                            "-h '%s' -p %d -U postgres -d %s -c \"%s\" 2>&1",
                            as_pg(), pg_dir, pg_port, db, sql);
    int rc = tu_sh(cmd, out);

    free(cmd);
    return rc;
}

static bool pg_running(void)
{
    char *cmd = co_asprintf("%s" PGBIN "/pg_ctl status -D '%s/data' "
                            ">/dev/null 2>&1",
                            as_pg(), pg_dir);
    int rc = tu_sh(cmd, NULL);

    free(cmd);
    return rc == 0;
}

/* Starts the cluster on pg_port; false when it did not come up (the
 * port was taken meanwhile). */
static bool pg_try_start(void)
{
    char *cmd = co_asprintf("%s" PGBIN "/pg_ctl start -D '%s/data' -l "
                            "'%s/log' -o '-p %d' -w -t 60 >/dev/null 2>&1",
                            as_pg(), pg_dir, pg_dir, pg_port);
    int rc = tu_sh(cmd, NULL);

    free(cmd);
    return rc == 0;
}

static void pg_start(void)
{
    if (pg_running())
        return;
    ck_assert_msg(pg_try_start(), "the cluster did not start (log in %s)",
                  pg_dir);
}

/* initdb, a config for speed (no durability, no parallel workers so a
 * scan takes its full time), the table, its copy. */
static void pg_setup(void)
{
    struct passwd *pw = getpwnam("postgres");
    char *cmd, *conf;
    FILE *f;

    pg_dir = tu_tmpdir();
    if (geteuid() == 0) {
        ck_assert_msg(pw != NULL, "no postgres user");
        ck_assert_int_eq(chown(pg_dir, pw->pw_uid, pw->pw_gid), 0);
    }
    cmd = co_asprintf("%s" PGBIN "/initdb -D '%s/data' -U postgres "
                      "--auth=trust -E UTF8 --locale=C.UTF-8 --no-sync 2>&1",
                      as_pg(), pg_dir);
    sh_ok(cmd, NULL);
    free(cmd);
    /* Appended by us (root may write the postgres-owned file). */
    conf = co_asprintf("%s/data/postgresql.conf", pg_dir);
    f = fopen(conf, "a");
    ck_assert_msg(f != NULL, "%s", conf);
    fprintf(f,
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = '%s'\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "wal_level = minimal\n"
            "max_wal_senders = 0\n"
            "max_parallel_workers_per_gather = 0\n"
            "shared_buffers = 64MB\n",
            pg_dir);
    fclose(f);
    free(conf);
    /* Another run of this suite (another build tree) may take a port
     * between the look and the bind: then the next one. */
    for (int i = 0; i < 10 && !pg_running(); i++) {
        pg_port = free_port(45560 + i % 10, 45569);
        if (!pg_try_start())
            sleep_ms(100);
    }
    ck_assert_msg(pg_running(), "the cluster did not start (log in %s)",
                  pg_dir);
    ck_assert_int_eq(pg_psql("postgres", "CREATE ROLE cutover LOGIN", NULL),
                     0);
    ck_assert_int_eq(
        pg_psql("postgres", "GRANT pg_read_all_data TO cutover", NULL), 0);
    ck_assert_int_eq(pg_psql("postgres", "CREATE DATABASE src", NULL), 0);
    /* CREATE TABLE AS under wal_level=minimal skips the WAL: the fastest
     * load there is. */
    cmd = co_asprintf("CREATE TABLE big AS SELECT g::bigint AS id, "
                      "md5(g::text) AS b, g %% 977 AS c "
                      "FROM generate_series(1, %d) g",
                      FAULT_PG_ROWS);
    ck_assert_int_eq(pg_psql("src", cmd, NULL), 0);
    free(cmd);
    ck_assert_int_eq(
        pg_psql("src", "ALTER TABLE big ADD PRIMARY KEY (id)", NULL), 0);
    ck_assert_int_eq(pg_psql("postgres",
                             "CREATE DATABASE tgt TEMPLATE src "
                             "STRATEGY FILE_COPY",
                             NULL),
                     0);
}

/* The pids whose parent is ppid (from /proc). */
static size_t children_of(pid_t ppid, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < max) {
        char path[64], buf[512], *rp;
        FILE *f;
        long pp;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof(buf), f) != NULL &&
            (rp = strrchr(buf, ')')) != NULL &&
            sscanf(rp + 1, " %*c %ld", &pp) == 1 && pp == (long)ppid)
            out[n++] = (pid_t)strtol(e->d_name, NULL, 10);
        fclose(f);
    }
    closedir(d);
    return n;
}

/* The process id a server wrote first in its pid file; 0 when none. */
static pid_t pid_file(const char *dir, const char *name)
{
    char *path = co_asprintf("%s/%s", dir, name);
    char *body = tu_read_file(path, NULL);
    pid_t pid = body ? (pid_t)strtol(body, NULL, 10) : 0;

    free(body);
    free(path);
    return pid;
}

static pid_t postmaster_pid(void)
{
    return pid_file(pg_dir, "data/postmaster.pid");
}

/* kill -9 of the postmaster and every process it started: the server's
 * host died. (A postmaster killed alone leaves its backends running the
 * statement to its end.) */
static void pg_crash(void)
{
    pid_t pm = postmaster_pid(), kids[256];
    size_t n;

    ck_assert_int_gt(pm, 0);
    n = children_of(pm, kids, N(kids));
    ck_assert_int_eq(kill(pm, SIGKILL), 0);
    for (size_t i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
}

static void pg_teardown(void)
{
    char *cmd;

    if (pg_dir == NULL)
        return;
    if (pg_running()) {
        cmd = co_asprintf("%s" PGBIN "/pg_ctl stop -D '%s/data' -m immediate "
                          "-w >/dev/null 2>&1",
                          as_pg(), pg_dir);
        tu_sh(cmd, NULL);
        free(cmd);
    }
    cmd = co_asprintf("rm -rf '%s'", pg_dir);
    tu_sh(cmd, NULL);
    free(cmd);
    free(pg_dir);
    pg_dir = NULL;
}

/* How many statements of cutover's are hashing rows right now. */
static int pg_hashing(void)
{
    char *out = NULL;
    int n = -1;

    if (pg_psql("postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = 'cutover' AND state = 'active' AND "
                "query LIKE '%hashtextextended%'",
                &out) == 0)
        n = (int)strtol(out, NULL, 10);
    free(out);
    return n;
}

/* ---- the throwaway Redis ----------------------------------------------- */

static char *redis_cli(const char *words)
{
    char *out = NULL;
    char *cmd =
        co_asprintf("redis-cli -h 127.0.0.1 -p %d %s 2>&1", redis_port, words);

    sh_ok(cmd, &out);
    free(cmd);
    return out;
}

static pid_t redis_pid(void)
{
    return pid_file(redis_dir, "redis.pid");
}

static bool redis_running(void)
{
    pid_t pid = redis_pid();
    return pid > 0 && kill(pid, 0) == 0;
}

/* Starts redis-server on redis_port; false when it did not answer
 * within 5 s (the port was taken meanwhile). */
static bool redis_try_start(void)
{
    char *cmd = co_asprintf("redis-server --port %d --bind 127.0.0.1 --save "
                            "'' --appendonly no --daemonize yes --dir '%s' "
                            "--pidfile '%s/redis.pid' --logfile "
                            "'%s/redis.log' --enable-debug-command yes "
                            ">/dev/null 2>&1",
                            redis_port, redis_dir, redis_dir, redis_dir);

    tu_sh(cmd, NULL);
    free(cmd);
    for (int i = 0; i < 100; i++) {
        char *ping = NULL;
        bool ok;
        cmd =
            co_asprintf("redis-cli -h 127.0.0.1 -p %d PING 2>&1", redis_port);
        tu_sh(cmd, &ping);
        free(cmd);
        ok = ping != NULL && strncmp(ping, "PONG", 4) == 0 && redis_running();
        free(ping);
        if (ok)
            return true;
        sleep_ms(50);
    }
    if (redis_pid() > 0) /* it may have come up late: not behind us */
        kill(redis_pid(), SIGKILL);
    return false;
}

/* Plants FAULT_REDIS_KEYS keys in dbs 0 and 1 (DEBUG POPULATE: instant;
 * it skips keys that exist). */
static void redis_populate(void)
{
    for (int db = 0; db < 2; db++) {
        char words[64], *out;
        snprintf(words, sizeof(words), "-n %d DEBUG POPULATE %d key 10", db,
                 FAULT_REDIS_KEYS);
        out = redis_cli(words);
        ck_assert_msg(strncmp(out, "OK", 2) == 0, "DEBUG POPULATE: %s", out);
        free(out);
    }
}

/* Starts redis-server unless it runs, with its keys. */
static void redis_start(void)
{
    if (!redis_running())
        ck_assert_msg(redis_try_start(),
                      "redis-server did not start (log in %s)", redis_dir);
    redis_populate();
}

static void redis_setup(void)
{
    redis_dir = tu_tmpdir();
    for (int i = 0; i < 10 && !redis_running(); i++) {
        redis_port = free_port(45570 + i % 10, 45579);
        redis_try_start();
    }
    redis_start();
}

static void redis_teardown(void)
{
    pid_t pid;
    char *cmd;

    if (redis_dir == NULL)
        return;
    pid = redis_pid();
    if (pid > 0 && kill(pid, SIGKILL) == 0)
        sleep_ms(100);
    cmd = co_asprintf("rm -rf '%s'", redis_dir);
    tu_sh(cmd, NULL);
    free(cmd);
    free(redis_dir);
    redis_dir = NULL;
}

/* SCAN calls the server has served so far. */
static long scans(void)
{
    char *out = NULL, *p;
    long n = -1;
    char *cmd = co_asprintf("redis-cli -h 127.0.0.1 -p %d INFO commandstats "
                            "2>&1",
                            redis_port);

    if (tu_sh(cmd, &out) == 0) {
        p = strstr(out, "cmdstat_scan:calls=");
        n = p ? strtol(p + strlen("cmdstat_scan:calls="), NULL, 10) : 0;
    }
    free(out);
    free(cmd);
    return n;
}

static void servers_setup(void)
{
    pg_setup();
    redis_setup();
}

static pid_t parent_pid;

/* Also run at exit of the parent process: Check runs no teardown when a
 * setup failed, and forked tests must not stop the servers. */
static void servers_teardown(void)
{
    if (getpid() != parent_pid)
        return;
    pg_teardown();
    redis_teardown();
}

/* ---- cutover in the background ----------------------------------------- */

struct bg {
    pid_t pid;
    char *dir; /* config, reports, output */
    int64_t started;
};

/* Starts `cutover check -c cfg --json/--junit/--markdown` plus args
 * (NULL-ended), output to files in a fresh directory. */
static void bg_start(struct bg *b, const char *cfg, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    char *cfgpath, *json, *junit, *md, *out, *err;
    int o, e;

    b->dir = tu_tmpdir();
    cfgpath = tu_write_file(b->dir, "cutover.yml", cfg);
    json = co_asprintf("%s/report.json", b->dir);
    junit = co_asprintf("%s/junit.xml", b->dir);
    md = co_asprintf("%s/report.md", b->dir);
    argv[n++] = CUTOVER_BIN;
    argv[n++] = "check";
    argv[n++] = "-c";
    argv[n++] = cfgpath;
    argv[n++] = "--json";
    argv[n++] = json;
    argv[n++] = "--junit";
    argv[n++] = junit;
    argv[n++] = "--markdown";
    argv[n++] = md;
    for (size_t i = 0; args[i] != NULL && n + 1 < N(argv); i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    b->started = co_now_ms();
    out = co_asprintf("%s/stdout", b->dir);
    err = co_asprintf("%s/stderr", b->dir);
    o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(o >= 0 && e >= 0, "cannot create %s", out);
    b->pid = tu_spawn(argv, NULL, NULL, o, e);
    ck_assert_int_ge(b->pid, 0);
    close(o);
    close(e);
    free(out);
    free(err);
    free(cfgpath);
    free(json);
    free(junit);
    free(md);
}

/* Waits up to timeout_ms for the run to end; its exit code, or -1 (then
 * it was killed: a hang). *took_ms: from `since` to the end. */
static int bg_wait(struct bg *b, int timeout_ms, int64_t since,
                   int64_t *took_ms)
{
    int rc = tu_reap(b->pid, timeout_ms);

    *took_ms = co_now_ms() - since;
    return rc;
}

/* Whether the run is still going. */
static bool bg_alive(struct bg *b)
{
    return tu_alive(b->pid);
}

static char *bg_output(struct bg *b)
{
    char *o = co_asprintf("%s/stdout", b->dir);
    char *e = co_asprintf("%s/stderr", b->dir);
    char *os = tu_read_file(o, NULL), *es = tu_read_file(e, NULL);
    char *all = co_asprintf("--- stdout\n%s\n--- stderr\n%s", os ? os : "",
                            es ? es : "");

    free(o);
    free(e);
    free(os);
    free(es);
    return all;
}

/* Every report is there and well-formed: the JSON parses (returned), the
 * JUnit validates against both schemas, the Markdown has its table. */
static json_t *bg_reports(struct bg *b, const char *output)
{
    static const char *const xsd[] = {"ant-junit-windyroad.xsd",
                                      "jenkins-junit-10.xsd"};
    char *json = co_asprintf("%s/report.json", b->dir);
    char *md = co_asprintf("%s/report.md", b->dir);
    char *mdtext = tu_read_file(md, NULL);
    json_error_t jerr;
    json_t *root = json_load_file(json, 0, &jerr);

    ck_assert_msg(root != NULL, "JSON report: %s: %s", jerr.text, output);
    ck_assert_msg(mdtext != NULL && strstr(mdtext, "|") != NULL,
                  "no Markdown report: %s", output);
    for (size_t i = 0; i < N(xsd); i++) {
        char *out = NULL;
        char *cmd = co_asprintf("xmllint --noout --nonet --schema '%s/%s'"
                                " '%s/junit.xml' 2>&1",
                                tu_xsd_dir(), xsd[i], b->dir);
        int rc = tu_sh(cmd, &out);
        ck_assert_msg(rc == 0, "%s: %s", cmd, out ? out : "");
        free(out);
        free(cmd);
    }
    free(mdtext);
    free(md);
    free(json);
    return root;
}

static void bg_free(struct bg *b)
{
    char *cmd = co_asprintf("rm -rf '%s'", b->dir);

    tu_sh(cmd, NULL);
    free(cmd);
    free(b->dir);
}

/* The case `name` of check on its only resource, from the JSON. */
static json_t *find_case(json_t *root, const char *check, const char *name)
{
    json_t *checks = json_object_get(root, "checks"), *c, *k;
    size_t i, j;

    json_array_foreach(checks, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), check))
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *n = json_string_value(json_object_get(k, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return k;
        }
    }
    return NULL;
}

/* Asserts case `name` of check is an error whose message holds one of
 * the words (NULL-ended). */
static void expect_error(json_t *root, const char *check, const char *name,
                         const char *const *any, const char *output)
{
    json_t *c = find_case(root, check, name);
    const char *st, *msg;
    bool found = false;

    ck_assert_msg(c != NULL, "%s: no case %s: %s", check, name, output);
    st = json_string_value(json_object_get(c, "status"));
    msg = json_string_value(json_object_get(c, "message"));
    ck_assert_msg(strcmp(st, "error") == 0, "%s %s: %s: %s", check, name, st,
                  msg);
    for (size_t i = 0; any[i] != NULL; i++)
        found = found || strstr(msg, any[i]) != NULL;
    ck_assert_msg(found, "%s %s: no reason in \"%s\"", check, name, msg);
    printf("%s %s: error: %s\n", check, name, msg);
    fflush(stdout);
}

/* Polls cond every 20 ms for up to timeout_ms while the run is alive;
 * asserts it became true. */
#define WAIT_FOR(b, cond, timeout_ms, what)                                   \
    do {                                                                      \
        int64_t until_ = co_now_ms() + (timeout_ms);                          \
        while (!(cond)) {                                                     \
            ck_assert_msg(bg_alive(b), "cutover ended before %s", what);      \
            ck_assert_msg(co_now_ms() < until_, "never saw %s", what);        \
            sleep_ms(20);                                                     \
        }                                                                     \
    } while (0)

/* ---- the tests
 * -------------------------------------------------------------- */

static char *pg_config(void)
{
    return co_asprintf("version: 1\n"
                       "settings: {timeout: 60s}\n"
                       "postgres:\n"
                       "  main:\n"
                       "    source: \"postgres://cutover@127.0.0.1:%d/src"
                       "?sslmode=disable\"\n"
                       "    target: \"postgres://cutover@127.0.0.1:%d/tgt"
                       "?sslmode=disable\"\n",
                       pg_port, pg_port);
}

START_TEST(sigterm_mid_checksum)
{
    const char *const args[] = {"--only", "pg.checksum", "--phase", "post",
                                NULL};
    char *cfg, *out;
    struct bg b;
    int64_t took, t0;
    int rc;
    json_t *root;

    pg_start();
    cfg = pg_config();
    bg_start(&b, cfg, args);
    WAIT_FOR(&b, pg_hashing() > 0, 30000, "a hashing statement");
    t0 = co_now_ms();
    kill(b.pid, SIGTERM);
    rc = bg_wait(&b, 10000, t0, &took);
    out = bg_output(&b);
    /* The runner gives checks 2 s to notice, PQcancel a round trip. */
    ck_assert_msg(rc == 2, "exit %d after SIGTERM: %s", rc, out);
    ck_assert_msg(took < 4000, "took %lld ms after SIGTERM", (long long)took);
    root = bg_reports(&b, out);
    expect_error(root, "pg.checksum", "public.big", TU_WORDS("interrupted"),
                 out);
    /* The statement was cancelled on the server, not left running. */
    for (int i = 0; i < 100 && pg_hashing() != 0; i++)
        sleep_ms(50);
    ck_assert_int_eq(pg_hashing(), 0);
    json_decref(root);
    free(out);
    bg_free(&b);
    free(cfg);
}
END_TEST

START_TEST(pg_killed_mid_checksum)
{
    const char *const args[] = {"--only",    "pg.checksum", "--phase", "post",
                                "--timeout", "30s",         NULL};
    char *cfg, *out;
    struct bg b;
    int64_t took, t0;
    int rc;
    json_t *root;

    pg_start();
    cfg = pg_config();
    bg_start(&b, cfg, args);
    WAIT_FOR(&b, pg_hashing() > 0, 30000, "a hashing statement");
    t0 = co_now_ms();
    pg_crash();
    /* Well before the 30 s task deadline: a lost connection is noticed
     * at once. */
    rc = bg_wait(&b, 20000, t0, &took);
    out = bg_output(&b);
    ck_assert_msg(rc == 1 || rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(took < 10000, "took %lld ms after the crash: %s",
                  (long long)took, out);
    root = bg_reports(&b, out);
    expect_error(
        root, "pg.checksum", "public.big",
        TU_WORDS("connection lost", "closed the connection", "terminat"), out);
    json_decref(root);
    free(out);
    bg_free(&b);
    free(cfg);
}
END_TEST

static char *redis_config(void)
{
    return co_asprintf("version: 1\n"
                       "settings: {timeout: 60s}\n"
                       "redis:\n"
                       "  cache:\n"
                       "    source: \"redis://127.0.0.1:%d/0\"\n"
                       "    target: \"redis://127.0.0.1:%d/1\"\n"
                       "    queues: none\n"
                       "    patterns: [\"key:*\"]\n",
                       redis_port, redis_port);
}

START_TEST(sigint_mid_scan)
{
    const char *const args[] = {"--only", "redis.keyspace", "--phase", "post",
                                NULL};
    char *cfg, *out;
    struct bg b;
    int64_t took, t0;
    long base;
    int rc;
    json_t *root;

    redis_start();
    base = scans();
    cfg = redis_config();
    bg_start(&b, cfg, args);
    WAIT_FOR(&b, scans() > base + 20, 30000, "SCAN calls");
    t0 = co_now_ms();
    kill(b.pid, SIGINT);
    rc = bg_wait(&b, 10000, t0, &took);
    out = bg_output(&b);
    ck_assert_msg(rc == 2, "exit %d after SIGINT: %s", rc, out);
    ck_assert_msg(took < 4000, "took %lld ms after SIGINT", (long long)took);
    root = bg_reports(&b, out);
    expect_error(root, "redis.keyspace", "pattern key:*",
                 TU_WORDS("interrupted"), out);
    json_decref(root);
    free(out);
    bg_free(&b);
    free(cfg);
}
END_TEST

START_TEST(redis_killed_mid_scan)
{
    const char *const args[] = {"--only", "redis.keyspace", "--phase",
                                "post",   "--timeout",      "30s",
                                NULL};
    char *cfg, *out;
    struct bg b;
    int64_t took, t0;
    long base;
    int rc;
    json_t *root;

    redis_start();
    base = scans();
    cfg = redis_config();
    bg_start(&b, cfg, args);
    WAIT_FOR(&b, scans() > base + 20, 30000, "SCAN calls");
    t0 = co_now_ms();
    ck_assert_int_eq(kill(redis_pid(), SIGKILL), 0);
    rc = bg_wait(&b, 20000, t0, &took);
    out = bg_output(&b);
    ck_assert_msg(rc == 1 || rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(took < 5000, "took %lld ms after the kill: %s",
                  (long long)took, out);
    root = bg_reports(&b, out);
    expect_error(root, "redis.keyspace", "pattern key:*",
                 TU_WORDS("connection", "closed", "reset"), out);
    json_decref(root);
    free(out);
    bg_free(&b);
    free(cfg);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");

    /* Setup (initdb, 1.5M rows, 2x300k keys) runs once, in the parent. */
    tcase_add_unchecked_fixture(tc, servers_setup, servers_teardown);
    tcase_set_timeout(tc, 120);
    /* The PostgreSQL crash comes last: the others need a live cluster. */
    tcase_add_test(tc, sigterm_mid_checksum);
    tcase_add_test(tc, pg_killed_mid_checksum);
    tcase_add_test(tc, sigint_mid_scan);
    tcase_add_test(tc, redis_killed_mid_scan);
    suite_add_tcase(s, tc);
    return s;
}

static int faults_setup(void)
{
    if (access(PGBIN "/initdb", X_OK) != 0 ||
        tu_sh("command -v redis-server >/dev/null", NULL) != 0) {
        fprintf(stderr,
                "\n*** SKIPPED: needs %s/initdb and redis-server "
                "(ci/deps)\n\n",
                PGBIN);
        return getenv("CUTOVER_REQUIRE_TESTBED") ? 1 : TU_SKIP;
    }
    parent_pid = getpid();
    atexit(servers_teardown);
    return 0;
}

TU_SUITE(.make = faults_suite, .setup = faults_setup);
