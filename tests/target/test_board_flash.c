/* The CFI flash driver of riscv32-virt (boards/riscv32-virt/flash.c) on the
 * chip itself: erase to whole blocks, programs of any alignment and length
 * (partial words keep their neighbours, long ones span several command
 * sessions and blocks), and the ranges it refuses. Runs on a block at the
 * top of pflash0, away from the bootloader and the slots. (The status
 * errors need a read-only chip: tests/python/device/test_board_riscv32_virt.py.) */
#include <string.h>

#include "board.h"
#include "mg_test.h"

#define TOP (VIRT_FLASH_BASE + VIRT_FLASH_SIZE)
#define BLK (TOP - 2 * VIRT_FLASH_BLOCK) /* the last two blocks */

static const uint8_t *at(uint32_t addr) {
  return (const uint8_t *) (uintptr_t) addr;
}

static bool all_ff(uint32_t addr, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (at(addr)[i] != 0xff) return false;
  }
  return true;
}

static void test_erase_clears_whole_blocks(void) {
  static const uint8_t one = 0x5a;
  CHECK(board_flash_erase(BLK, 2 * VIRT_FLASH_BLOCK));
  CHECK(all_ff(BLK, 2 * VIRT_FLASH_BLOCK));
  CHECK(board_flash_program(BLK + 100, &one, 1));
  CHECK(board_flash_program(TOP - 1, &one, 1));
  CHECK(at(BLK + 100)[0] == 0x5a && at(TOP - 1)[0] == 0x5a);
  /* Nothing to erase erases nothing, not even the block of the address. */
  CHECK(board_flash_erase(BLK + 100, 0));
  CHECK(at(BLK + 100)[0] == 0x5a);
  /* Four bytes inside the first block erase all of it, and only it. */
  CHECK(board_flash_erase(BLK + 200, 4));
  CHECK(all_ff(BLK, VIRT_FLASH_BLOCK));
  CHECK(at(TOP - 1)[0] == 0x5a);
  CHECK(board_flash_erase(BLK, 2 * VIRT_FLASH_BLOCK));
}

static void test_program_any_alignment(void) {
  static uint8_t buf[3000];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t) (i * 7 + 1);
  CHECK(board_flash_erase(BLK, VIRT_FLASH_BLOCK));
  /* 7 bytes from the middle of a word: the bytes around them stay erased. */
  CHECK(board_flash_program(BLK + 3, buf, 7));
  CHECK(memcmp(at(BLK + 3), buf, 7) == 0);
  CHECK(at(BLK + 2)[0] == 0xff && at(BLK + 10)[0] == 0xff);
  /* Then the rest of the partial word after them, as a second write. */
  CHECK(board_flash_program(BLK + 10, buf + 7, 2));
  CHECK(memcmp(at(BLK + 3), buf, 9) == 0 && at(BLK + 12)[0] == 0xff);
  /* 3000 bytes from an odd address and an odd source: three command
   * sessions (1 KiB each), a partial word at both ends. */
  CHECK(board_flash_program(BLK + 0x1001, buf + 1, sizeof(buf) - 1));
  CHECK(memcmp(at(BLK + 0x1001), buf + 1, sizeof(buf) - 1) == 0);
  CHECK(at(BLK + 0x1000)[0] == 0xff && at(BLK + 0x1000 + sizeof(buf))[0] == 0xff);
  /* Across the end of a block into the next one. */
  CHECK(board_flash_erase(BLK + VIRT_FLASH_BLOCK, 1));
  CHECK(board_flash_program(BLK + VIRT_FLASH_BLOCK - 6, buf, 12));
  CHECK(memcmp(at(BLK + VIRT_FLASH_BLOCK - 6), buf, 12) == 0);
  CHECK(board_flash_program(BLK, buf, 0)); /* nothing */
}

static void test_refused_ranges(void) {
  static const uint8_t four[4] = {1, 2, 3, 4};
  CHECK(!board_flash_program(TOP - 2, four, 4));     /* past the chip's end */
  CHECK(!board_flash_program(0x80000000u, four, 4)); /* DRAM */
  CHECK(!board_flash_erase(VIRT_FLASH_BASE - 4, 8)); /* before its start */
  CHECK(!board_flash_erase(TOP, 1));
  /* The source may not be the flash: in command mode it reads as status. */
  CHECK(!board_flash_program(BLK, at(BLK + 16), 4));
  /* Refused means untouched. */
  CHECK(all_ff(TOP - 4, 4) && at(BLK)[0] == 0xff);
}

int main(void) {
  test_erase_clears_whole_blocks();
  test_program_any_alignment();
  test_refused_ranges();
  return TEST_REPORT();
}
