/* lcx-keeper: a sandbox slot's keeper in an image of its own (see ../keeper.h). */
#include "keeper.h"

int main(int argc, char **argv)
{
    return keeper_program_main(argc, argv);
}
