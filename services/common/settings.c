/* settings: flags, environment and defaults for every setting in settings.def. */
#include "settings.h"
#include "alloc.h"
#include "log.h"
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    char type; /* 'S', 'I' or 'B' */
    const char *def;
    const char *services;
    const char *help;
    size_t offset;
} setting_t;

static const setting_t settings_table[] = {
#define X(name, type, def, services, help)                                                         \
    {#name, #type[0], def, services, help, offsetof(lcx_settings_t, name)},
#include "settings.def"
#undef X
};
#define SETTINGS_COUNT (sizeof settings_table / sizeof settings_table[0])

/* "http_port" -> "--http-port" or "LCX_HTTP_PORT". */
static void flag_name(const setting_t *s, char *out, size_t size)
{
    snprintf(out, size, "--%s", s->name);
    for (char *p = out + 2; *p; p++)
        if (*p == '_') *p = '-';
}

static void env_name(const setting_t *s, char *out, size_t size)
{
    snprintf(out, size, "LCX_%s", s->name);
    for (char *p = out + 4; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static int assign(lcx_settings_t *self, const setting_t *s, const char *value, const char *origin,
                  char *err, size_t errlen)
{
    char *slot = (char *)self + s->offset;
    if (s->type == 'S') {
        *(const char **)slot = value;
        return 0;
    }
    errno = 0;
    char *end = NULL;
    long number = strtol(value, &end, 10);
    if (s->type == 'B' && (number > 1 || end == value || *end != '\0')) {
        snprintf(err, errlen, "%s: '%s' is not 0 or 1", origin, value);
        return -1;
    }
    if (errno || end == value || *end != '\0' || number < 0) {
        snprintf(err, errlen, "%s: '%s' is not a non-negative integer", origin, value);
        return -1;
    }
    *(long *)slot = number;
    return 0;
}

static const setting_t *find_flag(const char *arg, size_t len)
{
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        char flag[64];
        flag_name(&settings_table[i], flag, sizeof flag);
        if (strlen(flag) == len && strncmp(flag, arg, len) == 0) return &settings_table[i];
    }
    return NULL;
}

static int load_defaults_and_env(lcx_settings_t *self, char *err, size_t errlen)
{
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        const setting_t *s = &settings_table[i];
        char env[64];
        env_name(s, env, sizeof env);
        const char *value = getenv(env);
        if (assign(self, s, value ? value : s->def, value ? env : "default", err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Every text made by expand_socket_dir, kept for the life of the process: settings point into
 * it, and a caller may still hold the settings of an earlier load. */
static char **expansions;
static size_t expansion_count;

static const char *keep_expansion(char *text)
{
    expansions = lcx_realloc(expansions, (expansion_count + 1) * sizeof *expansions);
    expansions[expansion_count++] = text;
    return text;
}

/* `value` with every "{socket_dir}" replaced by dir (malloc'd). */
static char *replace_socket_dir(const char *value, const char *dir)
{
    static const char mark[] = "{socket_dir}";
    size_t count = 0;
    for (const char *at = strstr(value, mark); at; at = strstr(at + 1, mark))
        count++;
    char *out = lcx_malloc(strlen(value) + count * strlen(dir) + 1), *w = out;
    for (const char *at; (at = strstr(value, mark)); value = at + strlen(mark)) {
        memcpy(w, value, (size_t)(at - value));
        w = stpcpy(w + (at - value), dir);
    }
    strcpy(w, value);
    return out;
}

/* The endpoints' defaults name {socket_dir}; a flag or variable may too. */
static void expand_socket_dir(lcx_settings_t *self)
{
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        const setting_t *s = &settings_table[i];
        const char **slot = (const char **)((char *)self + s->offset);
        if (s->type != 'S' || slot == &self->socket_dir || !strstr(*slot, "{socket_dir}")) continue;
        *slot = keep_expansion(replace_socket_dir(*slot, self->socket_dir));
    }
}

static int load_flags(lcx_settings_t *self, char service, int argc, char **argv, char *err,
                      size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const setting_t *s = find_flag(arg, len);
        if (!s || !strchr(s->services, service)) {
            snprintf(err, errlen, "unknown flag '%.*s' (see --help)", (int)len, arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : s->type == 'B' ? "1" : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            snprintf(err, errlen, "flag '%s' needs a value", arg);
            return -1;
        }
        if (assign(self, s, value, arg, err, errlen) != 0) return -1;
    }
    return 0;
}

lcx_settings_rc_t lcx_settings_load(lcx_settings_t *self, char service, int argc, char **argv,
                                    FILE *out, char *err, size_t errlen)
{
    memset(self, 0, sizeof *self);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            lcx_settings_usage(service, argv[0], out);
            return LCX_SETTINGS_HELP;
        }
    }
    if (load_defaults_and_env(self, err, errlen) != 0) return LCX_SETTINGS_ERROR;
    if (load_flags(self, service, argc, argv, err, errlen) != 0) return LCX_SETTINGS_ERROR;
    expand_socket_dir(self);
    return LCX_SETTINGS_OK;
}

void lcx_settings_usage(char service, const char *program, FILE *out)
{
    fprintf(out, "usage: %s [--flag value | --flag=value]...\n\n", program);
    fprintf(out, "Each flag also reads from its environment variable; a flag wins.\n\n");
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        const setting_t *s = &settings_table[i];
        if (!strchr(s->services, service)) continue;
        char flag[64], env[64];
        flag_name(s, flag, sizeof flag);
        env_name(s, env, sizeof env);
        /* A help text that explains its own default (one computed at start-up) says it once. */
        if (strstr(s->help, "(default:"))
            fprintf(out, "  %-24s %-26s %s\n", flag, env, s->help);
        else
            fprintf(out, "  %-24s %-26s %s (default: %s)\n", flag, env, s->help,
                    *s->def ? s->def : "none");
    }
}

int lcx_settings_start(lcx_settings_t *self, char service, const char *name, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("lcx-%s %s\n", name, LCX_VERSION);
            return 0;
        }
    }
    char err[512];
    lcx_alloc_install();
    lcx_settings_rc_t rc = lcx_settings_load(self, service, argc, argv, stdout, err, sizeof err);
    if (rc == LCX_SETTINGS_HELP) return 0;
    if (rc != LCX_SETTINGS_OK) {
        fprintf(stderr, "lcx-%s: %s\n", name, err);
        return 2;
    }
    lcx_level_t level;
    if (lcx_log_level_parse(self->log_level, &level) != 0) {
        fprintf(stderr, "lcx-%s: log_level: '%s' is not debug, info, warn or error\n", name,
                self->log_level);
        return 2;
    }
    lcx_log_init(name, level);
    return -1;
}
