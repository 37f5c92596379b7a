#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H

/*
 * CMallocCounter: counts heap allocations in the executable that links it.
 *
 * Linking this target into an executable replaces malloc, calloc, realloc,
 * free, posix_memalign, aligned_alloc, memalign, valloc and pvalloc with thin
 * wrappers that forward to glibc's __libc_* implementations and bump a
 * relaxed atomic counter. Because the executable defines these symbols, the
 * dynamic linker binds every shared library (libc itself, the Swift runtime,
 * Foundation, ...) to them as well. glibc-only; for benchmarks, never link it
 * into a library.
 */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Total number of successful allocation calls (malloc, calloc, realloc,
/// posix_memalign, aligned_alloc, memalign, valloc, pvalloc) made while
/// counting was enabled, since process start. free is not counted.
uint64_t carry_malloc_count(void);

/// Turns counting on (non-zero) or off (0). Counting is on by default.
/// Allocations still work normally while counting is off.
void carry_malloc_counter_enable(int on);

#ifdef __cplusplus
}
#endif

#endif /* CMALLOCCOUNTER_H */
