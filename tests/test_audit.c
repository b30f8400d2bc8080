/*
 * label: net
 * test_audit.c - audits as tests, after full runs of every check:
 *
 *  1. Read-only on PostgreSQL. A full `cutover check --phase all` against
 *     database cutover_audit on both test-bed clusters (a table, a
 *     sequence, a view, pg.query, pg.quiesced, tls: true), logged in as a
 *     role made here. The clusters log every statement (log_statement =
 *     all, prefix '%m [%p] %q%u@%d app=%a '): every statement the run's
 *     sessions sent is read back from CUTOVER_TB_PG_{SOURCE,TARGET}_LOG
 *     and must not write (see sql_write_reason(); a self-test proves the
 *     scanner catches writes). Row counters and the sequence are unchanged.
 *  2. Read-only on Redis. The same run's Redis resource is a throwaway
 *     pair this suite starts (source plain, target TLS with the test
 *     bed's certificates): `INFO commandstats` before and after may differ
 *     only in commands on this file's read list that the server itself
 *     does not flag `write` (COMMAND INFO), and the keyspace is unchanged.
 *     A throwaway pair because the bed's servers are shared: suites that
 *     plant data run in parallel and their writes would show in a diff.
 *  3. Secrets. One sentinel string is part of the role's password, the
 *     Redis password, a header token from ${AUDIT_TOKEN}, a URL query
 *     secret, URL userinfo and the env values (config vars): it must
 *     appear in no stdout, stderr, report (JSON, JUnit, Markdown, text)
 *     or snapshot: on the full run, on `cutover config`, on `cutover
 *     snapshot` of both sides, and on every error path (wrong password on
 *     a live server, refused, TLS verification and handshake failures).
 */
#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...) TU_WORDS(__VA_ARGS__)
#define N(a)   (sizeof(a) / sizeof((a)[0]))

#define DB        "cutover_audit"
#define ROLE      "cutover_audit_role"
#define SENTINEL  "sntl-audit-5e81c3"
#define ROLE_PW   SENTINEL "-pg"
#define WRONG_PW  SENTINEL "-wrong"
#define REDIS_PW  SENTINEL "-redis"
#define TOKEN     SENTINEL "-token"
#define ENV_VALUE SENTINEL "-env"

/* ---- which statements write ------------------------------------------- */

/* Blanks (in place) what is not SQL keywords: comments, string literals
 * ('...', E'...', $tag$...$tag$) and quoted identifiers, so a catalog
 * query that says 'INSERT' or "delete" is not taken for a write. */
static void strip_sql(char *s)
{
    size_t n = strlen(s), i = 0;

    while (i < n) {
        size_t j;
        if (s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                s[i++] = ' ';
        } else if (s[i] == '/' && s[i + 1] == '*') {
            int depth = 0;
            do {
                if (s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    s[i++] = ' ';
                } else if (s[i] == '*' && s[i + 1] == '/') {
                    depth--;
                    s[i++] = ' ';
                }
                s[i++] = ' ';
            } while (i < n && depth > 0);
        } else if (s[i] == '\'' || s[i] == '"') {
            char q = s[i];
            bool esc =
                q == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
            s[i++] = ' ';
            while (i < n) {
                if (esc && s[i] == '\\' && i + 1 < n) {
                    s[i++] = ' ';
                } else if (s[i] == q && s[i + 1] == q) {
                    s[i++] = ' ';
                } else if (s[i] == q) {
                    s[i++] = ' ';
                    break;
                }
                s[i++] = ' ';
            }
        } else if (s[i] == '$' &&
                   (i == 0 ||
                    !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))) {
            /* $tag$ ... $tag$ (tag may be empty); $1 is a parameter. */
            j = i + 1;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
                j++;
            if (j < n && s[j] == '$' && !isdigit((unsigned char)s[i + 1])) {
                size_t taglen = j - i + 1;
                char *end = NULL;
                char tag[64];
                snprintf(tag, sizeof(tag), "%.*s", (int)taglen, s + i);
                end = strstr(s + j + 1, tag);
                j = end ? (size_t)(end - s) + taglen : n;
                while (i < j)
                    s[i++] = ' ';
            } else {
                i++;
            }
        } else {
            i++;
        }
    }
}

/* The words of stripped SQL, upper-cased, into words[] (max). */
static size_t sql_words(const char *s, char words[][48], size_t max)
{
    size_t n = 0;

    while (*s && n < max) {
        size_t k = 0;
        if (!(isalnum((unsigned char)*s) || *s == '_')) {
            s++;
            continue;
        }
        while (isalnum((unsigned char)*s) || *s == '_' || *s == '$') {
            if (k + 1 < sizeof(words[0]))
                words[n][k++] = (char)toupper((unsigned char)*s);
            s++;
        }
        words[n++][k] = '\0';
    }
    return n;
}

static bool in_list(const char *w, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(w, list[i]) == 0)
            return true;
    return false;
}

/* Statements that may start a read-only session's statement. */
static const char *const lead_ok[] = {
    "SELECT",    "WITH",    "SHOW",    "SET",      "RESET", "BEGIN",
    "START",     "COMMIT",  "END",     "ROLLBACK", "ABORT", "FETCH",
    "CLOSE",     "DECLARE", "EXPLAIN", "VALUES",   "TABLE", "DEALLOCATE",
    "SAVEPOINT", "RELEASE", "COPY",    NULL};
/* Words that write (or take a write lock, or assign an xid) wherever
 * they appear. */
static const char *const deny[] = {"INSERT",
                                   "UPDATE",
                                   "DELETE",
                                   "MERGE",
                                   "INTO",
                                   "TRUNCATE",
                                   "ANALYZE",
                                   "NEXTVAL",
                                   "SETVAL",
                                   "SET_CONFIG",
                                   "TXID_CURRENT",
                                   "PG_CURRENT_XACT_ID",
                                   "PG_TERMINATE_BACKEND",
                                   "PG_CANCEL_BACKEND",
                                   "PG_RELOAD_CONF",
                                   "PG_ROTATE_LOGFILE",
                                   "PG_SWITCH_WAL",
                                   "PG_DROP_REPLICATION_SLOT",
                                   "PG_LOGICAL_SLOT_GET_CHANGES",
                                   "PG_LOGICAL_SLOT_GET_BINARY_CHANGES",
                                   "PG_FILE_WRITE",
                                   "LO_IMPORT",
                                   "LO_EXPORT",
                                   "LO_UNLINK",
                                   "LO_CREATE",
                                   "LO_CREAT",
                                   "LO_FROM_BYTEA",
                                   "LO_PUT",
                                   "DBLINK",
                                   "DBLINK_EXEC",
                                   NULL};
static const char *const deny_prefix[] = {
    "PG_ADVISORY_",           "PG_TRY_ADVISORY_", "PG_CREATE_",
    "PG_REPLICATION_ORIGIN_", "PG_STAT_RESET",    NULL};
/* What a SET must not touch. */
static const char *const set_deny[] = {
    "TRANSACTION_READ_ONLY", "DEFAULT_TRANSACTION_READ_ONLY", "ROLE",
    "AUTHORIZATION",         "SESSION_AUTHORIZATION",         NULL};

/* NULL when sql only reads, else why not (static text). */
static const char *sql_write_reason(const char *sql)
{
    static char why[128];
    char *s = co_strdup(sql);
    char(*w)[48] = calloc(4096, sizeof(*w));
    size_t n;
    const char *r = NULL;

    strip_sql(s);
    n = sql_words(s, w, 4096);
    if (n == 0)
        goto done;
    if (!in_list(w[0], lead_ok)) {
        snprintf(why, sizeof(why), "statement %s", w[0]);
        r = why;
        goto done;
    }
    for (size_t i = 0; i < n && r == NULL; i++) {
        if (in_list(w[i], deny)) {
            snprintf(why, sizeof(why), "%s", w[i]);
            r = why;
        }
        for (size_t k = 0; deny_prefix[k] != NULL && r == NULL; k++)
            if (strncmp(w[i], deny_prefix[k], strlen(deny_prefix[k])) == 0) {
                snprintf(why, sizeof(why), "%s", w[i]);
                r = why;
            }
        if (r == NULL && i + 1 < n && strcmp(w[i], "READ") == 0 &&
            strcmp(w[i + 1], "WRITE") == 0)
            r = "READ WRITE";
        if (r == NULL && i + 1 < n && strcmp(w[i], "FOR") == 0 &&
            (strcmp(w[i + 1], "SHARE") == 0 ||
             (i + 2 < n && strcmp(w[i + 1], "KEY") == 0 &&
              strcmp(w[i + 2], "SHARE") == 0)))
            r = "FOR SHARE";
        if (r == NULL &&
            (strcmp(w[0], "SET") == 0 || strcmp(w[0], "RESET") == 0) &&
            in_list(w[i], set_deny)) {
            snprintf(why, sizeof(why), "SET %s", w[i]);
            r = why;
        }
    }
    /* COPY only out to the client: not FROM, not into a server file. */
    if (r == NULL && strcmp(w[0], "COPY") == 0) {
        bool out = false, in = false;
        for (size_t i = 0; i < n; i++) {
            out = out || strcmp(w[i], "STDOUT") == 0;
            in = in || strcmp(w[i], "STDIN") == 0 ||
                 strcmp(w[i], "PROGRAM") == 0;
        }
        if (!out || in)
            r = "COPY not TO STDOUT";
    }
done:
    free(w);
    free(s);
    return r;
}

START_TEST(scanner_catches_writes)
{
    static const char *const bad[] = {
        "INSERT INTO t VALUES (1)",
        "update t set a = 1",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SELECT nextval('s')",
        "select pg_catalog.setval('s', 5)",
        "SELECT * INTO t2 FROM t",
        "SET TRANSACTION READ WRITE",
        "BEGIN READ WRITE",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "SELECT * FROM t FOR UPDATE",
        "SELECT * FROM t FOR KEY SHARE",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SET default_transaction_read_only = off",
        "RESET default_transaction_read_only",
        "CREATE TEMP TABLE x (a int)",
        "DROP TABLE t",
        "ALTER TABLE t ADD b int",
        "TRUNCATE t",
        "COPY t FROM STDIN",
        "COPY t TO '/tmp/x'",
        "GRANT SELECT ON t TO u",
        "REVOKE SELECT ON t FROM u",
        "VACUUM t",
        "ANALYZE t",
        "EXPLAIN ANALYZE SELECT 1",
        "LOCK TABLE t",
        "COMMENT ON TABLE t IS 'x'",
        "CALL p()",
        "DO $$BEGIN NULL; END$$",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_terminate_backend(1)",
        "SELECT txid_current()",
        "REFRESH MATERIALIZED VIEW v",
        "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
        "SELECT lo_import('/etc/passwd')",
        "select pg_stat_reset()",
        "/* note */ insert into t values (1)",
        "CLUSTER t",
        "REINDEX TABLE t",
        "NOTIFY c",
        "PREPARE TRANSACTION 'x'",
        "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
    };
    static const char *const good[] = {
        "SELECT 1",
        "SELECT 'INSERT INTO t' AS x",
        "SELECT obj_description(c.oid, 'pg_class') AS comment FROM pg_class c",
        "SELECT \"update\", \"delete\" FROM t",
        "SELECT $1::text, $2",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SHOW server_version",
        "SELECT pg_stat_clear_snapshot()",
        "SELECT E'it''s \\' DELETE'",
        "SELECT $q$ DROP TABLE t $q$",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "COPY (SELECT 1) TO STDOUT",
        "SELECT txid_current_snapshot()",
        "-- DELETE FROM t\nSELECT 1",
        "SELECT confupdtype, confdeltype, n_tup_upd FROM pg_constraint",
        "SELECT CASE p.polcmd WHEN 'a' THEN 'INSERT' END FROM pg_policy p",
        "SET statement_timeout = 0",
    };

    for (size_t i = 0; i < N(bad); i++)
        ck_assert_msg(sql_write_reason(bad[i]) != NULL, "not caught: %s",
                      bad[i]);
    for (size_t i = 0; i < N(good); i++) {
        const char *why = sql_write_reason(good[i]);
        ck_assert_msg(why == NULL, "read taken for a write (%s): %s", why,
                      good[i]);
    }
}
END_TEST

/* ---- reading the server logs -------------------------------------------- */

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

/* A log record begins with the '%m' timestamp: "2026-01-31 12:00:00". */
static bool record_start(const char *line)
{
    return strlen(line) > 19 && isdigit((unsigned char)line[0]) &&
           line[4] == '-' && line[7] == '-' && line[10] == ' ' &&
           line[13] == ':';
}

struct audit {
    size_t statements; /* statements of the audited sessions */
    struct co_buf bad; /* the writes among them, one a line */
};

/* One record (first line + continuation lines): a statement of a
 * session of `who` ("user@db app=cutover ") is checked. */
static void audit_record(struct audit *a, const char *rec, const char *who)
{
    static const char *const marks[] = {"LOG:  statement: ", "LOG:  execute "};
    const char *sql = NULL;

    if (strstr(rec, who) == NULL)
        return;
    for (size_t i = 0; i < N(marks) && sql == NULL; i++) {
        const char *m = strstr(rec, marks[i]);
        if (m == NULL)
            continue;
        sql = m + strlen(marks[i]);
        if (i == 1) { /* "execute <name>: SQL" */
            const char *colon = strstr(sql, ": ");
            sql = colon ? colon + 2 : sql;
        }
    }
    if (sql == NULL)
        return;
    a->statements++;
    const char *why = sql_write_reason(sql);
    if (why != NULL)
        co_buf_addf(&a->bad, "[%s] %.400s\n", why, sql);
}

/* Audits the statements logged in path after byte offset `from`. */
static void audit_log(struct audit *a, const char *path, long from,
                      const char *who)
{
    FILE *f = fopen(path, "rb");
    struct co_buf rec;
    char line[65536];

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, from, SEEK_SET);
    co_buf_init(&rec);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (record_start(line) && rec.len > 0) {
            audit_record(a, rec.s, who);
            rec.len = 0;
            rec.s[0] = '\0';
        }
        co_buf_puts(&rec, line);
    }
    if (rec.len > 0)
        audit_record(a, rec.s, who);
    co_buf_free(&rec);
    fclose(f);
}

/* ---- the throwaway Redis pair ------------------------------------------- */

static char *redis_dir;
static int redis_plain, redis_tls;

/* Whether something listens on port. */
static bool port_busy(int port)
{
    char *cmd = co_asprintf("ss -Hltn 'sport = :%d' | grep -q .", port);
    bool busy = tu_sh(cmd, NULL) == 0;

    free(cmd);
    return busy;
}

static const char *tls_flags(int port)
{
    return port == redis_tls ? "--tls --cacert \"$CUTOVER_TB_CA\"" : "";
}

/* redis-cli on the throwaway server at port; the password travels in
 * REDISCLI_AUTH, the output is returned. */
static char *rcli(int port, int db, const char *words)
{
    char *out = NULL;
    char *cmd = co_asprintf("REDISCLI_AUTH='" REDIS_PW "' redis-cli %s -h "
                            "127.0.0.1 -p %d -n %d %s 2>&1",
                            tls_flags(port), port, db, words);
    int rc = tu_sh(cmd, &out);

    ck_assert_msg(rc == 0, "redis-cli %s: %s", words, out ? out : "");
    free(cmd);
    return out;
}

static pid_t redis_pids[2];

/* Starts one server on port; false when it does not answer as ours
 * within 10 s (the port was taken meanwhile, e.g. by this suite running
 * from another build tree at the same time). */
static bool redis_try_start(int port, bool tls)
{
    const char *tb = tu_tb("CUTOVER_TB_DIR");
    char *conf_path = co_asprintf("%s/redis-%d.conf", redis_dir, port);
    char *pid_path = co_asprintf("%s/redis-%d.pid", redis_dir, port);
    FILE *f = fopen(conf_path, "w");
    bool ok = false;
    char *cmd;

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "bind 127.0.0.1\nprotected-mode no\ndaemonize yes\n"
            "pidfile %s\nlogfile %s/redis-%d.log\ndir %s\n"
            "requirepass %s\nsave \"\"\nappendonly no\n"
            "maxmemory-policy noeviction\n",
            pid_path, redis_dir, port, redis_dir, REDIS_PW);
    if (tls)
        fprintf(f,
                "port 0\ntls-port %d\ntls-cert-file %s/certs/redis.pem\n"
                "tls-key-file %s/certs/redis.key\n"
                "tls-ca-cert-file %s/certs/ca.pem\ntls-auth-clients no\n",
                port, tb, tb, tb);
    else
        fprintf(f, "port %d\n", port);
    fclose(f);
    chmod(conf_path, 0600);
    cmd = co_asprintf("redis-server '%s' 2>&1", conf_path);
    tu_sh(cmd, NULL);
    free(cmd);
    for (int i = 0; i < 200 && !ok; i++) {
        char *out = NULL, *pid = tu_read_file(pid_path, NULL);
        cmd =
            co_asprintf("REDISCLI_AUTH='" REDIS_PW "' redis-cli %s -h "
                        "127.0.0.1 -p %d PING 2>&1",
                        tls ? "--tls --cacert \"$CUTOVER_TB_CA\"" : "", port);
        tu_sh(cmd, &out);
        free(cmd);
        ok = pid != NULL && out != NULL && strncmp(out, "PONG", 4) == 0;
        if (ok)
            redis_pids[tls] = (pid_t)strtol(pid, NULL, 10);
        free(out);
        free(pid);
        if (!ok)
            usleep(50 * 1000);
    }
    if (!ok) { /* it may have come up late: it must not stay behind */
        char *pid = tu_read_file(pid_path, NULL);
        if (pid != NULL && strtol(pid, NULL, 10) > 0)
            kill((pid_t)strtol(pid, NULL, 10), SIGKILL);
        free(pid);
    }
    free(conf_path);
    free(pid_path);
    return ok;
}

/* A port in 45580-45599 and a server on it. */
static int redis_start_one(bool tls)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = 45580 + (int)((getpid() + attempt * 7) % 20);
        if (port == redis_plain || port_busy(port))
            continue;
        if (tls)
            redis_tls = port;
        if (redis_try_start(port, tls))
            return port;
    }
    ck_abort_msg("could not start redis-server in 45580-45599 (logs in %s)",
                 redis_dir);
    return -1;
}

/* The same small sidekiq app and cache keys on both sides. */
static void redis_plant(int port)
{
    static const char *const cmds[] = {
        "MSET user:1 a user:2 b user:3 c cache:x 1",
        "SET session:1 v EX 3600",
        "HSET user:4 name d",
        "SADD queues default",
        "RPUSH queue:default j1",
        "ZADD schedule 1 s1",
        "ZADD retry 1 r1",
        "SADD processes host:1",
    };
    for (size_t i = 0; i < N(cmds); i++)
        free(rcli(port, 0, cmds[i]));
}

static void redis_setup(void)
{
    redis_dir = tu_tmpdir();
    redis_plain = redis_start_one(false);
    redis_tls = redis_start_one(true);
    redis_plant(redis_plain);
    redis_plant(redis_tls);
}

static void pg_prepare(void);

static void servers_setup(void)
{
    pg_prepare();
    redis_setup();
}

static pid_t parent_pid;

/* Stops what setup started; idempotent. Also run at exit of the parent
 * process: Check runs no teardown when a setup failed. */
static void redis_teardown(void)
{
    char *cmd;

    if (getpid() != parent_pid || redis_dir == NULL)
        return;
    for (int i = 0; i < 2; i++)
        if (redis_pids[i] > 0 && kill(redis_pids[i], SIGTERM) == 0)
            redis_pids[i] = 0;
    usleep(200 * 1000);
    cmd = co_asprintf("rm -rf '%s'", redis_dir);
    tu_sh(cmd, NULL);
    free(cmd);
    free(redis_dir);
    redis_dir = NULL;
}

/* INFO commandstats as {"scan": calls, "config|get": calls, ...}. */
static json_t *commandstats(int port)
{
    char *out = rcli(port, 0, "INFO commandstats");
    json_t *o = json_object();

    for (char *line = out; line != NULL && *line != '\0';) {
        char name[64];
        long long calls;
        if (sscanf(line, "cmdstat_%63[^:]:calls=%lld", name, &calls) == 2)
            json_object_set_new(o, name, json_integer(calls));
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    free(out);
    return o;
}

/* What the server says of a command: its flags (COMMAND INFO). */
static bool server_flags_write(int port, const char *name)
{
    char *words = co_asprintf("COMMAND INFO '%s'", name);
    char *out = rcli(port, 0, words);
    bool write =
        strstr(out, "\nwrite\n") != NULL || strncmp(out, "write\n", 6) == 0;

    free(words);
    free(out);
    return write;
}

/* Read commands a run may send, and nothing else. */
static const char *const redis_reads[] = {"ping",
                                          "auth",
                                          "hello",
                                          "select",
                                          "info",
                                          "dbsize",
                                          "scan",
                                          "sscan",
                                          "hscan",
                                          "zscan",
                                          "type",
                                          "ttl",
                                          "pttl",
                                          "exists",
                                          "llen",
                                          "scard",
                                          "zcard",
                                          "hlen",
                                          "strlen",
                                          "xlen",
                                          "dump",
                                          "lrange",
                                          "lindex",
                                          "zrange",
                                          "zcount",
                                          "zscore",
                                          "sismember",
                                          "hexists",
                                          "config|get",
                                          "memory|usage",
                                          "object|encoding",
                                          "command|info",
                                          NULL};

static void expect_only_reads(int port, json_t *before, json_t *after)
{
    const char *name;
    json_t *v;
    size_t changed = 0;

    json_object_foreach(after, name, v)
    {
        json_int_t b = json_integer_value(json_object_get(before, name));
        if (json_integer_value(v) == b)
            continue;
        changed++;
        printf("audit: port %d: %s x%lld\n", port, name,
               (long long)(json_integer_value(v) - b));
        fflush(stdout);
        ck_assert_msg(in_list(name, redis_reads),
                      "port %d: %s was called during the run (%lld times)",
                      port, name, (long long)(json_integer_value(v) - b));
        ck_assert_msg(!server_flags_write(port, name),
                      "port %d: the server flags %s as a write", port, name);
    }
    ck_assert_msg(json_integer_value(json_object_get(after, "scan")) >
                      json_integer_value(json_object_get(before, "scan")),
                  "port %d: no SCAN during the run: nothing was audited",
                  port);
    ck_assert_int_gt(changed, 2);
}

/* ---- the PostgreSQL side -------------------------------------------- */

/* tu_pg_sql, with statement logging off for the session first (psql -f
 * sends statement by statement): the role's password must not land in
 * the log either. */
static void pg_sql_unlogged(const char *side, const char *sql)
{
    char *all = co_asprintf("SET log_statement = 'none';\n%s", sql);
    tu_pg_sql(side, DB, all);
    free(all);
}

/* Plants on the source, copies to the target; the role on both. */
static void pg_prepare(void)
{
    static const char *const sides[] = {"source", "target"};
    int64_t t0 = co_now_ms();

    tu_pg_create(DB);
    tu_pg_sql("source", DB,
              "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT "
              "NULL, price numeric(10,2), created timestamptz DEFAULT "
              "'2024-01-01');\n"
              "INSERT INTO items (name, price) SELECT 'item ' || g, g * 1.5 "
              "FROM generate_series(1, 500) g;\n"
              "CREATE INDEX items_name ON items (name);\n"
              "CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < "
              "10;\n"
              "CREATE TABLE notes (k text PRIMARY KEY, v jsonb);\n"
              "INSERT INTO notes VALUES ('a', '{\"x\": 1}'), ('b', NULL);\n");
    tu_pg_copy(DB);
    for (size_t i = 0; i < N(sides); i++) {
        char *q = tu_pg_query(sides[i], DB,
                              "SELECT count(*) FROM pg_roles WHERE rolname = "
                              "'" ROLE "'");
        if (strcmp(q, "0") == 0)
            pg_sql_unlogged(sides[i], "CREATE ROLE " ROLE " LOGIN;");
        pg_sql_unlogged(sides[i],
                        "ALTER ROLE " ROLE " PASSWORD '" ROLE_PW "';\n"
                        "GRANT pg_read_all_data, pg_monitor TO " ROLE ";\n");
        free(q);
    }
    printf("audit: database prepared in %lld ms\n",
           (long long)(co_now_ms() - t0));
    fflush(stdout);
}

/* The role's URL on side, without the test bed's sslmode: the configs
 * give ca_file, so the session is verify-full. */
static char *role_url(const char *side, const char *pw)
{
    char *admin = tu_pg_admin_url(side, DB);
    char *at = strchr(admin, '@');
    char *url;

    at[strcspn(at, "?")] = '\0';
    url = co_asprintf("postgres://" ROLE ":%s%s", pw, at);
    free(admin);
    return url;
}

/* Row counters, live rows and the sequence: what a write would move. */
static char *pg_counters(const char *side)
{
    return tu_pg_query(side, DB,
                       "SELECT string_agg(relname || ':' || n_tup_ins || ':' "
                       "|| n_tup_upd || ':' || n_tup_del || ':' || "
                       "n_live_tup, ',' ORDER BY relname) || ' seq ' || "
                       "(SELECT last_value || '/' || is_called FROM "
                       "items_id_seq) FROM pg_stat_user_tables");
}

/* ---- the full run
 * ----------------------------------------------------------- */

/* Files of env (config var) values with the sentinel in them. */
static void write_env_files(const char *dir)
{
    free(tu_write_file(dir, "heroku.json",
                       "{\"SECRET_KEY_BASE\": \"" ENV_VALUE "-1\", "
                       "\"API_TOKEN\": \"" ENV_VALUE "-2\", "
                       "\"REDIS_URL\": \"redis://h:" ENV_VALUE
                       "-3@ec2.example:6379\", \"SAME\": \"x\"}\n"));
    free(tu_write_file(dir, "aptible.env",
                       "SECRET_KEY_BASE=" ENV_VALUE "-1\n"
                       "API_TOKEN=" ENV_VALUE "-changed\n"
                       "REDIS_URL=redis://h:" ENV_VALUE "-3@aptible.example:"
                       "6379\nSAME=x\n"));
}

/* A config with every kind of resource, secrets everywhere. */
static char *full_config(const char *envdir, const char *src, const char *tgt)
{
    return co_asprintf(
        "version: 1\n"
        "settings: {jobs: 8, timeout: 30s, resolvers: "
        "[\"${CUTOVER_TB_DNS}\"]}\n"
        "postgres:\n"
        "  main:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "    quiesce_window: 1s\n"
        "    tls: true\n"
        "redis:\n"
        "  jobs:\n"
        "    source: \"redis://:" REDIS_PW "@127.0.0.1:%d/0\"\n"
        "    target: \"rediss://:" REDIS_PW "@127.0.0.1:%d/0\"\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "    queues: sidekiq\n"
        "    patterns: [\"user:*\", \"session:*\"]\n"
        "    tls: true\n"
        "domains:\n"
        "  app.cutover.test: {ttl_max: 300, expect_cname: "
        "elb-demo-1234.aptible.cutover.test}\n"
        "endpoints:\n"
        "  web:\n"
        "    url: \"https://probe:" SENTINEL "-userinfo@app.cutover.test:"
        "${CUTOVER_TB_HTTPS_GOOD}/healthz?token=" SENTINEL "-query\"\n"
        "    connect_to: 127.0.0.1\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "    headers: {Authorization: \"Bearer ${AUDIT_TOKEN}\"}\n"
        "outbound:\n"
        "  nginx: 127.0.0.1:${CUTOVER_TB_HTTPS_GOOD}\n"
        "egress: {url: \"${CUTOVER_TB_HTTP}/healthz?key=" SENTINEL
        "-egress\", expect_cidrs: [127.0.0.0/8]}\n"
        "env:\n"
        "  app: {source: %s/heroku.json, target: %s/aptible.env}\n"
        "checks:\n"
        "  pg.query: {sql: [\"n: SELECT count(*) FROM items WHERE price > "
        "100\"]}\n",
        src, tgt, redis_plain, redis_tls, envdir, envdir);
}

static const char *const audit_env[] = {"AUDIT_TOKEN=" TOKEN, NULL};

/* Which checks ran (the run must cover every kind). */
static void expect_checks_ran(const struct tu_outcome *o)
{
    static const char *const ids[] = {
        "pg.connect",     "pg.version",   "pg.extensions", "pg.schema",
        "pg.rowcount",    "pg.checksum",  "pg.sequences",  "pg.replication",
        "pg.quiesced",    "pg.query",     "redis.connect", "redis.config",
        "redis.keyspace", "redis.queues", "dns.ttl",       "dns.resolve",
        "tls.cert",       "http.probe",   "tcp.reach",     "net.egress",
        "env.diff"};
    for (size_t i = 0; i < N(ids); i++)
        tu_need_cases(o, ids[i], NULL);
}

START_TEST(full_run_reads_only_and_hides_secrets)
{
    const char *const args[] = {
        "--phase",   "all",    "--junit",    "junit.xml", "--markdown",
        "report.md", "--text", "report.txt", "--verbose", NULL};
    const char *logs[2] = {tu_tb("CUTOVER_TB_PG_SOURCE_LOG"),
                           tu_tb("CUTOVER_TB_PG_TARGET_LOG")};
    const char *sides[2] = {"source", "target"};
    char *envdir = tu_tmpdir(), *src, *tgt, *cfg, *ctr[2];
    long offset[2];
    json_t *before[2], *after[2];
    int rports[2] = {redis_plain, redis_tls};
    char *ks[2];
    struct tu_outcome o;
    struct audit a = {0};

    write_env_files(envdir);
    src = role_url("source", ROLE_PW);
    tgt = role_url("target", ROLE_PW);
    cfg = full_config(envdir, src, tgt);
    for (int i = 0; i < 2; i++) {
        ctr[i] = pg_counters(sides[i]);
        offset[i] = file_size(logs[i]);
        before[i] = commandstats(rports[i]);
        ks[i] = rcli(rports[i], 0, "DBSIZE");
    }
    tu_check_run_hiding(cfg, args, audit_env, 120, SENTINEL, &o);
    printf("audit: full run took %lld ms\n", (long long)o.took_ms);
    fflush(stdout);
    expect_checks_ran(&o);
    /* TLS verified on both protocols; it did look: the data matched. */
    tu_expect(&o, "pg.connect", "main", "source", "pass",
              W("verified: sslmode=verify-full"));
    tu_expect(&o, "redis.connect", "jobs", "target", "pass", W("verified"));
    tu_expect(&o, "pg.checksum", "main", "public.items", "pass", NULL);
    tu_expect(&o, "redis.keyspace", "jobs", "pattern user:*", "pass", NULL);
    tu_expect(&o, "env.diff", "app", "API_TOKEN", "fail", W("differs"));

    /* 1. PostgreSQL: no statement of the run's sessions writes. */
    co_buf_init(&a.bad);
    for (int i = 0; i < 2; i++)
        audit_log(&a, logs[i], offset[i], ROLE "@" DB " app=cutover ");
    ck_assert_msg(a.statements > 50,
                  "only %zu statements of the run in the logs: not audited",
                  a.statements);
    ck_assert_msg(a.bad.len == 0, "statements that write:\n%s", a.bad.s);
    printf("audit: %zu statements of the run's sessions, none writes\n",
           a.statements);
    fflush(stdout);
    co_buf_free(&a.bad);
    for (int i = 0; i < 2; i++) {
        char *now = pg_counters(sides[i]);
        ck_assert_str_eq(ctr[i], now);
        free(now);
        free(ctr[i]);
    }

    /* 2. Redis: only reads, nothing changed. */
    for (int i = 0; i < 2; i++) {
        char *ks2 = rcli(rports[i], 0, "DBSIZE");
        after[i] = commandstats(rports[i]);
        expect_only_reads(rports[i], before[i], after[i]);
        ck_assert_str_eq(ks[i], ks2);
        free(ks2);
        free(ks[i]);
        json_decref(before[i]);
        json_decref(after[i]);
    }
    tu_outcome_free(&o);
    free(cfg);
    free(src);
    free(tgt);
    free(envdir);
}
END_TEST

/* The audit sees what it must catch: a write attempt by a cutover
 * session is found in the log. A user-declared statement that gets past
 * pg.query's own scan (nextval() has no write keyword) reaches the
 * server, which refuses it in the read-only session but logs it. */
START_TEST(audit_finds_a_write_attempt)
{
    const char *const args[] = {"--only", "pg.query", NULL};
    const char *log = tu_tb("CUTOVER_TB_PG_SOURCE_LOG");
    char *src = role_url("source", ROLE_PW),
         *tgt = role_url("target", ROLE_PW);
    char *cfg = co_asprintf("version: 1\n"
                            "postgres:\n"
                            "  main:\n"
                            "    source: \"%s\"\n"
                            "    target: \"%s\"\n"
                            "    ca_file: ${CUTOVER_TB_CA}\n"
                            "checks:\n"
                            "  pg.query: {sql: [\"n: SELECT "
                            "nextval('items_id_seq')\"]}\n",
                            src, tgt);
    long offset = file_size(log);
    struct tu_outcome o;
    struct audit a = {0};

    tu_check_run_hiding(cfg, args, NULL, 60, SENTINEL, &o);
    ck_assert_msg(tu_count_status(&o, "pg.query", "pass") == 0, "%s", o.text);
    /* Refused by the server (no USAGE on the sequence, or 25006). */
    tu_expect(&o, "pg.query", "main", "n", "error", W("query failed"));
    co_buf_init(&a.bad);
    audit_log(&a, log, offset, ROLE "@" DB " app=cutover ");
    ck_assert_msg(strstr(a.bad.s ? a.bad.s : "", "[NEXTVAL]") != NULL,
                  "the audit missed the nextval() (%zu statements)",
                  a.statements);
    co_buf_free(&a.bad);
    tu_outcome_free(&o);
    free(cfg);
    free(src);
    free(tgt);
}
END_TEST

/* 3. cutover config and snapshot (both sides) print no secret. */
START_TEST(config_and_snapshot_hide_secrets)
{
    char *dir = tu_tmpdir(), *src, *tgt, *cfg, *path;
    const char *sides[] = {"source", "target"};
    struct tu_proc p;

    write_env_files(dir);
    src = role_url("source", ROLE_PW);
    tgt = role_url("target", ROLE_PW);
    cfg = full_config(dir, src, tgt);
    path = tu_write_file(dir, "cutover.yml", cfg);
    {
        const char *argv[] = {NULL, "config", "-c", path, NULL};
        ck_assert_int_eq(tu_run(&p, argv, audit_env, dir, 60), 0);
        ck_assert_msg(p.status == 0, "config: %s", p.err);
        ck_assert_msg(strstr(p.out, "***") != NULL, "nothing masked: %s",
                      p.out);
        ck_assert_msg(strstr(p.out, SENTINEL) == NULL &&
                          strstr(p.err, SENTINEL) == NULL,
                      "cutover config printed a secret");
        tu_proc_free(&p);
    }
    for (size_t i = 0; i < N(sides); i++) {
        char *out = co_asprintf("%s/snap-%s.json", dir, sides[i]);
        const char *argv[] = {NULL,     "snapshot", "-c", path, "--side",
                              sides[i], "-o",       out,  NULL};
        char *body;
        ck_assert_int_eq(tu_run(&p, argv, audit_env, dir, 120), 0);
        body = tu_read_file(out, NULL);
        ck_assert_msg(body != NULL, "no snapshot (exit %d): %s", p.status,
                      p.err);
        ck_assert_msg(strstr(body, SENTINEL) == NULL, "secret in %s", out);
        ck_assert_msg(strstr(p.out, SENTINEL) == NULL &&
                          strstr(p.err, SENTINEL) == NULL,
                      "snapshot printed a secret");
        /* The snapshot holds the recorded answers, so it was taken. */
        ck_assert_msg(strstr(body, "\"resources\"") != NULL, "%s", out);
        free(body);
        free(out);
        tu_proc_free(&p);
    }
    free(path);
    free(cfg);
    free(src);
    free(tgt);
    free(dir);
}
END_TEST

/* The port of a test-bed URL. */
static int url_port(const char *var)
{
    struct co_url u;
    char err[CO_ERRLEN];
    int port;

    ck_assert_int_eq(co_url_parse(tu_tb(var), &u, err, sizeof(err)), 0);
    port = u.port;
    co_url_free(&u);
    return port;
}

/* Every error path, with the sentinel in every URL. */
START_TEST(error_paths_hide_secrets)
{
    const char *const args[] = {
        "--phase",   "all",       "--junit",   "junit.xml", "--markdown",
        "report.md", "--verbose", "--timeout", "10s",       NULL};
    char *dir = tu_tmpdir();
    char *pg_wrong = role_url("source", WRONG_PW);
    char *pg_good = role_url("target", ROLE_PW);
    const char *tb = tu_tb("CUTOVER_TB_DIR");
    const char *closed = tu_tb("CUTOVER_TB_CLOSED_PORT");
    char *cfg, *tgt_qs;
    struct tu_outcome o;

    /* The password in the query string this time. */
    tgt_qs = co_asprintf("postgres://" ROLE "@127.0.0.1:%d/" DB
                         "?password=" WRONG_PW "&sslmode=require",
                         url_port("CUTOVER_TB_PG_TARGET_URL"));
    write_env_files(dir);
    cfg = co_asprintf(
        "version: 1\n"
        "settings: {resolvers: [\"${CUTOVER_TB_DNS}\"]}\n"
        "postgres:\n"
        "  badpw:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "  refused:\n"
        "    source: \"postgres://" ROLE ":" ROLE_PW "@127.0.0.1:%s/" DB "\"\n"
        "    target: \"%s\"\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "  wrongca:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "    ca_file: %s/certs/other-ca/ca.pem\n"
        "redis:\n"
        "  badpw:\n"
        "    source: \"redis://:" WRONG_PW "@127.0.0.1:%d/0\"\n"
        "    target: \"rediss://:" WRONG_PW "@127.0.0.1:%d/0\"\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "  refused:\n"
        "    source: \"redis://:" REDIS_PW "@127.0.0.1:%s/0\"\n"
        "    target: \"rediss://:" REDIS_PW "@127.0.0.1:%s/0\"\n"
        "  tls-to-plain:\n"
        "    source: \"rediss://:" REDIS_PW "@127.0.0.1:%d/0\"\n"
        "    target: \"rediss://:" REDIS_PW "@127.0.0.1:%d/0\"\n"
        "    ca_file: %s/certs/other-ca/ca.pem\n"
        "endpoints:\n"
        "  unknown-ca:\n"
        "    url: \"https://probe:" SENTINEL "-userinfo@app.cutover.test:"
        "${CUTOVER_TB_HTTPS_UNKNOWNCA}/healthz?token=" SENTINEL "-query\"\n"
        "    connect_to: 127.0.0.1\n"
        "    ca_file: ${CUTOVER_TB_CA}\n"
        "    headers: {Authorization: \"Bearer ${AUDIT_TOKEN}\"}\n"
        "  refused:\n"
        "    url: \"http://u:" SENTINEL
        "-userinfo@127.0.0.1:%s/?token=" SENTINEL "-query\"\n"
        "env:\n"
        "  app: {source: %s/heroku.json, target: %s/missing.env}\n",
        pg_wrong, tgt_qs, closed, pg_good, pg_good, pg_good, tb, redis_plain,
        redis_tls, closed, closed, redis_plain, redis_tls, tb, closed, dir,
        dir);
    tu_check_run_hiding(cfg, args, audit_env, 120, SENTINEL, &o);
    printf("audit: error paths took %lld ms\n", (long long)o.took_ms);
    fflush(stdout);
    ck_assert_msg(o.status == 1 || o.status == 2, "%s", o.text);
    tu_expect(&o, "pg.connect", "badpw", "source", "error",
              W("authentication failed"));
    tu_expect(&o, "pg.connect", "badpw", "target", "error",
              W("authentication failed"));
    tu_expect(&o, "pg.connect", "refused", "source", "error", W("refused"));
    tu_expect(&o, "pg.connect", "wrongca", "source", "error", W("TLS"));
    tu_expect(&o, "redis.connect", "badpw", "source", "error",
              W("authentication failed"));
    tu_expect(&o, "redis.connect", "badpw", "target", "error",
              W("authentication failed"));
    tu_expect(&o, "redis.connect", "refused", "source", "error", W("refused"));
    tu_expect(&o, "redis.connect", "tls-to-plain", "source", "error",
              W("TLS"));
    tu_expect(&o, "redis.connect", "tls-to-plain", "target", "error",
              W("TLS certificate verification failed"));
    ck_assert_int_eq(tu_count_status(&o, "env.diff", "pass"), 0);
    tu_outcome_free(&o);
    free(cfg);
    free(tgt_qs);
    free(pg_wrong);
    free(pg_good);
    free(dir);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *unit = tcase_create("scanner");
    TCase *tc = tcase_create("runs");

    tcase_add_test(unit, scanner_catches_writes);
    suite_add_tcase(s, unit);
    tcase_add_unchecked_fixture(tc, servers_setup, redis_teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, full_run_reads_only_and_hides_secrets);
    tcase_add_test(tc, audit_finds_a_write_attempt);
    tcase_add_test(tc, config_and_snapshot_hide_secrets);
    tcase_add_test(tc, error_paths_hide_secrets);
    suite_add_tcase(s, tc);
    return s;
}

static int audit_setup(void)
{
    parent_pid = getpid();
    atexit(redis_teardown);
    return 0;
}

TU_SUITE(.make = audit_suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_PG_SOURCE_LOG",
                            "CUTOVER_TB_PG_TARGET_LOG", "CUTOVER_TB_DIR",
                            "CUTOVER_TB_CA", "CUTOVER_TB_DNS",
                            "CUTOVER_TB_HTTP", "CUTOVER_TB_HTTPS_GOOD",
                            "CUTOVER_TB_HTTPS_UNKNOWNCA",
                            "CUTOVER_TB_CLOSED_PORT"),
         .setup = audit_setup);
