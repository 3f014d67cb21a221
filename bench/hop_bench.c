/*
 * hop_bench: what one message between two processes costs on this machine, the floor under
 * every hop a run makes between the services. Two processes ping-pong a small message N times,
 * each round trip after an idle gap (0 ms: back to back; 15 ms: about a python hello world's
 * run, the time the services sit idle while the program runs), over a pipe (the least the
 * kernel offers) and over ZeroMQ DEALER/ROUTER on loopback TCP (what the services use). Prints
 * the medians and the CPU one round trip costs, both processes and all their threads together
 * (ZeroMQ adds an I/O thread on each side).
 *
 *   hop_bench [N]    (default N = 300)
 */
#include "bench_stats.h"

#include <zmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TRIPS 300
#define MAX_TRIPS 10000
#define RUN_GAP_MS 15
/* Hops of a hello world's run through the services that follow an idle stretch: gateway ->
 * store -> dispatcher -> runner before the program, runner -> dispatcher -> store -> gateway
 * after it (proto/PROTOCOL.md, section 11). */
#define RUN_IDLE_HOPS 6

typedef enum { LINK_PIPE, LINK_ZMQ } link_kind_t;

/* One end of a link: a pair of pipe fds, or a ZeroMQ socket in a context of its own (each
 * process makes its own after the fork, since a context does not survive one). */
typedef struct {
    link_kind_t kind;
    int in, out;
    void *ctx, *sock;
} end_t;

/* CPU time of this process (all threads) in microseconds. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void sleep_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int end_open_zmq(end_t *e, int type)
{
    int linger = 0;
    e->ctx = zmq_ctx_new();
    e->sock = e->ctx ? zmq_socket(e->ctx, type) : NULL;
    return e->sock && zmq_setsockopt(e->sock, ZMQ_LINGER, &linger, sizeof linger) == 0 ? 0 : -1;
}

static void end_close(end_t *e)
{
    if (e->sock) zmq_close(e->sock);
    if (e->ctx) zmq_ctx_term(e->ctx);
    e->sock = e->ctx = NULL;
}

static int end_send(end_t *e)
{
    if (e->kind == LINK_PIPE) return write(e->out, "x", 1) == 1 ? 0 : -1;
    return zmq_send(e->sock, "x", 1, 0) == 1 ? 0 : -1;
}

static int end_recv(end_t *e)
{
    char c;
    if (e->kind == LINK_PIPE) return read(e->in, &c, 1) == 1 ? 0 : -1;
    return zmq_recv(e->sock, &c, 1, 0) == 1 ? 0 : -1;
}

/* The echoing side of ZeroMQ is a ROUTER: the peer's identity frame goes back in front. */
static int router_echo(end_t *e)
{
    char identity[256], c;
    int len = zmq_recv(e->sock, identity, sizeof identity, 0);
    if (len <= 0 || len > (int)sizeof identity || zmq_recv(e->sock, &c, 1, 0) != 1) return -1;
    if (zmq_send(e->sock, identity, (size_t)len, ZMQ_SNDMORE) != len) return -1;
    return zmq_send(e->sock, &c, 1, 0) == 1 ? 0 : -1;
}

/* The ROUTER binds an ephemeral port on loopback and writes it to `report`. */
static int bind_router(end_t *e, int report)
{
    char endpoint[64];
    size_t size = sizeof endpoint;
    if (end_open_zmq(e, ZMQ_ROUTER) != 0 || zmq_bind(e->sock, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(e->sock, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        return -1;
    int port = atoi(strrchr(endpoint, ':') + 1);
    return write(report, &port, sizeof port) == sizeof port ? 0 : -1;
}

/* The echoing process: answers trips + 1 messages (one to warm up), then writes the CPU it
 * spent on the timed ones to `report`. */
static int echo(link_kind_t kind, int in, int out, int report, int trips)
{
    end_t e = {kind, in, out, NULL, NULL};
    int rc = kind == LINK_ZMQ ? bind_router(&e, report) : 0;
    double cpu0 = 0;
    for (int i = 0; rc == 0 && i <= trips; i++) {
        if (i == 1) cpu0 = cpu_us();
        rc = kind == LINK_ZMQ ? router_echo(&e) : (end_recv(&e) == 0 && end_send(&e) == 0 ? 0 : -1);
    }
    double spent = cpu_us() - cpu0;
    if (rc == 0 && write(report, &spent, sizeof spent) != sizeof spent) rc = -1;
    end_close(&e);
    return rc == 0 ? 0 : 1;
}

/* trips round trips over a fresh link, each after gap_ms idle; fills the sorted round trip
 * times and the CPU per round trip of both processes. */
static int measure(link_kind_t kind, int gap_ms, int trips, double *rt, double *cpu_per_trip)
{
    int to_child[2], to_parent[2], report[2];
    if (pipe(to_child) || pipe(to_parent) || pipe(report)) return -1;
    pid_t pid = fork();
    if (pid == 0) _exit(echo(kind, to_child[0], to_parent[1], report[1], trips));
    if (pid < 0) return -1;
    end_t e = {kind, to_parent[0], to_child[1], NULL, NULL};
    int port = 0, rc = 0;
    char endpoint[64];
    if (kind == LINK_ZMQ) {
        rc = read(report[0], &port, sizeof port) == sizeof port && port > 0 ? 0 : -1;
        snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        if (rc == 0 && (end_open_zmq(&e, ZMQ_DEALER) != 0 || zmq_connect(e.sock, endpoint) != 0))
            rc = -1;
    }
    if (rc == 0) rc = end_send(&e) == 0 && end_recv(&e) == 0 ? 0 : -1;
    double cpu0 = cpu_us();
    for (int i = 0; rc == 0 && i < trips; i++) {
        sleep_ms(gap_ms);
        double t0 = now_ms();
        rc = end_send(&e) == 0 && end_recv(&e) == 0 ? 0 : -1;
        rt[i] = (now_ms() - t0) * 1e3; /* microseconds */
    }
    double own = cpu_us() - cpu0, peer = 0;
    if (rc == 0 && read(report[0], &peer, sizeof peer) != sizeof peer) rc = -1;
    end_close(&e);
    if (rc != 0) kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int fds[] = {to_child[0], to_child[1], to_parent[0], to_parent[1], report[0], report[1]};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        close(fds[i]);
    bench_sort(rt, trips);
    *cpu_per_trip = (own + peer) / trips;
    return rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The CPU one idle gap costs the waiting process by itself (its timer's wake-up), so that
 * the figures above count the messages only. */
static double gap_cpu_us(int gap_ms, int trips)
{
    double cpu0 = cpu_us();
    for (int i = 0; i < trips; i++)
        sleep_ms(gap_ms);
    return (cpu_us() - cpu0) / trips;
}

int main(int argc, char **argv)
{
    int trips = argc > 1 ? atoi(argv[1]) : DEFAULT_TRIPS;
    if (trips < 10 || trips > MAX_TRIPS) trips = DEFAULT_TRIPS;
    static double rt[MAX_TRIPS];
    const struct {
        link_kind_t kind;
        const char *name;
    } links[] = {{LINK_PIPE, "pipe"}, {LINK_ZMQ, "ZeroMQ, loopback TCP"}};
    const int gaps[] = {0, RUN_GAP_MS};
    double zmq_idle_rt = 0;
    printf("%-22s %11s %15s %9s %20s\n", "link (2 processes)", "idle before", "round trip p50",
           "p90", "CPU per round trip");
    for (size_t l = 0; l < sizeof links / sizeof *links; l++) {
        for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++) {
            double cpu;
            if (measure(links[l].kind, gaps[g], trips, rt, &cpu) != 0) {
                fprintf(stderr, "hop_bench: %s, %d ms gap: failed\n", links[l].name, gaps[g]);
                return 1;
            }
            cpu -= gap_cpu_us(gaps[g], trips / 3);
            printf("%-22s %8d ms %12.1f us %6.1f us %17.1f us\n", links[l].name, gaps[g],
                   rt[trips / 2], rt[trips * 9 / 10], cpu > 0 ? cpu : 0);
            if (links[l].kind == LINK_ZMQ && gaps[g] == RUN_GAP_MS) zmq_idle_rt = rt[trips / 2];
        }
    }
    printf("a run's %d hops through the services after an idle stretch: %d x %.0f us = %.2f ms "
           "of its end-to-end time, before any work\n",
           RUN_IDLE_HOPS, RUN_IDLE_HOPS, zmq_idle_rt / 2, RUN_IDLE_HOPS * zmq_idle_rt / 2 / 1000);
    return 0;
}
