/* hello_fw: the first firmware. Prints a banner on the console, then a line
 * per timer tick from the cymongoose manager, and idles with WFI in between.
 *
 * Console commands (one per line, for people and tests):
 *   echo <text>   prints "echo: <text>" back (checks that no byte is lost)
 *   exit <n>      stops the machine with status n (QEMU: needs -semihosting)
 *   help          lists the commands */
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "mg.h"

#define TICK_PERIOD_MS 100u
#define LINE_MAX_LEN 512u
#define PRINT_BUF_LEN 600u /* fits "echo: " + a full line */

struct app {
  struct mg_mgr mgr;
  unsigned long ticks;
  char line[LINE_MAX_LEN];
  size_t line_len;
  bool line_overflow; /* the current line is too long: drop it */
};

static void out(const char *fmt, ...) {
  char buf[PRINT_BUF_LEN];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  board_console_write(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

static void on_tick(void *arg) {
  struct app *app = (struct app *) arg;
  app->ticks++;
  out("tick %lu t=%lu\n", app->ticks, (unsigned long) mg_millis());
}

/* Parses a decimal status for "exit"; false on anything else. */
static bool parse_status(struct mg_str s, int *status) {
  uint64_t v;
  if (!mg_str_to_u64(mg_str_trim(s), &v) || v > 255u) return false;
  *status = (int) v;
  return true;
}

static void run_command(struct app *app) {
  struct mg_str line = mg_str_trim(mg_str_n(app->line, app->line_len));
  struct mg_str cmd, arg;
  int status;
  if (line.len == 0) return;
  mg_str_split(line, ' ', &cmd, &arg);
  if (mg_str_eq(cmd, "echo")) {
    out("echo: %.*s\n", (int) arg.len, arg.buf);
  } else if (mg_str_eq(cmd, "exit")) {
    if (!parse_status(arg, &status)) {
      out("error: exit needs a status 0..255\n");
      return;
    }
    out("exit %d\n", status);
    board_exit(status);
  } else if (mg_str_eq(cmd, "help")) {
    out("commands: echo <text> | exit <0..255> | help\n");
  } else {
    out("error: unknown command '%.*s' (try help)\n", (int) cmd.len, cmd.buf);
  }
}

/* Collects console bytes into lines; CR, LF or CRLF end a line. */
static void poll_console(struct app *app) {
  uint8_t buf[64];
  size_t n;
  while ((n = board_console_read(buf, sizeof(buf))) > 0) {
    for (size_t i = 0; i < n; i++) {
      char ch = (char) buf[i];
      if (ch == '\r' || ch == '\n') {
        if (app->line_overflow) {
          out("error: line longer than %u bytes dropped\n", LINE_MAX_LEN);
        } else {
          run_command(app);
        }
        app->line_len = 0;
        app->line_overflow = false;
      } else if (app->line_len < sizeof(app->line)) {
        app->line[app->line_len++] = ch;
      } else {
        app->line_overflow = true;
      }
    }
  }
}

int main(void) {
  /* Static: the manager and line buffer outlive main's frame anyway, and
   * the stack stays small. */
  static struct app app;
  out("cymongoose %s on %s\n", MG_FW_VERSION, board_name());
  mg_mgr_init(&app.mgr);
  if (mg_timer_add(&app.mgr, TICK_PERIOD_MS, MG_TIMER_REPEAT, on_tick, &app) ==
      NULL) {
    out("error: cannot add timer\n");
    return EXIT_FAILURE;
  }
  for (;;) {
    mg_mgr_poll(&app.mgr, 0);
    poll_console(&app);
    board_idle();
  }
}
