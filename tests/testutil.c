/*
 * testutil.c - see testutil.h. Runs the binary with pipes drained by
 * poll (so a chatty child never blocks on a full pipe) and a hard kill
 * after the timeout, so a hanging cutover fails a test instead of
 * hanging CTest.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cutover/result.h"
#include "cutover/util.h"

extern char **environ;

static void drain(int fd, struct co_buf *b, bool *open)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n > 0)
        co_buf_add(b, chunk, (size_t)n);
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        *open = false;
}

/* In the child: stdin /dev/null, stdout and stderr on out and err, env
 * applied, in cwd; execs the binary with argv[1..]. */
static void child(const char *const *argv, const char *const *env,
                  const char *cwd, int out, int err)
{
    size_t n = 0;
    const char **args;
    int devnull = open("/dev/null", O_RDONLY);

    dup2(devnull, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (size_t i = 0; env && env[i]; i++) {
        if (strchr(env[i], '=') != NULL)
            putenv((char *)env[i]);
        else
            unsetenv(env[i]);
    }
    if (cwd && chdir(cwd) < 0)
        _exit(126);
    while (argv[n + 1])
        n++;
    args = calloc(n + 2, sizeof(*args));
    args[0] = CUTOVER_BIN;
    for (size_t i = 1; i <= n; i++)
        args[i] = argv[i];
    execv(CUTOVER_BIN, (char *const *)args);
    _exit(127);
}

pid_t tu_spawn(const char *const *argv, const char *const *env,
               const char *cwd, int out_fd, int err_fd)
{
    pid_t pid = fork();

    if (pid == 0)
        child(argv, env, cwd, out_fd, err_fd);
    return pid;
}

/* The exit code of wait status st, or 128+signal. */
static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int tu_reap(pid_t pid, int timeout_ms)
{
    int64_t end = co_now_ms() + timeout_ms;
    struct timespec pause = {0, 20 * 1000000L};
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return exit_code(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (co_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

bool tu_alive(pid_t pid)
{
    int st;

    return waitpid(pid, &st, WNOHANG) == 0;
}

int tu_run(struct tu_proc *p, const char *const *argv, const char *const *env,
           const char *cwd, int timeout_s)
{
    int o[2], e[2], status = 0;
    struct co_buf out, err;
    bool oo = true, eo = true;
    int64_t deadline = co_now_ms() + (int64_t)timeout_s * 1000;
    pid_t pid;

    memset(p, 0, sizeof(*p));
    if (pipe(o) < 0 || pipe(e) < 0)
        return -1;
    pid = tu_spawn(argv, env, cwd, o[1], e[1]);
    if (pid < 0)
        return -1;
    close(o[1]);
    close(e[1]);
    co_buf_init(&out);
    co_buf_init(&err);
    while (oo || eo) {
        struct pollfd fds[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
        int64_t left = deadline - co_now_ms();

        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        fds[0].fd = oo ? o[0] : -1;
        fds[1].fd = eo ? e[0] : -1;
        if (poll(fds, 2, (int)(left > 1000 ? 1000 : left)) < 0 &&
            errno != EINTR)
            break;
        if (fds[0].revents)
            drain(o[0], &out, &oo);
        if (fds[1].revents)
            drain(e[0], &err, &eo);
    }
    close(o[0]);
    close(e[0]);
    waitpid(pid, &status, 0);
    p->status = exit_code(status);
    p->out = co_buf_take(&out);
    p->err = co_buf_take(&err);
    return 0;
}

void tu_proc_free(struct tu_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

char *tu_tmpdir(void)
{
    char *t = co_strdup("/tmp/cutover-test-XXXXXX");

    if (mkdtemp(t) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return t;
}

char *tu_write_file(const char *dir, const char *name, const char *contents)
{
    char *d = dir ? co_strdup(dir) : tu_tmpdir();
    char *path = co_asprintf("%s/%s", d, name);
    FILE *f = fopen(path, "w");

    free(d);
    if (f == NULL) {
        perror(path);
        abort();
    }
    fputs(contents, f);
    fclose(f);
    return path;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct co_buf b;
    char chunk[8192];
    size_t n;

    if (f == NULL)
        return NULL;
    co_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        co_buf_add(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return co_buf_take(&b);
}

int tu_sh(const char *cmdline, char **out)
{
    FILE *f = popen(cmdline, "r");
    struct co_buf b;
    char chunk[4096];
    size_t n;
    int st;

    if (f == NULL)
        return -1;
    co_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        co_buf_add(&b, chunk, n);
    st = pclose(f);
    if (out)
        *out = co_buf_take(&b);
    else
        co_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *tu_sh_ok(const char *fmt, ...)
{
    va_list ap;
    struct co_buf cmd;
    char *out = NULL;
    int rc;

    co_buf_init(&cmd);
    va_start(ap, fmt);
    co_buf_vaddf(&cmd, fmt, ap);
    va_end(ap);
    rc = tu_sh(cmd.s, &out);
    ck_assert_msg(rc == 0, "%s: exit %d: %s", cmd.s, rc, out ? out : "");
    co_buf_free(&cmd);
    return out;
}

const char *tu_tb(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Exits 77 (or 1 under CUTOVER_REQUIRE_TESTBED=1) saying missing is
 * unset, unless missing is NULL. */
static void testbed_missing(const char *missing)
{
    const char *req = getenv("CUTOVER_REQUIRE_TESTBED");

    if (missing == NULL)
        return;
    fprintf(stderr,
            "\n*** SKIPPED: the test bed is not running (%s is unset).\n"
            "*** Start it with: ci/services start && eval \"$(ci/services "
            "env)\"\n\n",
            missing);
    exit(req && strcmp(req, "1") == 0 ? 1 : TU_SKIP);
}

void tu_testbed_require(const char *first, ...)
{
    const char *missing = NULL;
    va_list ap;

    va_start(ap, first);
    for (const char *n = first; n && !missing; n = va_arg(ap, const char *))
        if (tu_tb(n) == NULL)
            missing = n;
    va_end(ap);
    testbed_missing(missing);
}

void tu_testbed_require_all(const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (tu_tb(names[i]) == NULL)
            testbed_missing(names[i]);
}

struct co_result *tu_add_result(struct co_report *rep, const char *check,
                                const char *resource, const char *source,
                                const char *target)
{
    struct co_result *r;

    rep->results =
        co_realloc(rep->results, (rep->nresults + 1) * sizeof *rep->results);
    r = &rep->results[rep->nresults++];
    memset(r, 0, sizeof *r);
    r->check = check;
    r->resource = resource;
    r->kind = "postgres";
    r->source = co_strdup(source);
    r->target = co_strdup(target);
    return r;
}

int tu_tb_port(const char *name)
{
    struct co_url u;
    char err[CO_ERRLEN];
    int port;

    if (co_url_parse(tu_tb(name), &u, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", name, err);
        exit(1);
    }
    port = u.port;
    co_url_free(&u);
    return port;
}

const char *tu_source_dir(void)
{
    return CUTOVER_SOURCE_DIR;
}

const char *tu_xsd_dir(void)
{
    return CUTOVER_XSD_DIR;
}

int tu_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fprintf(stderr, "tu_free_port: %s\n", strerror(errno));
        abort();
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

bool tu_port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}
