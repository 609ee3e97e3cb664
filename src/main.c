#include <stdlib.h>

#include "cli.h"

int main(int argc, char **argv)
{
    exit(ab_cli_main(argc, argv));
}
