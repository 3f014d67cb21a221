/*
 * floor_bench: the floor of lcx's design on this machine. Four processes stand where the
 * services stand (gateway, session store, dispatcher, runner), linked as they are (ZeroMQ
 * DEALER/ROUTER on loopback TCP, a context and its I/O thread each) and passing the eleven
 * messages of a run in the order proto/PROTOCOL.md gives them, and the runner runs the
 * program in the real sandbox (the runner's modules, one keeper per slot). What they do not
 * do is any work of their own: no HTTP parsing, no JSON, no msgpack, no SQLite, no logging,
 * no timers. The client talks to the gateway over a loopback TCP connection, two exchanges a
 * run (the run request and the waiting GET), as the stack bench's client does over HTTP.
 *
 * Whatever the services add above these figures is their own work; what these figures add
 * above a bare process is the design's price here, which no service code can take back.
 *
 *   floor_bench e2e KEEPER N PROGRAM [ARG...]
 *       N runs one after another, each followed by a bare run of PROGRAM (fork, exec, wait);
 *       prints "e2e_ms=E bare_ms=B" (medians)
 *   floor_bench runs KEEPER SECONDS CLIENTS PROGRAM [ARG...]
 *       CLIENTS clients run PROGRAM in a closed loop for SECONDS on a runner of two slots;
 *       prints "runs=R rate=X" (runs a second)
 *   floor_bench sandbox KEEPER SECONDS PROGRAM [ARG...]
 *       the sandbox alone: two slots run PROGRAM in a loop for SECONDS, no messages; prints
 *       "runs=R rate=X"
 *
 * KEEPER is the path of lcx-keeper. Root only, as the sandbox is.
 */
#include "bench_run.h"
#include "sandbox.h"

#include <zmq.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 2
#define MAX_CLIENTS 64
#define MAX_RUNS 10000
#define WARM_RUNS 3
/* Execution numbers index the store's table modulo this; far more than ever run at once. */
#define TABLE 4096
/* About the size of the services' messages (a JOB with a hello world, an UPDATE with its
 * output) and of the gateway's HTTP answers. */
#define MSG_BYTES 200
#define ANSWER_BYTES 300

typedef enum {
    M_RUN = 1,   /* gateway -> store */
    M_JOB,       /* store -> dispatcher -> runner */
    M_ACCEPTED,  /* dispatcher -> store */
    M_EXECUTION, /* store -> gateway: the answer to RUN (QUEUED) or to GET (finished) */
    M_GET,       /* gateway -> store, held until the execution has finished */
    M_UPDATE,    /* runner -> dispatcher -> store: the result */
    M_UPDATE_ACK,
    M_READY /* runner -> dispatcher */
} kind_t;

typedef struct {
    uint8_t kind;
    uint32_t exec; /* execution number, given by the store */
    int32_t corr;  /* the gateway's client connection */
    char body[MSG_BYTES - 12];
} msg_t;

typedef struct {
    int listen_fd; /* the gateway's, for the client */
    int store_port, dispatcher_store_port, dispatcher_runner_port;
    const char *keeper;
    char **argv; /* the program */
} floor_t;

/* ---- messages ---------------------------------------------------------------------------- */

static void endpoint(char *out, size_t size, int port)
{
    snprintf(out, size, "tcp://127.0.0.1:%d", port);
}

static void *open_socket(void *ctx, int type, int port, int bind)
{
    char ep[64];
    int linger = 0;
    endpoint(ep, sizeof ep, port);
    void *sock = zmq_socket(ctx, type);
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        (bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep)) != 0) {
        fprintf(stderr, "floor_bench: %s %s: %s\n", bind ? "bind" : "connect", ep,
                zmq_strerror(errno));
        if (sock) zmq_close(sock);
        return NULL;
    }
    return sock;
}

static int send_msg(void *sock, const void *identity, int identity_len, kind_t kind, uint32_t exec,
                    int32_t corr)
{
    msg_t m = {.kind = (uint8_t)kind, .exec = exec, .corr = corr};
    if (identity && zmq_send(sock, identity, (size_t)identity_len, ZMQ_SNDMORE) < 0) return -1;
    return zmq_send(sock, &m, sizeof m, 0) == (int)sizeof m ? 0 : -1;
}

/* Receives one message; from a ROUTER, its sender's identity too (*identity_len > 0). */
static int recv_msg(void *sock, int router, char *identity, int *identity_len, msg_t *m)
{
    if (router) {
        *identity_len = zmq_recv(sock, identity, 255, 0);
        if (*identity_len <= 0) return -1;
    }
    return zmq_recv(sock, m, sizeof *m, 0) == (int)sizeof *m ? 0 : -1;
}

/* ---- the store: executions and their waiters, in memory ---------------------------------- */

typedef struct {
    char gateway[256];
    int gateway_len;
    int32_t run_corr, wait_corr; /* -1: none */
    int finished;
} execution_t;

static void store_on_gateway(void *front, void *back, execution_t *table, uint32_t *next)
{
    char id[256];
    int id_len;
    msg_t m;
    if (recv_msg(front, 1, id, &id_len, &m) != 0) return;
    if (m.kind == M_RUN) {
        uint32_t exec = (*next)++;
        execution_t *e = &table[exec % TABLE];
        *e = (execution_t){.gateway_len = id_len, .run_corr = m.corr, .wait_corr = -1};
        memcpy(e->gateway, id, (size_t)id_len);
        send_msg(back, NULL, 0, M_JOB, exec, 0);
    } else if (m.kind == M_GET) {
        execution_t *e = &table[m.exec % TABLE];
        if (e->finished)
            send_msg(front, id, id_len, M_EXECUTION, m.exec, m.corr);
        else
            e->wait_corr = m.corr;
    }
}

static void store_on_dispatcher(void *front, void *back, execution_t *table)
{
    msg_t m;
    if (recv_msg(back, 0, NULL, NULL, &m) != 0) return;
    execution_t *e = &table[m.exec % TABLE];
    if (m.kind == M_ACCEPTED) {
        send_msg(front, e->gateway, e->gateway_len, M_EXECUTION, m.exec, e->run_corr);
    } else if (m.kind == M_UPDATE) {
        e->finished = 1;
        if (e->wait_corr >= 0)
            send_msg(front, e->gateway, e->gateway_len, M_EXECUTION, m.exec, e->wait_corr);
        send_msg(back, NULL, 0, M_UPDATE_ACK, m.exec, 0);
    }
}

static int store_main(const floor_t *f)
{
    static execution_t table[TABLE];
    void *ctx = zmq_ctx_new();
    void *front = open_socket(ctx, ZMQ_ROUTER, f->store_port, 1);
    void *back = open_socket(ctx, ZMQ_DEALER, f->dispatcher_store_port, 0);
    if (!front || !back) return 1;
    uint32_t next = 1;
    zmq_pollitem_t items[] = {{front, 0, ZMQ_POLLIN, 0}, {back, 0, ZMQ_POLLIN, 0}};
    while (zmq_poll(items, 2, -1) >= 0) {
        if (items[0].revents) store_on_gateway(front, back, table, &next);
        if (items[1].revents) store_on_dispatcher(front, back, table);
    }
    return 1;
}

/* ---- the dispatcher: free slots and queued jobs ------------------------------------------ */

typedef struct {
    char id[256];
    int len;
} peer_t;

typedef struct {
    void *stores, *runners;
    peer_t store;
    peer_t free_slots[MAX_CLIENTS];
    int free_count;
    uint32_t queue[TABLE];
    unsigned head, tail;
} dispatcher_t;

/* A job goes to the runner before ACCEPTED goes back: the run's path comes first. */
static void dispatcher_on_store(dispatcher_t *d)
{
    msg_t m;
    if (recv_msg(d->stores, 1, d->store.id, &d->store.len, &m) != 0 || m.kind != M_JOB) return;
    if (d->free_count > 0) {
        peer_t *slot = &d->free_slots[--d->free_count];
        send_msg(d->runners, slot->id, slot->len, M_JOB, m.exec, 0);
    } else {
        d->queue[d->tail++ % TABLE] = m.exec;
    }
    send_msg(d->stores, d->store.id, d->store.len, M_ACCEPTED, m.exec, 0);
}

/* A slot that reports its result takes the next queued job at once. */
static void dispatcher_on_runner(dispatcher_t *d)
{
    peer_t slot;
    msg_t m;
    if (recv_msg(d->runners, 1, slot.id, &slot.len, &m) != 0) return;
    if (m.kind == M_UPDATE || m.kind == M_READY) {
        if (d->head != d->tail)
            send_msg(d->runners, slot.id, slot.len, M_JOB, d->queue[d->head++ % TABLE], 0);
        else if (d->free_count < MAX_CLIENTS)
            d->free_slots[d->free_count++] = slot;
    }
    if (m.kind == M_UPDATE) {
        send_msg(d->stores, d->store.id, d->store.len, M_UPDATE, m.exec, 0);
        send_msg(d->runners, slot.id, slot.len, M_UPDATE_ACK, m.exec, 0);
    }
}

static int dispatcher_main(const floor_t *f)
{
    static dispatcher_t d;
    void *ctx = zmq_ctx_new();
    d.stores = open_socket(ctx, ZMQ_ROUTER, f->dispatcher_store_port, 1);
    d.runners = open_socket(ctx, ZMQ_ROUTER, f->dispatcher_runner_port, 1);
    if (!d.stores || !d.runners) return 1;
    zmq_pollitem_t items[] = {{d.stores, 0, ZMQ_POLLIN, 0}, {d.runners, 0, ZMQ_POLLIN, 0}};
    while (zmq_poll(items, 2, -1) >= 0) {
        if (items[0].revents) dispatcher_on_store(&d);
        if (items[1].revents) dispatcher_on_runner(&d);
    }
    return 1;
}

/* ---- the runner: one thread and one socket per slot, the real sandbox --------------------- */

static volatile sig_atomic_t runner_stop;

static void on_term(int sig)
{
    (void)sig;
    runner_stop = 1;
}

typedef struct {
    const floor_t *f;
    void *ctx; /* NULL: no dispatcher, the slot runs the program over and over until `until` */
    sandbox_t *sandbox;
    char workdir[64];
    double until;
    long runs;
    int failed;
} slot_arg_t;

static int run_program(slot_arg_t *a)
{
    return bench_sandboxed_run(a->sandbox, a->f->argv, a->workdir) < 0 ? -1 : 0;
}

/* A slot of the runner: JOB in, the program in the sandbox, UPDATE out. */
static void *slot_main(void *arg)
{
    slot_arg_t *a = arg;
    void *sock = open_socket(a->ctx, ZMQ_DEALER, a->f->dispatcher_runner_port, 0);
    if (!sock || send_msg(sock, NULL, 0, M_READY, 0, 0) != 0) {
        a->failed = 1;
        return NULL;
    }
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    while (!runner_stop) {
        msg_t m;
        if (zmq_poll(&item, 1, 100) <= 0 || recv_msg(sock, 0, NULL, NULL, &m) != 0) continue;
        if (m.kind != M_JOB) continue;
        if (run_program(a) != 0) a->failed = 1;
        send_msg(sock, NULL, 0, M_UPDATE, m.exec, 0);
        sandbox_settle(a->sandbox); /* as the runner does, once the result is on its way */
    }
    zmq_close(sock);
    return NULL;
}

/* A slot without messages: the sandbox's own rate. */
static void *slot_loop_main(void *arg)
{
    slot_arg_t *a = arg;
    while (!a->failed && now_ms() < a->until) {
        if (run_program(a) != 0) a->failed = 1;
        sandbox_settle(a->sandbox);
        a->runs++;
    }
    return NULL;
}

static int make_workdir(sandbox_t *sb, char *path, size_t size)
{
    snprintf(path, size, "/tmp/lcx-bench-floor-XXXXXX");
    return mkdtemp(path) && sandbox_workdir_mount(sb, AT_FDCWD, path) == 0 ? 0 : -1;
}

/* Two slots on one sandbox, as a runner has them: served by the dispatcher until SIGTERM, or
 * (seconds > 0) running the program in a loop for that long; *runs counts the loop's runs. */
static int run_slots(const floor_t *f, double seconds, long *runs)
{
    char err[512];
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.slots = SLOTS;
    config.keeper = f->keeper;
    sandbox_t *sb = sandbox_new(&config, err, sizeof err); /* before any thread */
    if (!sb) {
        fprintf(stderr, "floor_bench: %s\n", err);
        return 1;
    }
    void *ctx = seconds > 0 ? NULL : zmq_ctx_new();
    slot_arg_t slots[SLOTS];
    pthread_t threads[SLOTS];
    int started = 0, failed = 0;
    for (; started < SLOTS; started++) {
        slot_arg_t *a = &slots[started];
        *a = (slot_arg_t){.f = f, .ctx = ctx, .sandbox = sb, .until = now_ms() + seconds * 1e3};
        if (make_workdir(sb, a->workdir, sizeof a->workdir) != 0 ||
            pthread_create(&threads[started], NULL, ctx ? slot_main : slot_loop_main, a) != 0) {
            fprintf(stderr, "floor_bench: slot %d: %s\n", started, strerror(errno));
            runner_stop = failed = 1;
            break;
        }
    }
    while (ctx && !runner_stop)
        pause();
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        failed |= slots[i].failed;
        if (runs) *runs += slots[i].runs;
        sandbox_workdir_unmount(sb, AT_FDCWD, slots[i].workdir);
        rmdir(slots[i].workdir);
    }
    if (ctx) zmq_ctx_term(ctx);
    sandbox_destroy(&sb);
    return failed;
}

static int runner_main(const floor_t *f)
{
    signal(SIGTERM, on_term);
    return run_slots(f, 0, NULL);
}

/* ---- the gateway: client connections in, store calls out ---------------------------------- */

static int gateway_accept(int listen_fd, zmq_pollitem_t *items, int *count)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (*count >= MAX_CLIENTS + 2) return close(fd), -1;
    items[(*count)++] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
    return 0;
}

/* A client's request: 'R' (run) or 'G' and an execution number (wait for it). */
static void gateway_on_client(void *store, zmq_pollitem_t *item)
{
    char req[64];
    ssize_t n = read(item->fd, req, sizeof req);
    if (n <= 0) {
        close(item->fd);
        item->fd = -1; /* zmq_poll skips it from now on */
        return;
    }
    uint32_t exec = 0;
    if (req[0] == 'G' && n >= 5) memcpy(&exec, req + 1, sizeof exec);
    send_msg(store, NULL, 0, req[0] == 'G' ? M_GET : M_RUN, exec, item->fd);
}

static void gateway_on_store(void *store)
{
    msg_t m;
    if (recv_msg(store, 0, NULL, NULL, &m) != 0 || m.kind != M_EXECUTION) return;
    char answer[ANSWER_BYTES] = {0};
    memcpy(answer, &m.exec, sizeof m.exec);
    if (write(m.corr, answer, sizeof answer) != (ssize_t)sizeof answer)
        fprintf(stderr, "floor_bench: gateway write: %s\n", strerror(errno));
}

static int gateway_main(const floor_t *f)
{
    void *ctx = zmq_ctx_new();
    void *store = open_socket(ctx, ZMQ_DEALER, f->store_port, 0);
    if (!store) return 1;
    static zmq_pollitem_t items[MAX_CLIENTS + 2];
    items[0] = (zmq_pollitem_t){store, 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){NULL, f->listen_fd, ZMQ_POLLIN, 0};
    int count = 2;
    while (zmq_poll(items, count, -1) >= 0) {
        if (items[0].revents) gateway_on_store(store);
        if (items[1].revents) gateway_accept(f->listen_fd, items, &count);
        for (int i = 2; i < count; i++)
            if (items[i].fd >= 0 && items[i].revents) gateway_on_client(store, &items[i]);
    }
    return 1;
}

/* ---- set-up ----------------------------------------------------------------------------- */

/* A loopback TCP socket on a free port: listening when `listening`, else closed again and
 * only its port kept for a ZeroMQ bind. */
static int loopback_port(int listening, int *fd_out)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
        (listening && listen(fd, MAX_CLIENTS) != 0)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    if (listening)
        *fd_out = fd;
    else
        close(fd);
    return ntohs(a.sin_port);
}

typedef int(role_fn)(const floor_t *f);

typedef struct {
    pid_t pids[4];
    int count;
    int port; /* the gateway's, for clients */
} skeleton_t;

static int start_stack(floor_t *f, skeleton_t *s)
{
    s->port = loopback_port(1, &f->listen_fd);
    f->store_port = loopback_port(0, NULL);
    f->dispatcher_store_port = loopback_port(0, NULL);
    f->dispatcher_runner_port = loopback_port(0, NULL);
    if (s->port < 0 || f->store_port < 0 || f->dispatcher_store_port < 0 ||
        f->dispatcher_runner_port < 0)
        return -1;
    role_fn *roles[] = {dispatcher_main, store_main, runner_main, gateway_main};
    for (s->count = 0; s->count < 4; s->count++) {
        pid_t pid = fork();
        if (pid == 0) _exit(roles[s->count](f));
        if (pid < 0) return -1;
        s->pids[s->count] = pid;
    }
    close(f->listen_fd);
    return 0;
}

/* The runner (SIGTERM) takes its sandbox down cleanly; the rest hold nothing to clean. */
static int stop_stack(skeleton_t *s)
{
    int failed = 0;
    for (int i = 0; i < s->count; i++)
        kill(s->pids[i], s->pids[i] == s->pids[2] ? SIGTERM : SIGKILL);
    for (int i = 0; i < s->count; i++) {
        int status;
        waitpid(s->pids[i], &status, 0);
        if (i == 2 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) failed = 1;
    }
    return failed;
}

/* ---- the client ------------------------------------------------------------------------- */

static int client_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int read_answer(int fd, uint32_t *exec)
{
    char answer[ANSWER_BYTES];
    size_t got = 0;
    while (got < sizeof answer) {
        ssize_t n = read(fd, answer + got, sizeof answer - got);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    memcpy(exec, answer, sizeof *exec);
    return 0;
}

/* One run: the run request and its answer, then the waiting GET and the result. */
static int one_run(int fd)
{
    char req[5] = {'R'};
    uint32_t exec;
    if (write(fd, req, 1) != 1 || read_answer(fd, &exec) != 0) return -1;
    req[0] = 'G';
    memcpy(req + 1, &exec, sizeof exec);
    return write(fd, req, sizeof req) == (ssize_t)sizeof req && read_answer(fd, &exec) == 0 ? 0
                                                                                            : -1;
}

static int mode_e2e(int port, int n, char **argv)
{
    static double e2e[MAX_RUNS], bare[MAX_RUNS];
    int fd = client_connect(port);
    if (fd < 0) return -1;
    int rc = 0;
    for (int i = 0; i < WARM_RUNS && rc == 0; i++)
        rc = one_run(fd);
    for (int i = 0; i < n && rc == 0; i++) {
        double t0 = now_ms();
        rc = one_run(fd);
        e2e[i] = now_ms() - t0;
        if (rc == 0 && (bare[i] = bench_bare_run(argv)) < 0) rc = -1;
    }
    close(fd);
    if (rc == 0) printf("e2e_ms=%.3f bare_ms=%.3f\n", median(e2e, n), median(bare, n));
    return rc;
}

typedef struct {
    int port;
    double until;
    long runs;
    int failed;
} client_t;

static void *client_main(void *arg)
{
    client_t *c = arg;
    int fd = client_connect(c->port);
    c->failed = fd < 0;
    while (!c->failed && now_ms() < c->until) {
        if (one_run(fd) != 0)
            c->failed = 1;
        else
            c->runs++;
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static int mode_runs(int port, double seconds, int clients)
{
    static client_t c[MAX_CLIENTS];
    static pthread_t threads[MAX_CLIENTS];
    if (clients < 1 || clients > MAX_CLIENTS) return -1;
    int warm = client_connect(port), rc = 0;
    for (int i = 0; i < WARM_RUNS && warm >= 0 && rc == 0; i++)
        rc = one_run(warm);
    if (warm >= 0) close(warm);
    double start = now_ms();
    for (int i = 0; i < clients; i++) {
        c[i] = (client_t){.port = port, .until = start + seconds * 1e3};
        if (pthread_create(&threads[i], NULL, client_main, &c[i]) != 0) return -1;
    }
    long runs = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(threads[i], NULL);
        runs += c[i].runs;
        rc |= c[i].failed;
    }
    double took = (now_ms() - start) / 1e3;
    if (rc == 0) printf("runs=%ld rate=%.2f\n", runs, runs / took);
    return rc;
}

/* The sandbox alone: two slots running the program in a loop, in this process. */
static int mode_sandbox(floor_t *f, double seconds)
{
    long runs = 0;
    double start = now_ms();
    int rc = run_slots(f, seconds, &runs);
    if (rc == 0) printf("runs=%ld rate=%.2f\n", runs, runs / ((now_ms() - start) / 1e3));
    return rc;
}

int main(int argc, char **argv)
{
    int e2e = argc >= 5 && strcmp(argv[1], "e2e") == 0;
    int runs = argc >= 6 && strcmp(argv[1], "runs") == 0;
    int alone = argc >= 5 && strcmp(argv[1], "sandbox") == 0;
    if (!e2e && !runs && !alone) {
        fprintf(stderr, "usage: floor_bench e2e KEEPER N PROGRAM [ARG...]\n"
                        "       floor_bench runs KEEPER SECONDS CLIENTS PROGRAM [ARG...]\n"
                        "       floor_bench sandbox KEEPER SECONDS PROGRAM [ARG...]\n");
        return 2;
    }
    floor_t f = {.keeper = argv[2], .argv = argv + (runs ? 5 : 4)};
    if (alone) return mode_sandbox(&f, atof(argv[3])) == 0 ? 0 : 1;
    skeleton_t s = {0};
    if (start_stack(&f, &s) != 0) {
        fprintf(stderr, "floor_bench: cannot start: %s\n", strerror(errno));
        stop_stack(&s);
        return 1;
    }
    int n = atoi(argv[3]);
    int rc = e2e ? mode_e2e(s.port, n < 1 || n > MAX_RUNS ? 30 : n, f.argv)
                 : mode_runs(s.port, atof(argv[3]), atoi(argv[4]));
    if (rc != 0) fprintf(stderr, "floor_bench: a run failed\n");
    if (stop_stack(&s) != 0) {
        fprintf(stderr, "floor_bench: the runner failed\n");
        rc = 1;
    }
    return rc == 0 ? 0 : 1;
}
