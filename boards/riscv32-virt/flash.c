/* The CFI flash of riscv32-virt behind board_flash_erase/program
 * (board_api.h): pflash0, Intel command set, a 32-bit bank of two x16
 * devices, so every command goes to both halves of the word and the status
 * is read for both.
 *
 * From the first command to the final Read Array the chip answers reads with
 * its status register, so nothing may be fetched from it: the code of that
 * window is in .ramfunc (copied to RAM with .data by the startup) and runs
 * with machine interrupts off (the trap vector is in the flash). It calls
 * nothing and reads no constant from the flash. Clear Status, the erase
 * commands and Read Array go to the erase block's base, the program command
 * and data to the word, so a write watchpoint on a byte past the block's
 * first word sees two stores per program of it, as on the MPS2 boards an
 * erase and a program (bench/ota_powerfail.py counts them). */
#include <string.h>

#include "board.h"

#define RAMFUNC __attribute__((section(".ramfunc"), noinline))
/* The erase block holding p: where the session's commands go. */
#define BLOCK_OF(p) \
  ((volatile uint32_t *) ((uintptr_t) (p) & ~(uintptr_t) (VIRT_FLASH_BLOCK - 1u)))
/* Words per command session: bounds the time with interrupts off. */
#define CFI_BATCH_WORDS 256u

/* One command byte for each x16 device of the bank. */
#define CFI_CMD(c) ((uint32_t) (c) * 0x00010001u)
#define CFI_READ_ARRAY 0xFFu
#define CFI_CLEAR_STATUS 0x50u
#define CFI_BLOCK_ERASE 0x20u
#define CFI_ERASE_CONFIRM 0xD0u
#define CFI_PROGRAM 0x40u
/* Status register bits. */
#define CFI_SR_READY 0x80u
#define CFI_SR_ERASE_ERR 0x20u
#define CFI_SR_PROGRAM_ERR 0x10u
#define CFI_SR_LOCKED 0x02u

static inline __attribute__((always_inline)) uint32_t irq_off(void) {
  uint32_t prev;
  __asm__ volatile("csrrci %0, mstatus, 8" : "=r"(prev)::"memory");
  return prev & RV_MSTATUS_MIE;
}

static inline __attribute__((always_inline)) void irq_back(uint32_t mie) {
  if (mie) __asm__ volatile("csrsi mstatus, 8" ::: "memory");
}

/* Polls until both devices are ready; returns their status. */
static inline __attribute__((always_inline)) uint32_t cfi_wait(volatile uint32_t *p) {
  uint32_t s;
  do s = *p;
  while ((s & CFI_CMD(CFI_SR_READY)) != CFI_CMD(CFI_SR_READY));
  return s;
}

/* Erases the block at blk; returns the status register (both devices). */
static RAMFUNC uint32_t cfi_erase_block(volatile uint32_t *blk) {
  uint32_t mie = irq_off(), s;
  *blk = CFI_CMD(CFI_CLEAR_STATUS);
  *blk = CFI_CMD(CFI_BLOCK_ERASE);
  *blk = CFI_CMD(CFI_ERASE_CONFIRM);
  s = cfi_wait(blk);
  *blk = CFI_CMD(CFI_READ_ARRAY);
  irq_back(mie);
  return s;
}

/* Programs n words from src (RAM, any alignment) at w, word-aligned, in one
 * command session: QEMU remaps the chip at every switch between read and
 * command mode, which costs far more than a word (a 92 KB upload took 16 s
 * with a session per word, 1.5 s with 256). Returns the statuses OR-ed. */
static RAMFUNC uint32_t cfi_program_words(volatile uint32_t *w, const uint8_t *src, size_t n) {
  volatile uint32_t *blk = BLOCK_OF(w);
  uint32_t mie = irq_off(), s = 0;
  *blk = CFI_CMD(CFI_CLEAR_STATUS);
  for (size_t i = 0; i < n; i++, src += 4) {
    uint32_t v = (uint32_t) src[0] | (uint32_t) src[1] << 8 | (uint32_t) src[2] << 16 |
                 (uint32_t) src[3] << 24;
    w[i] = CFI_CMD(CFI_PROGRAM);
    w[i] = v;
    s |= cfi_wait(&w[i]);
  }
  *blk = CFI_CMD(CFI_READ_ARRAY);
  irq_back(mie);
  return s;
}

static bool in_flash(uint32_t addr, size_t len) {
  return addr >= VIRT_FLASH_BASE && len <= VIRT_FLASH_SIZE &&
         addr - VIRT_FLASH_BASE <= VIRT_FLASH_SIZE - len;
}

bool board_flash_erase(uint32_t addr, size_t len) {
  uint32_t end = addr + (uint32_t) len;
  if (!in_flash(addr, len)) return false;
  if (len == 0) return true; /* not even the block of addr */
  for (uint32_t b = addr & ~(VIRT_FLASH_BLOCK - 1u); b < end; b += VIRT_FLASH_BLOCK) {
    uint32_t s = cfi_erase_block(BLOCK_OF(b));
    if (s & CFI_CMD(CFI_SR_ERASE_ERR | CFI_SR_LOCKED)) return false;
  }
  return true;
}

static bool in_flash_range(uintptr_t addr, size_t len) {
  return len != 0 && addr < VIRT_FLASH_BASE + VIRT_FLASH_SIZE && addr + len > VIRT_FLASH_BASE;
}

/* Programs n words at the word-aligned addr from src and reads them back:
 * flash can only clear bits, so a word that was not erased comes back wrong. */
static bool program_words(uint32_t addr, const uint8_t *src, size_t n) {
  volatile uint32_t *w = (volatile uint32_t *) (uintptr_t) addr;
  uint32_t s = cfi_program_words(w, src, n);
  if (s & CFI_CMD(CFI_SR_PROGRAM_ERR | CFI_SR_LOCKED)) return false;
  return memcmp((const void *) (uintptr_t) addr, src, 4 * n) == 0;
}

/* In words of the bank's width. A word the range covers only in part keeps
 * its other bytes (programmed again with what they hold). The source must not
 * be in the flash: in command mode the chip reads as its status. */
bool board_flash_program(uint32_t addr, const void *buf, size_t len) {
  const uint8_t *src = (const uint8_t *) buf;
  if (!in_flash(addr, len) || in_flash_range((uintptr_t) buf, len)) return false;
  while (len > 0) {
    uint32_t ofs = addr & 3u;
    if (ofs != 0 || len < 4) { /* a partial word: merge it with what is there */
      uint8_t word[4];
      size_t n = 4 - ofs < len ? 4 - ofs : len;
      memcpy(word, (const void *) (uintptr_t) (addr - ofs), 4);
      memcpy(word + ofs, src, n);
      if (!program_words(addr - ofs, word, 1)) return false;
      addr += (uint32_t) n, src += n, len -= n;
    } else {
      size_t words = len / 4 < CFI_BATCH_WORDS ? len / 4 : CFI_BATCH_WORDS;
      if (!program_words(addr, src, words)) return false;
      addr += (uint32_t) (4 * words), src += 4 * words, len -= 4 * words;
    }
  }
  return true;
}
