/* The architecture part of the bootloader: hand the CPU to a checked image
 * (jump_cortex_m.c, jump_riscv.c; the build picks the board's). */
#ifndef BOOTLOADER_JUMP_H
#define BOOTLOADER_JUMP_H

#include "mg_image.h"

/* Quiets what the bootloader started (tick timer, interrupts) and enters
 * the image of header h, whose payload lies at h->load_addr. */
void boot_jump(const struct mg_image_header *h) __attribute__((noreturn));

#endif
