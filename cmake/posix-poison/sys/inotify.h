/* Linux-only: stands in for <sys/inotify.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<sys/inotify.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
