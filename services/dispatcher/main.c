/* lcx-dispatcher: the broker between the session store and the runners. */
#include "broker.h"
#include "log.h"
#include "settings.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    lcx_settings_t settings;
    char err[512];
    lcx_settings_rc_t rc = lcx_settings_load(&settings, 'D', argc, argv, stdout, err, sizeof err);
    if (rc == LCX_SETTINGS_HELP) return 0;
    if (rc != LCX_SETTINGS_OK) {
        fprintf(stderr, "lcx-dispatcher: %s\n", err);
        return 2;
    }
    lcx_log_init("dispatcher");
    broker_t *broker = broker_new(&settings, err, sizeof err);
    if (!broker) {
        lcx_log(LCX_ERROR, "cannot start", "error", err, NULL);
        return 1;
    }
    int status = broker_run(broker);
    broker_destroy(&broker);
    return status == 0 ? 0 : 1;
}
