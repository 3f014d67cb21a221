/* toolchain: probe the languages' programs (see toolchain.h). */
#include "toolchain.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VERSION_TIMEOUT_MS 10000

static bool program_present(char **argv)
{
    if (!argv) return true;
    /* A relative program ("./main") is built by the compile step, not installed. */
    return argv[0][0] != '/' || access(argv[0], X_OK) == 0;
}

/* Runs the version command; copies the first non-empty output line into out. */
static bool read_version(const lcx_language_t *lang, sandbox_t *sandbox, char *out, size_t size)
{
    if (!lang->version) {
        snprintf(out, size, "unknown");
        return true;
    }
    sandbox_spec_t spec = {
        .argv = lang->version,
        .env = lang->env,
        .workdir = NULL, /* isolated: an empty /work; unsafe: the runner's directory */
        .wall_ms = VERSION_TIMEOUT_MS,
        .output_bytes = 4096,
        .cancel_fd = -1,
    };
    sandbox_result_t result;
    if (sandbox_run(sandbox, &spec, &result) != 0) return false;
    bool ok = !result.signaled && !result.timed_out && result.exit_code == 0;
    /* java and javac print their version on stderr */
    const char *text = result.out_len ? result.out : result.err;
    size_t len = strcspn(text ? text : "", "\n");
    snprintf(out, size, "%.*s", (int)len, text ? text : "");
    sandbox_result_free(&result);
    return ok;
}

int toolchain_probe(const lcx_languages_t *languages, sandbox_t *sandbox, lcx_msg_t *msg)
{
    int served = 0;
    lcx_msg_list_touch(msg, LCX_F_languages);
    lcx_msg_list_touch(msg, LCX_F_versions);
    for (size_t i = 0; i < lcx_languages_count(languages); i++) {
        const lcx_language_t *lang = lcx_languages_at(languages, i);
        char version[200];
        if (!program_present(lang->compile) || !program_present(lang->run) ||
            !read_version(lang, sandbox, version, sizeof version)) {
            lcx_log(LCX_WARN, "language not served: toolchain missing", "language", lang->id, NULL);
            continue;
        }
        char entry[256];
        snprintf(entry, sizeof entry, "%s=%s", lang->id, version);
        lcx_msg_list_append(msg, LCX_F_languages, lang->id);
        lcx_msg_list_append(msg, LCX_F_versions, entry);
        served++;
    }
    return served;
}
