/* lcx-keygen: makes the CURVE certificates of the services (see services/common/curve.h), and
 * API keys (services/common/apikey.h).
 *
 *   lcx-keygen DIR [NAME...]   names default to: session dispatcher gateway runner
 *   lcx-keygen api-key         prints a fresh API key (for admin_key_file, say)
 *
 * Writes DIR/public/NAME.cert and DIR/secret/NAME.cert_secret (0600); an existing certificate
 * is kept. Give every host DIR/public and only its own service's secret. */
#include "apikey.h"
#include "version.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int make_cert(const char *dir, const char *name)
{
    char public_path[1200], secret_path[1200];
    snprintf(public_path, sizeof public_path, "%s/public/%s.cert", dir, name);
    snprintf(secret_path, sizeof secret_path, "%s/secret/%s.cert_secret", dir, name);
    if (access(secret_path, F_OK) == 0) {
        printf("kept     %s\n", secret_path);
        return 0;
    }
    zcert_t *cert = zcert_new();
    if (!cert) return -1;
    zcert_set_meta(cert, "name", "lcx %s", name);
    int rc = zcert_save_public(cert, public_path) == 0 && zcert_save_secret(cert, secret_path) == 0
                 ? 0
                 : -1;
    zcert_destroy(&cert);
    if (rc == 0) rc = chmod(secret_path, 0600);
    printf("%s %s\n", rc == 0 ? "created " : "FAILED  ", public_path);
    return rc;
}

static void usage(const char *program, FILE *out)
{
    fprintf(out, "usage: %s DIR [NAME...]\n       %s api-key\n\n", program, program);
    fprintf(out, "Writes DIR/public/NAME.cert and DIR/secret/NAME.cert_secret (0600) for each\n"
                 "NAME (default: session dispatcher gateway runner); an existing certificate\n"
                 "is kept.\n"
                 "api-key prints a fresh API key (lcx_<key_id>_<secret>) on stdout.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(argv[0], stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("lcx-keygen %s\n", LCX_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "api-key") == 0) {
        char key[APIKEY_LEN + 1];
        apikey_t parsed;
        if (apikey_init() != 0) return 1;
        apikey_generate(key, &parsed);
        puts(key);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        usage(argv[0], stderr);
        return 2;
    }
    const char *dir = argv[1];
    char path[1200];
    snprintf(path, sizeof path, "%s/public", dir);
    zsys_dir_create("%s", path);
    snprintf(path, sizeof path, "%s/secret", dir);
    zsys_dir_create("%s", path);
    if (chmod(path, 0700) != 0) return 1;
    static char *defaults[] = {"session", "dispatcher", "gateway", "runner"};
    char **names = argc > 2 ? argv + 2 : defaults;
    int count = argc > 2 ? argc - 2 : 4;
    for (int i = 0; i < count; i++)
        if (make_cert(dir, names[i]) != 0) return 1;
    return 0;
}
