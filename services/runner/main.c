/* lcx-runner: executes jobs from the dispatcher, one per slot. Wires settings, the language
 * definitions, the sandbox, the toolchain probe and the worker loop. */
#include "job.h"
#include "languages.h"
#include "log.h"
#include "sandbox.h"
#include "scratch.h"
#include "settings.h"
#include "toolchain.h"
#include "worker.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The READY message: name, slots, and the languages this machine can run. */
static lcx_msg_t *make_ready(const lcx_settings_t *settings, const lcx_languages_t *languages,
                             sandbox_t *sandbox)
{
    lcx_msg_t *ready = lcx_msg_new(LCX_CMD_READY);
    char name[HOST_NAME_MAX + 32];
    if (settings->runner_id[0]) {
        snprintf(name, sizeof name, "%s", settings->runner_id);
    } else {
        char host[HOST_NAME_MAX + 1] = "runner";
        gethostname(host, sizeof host);
        snprintf(name, sizeof name, "%s-%d", host, (int)getpid());
    }
    lcx_msg_set_str(ready, LCX_F_runner_id, name);
    lcx_msg_set_int(ready, LCX_F_slots, settings->runner_slots);
    lcx_msg_set_str(ready, LCX_F_sandbox, sandbox_mode(sandbox));
    toolchain_probe(languages, sandbox, ready);
    return ready;
}

/* lcx-keeper sits next to our own binary (make all and the image put both in one bin/). */
static const char *keeper_program(void)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return NULL;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) + sizeof "/lcx-keeper" > sizeof path) return NULL;
    strcpy(slash, "/lcx-keeper");
    return path;
}

/* The sandbox settings: one slot per job slot, so a job never waits for isolation. */
static sandbox_config_t sandbox_config(const lcx_settings_t *settings)
{
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.unsafe_no_sandbox = settings->unsafe_no_sandbox != 0;
    config.slots = settings->runner_slots > 0 ? settings->runner_slots : 1;
    config.uid_base = settings->sandbox_uid;
    config.scratch_mb = settings->sandbox_scratch_mb;
    config.tmp_mb = settings->sandbox_tmp_mb;
    config.cpus = settings->sandbox_cpus;
    config.keeper = keeper_program();
    return config;
}

static int run(const lcx_settings_t *settings, lcx_languages_t *languages, sandbox_t *sandbox,
               const scratch_t *scratch)
{
    char err[512] = "";
    if (settings->runner_slots < 1) {
        lcx_log(LCX_ERROR, "runner_slots must be at least 1", NULL);
        return 1;
    }
    lcx_msg_t *ready = make_ready(settings, languages, sandbox);
    if (ready->languages.n == 0) lcx_log(LCX_WARN, "no language is served on this machine", NULL);
    job_context_t ctx = {.sandbox = sandbox,
                         .languages = languages,
                         .settings = settings,
                         .scratch_dir = scratch_path(scratch),
                         .cancel_fd = -1};
    worker_t *worker = worker_new(settings, &ctx, &ready, err, sizeof err);
    lcx_msg_destroy(&ready);
    if (!worker) {
        lcx_log(LCX_ERROR, "cannot start", "error", err, NULL);
        return 1;
    }
    int status = worker_run(worker);
    worker_destroy(&worker);
    return status == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    lcx_settings_t settings;
    int early = lcx_settings_start(&settings, 'R', "runner", argc, argv);
    if (early >= 0) return early;
    char err[512] = "";
    char path[PATH_MAX];
    lcx_languages_t *languages = lcx_languages_load(
        lcx_languages_default_path(settings.languages, path, sizeof path), err, sizeof err);
    if (!languages) {
        lcx_log(LCX_ERROR, "cannot load languages", "error", err, NULL);
        return 1;
    }
    if (job_check_args_room(&settings, languages, err, sizeof err) != 0) {
        lcx_log(LCX_ERROR, "max_args_bytes does not fit", "error", err, NULL);
        lcx_languages_destroy(&languages);
        return 1;
    }
    /* Before the sandbox: its private mount namespace would hide the host's mounts that a
     * dead runner's directory may hold from the sweep. */
    scratch_t *scratch = scratch_open(settings.scratch_dir, err, sizeof err);
    if (!scratch) {
        lcx_log(LCX_ERROR, "cannot use the scratch directory", "error", err, NULL);
        lcx_languages_destroy(&languages);
        return 1;
    }
    sandbox_config_t config = sandbox_config(&settings);
    sandbox_t *sandbox = sandbox_new(&config, err, sizeof err);
    int status = 1;
    if (!sandbox) {
        lcx_log(LCX_ERROR, "cannot sandbox on this machine", "error", err, NULL);
    } else {
        if (config.unsafe_no_sandbox)
            lcx_log(LCX_WARN, "programs run WITHOUT isolation (--unsafe-no-sandbox)", NULL);
        status = run(&settings, languages, sandbox, scratch);
    }
    sandbox_destroy(&sandbox);
    scratch_close(&scratch);
    lcx_languages_destroy(&languages);
    return status;
}
