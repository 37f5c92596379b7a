/*
 * Allocation counter by symbol interposition (glibc).
 *
 * The wrappers forward to glibc's exported __libc_* entry points rather than
 * looking the originals up with dlsym: dlsym itself may allocate, which would
 * recurse into these wrappers before the pointers are known. The __libc_*
 * functions never call back into the public malloc symbols, so there is no
 * recursion, and no initialisation is needed (allocations made by the dynamic
 * loader or by constructors before main are handled and counted too).
 *
 * The counter and the enable flag are lock-free C11 atomics with relaxed
 * ordering: each allocation costs one uncontended atomic add, and nothing here
 * allocates, takes locks or touches errno except where the API requires it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* prototypes for posix_memalign, valloc, pvalloc, memalign */
#endif

#include "CMallocCounter.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

/* glibc's real allocator entry points (exported, GLIBC_2.2.5). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic uint64_t carry_alloc_count = 0;
static _Atomic int carry_alloc_enabled = 1;

static inline void *counted(void *p)
{
    if (p != NULL && atomic_load_explicit(&carry_alloc_enabled, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&carry_alloc_count, 1, memory_order_relaxed);
    }
    return p;
}

static inline int is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static size_t page_size(void)
{
    /* sysconf(_SC_PAGESIZE) does not allocate. */
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

/* Number of successful allocation calls counted so far. */
uint64_t carry_malloc_count(void)
{
    return atomic_load_explicit(&carry_alloc_count, memory_order_relaxed);
}

/* Enables (on != 0) or disables counting. */
void carry_malloc_counter_enable(int on)
{
    atomic_store_explicit(&carry_alloc_enabled, on != 0, memory_order_relaxed);
}

/* Counted replacement for malloc. */
void *malloc(size_t size)
{
    return counted(__libc_malloc(size));
}

/* Counted replacement for calloc. */
void *calloc(size_t nmemb, size_t size)
{
    return counted(__libc_calloc(nmemb, size));
}

/* Counted replacement for realloc (realloc(p, 0) frees and is not counted
 * when it returns NULL). */
void *realloc(void *ptr, size_t size)
{
    return counted(__libc_realloc(ptr, size));
}

/* Replacement for free (not counted). */
void free(void *ptr)
{
    __libc_free(ptr);
}

/* Counted replacement for posix_memalign: alignment must be a power of two
 * multiple of sizeof(void *). */
int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) {
        return EINVAL;
    }
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL) {
        return ENOMEM;
    }
    *memptr = p;
    return 0;
}

/* Counted replacement for aligned_alloc (C11): alignment must be a power of
 * two, as glibc requires. */
void *aligned_alloc(size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return counted(__libc_memalign(alignment, size));
}

/* Counted replacement for memalign (obsolete glibc API). */
void *memalign(size_t alignment, size_t size)
{
    return counted(__libc_memalign(alignment, size));
}

/* Counted replacement for valloc (page-aligned allocation). */
void *valloc(size_t size)
{
    return counted(__libc_memalign(page_size(), size));
}

/* Counted replacement for pvalloc (page-aligned, size rounded up to pages). */
void *pvalloc(size_t size)
{
    size_t ps = page_size();
    size_t rounded = (size + ps - 1) & ~(ps - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return counted(__libc_memalign(ps, rounded == 0 ? ps : rounded));
}
