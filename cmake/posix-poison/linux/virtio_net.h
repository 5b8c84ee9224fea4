/* Linux-only: stands in for <linux/virtio_net.h> in the portable POSIX profile (CMakeLists.txt). */
#error "<linux/virtio_net.h> is Linux-only: guard its use with MG_LINUX (src/include/mg_config.h)"
