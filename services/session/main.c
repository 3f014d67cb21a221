/* lcx-session: the session store. Wires settings, the SQLite store and the message loop. */
#include "log.h"
#include "server.h"
#include "settings.h"
#include "store.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    lcx_settings_t settings;
    int early = lcx_settings_start(&settings, 'S', "session", argc, argv);
    if (early >= 0) return early;
    char err[512];
    store_t *store = store_new(settings.data_dir, err, sizeof err);
    if (!store) {
        lcx_log(LCX_ERROR, "cannot open the database", "error", err, NULL);
        return 1;
    }
    store_set_busy_ms(store, (int)settings.store_busy_ms);
    server_t *server = server_new(&settings, store, err, sizeof err);
    if (!server) {
        lcx_log(LCX_ERROR, "cannot start", "error", err, NULL);
        store_destroy(&store);
        return 1;
    }
    int status = server_run(server);
    server_destroy(&server);
    store_destroy(&store);
    return status == 0 ? 0 : 1;
}
