/*
 * settings: every lcx setting (settings.def) resolved from flag, environment or default.
 */
#ifndef LCX_SETTINGS_H
#define LCX_SETTINGS_H

#include <stdio.h>

#define LCX_SETTING_S const char *
#define LCX_SETTING_I long
#define LCX_SETTING_B long

typedef struct {
#define X(name, type, def, services, help) LCX_SETTING_##type name;
#include "settings.def"
#undef X
} lcx_settings_t;

typedef enum {
    LCX_SETTINGS_OK = 0,
    LCX_SETTINGS_HELP = 1,
    LCX_SETTINGS_ERROR = -1
} lcx_settings_rc_t;

/*
 * Fills `self` for the service whose letter is `service` (G, S, D or R). Flags are
 * `--name value` or `--name=value`; `--help` prints usage to `out` and returns
 * LCX_SETTINGS_HELP. Unknown flags, flags of other services and malformed integers give
 * LCX_SETTINGS_ERROR with a message in err. Strings point into argv, environ or constants; a
 * value that names {socket_dir} (the endpoints' defaults do) has the setting socket_dir put in
 * its place, in text that lasts as long as the process.
 */
lcx_settings_rc_t lcx_settings_load(lcx_settings_t *self, char service, int argc, char **argv,
                                    FILE *out, char *err, size_t errlen);

/*
 * The start of every service's main(): loads the settings of `service`, names the log after
 * `name`. Returns -1 to go on, else the status main should exit with: 0 after --help, 2 after
 * a bad flag or variable (the reason printed on stderr). `--version` prints "lcx-NAME VERSION"
 * and gives 0.
 */
int lcx_settings_start(lcx_settings_t *self, char service, const char *name, int argc, char **argv);

/* Prints the flags, variables and defaults a service reads. */
void lcx_settings_usage(char service, const char *program, FILE *out);

#endif
