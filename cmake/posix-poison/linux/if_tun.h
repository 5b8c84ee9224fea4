/* Linux-only: stands in for <linux/if_tun.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<linux/if_tun.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
