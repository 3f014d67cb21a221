/* lcx-keeper: a sandbox slot's keeper in an image of its own (see ../keeper.h). */
#include "keeper.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lcx-keeper %s\n", LCX_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("lcx-keeper: a sandbox slot's keeper, started by lcx-runner only (no flags)\n");
        return 0;
    }
    return keeper_program_main(argc, argv);
}
