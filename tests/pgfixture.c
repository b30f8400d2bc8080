/*
 * pgfixture.c - see pgfixture.h. Goes through psql with SQL in a temp
 * file, so no statement is ever quoted for a shell.
 */
#include "pgfixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/util.h"
#include "testutil.h"

void tu_pg_require(void)
{
    tu_testbed_require("CUTOVER_TB_PG_SOURCE_URL", "CUTOVER_TB_PG_TARGET_URL",
                       "CUTOVER_TB_PG_SOURCE_ADMIN",
                       "CUTOVER_TB_PG_TARGET_ADMIN", NULL);
}

/* The test bed's URL for side with the database replaced by db. */
static char *with_db(const char *var_source, const char *var_target,
                     const char *side, const char *db)
{
    const char *url =
        tu_tb(strcmp(side, "source") == 0 ? var_source : var_target);
    const char *slash, *q;

    ck_assert_msg(url != NULL, "test bed variable for %s unset", side);
    slash = strchr(strstr(url, "://") + 3, '/');
    ck_assert_ptr_nonnull(slash);
    q = strchr(slash, '?');
    return co_asprintf("%.*s/%s%s", (int)(slash - url), url, db, q ? q : "");
}

char *tu_pg_url(const char *side, const char *db)
{
    return with_db("CUTOVER_TB_PG_SOURCE_URL", "CUTOVER_TB_PG_TARGET_URL",
                   side, db);
}

char *tu_pg_admin_url(const char *side, const char *db)
{
    return with_db("CUTOVER_TB_PG_SOURCE_ADMIN", "CUTOVER_TB_PG_TARGET_ADMIN",
                   side, db);
}

int tu_pg_try_sql(const char *side, const char *db, const char *sql,
                  char **out)
{
    char *dir = tu_tmpdir();
    char *file = tu_write_file(dir, "q.sql", sql);
    char *url = tu_pg_admin_url(side, db);
    char *cmd = co_asprintf("psql '%s' -X -q -At -v ON_ERROR_STOP=1 -f %s "
                            "2>&1",
                            url, file);
    int rc = tu_sh(cmd, out);

    unlink(file);
    rmdir(dir);
    free(cmd);
    free(url);
    free(file);
    free(dir);
    return rc;
}

void tu_pg_sql(const char *side, const char *db, const char *sql)
{
    char *out = NULL;
    int rc = tu_pg_try_sql(side, db, sql, &out);

    ck_assert_msg(rc == 0, "psql on %s/%s failed (%d): %s\nSQL: %.300s", side,
                  db, rc, out ? out : "", sql);
    free(out);
}

char *tu_pg_query(const char *side, const char *db, const char *sql)
{
    char *out = NULL;
    int rc = tu_pg_try_sql(side, db, sql, &out);
    size_t n;

    ck_assert_msg(rc == 0, "psql on %s/%s failed (%d): %s", side, db, rc,
                  out ? out : "");
    n = strlen(out);
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

void tu_pg_drop(const char *db)
{
    const char *sides[] = {"source", "target"};
    for (int i = 0; i < 2; i++) {
        char *sql = co_asprintf("DROP DATABASE IF EXISTS \"%s\" WITH "
                                "(FORCE);",
                                db);
        tu_pg_sql(sides[i], "postgres", sql);
        free(sql);
    }
}

void tu_pg_create(const char *db)
{
    const char *sides[] = {"source", "target"};

    tu_pg_drop(db);
    for (int i = 0; i < 2; i++) {
        char *sql = co_asprintf("CREATE DATABASE \"%s\";", db);
        tu_pg_sql(sides[i], "postgres", sql);
        tu_pg_sql(sides[i], "postgres",
                  "GRANT pg_read_all_data, pg_monitor TO cutover;");
        free(sql);
    }
}

void tu_pg_copy(const char *db)
{
    char *src = tu_pg_admin_url("source", db);
    char *tgt = tu_pg_admin_url("target", db);
    /* bash, for pipefail: a failing pg_dump must fail the copy */
    char *cmd = co_asprintf("bash -c \"set -o pipefail; pg_dump -Fc '%s' | "
                            "pg_restore --no-owner --no-acl -d '%s'\" 2>&1",
                            src, tgt);
    char *out = NULL;
    int rc = tu_sh(cmd, &out);

    ck_assert_msg(rc == 0, "copy of %s failed: %s", db, out ? out : "");
    free(out);
    free(cmd);
    free(src);
    free(tgt);
}
