/* lcx-dispatcher: the broker between the session store and the runners. */
#include "broker.h"
#include "log.h"
#include "settings.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    lcx_settings_t settings;
    int early = lcx_settings_start(&settings, 'D', "dispatcher", argc, argv);
    if (early >= 0) return early;
    char err[512];
    broker_t *broker = broker_new(&settings, err, sizeof err);
    if (!broker) {
        lcx_log(LCX_ERROR, "cannot start", "error", err, NULL);
        return 1;
    }
    int status = broker_run(broker);
    broker_destroy(&broker);
    return status == 0 ? 0 : 1;
}
