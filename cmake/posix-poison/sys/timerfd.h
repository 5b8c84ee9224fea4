/* Linux-only: stands in for <sys/timerfd.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<sys/timerfd.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
