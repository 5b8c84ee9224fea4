/* Linux-only: stands in for <sys/eventfd.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<sys/eventfd.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
