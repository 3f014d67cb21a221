/*
 * loadgen: the load generator of bench/stack_bench.py for runs (issue #6), in C so that the
 * client costs the 2-core machine little next to what it measures.
 *
 *   loadgen runs PORT SECONDS SESSION...   each session is one client: POST run, then GET the
 *                                          execution with ?wait, again and again; prints
 *                                          "runs=N seconds=S rate=R errors=E"
 *   loadgen e2e PORT COUNT SESSION [PROG ARG...]
 *                                          COUNT runs one after the other; prints the median
 *                                          "e2e_ms=M exec_ms=X" (exec: execution_time_ms). With
 *                                          PROG, each run is followed by one bare spawn of PROG,
 *                                          so that the baseline sees the same moments of the
 *                                          machine; adds "bare_ms=B"
 *   loadgen bare SECONDS LOOPS PROG ARG... LOOPS parallel loops that spawn PROG and wait for it;
 *                                          prints "runs=N seconds=S rate=R median_ms=M"
 *
 * HTTP/1.1 with keep-alive on 127.0.0.1; one blocking connection per client thread. With
 * LCX_BENCH_AUTH set, every request sends "Authorization: Bearer $LCX_BENCH_AUTH".
 */
#define _GNU_SOURCE
#include "bench_stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define MAX_TIMES 100000
#define BUF_SIZE (256 * 1024)

extern char **environ;

/* --------------------------------------------------------------------------------------------
 * A keep-alive HTTP connection
 */

typedef struct {
    int port;
    int fd;
    char buf[BUF_SIZE];
    int status;
    char *body; /* inside buf, NUL-terminated */
} conn_t;

static int conn_open(conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one response: status line, headers, a Content-Length body. */
static int read_response(conn_t *c)
{
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have + 1 >= sizeof c->buf) return -1;
        ssize_t n = read(c->fd, c->buf + have, sizeof c->buf - 1 - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        have += (size_t)n;
        c->buf[have] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
    }
    if (sscanf(c->buf, "HTTP/1.%*d %d", &c->status) != 1) return -1;
    size_t length = 0;
    for (char *line = strstr(c->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            length = (size_t)strtoul(line + 17, NULL, 10);
    size_t head = (size_t)(end + 4 - c->buf);
    if (head + length + 1 > sizeof c->buf) return -1;
    while (have < head + length) {
        ssize_t n = read(c->fd, c->buf + have, head + length - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    c->buf[head + length] = '\0';
    c->body = c->buf + head;
    return 0;
}

/* One request and its response, on a new connection when the old one was closed. */
static int request(conn_t *c, const char *method, const char *path, const char *body)
{
    char req[1024], auth[256] = "";
    const char *key = getenv("LCX_BENCH_AUTH");
    if (key) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", key);
    int len = snprintf(req, sizeof req,
                       "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "%sContent-Length: %zu\r\n\r\n%s",
                       method, path, auth, body ? strlen(body) : 0, body ? body : "");
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && conn_open(c) != 0) return -1;
        if (write_all(c->fd, req, (size_t)len) == 0 && read_response(c) == 0) return 0;
        close(c->fd);
        c->fd = -1;
    }
    return -1;
}

/* The string value of "key" in a flat JSON body, copied into out. */
static int json_string(const char *body, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = strstr(body, pattern);
    if (!p) return -1;
    p += strlen(pattern);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= size) return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 0;
}

/* One run: POST run, GET ?wait; 0 when it COMPLETED. *exec_ms: its execution_time_ms. */
static int one_run(conn_t *c, const char *session, double *exec_ms)
{
    char path[256], id[64];
    snprintf(path, sizeof path, "/code-sessions/%s/run", session);
    if (request(c, "POST", path, "{}") != 0 || c->status != 202 ||
        json_string(c->body, "execution_id", id, sizeof id) != 0)
        return -1;
    snprintf(path, sizeof path, "/executions/%s?wait=30000", id);
    if (request(c, "GET", path, NULL) != 0 || c->status != 200 ||
        !strstr(c->body, "\"status\":\"COMPLETED\""))
        return -1;
    const char *t = strstr(c->body, "\"execution_time_ms\":");
    *exec_ms = t ? atof(t + 20) : 0;
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * Modes
 */

typedef struct {
    int port;
    const char *session;
    double until;
    long runs;
    long errors;
} client_t;

static void *client_main(void *arg)
{
    client_t *cl = arg;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->port = cl->port;
    c->fd = -1;
    double exec_ms;
    while (now_ms() < cl->until) {
        if (one_run(c, cl->session, &exec_ms) == 0)
            cl->runs++;
        else
            cl->errors++;
    }
    if (c->fd >= 0) close(c->fd);
    free(c);
    return NULL;
}

static int mode_runs(int port, double seconds, int n, char **sessions)
{
    static client_t clients[MAX_CLIENTS];
    static pthread_t threads[MAX_CLIENTS];
    if (n < 1 || n > MAX_CLIENTS) return 2;
    double start = now_ms();
    for (int i = 0; i < n; i++) {
        clients[i] =
            (client_t){.port = port, .session = sessions[i], .until = start + seconds * 1e3};
        if (pthread_create(&threads[i], NULL, client_main, &clients[i]) != 0) return 1;
    }
    long runs = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        runs += clients[i].runs;
        errors += clients[i].errors;
    }
    double took = (now_ms() - start) / 1e3;
    printf("runs=%ld seconds=%.3f rate=%.2f errors=%ld\n", runs, took, runs / took, errors);
    return errors ? 1 : 0;
}

typedef struct {
    char **argv;
    double until;
    long runs;
    double *times;
    int failed;
} loop_t;

/* Spawns argv with stdout on /dev/null and waits for it: the time in ms, -1 on failure. */
static double spawn_once(char **argv, const posix_spawn_file_actions_t *actions)
{
    double t = now_ms();
    pid_t pid;
    int status;
    if (posix_spawn(&pid, argv[0], actions, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return now_ms() - t;
}

static void quiet_stdout(posix_spawn_file_actions_t *actions)
{
    posix_spawn_file_actions_init(actions);
    posix_spawn_file_actions_addopen(actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
}

static void *loop_main(void *arg)
{
    loop_t *l = arg;
    posix_spawn_file_actions_t actions;
    quiet_stdout(&actions);
    while (now_ms() < l->until && l->runs < MAX_TIMES) {
        double took = spawn_once(l->argv, &actions);
        if (took < 0) {
            l->failed = 1;
            break;
        }
        l->times[l->runs++] = took;
    }
    posix_spawn_file_actions_destroy(&actions);
    return NULL;
}

static int mode_bare(double seconds, int loops, char **argv)
{
    static loop_t l[MAX_CLIENTS];
    static pthread_t threads[MAX_CLIENTS];
    if (loops < 1 || loops > MAX_CLIENTS) return 2;
    double start = now_ms();
    for (int i = 0; i < loops; i++) {
        l[i] = (loop_t){.argv = argv, .until = start + seconds * 1e3};
        l[i].times = calloc(MAX_TIMES, sizeof(double));
        if (!l[i].times || pthread_create(&threads[i], NULL, loop_main, &l[i]) != 0) return 1;
    }
    long runs = 0;
    int failed = 0;
    for (int i = 0; i < loops; i++) {
        pthread_join(threads[i], NULL);
        runs += l[i].runs;
        failed |= l[i].failed;
    }
    double took = (now_ms() - start) / 1e3;
    double *all = calloc((size_t)runs + 1, sizeof *all);
    if (!all) return 1;
    long k = 0;
    for (int i = 0; i < loops; i++) {
        memcpy(all + k, l[i].times, (size_t)l[i].runs * sizeof *all);
        k += l[i].runs;
        free(l[i].times);
    }
    printf("runs=%ld seconds=%.3f rate=%.2f median_ms=%.3f\n", runs, took, runs / took,
           median(all, (int)runs));
    free(all);
    if (failed) fprintf(stderr, "loadgen: %s failed\n", argv[0]);
    return failed;
}

static int mode_e2e(int port, int count, const char *session, char **bare_argv)
{
    static double e2e[MAX_TIMES], exec[MAX_TIMES], bare[MAX_TIMES];
    if (count < 1 || count > MAX_TIMES) return 2;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return 1;
    c->port = port;
    c->fd = -1;
    posix_spawn_file_actions_t actions;
    quiet_stdout(&actions);
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        double t = now_ms();
        rc = one_run(c, session, &exec[i]);
        e2e[i] = now_ms() - t;
        if (rc == 0 && bare_argv[0] && (bare[i] = spawn_once(bare_argv, &actions)) < 0) rc = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    if (c->fd >= 0) close(c->fd);
    free(c);
    if (rc != 0) {
        fprintf(stderr, "loadgen: a run failed\n");
        return 1;
    }
    printf("e2e_ms=%.3f exec_ms=%.1f", median(e2e, count), median(exec, count));
    if (bare_argv[0]) printf(" bare_ms=%.3f", median(bare, count));
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "runs") == 0)
        return mode_runs(atoi(argv[2]), atof(argv[3]), argc - 4, argv + 4);
    if (argc >= 5 && strcmp(argv[1], "e2e") == 0)
        return mode_e2e(atoi(argv[2]), atoi(argv[3]), argv[4], argv + 5);
    if (argc >= 5 && strcmp(argv[1], "bare") == 0)
        return mode_bare(atof(argv[2]), atoi(argv[3]), argv + 4);
    fprintf(stderr,
            "usage: loadgen runs PORT SECONDS SESSION... | e2e PORT COUNT SESSION [PROG ARG...] | "
            "bare SECONDS LOOPS PROG [ARG...]\n");
    return 2;
}
