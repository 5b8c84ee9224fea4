/* Linux-only: stands in for <sys/signalfd.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<sys/signalfd.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
