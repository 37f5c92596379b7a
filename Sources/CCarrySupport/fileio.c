// Uncached file output (O_DIRECT needs _GNU_SOURCE, which only a source file may define).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include "CCarrySupport.h"

int carry_open_uncached(const char *path) {
#ifdef O_DIRECT
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
#else
    (void)path;
    errno = EINVAL;
    return -1;
#endif
}

int carry_drop_uncached(int fd) {
#ifdef O_DIRECT
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags & ~O_DIRECT);
#else
    (void)fd;
    return 0;
#endif
}
