#ifndef CCARRYSUPPORT_H
#define CCARRYSUPPORT_H

/*
 * CCarrySupport: checksum and digest primitives for the event journal.
 *
 *  - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *  - SHA-256 (FIPS 180-4).
 *
 * The dispatching entry points pick a hardware implementation (SSE4.2 crc32,
 * SHA-NI) at run time when the CPU supports it and fall back to portable C
 * otherwise. Hardware and portable paths produce bit-identical results.
 * All functions are thread-safe; a carry_sha256_ctx must not be shared
 * between threads without external synchronisation.
 */

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* CRC-32C                                                             */
/* ------------------------------------------------------------------ */

/// CRC-32C of `len` bytes at `data`, continuing from a previous result `crc`
/// (pass 0 to start). Standard convention: the 0xFFFFFFFF pre/post inversion
/// is handled inside, so carry_crc32c(carry_crc32c(0, a, n), b, m) is the CRC
/// of a||b, and carry_crc32c(0, "123456789", 9) == 0xE3069283.
/// Uses the SSE4.2 crc32 instruction when available, else portable code.
/// `data` may be NULL when `len` is 0.
uint32_t carry_crc32c(uint32_t crc, const void *data, size_t len);

/// Same contract as carry_crc32c, but always uses the portable
/// (slice-by-8 table) implementation. Intended for tests and cross-checks.
uint32_t carry_crc32c_portable(uint32_t crc, const void *data, size_t len);

/// Returns 1 if carry_crc32c uses the SSE4.2 hardware path on this CPU, else 0.
int carry_crc32c_is_hardware(void);

/* ------------------------------------------------------------------ */
/* SHA-256                                                             */
/* ------------------------------------------------------------------ */

/// Incremental SHA-256 state. Treat as opaque; initialise with
/// carry_sha256_init. `total_len` counts message bytes, `block` buffers a
/// partial 64-byte block of `block_len` bytes.
typedef struct {
    uint32_t state[8];
    uint64_t total_len;
    uint8_t block[64];
    uint32_t block_len;
} carry_sha256_ctx;

/// Resets `ctx` to the SHA-256 initial state (empty message).
void carry_sha256_init(carry_sha256_ctx *ctx);

/// Absorbs `len` bytes at `data` into `ctx`. Uses SHA-NI when available,
/// else portable code. Whole 64-byte blocks are hashed straight from `data`
/// without copying. `data` may be NULL when `len` is 0.
void carry_sha256_update(carry_sha256_ctx *ctx, const void *data, size_t len);

/// Finishes the hash (padding + length), writes the 32-byte digest to `out`.
/// `ctx` must be re-initialised with carry_sha256_init before reuse.
void carry_sha256_final(carry_sha256_ctx *ctx, uint8_t out[32]);

/// One-shot SHA-256 of `len` bytes at `data` into `out` (32 bytes).
void carry_sha256(const void *data, size_t len, uint8_t out[32]);

/// Same contract as carry_sha256_update, but always uses the portable block
/// function. Intended for tests and cross-checks. (carry_sha256_final still
/// uses the dispatching block function for the padding block(s); both are
/// interchangeable because they operate on the same state.)
void carry_sha256_update_portable(carry_sha256_ctx *ctx, const void *data, size_t len);

/// Returns 1 if carry_sha256_update / carry_sha256 use SHA-NI on this CPU, else 0.
int carry_sha256_is_hardware(void);

/* ------------------------------------------------------------------ */
/* Prefetch                                                            */
/* ------------------------------------------------------------------ */

/// Asks the CPU to bring the `len` bytes at `p` into its caches ahead of a read
/// (a hint: never faults, changes nothing). A sweep's config reads the bars of
/// the instruments it holds one instant apart, sparsely among other work, which
/// the hardware prefetchers do not follow.
static inline void carry_prefetch(const void *p, size_t len) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < len; i += 64) __builtin_prefetch(c + i, 0, 3);
    if (len > 0) __builtin_prefetch(c + len - 1, 0, 3);
}

/* ------------------------------------------------------------------ */
/* Prefault                                                            */
/* ------------------------------------------------------------------ */

/// Makes the pages of [p, p + len) resident and writable now (Linux
/// MADV_POPULATE_WRITE, 5.14+), on whichever thread calls it, without
/// changing a byte of them: the first write to fresh memory is a page fault,
/// and on a virtual machine one that costs microseconds. Returns 0, or -1 when
/// the kernel cannot (older kernels, other systems): a hint, nothing more.
static inline int carry_populate_write(void *p, size_t len) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    uintptr_t start = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
    uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)4095;
    if (end <= start) return 0;
    return madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
    (void)p; (void)len;
    return -1;
#endif
}

/* ------------------------------------------------------------------ */
/* Uncached output                                                     */
/* ------------------------------------------------------------------ */

/// Opens `path` for writing (created 0644, truncated) with O_DIRECT: writes go
/// from the caller's buffer to the device, not through the page cache. Each
/// write must start at an offset and an address aligned to 4096 bytes and be a
/// multiple of 4096 long. Returns the descriptor, or -1 with errno (EINVAL:
/// the file system cannot; open it the ordinary way instead).
int carry_open_uncached(const char *path);

/// Turns O_DIRECT off on `fd` (for a last, unaligned write). 0, or -1 with errno.
int carry_drop_uncached(int fd);

#ifdef __cplusplus
}
#endif

#endif /* CCARRYSUPPORT_H */
