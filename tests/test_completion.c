/*
 * test_completion.c - the bash and zsh scripts of
 * `cutover list --completion SHELL`, generated from the command, option
 * and check tables: bash completes commands, options, their values
 * (phases, check ids with comma lists, source|target) the way readline
 * would call it; hidden options stay hidden; every check of the registry
 * and every option of the synopsis is offered; zsh parses the script.
 * tests/pkg/deb_install.sh does the same through the installed package.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/cutover.h"
#include "testutil.h"
#include "tu_suite.h"

static char *script_dir;

/* Writes the script for shell into script_dir; returns its path. */
static char *script(const char *shell)
{
    struct tu_proc p;
    const char *argv[] = {NULL, "list", "--completion", shell, NULL};
    char *path;

    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
    ck_assert_msg(p.status == 0, "list --completion %s: %d %s", shell,
                  p.status, p.err);
    path = tu_write_file(script_dir, shell, p.out);
    tu_proc_free(&p);
    return path;
}

/* What bash's _cutover offers for words (shell syntax, the last word is
 * the one being typed), sorted, space-separated. */
static char *complete(const char *words)
{
    char *bash = script("bash");
    char *cmd =
        co_asprintf("bash --norc --noprofile -c 'source %s; COMP_WORDS=(%s); "
                    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cutover; "
                    "printf \"%%s\\n\" \"${COMPREPLY[@]}\"' | sort | xargs",
                    bash, words);
    char *out = NULL;

    ck_assert_int_eq(tu_sh(cmd, &out), 0);
    out[strcspn(out, "\n")] = '\0';
    free(cmd);
    free(bash);
    return out;
}

static void expect(const char *words, const char *want)
{
    char *got = complete(words);

    ck_assert_msg(strcmp(got, want) == 0, "%s -> \"%s\", want \"%s\"", words,
                  got, want);
    free(got);
}

/* Whether what bash offers for words holds every word of want (space
 * separated) and none of unwanted (NULL: no such list). Other helpers add
 * options, so option lists are checked by what they hold. */
static void expect_has(const char *words, const char *want,
                       const char *unwanted)
{
    char *got = complete(words);
    char *padded = co_asprintf(" %s ", got);
    const char *lists[2] = {want, unwanted};

    for (int k = 0; k < 2; k++) {
        char *l = co_strdup(lists[k] ? lists[k] : "");
        char *save = NULL;
        for (char *w = strtok_r(l, " ", &save); w;
             w = strtok_r(NULL, " ", &save)) {
            char *pw = co_asprintf(" %s ", w);
            bool found = strstr(padded, pw) != NULL;
            ck_assert_msg(found == (k == 0), "%s -> \"%s\": %s %s", words, got,
                          k == 0 ? "missing" : "should not offer", w);
            free(pw);
        }
        free(l);
    }
    free(padded);
    free(got);
}

START_TEST(bash_commands_options_values)
{
    expect_has("cutover c", "check config", "list snapshot init");
    expect("cutover check --ph", "--phase");
    expect("cutover check --phase dr", "drift");
    expect("cutover check --phase = dr", "drift"); /* --phase=dr */
    expect("cutover list --phase \"\"", "all drift post pre");
    expect("cutover check --only pg.con", "pg.connect");
    expect("cutover check --skip tls.cert,pg.ro", "tls.cert,pg.rowcount");
    expect("cutover check --color a", "always auto");
    expect("cutover snapshot --side \"\"", "source target");
    expect("cutover check --jobs \"\"", "");
}
END_TEST

/* check and snapshot share one getopt table but refuse each other's
 * options: each is offered only what its synopsis names. */
START_TEST(bash_per_command_and_hidden)
{
    expect_has("cutover snapshot --s", "--side --skip", "--strict");
    expect_has("cutover check --s", "--skip --strict", "--side");
    expect_has("cutover check -", "-c -q -v -h --junit", "-o --side");
    expect_has("cutover list --", "--help --phase --verbose",
               "--man --completion");
    expect_has("cutover config -", "--config --help -c -h", "--phase");
}
END_TEST

/* Every check of the registry after --only; every long option of the
 * `check` synopsis among check's options. */
START_TEST(bash_covers_registry_and_synopsis)
{
    char *ids = complete("cutover check --only \"\"");
    char *opts = complete("cutover check \"\"");
    char *padded = co_asprintf(" %s ", opts);
    struct tu_proc p;
    const char *argv[] = {NULL, "--help", NULL};
    char *s, *end, opt[64];

    for (size_t i = 0; i < co_ncheck; i++)
        ck_assert_msg(strstr(ids, co_checks[i]->id), "%s not offered",
                      co_checks[i]->id);
    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
    end = strstr(p.out, "cutover snapshot");
    ck_assert_ptr_nonnull(end);
    for (s = strstr(p.out, "[--"); s && s < end; s = strstr(s + 1, "[--")) {
        size_t n = strcspn(s + 1, " ]|");
        snprintf(opt, sizeof(opt), " %.*s ", (int)n, s + 1);
        ck_assert_msg(strstr(padded, opt), "check does not offer%s", opt);
    }
    tu_proc_free(&p);
    free(padded);
    free(ids);
    free(opts);
}
END_TEST

START_TEST(unknown_shell_is_usage_error)
{
    struct tu_proc p;
    const char *argv[] = {NULL, "list", "--completion", "fish", NULL};

    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "bash or zsh"));
    ck_assert_str_eq(p.out, "");
    tu_proc_free(&p);
}
END_TEST

START_TEST(zsh_script_parses)
{
    char *zsh = script("zsh");
    char *cmd = co_asprintf("zsh -n %s", zsh);
    char *out = tu_read_file(zsh, NULL);

    ck_assert_ptr_nonnull(strstr(out, "#compdef cutover\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "'*--phase=:value:(pre post drift all)'"));
    if (tu_sh("command -v zsh >/dev/null", NULL) != 0)
        fprintf(stderr, "test_completion: zsh not installed, syntax not "
                        "checked (ci/deps installs it)\n");
    else
        ck_assert_int_eq(tu_sh(cmd, NULL), 0);
    free(out);
    free(cmd);
    free(zsh);
}
END_TEST

static Suite *completion_suite(void)
{
    Suite *s = suite_create("completion");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bash_commands_options_values);
    tcase_add_test(tc, bash_per_command_and_hidden);
    tcase_add_test(tc, bash_covers_registry_and_synopsis);
    tcase_add_test(tc, unknown_shell_is_usage_error);
    tcase_add_test(tc, zsh_script_parses);
    suite_add_tcase(s, tc);
    return s;
}

static int completion_setup(void)
{
    script_dir = tu_tmpdir();
    return 0;
}

static void completion_teardown(void)
{
    char *rm = co_asprintf("rm -rf %s", script_dir);

    tu_sh(rm, NULL);
    free(rm);
    free(script_dir);
}

TU_SUITE(.make = completion_suite, .setup = completion_setup,
         .teardown = completion_teardown);
