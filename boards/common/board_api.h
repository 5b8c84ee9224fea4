/* What every board offers to firmware applications. Each boards/<name>/
 * implements it in its board.c; apps include "board.h", which includes this.
 *
 * Besides these, a board implements the core's platform functions declared
 * in mg_base.h: mg_millis(), mg_random() and mg_log_default_sink(). */
#ifndef BOARDS_BOARD_API_H
#define BOARDS_BOARD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_driver.h"

/* Exit statuses for board_exit() that the board itself uses. */
#define BOARD_EXIT_OK 0
#define BOARD_EXIT_FAULT 125      /* a crash record was printed (fault, assert, stack) */

/* After a crash record: 0 stops the board (board_exit(BOARD_EXIT_FAULT)), 1
 * resets it (boards/common/cortex_m_startup.c). A board setting. */
#ifndef BOARD_FAULT_RESET
#define BOARD_FAULT_RESET 0
#endif
/* The word the reset handler writes at the bottom of the main stack (at
 * __stack_limit); a tick that finds it changed reports a stack overflow
 * (crash record kind 2). */
#define BOARD_STACK_GUARD 0x5AC6A7D1
#define BOARD_CRASH_KIND_STACK 2

/* Clocks, console and interrupts. Called by the reset handler before main(),
 * so stdio works from the first line of main(). */
void board_init(void);

/* Short name of the board, e.g. "mps2-an385". */
const char *board_name(void);

/* Writes to the console, turning "\n" into "\r\n". Blocks until queued. */
void board_console_write(const void *buf, size_t len);
/* Copies up to len received console bytes; never blocks; returns the count. */
size_t board_console_read(void *buf, size_t len);
/* Bytes dropped because the receive ring was full (0 in a healthy system). */
uint32_t board_console_dropped(void);

/* Sleeps until the next interrupt (tick, console byte, network frame ...),
 * unless an interrupt already signalled work since the last call. */
void board_idle(void);

/* Stops the machine with an exit status: under QEMU -semihosting (or a
 * debugger with semihosting) the emulator exits with that status; otherwise
 * the CPU halts in a sleep loop. Never returns. */
void board_exit(int status) __attribute__((noreturn));

/* The board's Ethernet interface, if it has one: the driver and its context
 * (already pointing at the hardware). Returns NULL when there is none. */
const struct mg_driver *board_eth(void **ctx);
/* Default MAC address of the interface (locally administered). */
void board_eth_mac(uint8_t mac[6]);

/* The board's watchdog (boards/common/cmsdk_wdog.c, facts BOARD_WDOG_BASE and
 * BOARD_WDOG_HZ in its board.h). Armed, it interrupts after ms and resets the
 * system after 2 x ms unless fed or disarmed: the bootloader arms it for an
 * image booted on test, whose main loop feeds it until the image confirms
 * itself and disarms it (docs/updates.md). arm() returns false, and all three
 * do nothing, on a board without one. */
bool board_watchdog_arm(uint32_t ms);
void board_watchdog_feed(void); /* a fresh period: the main loop is alive */
void board_watchdog_disarm(void);
/* The period the bootloader arms it with: an image whose main loop stops for
 * twice this long (it hangs) is reset. A board setting. */
#ifndef BOARD_WATCHDOG_MS
#define BOARD_WATCHDOG_MS 4000u
#endif

/* The flash that holds the update slots and the boot state (boards with
 * [slots] in board.toml; the bootloader's slots.c and device_app's ota.c
 * use it).
 * erase() erases every erase block that [addr, addr + len) touches (each
 * area erased on its own owns whole blocks), program() writes len bytes
 * over erased flash. Both return false, with nothing retried, when the
 * range is not the board's flash or the flash reports an error. On the
 * MPS2 boards QEMU's "flash" is RAM written byte by byte
 * (boards/common/mps2_board.c); riscv32-virt drives its CFI chip
 * (boards/riscv32-virt/flash.c). */
bool board_flash_erase(uint32_t addr, size_t len);
bool board_flash_program(uint32_t addr, const void *buf, size_t len);

#endif /* BOARDS_BOARD_API_H */
