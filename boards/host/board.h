/* The host "board": a firmware app as a Linux process. The console is the
 * process's stdin/stdout, the network the kernel's sockets (the app uses
 * mg_mgr_init), the clock and randomness come from src/arch/posix.c. */
#ifndef BOARDS_HOST_BOARD_H
#define BOARDS_HOST_BOARD_H

#include "board_api.h"

/* Keeps argv for board_reboot() (call first thing in main). */
void board_host_args(int argc, char **argv);
/* Restarts the process image with the same arguments. */
void board_reboot(void) __attribute__((noreturn));

#endif /* BOARDS_HOST_BOARD_H */
