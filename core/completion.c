/*
 * completion.c - bash and zsh completion scripts, generated from the
 * tables the program runs on, so they cannot drift from it:
 *   - the commands and each command's getopt optstring and long-option
 *     table (cli.c hands over the very tables its parsers use);
 *   - the check registry: options whose synopsis says GLOB or GLOBS
 *     (--only, --skip) complete check ids, comma lists included;
 *   - the synopsis and help text: an option written
 *     `--color auto|always|never` completes those words, one written with
 *     FILE completes file names, one with another metavariable (N, DUR)
 *     offers nothing.
 * No option or check is named here. The build writes both scripts with
 * `cutover list --completion bash|zsh` and the Debian package ships them.
 */
#include "completion.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/cutover.h"

enum vkind {
    V_FLAG,  /* takes no value */
    V_NONE,  /* a value nothing can be offered for (N, DUR) */
    V_FILE,  /* a file name */
    V_CHECK, /* check ids, comma lists allowed */
    V_WORDS  /* one of the words in meta, '|'-separated */
};

/* One spelling of one option of one command: "--phase" or "-c". */
struct spelling {
    char spell[64];
    enum vkind kind;
    char meta[128];
};

#define MAX_SPELLINGS 128

/* Only plain words reach a script: every word comes from our own tables,
 * but a quote or a space there must not turn into shell code. extra: the
 * punctuation allowed besides "._-+/:@%,". */
static bool safe_chars(const char *s, const char *extra)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("._-+/:@%,", *s) == NULL &&
            strchr(extra, *s) == NULL)
            return false;
    return true;
}

static bool safe_word(const char *s)
{
    return safe_chars(s, "");
}

/* Whether spell occurs in doc as a word of its own. */
static bool mentions(const char *doc, const char *spell)
{
    size_t n = strlen(spell);

    for (const char *p = strstr(doc, spell); p; p = strstr(p + 1, spell)) {
        if (p > doc && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        if (isalnum((unsigned char)p[n]) || p[n] == '-')
            continue;
        return true;
    }
    return false;
}

/* The command's lines of the synopsis: from "cutover NAME" to the next
 * "cutover " (empty when it has none: then every option is offered). */
static void synopsis_of(const char *usage, const char *name, char *out,
                        size_t outlen)
{
    char head[64];
    const char *p, *end;

    snprintf(head, sizeof(head), "cutover %s", name);
    out[0] = '\0';
    for (p = strstr(usage, head); p; p = strstr(p + 1, head))
        if (isspace((unsigned char)p[strlen(head)]))
            break;
    if (p == NULL)
        return;
    end = strstr(p + strlen(head), "cutover ");
    if (end == NULL)
        end = p + strlen(p);
    snprintf(out, outlen, "%.*s", (int)(end - p), p);
}

/* Whether the option whose getopt value is val belongs in completions:
 * --help always; the rest when the command's synopsis names one of its
 * spellings. One getopt table can serve two commands (check and
 * snapshot) that refuse each other's options, and hidden options
 * (--man, --completion) stay hidden. */
static bool offered(const struct co_cli_command *c, int val,
                    const char *synopsis)
{
    char spell[64];

    if (synopsis[0] == '\0' || val == 'h')
        return true;
    for (const struct option *o = c->opts; o && o->name; o++) {
        snprintf(spell, sizeof(spell), "--%s", o->name);
        if (o->flag == NULL && o->val == val && mentions(synopsis, spell))
            return true;
    }
    if (val > 0 && val < 128 && isalnum(val)) {
        snprintf(spell, sizeof(spell), "-%c", val);
        return mentions(synopsis, spell);
    }
    return false;
}

/* The metavariable written after spell in doc ("--phase pre|post" ->
 * "pre|post"); a token with '|' wins over a plain one. Returns whether
 * one was found. */
static bool doc_meta(const char *doc, const char *spell, char *out,
                     size_t outlen)
{
    size_t n = strlen(spell);
    bool found = false;

    for (const char *p = strstr(doc, spell); p; p = strstr(p + 1, spell)) {
        const char *t = p + n;
        size_t len;

        if (p > doc && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
            continue;
        if (*t != ' ' && *t != '=')
            continue;
        t++;
        len = strcspn(t, " \t\n],");
        if (len == 0 || len >= outlen)
            continue;
        if (found && memchr(t, '|', len) == NULL)
            continue;
        memcpy(out, t, len);
        out[len] = '\0';
        found = true;
        if (strchr(out, '|'))
            return true;
    }
    return found;
}

/* The metavariable of the option whose getopt value is val, looked up
 * under each of its spellings (-c and --config, --color and --colour). */
static void option_meta(const struct co_cli_command *c, int val,
                        const char *usage, const char *help, char *out,
                        size_t outlen)
{
    const char *docs[2] = {usage, help};
    char spell[64], m[128];

    out[0] = '\0';
    for (int d = 0; d < 2; d++) {
        for (const struct option *o = c->opts; o && o->name; o++) {
            if (o->val != val || o->flag != NULL)
                continue;
            snprintf(spell, sizeof(spell), "--%s", o->name);
            if (doc_meta(docs[d], spell, m, sizeof(m)) &&
                (out[0] == '\0' || strchr(m, '|'))) {
                snprintf(out, outlen, "%s", m);
            }
        }
        if (val > 0 && val < 128 && isalnum(val)) {
            snprintf(spell, sizeof(spell), "-%c", val);
            if (doc_meta(docs[d], spell, m, sizeof(m)) &&
                (out[0] == '\0' || strchr(m, '|')))
                snprintf(out, outlen, "%s", m);
        }
    }
}

static enum vkind meta_kind(const char *meta)
{
    if (meta[0] == '\0' || strcmp(meta, "FILE") == 0 ||
        strcmp(meta, "DIR") == 0 || strcmp(meta, "PATH") == 0)
        return V_FILE; /* unknown: what a shell offers by default */
    if (strcmp(meta, "GLOB") == 0 || strcmp(meta, "GLOBS") == 0)
        return V_CHECK;
    if (strchr(meta, '|'))
        return V_WORDS;
    return V_NONE;
}

static void add_spelling(struct spelling *s, size_t *n, const char *spell,
                         bool arg, const struct co_cli_command *c, int val,
                         const char *usage, const char *help)
{
    struct spelling *p;

    if (*n >= MAX_SPELLINGS || !safe_word(spell))
        return;
    p = &s[(*n)++];
    snprintf(p->spell, sizeof(p->spell), "%s", spell);
    p->kind = V_FLAG;
    p->meta[0] = '\0';
    if (!arg)
        return;
    option_meta(c, val, usage, help, p->meta, sizeof(p->meta));
    p->kind = meta_kind(p->meta);
    if (p->meta[0] && !safe_chars(p->meta, "|")) {
        p->kind = V_NONE;
        p->meta[0] = '\0';
    }
}

/* Whether o is a second name of an earlier option (--colour). */
static bool alias(const struct option *opts, const struct option *o)
{
    for (const struct option *e = opts; e != o; e++)
        if (o->flag == NULL && e->flag == NULL && e->val == o->val)
            return true;
    return false;
}

/* Every spelling a command accepts: its long options, then its short
 * ones (optstring "c:o:qvh": -c and -o take a value). */
static size_t command_spellings(const struct co_cli_command *c,
                                const char *usage, const char *help,
                                struct spelling *s)
{
    const char *p = c->shortopts;
    char spell[64], synopsis[1024];
    size_t n = 0;

    synopsis_of(usage, c->name, synopsis, sizeof(synopsis));
    for (const struct option *o = c->opts; o && o->name; o++) {
        if (!offered(c, o->flag ? 0 : o->val, synopsis) || alias(c->opts, o))
            continue;
        snprintf(spell, sizeof(spell), "--%s", o->name);
        add_spelling(s, &n, spell, o->has_arg == required_argument, c,
                     o->flag ? 0 : o->val, usage, help);
    }
    if (p == NULL)
        return n;
    if (*p == ':' || *p == '+' || *p == '-')
        p++;
    for (; *p; p++) {
        bool arg = p[1] == ':' && p[2] != ':';
        if (*p == ':' || !isalnum((unsigned char)*p) ||
            !offered(c, (unsigned char)*p, synopsis))
            continue;
        snprintf(spell, sizeof(spell), "-%c", *p);
        add_spelling(s, &n, spell, arg, c, (unsigned char)*p, usage, help);
    }
    return n;
}

static void put_words(FILE *out, const char *meta)
{
    for (; *meta; meta++)
        fputc(*meta == '|' ? ' ' : *meta, out);
}

static void put_check_ids(FILE *out)
{
    const char *sep = "";

    for (size_t i = 0; i < co_ncheck; i++) {
        if (!safe_word(co_checks[i]->id))
            continue;
        fprintf(out, "%s%s", sep, co_checks[i]->id);
        sep = " ";
    }
}

static void put_commands(FILE *out, const struct co_cli_command *cmds,
                         size_t ncmd)
{
    for (size_t i = 0; i < ncmd; i++)
        if (safe_word(cmds[i].name))
            fprintf(out, "%s ", cmds[i].name);
    fputs("--help --version", out);
}

/* ---- bash -------------------------------------------------------------- */

/* What bash runs to complete the value of s. */
static void bash_action(struct co_buf *b, const struct spelling *s)
{
    switch (s->kind) {
    case V_WORDS:
        co_buf_puts(b, "COMPREPLY=($(compgen -W '");
        for (const char *m = s->meta; *m; m++)
            co_buf_add(b, *m == '|' ? " " : m, 1);
        co_buf_puts(b, "' -- \"$cur\"))\n");
        break;
    case V_CHECK:
        co_buf_puts(b, "_cutover_ids\n");
        break;
    case V_FILE:
        co_buf_puts(b, "compopt -o filenames 2>/dev/null\n"
                       "        mapfile -t COMPREPLY < <(compgen -f -- "
                       "\"$cur\")\n");
        break;
    default:
        co_buf_puts(b, ": nothing to offer\n");
        break;
    }
}

/* One case arm per distinct action: "check:--junit | check:-o)". */
static void bash_values(FILE *out, const struct co_cli_command *cmds,
                        size_t ncmd, const char *usage, const char *help)
{
    struct spelling s[MAX_SPELLINGS];
    struct co_strlist pats = {0}, acts = {0};
    bool *done;

    for (size_t i = 0; i < ncmd; i++) {
        size_t n = command_spellings(&cmds[i], usage, help, s);
        for (size_t k = 0; k < n && safe_word(cmds[i].name); k++) {
            struct co_buf b;
            char pat[192];
            if (s[k].kind == V_FLAG)
                continue;
            co_buf_init(&b);
            bash_action(&b, &s[k]);
            snprintf(pat, sizeof(pat), "%s:%s", cmds[i].name, s[k].spell);
            co_strlist_add(&pats, pat);
            co_strlist_add(&acts, b.s);
            co_buf_free(&b);
        }
    }
    done = co_calloc(pats.n + 1, sizeof(*done));
    for (size_t i = 0; i < pats.n; i++) {
        if (done[i])
            continue;
        fprintf(out, "    %s", pats.v[i]);
        for (size_t j = i + 1; j < pats.n; j++) {
            if (!done[j] && strcmp(acts.v[i], acts.v[j]) == 0) {
                fprintf(out, " | %s", pats.v[j]);
                done[j] = true;
            }
        }
        fprintf(out, ")\n        %s        return\n        ;;\n", acts.v[i]);
    }
    free(done);
    co_strlist_free(&pats);
    co_strlist_free(&acts);
}

/* What a generated script says after its first line(s). */
static void put_generated(FILE *out, const char *shell)
{
    fprintf(out,
            "# Generated by `cutover list --completion %s` (cutover %s)\n"
            "# from its command, option and check tables: regenerate, do "
            "not edit.\n\n",
            shell, CUTOVER_VERSION);
}

static void write_bash(FILE *out, const struct co_cli_command *cmds,
                       size_t ncmd, const char *usage, const char *help)
{
    struct spelling s[MAX_SPELLINGS];

    fputs("# bash completion for cutover(1)               "
          "-*- shell-script -*-\n",
          out);
    put_generated(out, "bash");
    fputs("# Check ids for --only/--skip, which take comma lists too.\n"
          "_cutover_ids()\n{\n    local pre=\n"
          "    [[ $cur == *,* ]] && pre=${cur%,*},\n"
          "    COMPREPLY=($(compgen -P \"$pre\" -W '",
          out);
    put_check_ids(out);
    fputs("' -- \"${cur##*,}\"))\n}\n\n", out);
    fputs("_cutover()\n{\n"
          "    local cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]}\n"
          "    local prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}\n"
          "\n"
          "    # --opt=value arrives as three words: --opt, =, value\n"
          "    if [[ $cur == = ]]; then\n        cur=\n"
          "    elif [[ $prev == = ]] && ((cword > 2)); then\n"
          "        prev=${COMP_WORDS[cword-2]}\n    fi\n"
          "    if ((cword == 1)); then\n"
          "        COMPREPLY=($(compgen -W '",
          out);
    put_commands(out, cmds, ncmd);
    fputs("' -- \"$cur\"))\n        return\n    fi\n"
          "    case $cmd:$prev in\n",
          out);
    bash_values(out, cmds, ncmd, usage, help);
    fputs("    esac\n    case $cmd in\n", out);
    for (size_t i = 0; i < ncmd; i++) {
        size_t n = command_spellings(&cmds[i], usage, help, s);
        if (!safe_word(cmds[i].name))
            continue;
        fprintf(out, "    %s)\n        COMPREPLY=($(compgen -W '",
                cmds[i].name);
        for (size_t k = 0; k < n; k++)
            fprintf(out, "%s%s", k ? " " : "", s[k].spell);
        fputs("' -- \"$cur\"))\n        ;;\n", out);
    }
    fputs("    esac\n}\ncomplete -F _cutover cutover\n", out);
}

/* ---- zsh --------------------------------------------------------------- */

static void zsh_spec(FILE *out, const struct spelling *s)
{
    bool lng = s->spell[1] == '-';

    /* '*': may repeat (--only, --skip); long options take "=value" or
     * the next word, short ones "-cvalue" or the next word. */
    fprintf(out, " \\\n      '*%s", s->spell);
    if (s->kind == V_FLAG) {
        fputs("'", out);
        return;
    }
    fputs(lng ? "=" : "+", out);
    switch (s->kind) {
    case V_WORDS:
        fputs(":value:(", out);
        put_words(out, s->meta);
        fputs(")'", out);
        break;
    case V_CHECK:
        fputs(":check id:_cutover_ids'", out);
        break;
    case V_FILE:
        fputs(":file:_files'", out);
        break;
    default:
        fprintf(out, ":%s: '", s->meta[0] ? s->meta : "value");
        break;
    }
}

static void write_zsh(FILE *out, const struct co_cli_command *cmds,
                      size_t ncmd, const char *usage, const char *help)
{
    struct spelling s[MAX_SPELLINGS];

    fputs("#compdef cutover\n"
          "# zsh completion for cutover(1).\n",
          out);
    put_generated(out, "zsh");
    fputs("# Check ids for --only/--skip, which take comma lists too.\n"
          "_cutover_ids() {\n  _sequence compadd - ",
          out);
    put_check_ids(out);
    fputs("\n}\n\n_cutover() {\n  local cmd\n\n"
          "  if (( CURRENT == 2 )); then\n    compadd -- ",
          out);
    put_commands(out, cmds, ncmd);
    fputs("\n    return\n  fi\n  cmd=$words[2]\n"
          "  shift words\n  (( CURRENT-- ))\n  case $cmd in\n",
          out);
    for (size_t i = 0; i < ncmd; i++) {
        size_t n = command_spellings(&cmds[i], usage, help, s);
        if (!safe_word(cmds[i].name))
            continue;
        fprintf(out, "  (%s)\n    _arguments", cmds[i].name);
        for (size_t k = 0; k < n; k++)
            zsh_spec(out, &s[k]);
        fputs("\n    ;;\n", out);
    }
    fputs("  esac\n}\n\n_cutover \"$@\"\n", out);
}

int co_completion_write(FILE *out, const char *shell,
                        const struct co_cli_command *cmds, size_t ncmd,
                        const char *usage, const char *help)
{
    if (strcmp(shell, "bash") == 0)
        write_bash(out, cmds, ncmd, usage, help);
    else if (strcmp(shell, "zsh") == 0)
        write_zsh(out, cmds, ncmd, usage, help);
    else
        return -1;
    return 0;
}
