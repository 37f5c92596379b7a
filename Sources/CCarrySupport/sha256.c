/*
 * SHA-256 (FIPS 180-4) for CCarrySupport.
 *
 * Two block functions share one state layout (FIPS order a..h):
 *  - portable C, rounds unrolled 8 at a time with a rolling 16-word schedule;
 *  - x86 SHA-NI (sha256rnds2 / sha256msg1 / sha256msg2), which keeps the
 *    state in registers across all blocks handed to it in one call.
 * The block function is chosen once at run time (__builtin_cpu_supports) and
 * cached. carry_sha256_update hashes whole blocks straight from the caller's
 * buffer; only a trailing partial block is copied into ctx->block.
 */

#include "CCarrySupport.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define CARRY_SHA_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define CARRY_SHA_X86 0
#endif

/*
 * Round constants K[0..63] (first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes) and initial hash value H(0) (same for the
 * square roots of the first 8 primes), FIPS 180-4 sections 4.2.2 and 5.3.3.
 * Computed as floor(cbrt(p) * 2^32) mod 2^32 (resp. sqrt) with exact integer
 * arithmetic by a small script and checked against the FIPS tables.
 */
static const uint32_t sha256_k[64] __attribute__((aligned(16))) = {
    0x428A2F98u, 0x71374491u, 0xB5C0FBCFu, 0xE9B5DBA5u,
    0x3956C25Bu, 0x59F111F1u, 0x923F82A4u, 0xAB1C5ED5u,
    0xD807AA98u, 0x12835B01u, 0x243185BEu, 0x550C7DC3u,
    0x72BE5D74u, 0x80DEB1FEu, 0x9BDC06A7u, 0xC19BF174u,
    0xE49B69C1u, 0xEFBE4786u, 0x0FC19DC6u, 0x240CA1CCu,
    0x2DE92C6Fu, 0x4A7484AAu, 0x5CB0A9DCu, 0x76F988DAu,
    0x983E5152u, 0xA831C66Du, 0xB00327C8u, 0xBF597FC7u,
    0xC6E00BF3u, 0xD5A79147u, 0x06CA6351u, 0x14292967u,
    0x27B70A85u, 0x2E1B2138u, 0x4D2C6DFCu, 0x53380D13u,
    0x650A7354u, 0x766A0ABBu, 0x81C2C92Eu, 0x92722C85u,
    0xA2BFE8A1u, 0xA81A664Bu, 0xC24B8B70u, 0xC76C51A3u,
    0xD192E819u, 0xD6990624u, 0xF40E3585u, 0x106AA070u,
    0x19A4C116u, 0x1E376C08u, 0x2748774Cu, 0x34B0BCB5u,
    0x391C0CB3u, 0x4ED8AA4Au, 0x5B9CCA4Fu, 0x682E6FF3u,
    0x748F82EEu, 0x78A5636Fu, 0x84C87814u, 0x8CC70208u,
    0x90BEFFFAu, 0xA4506CEBu, 0xBEF9A3F7u, 0xC67178F2u,
};
static const uint32_t sha256_h0[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

typedef void (*sha256_blocks_fn)(uint32_t state[8], const uint8_t *p, size_t nblocks);

/* ------------------------------------------------------------------ */
/* Portable block function                                             */
/* ------------------------------------------------------------------ */

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#define ROTR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROTR32(x, 2) ^ ROTR32(x, 13) ^ ROTR32(x, 22))
#define BSIG1(x) (ROTR32(x, 6) ^ ROTR32(x, 11) ^ ROTR32(x, 25))
#define SSIG0(x) (ROTR32(x, 7) ^ ROTR32(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR32(x, 17) ^ ROTR32(x, 19) ^ ((x) >> 10))
/* Ch(x,y,z) = (x & y) ^ (~x & z);  Maj(x,y,z) = (x & y) ^ (x & z) ^ (y & z) */
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* Message schedule, in place in a 16-word ring: w[i & 15] holds W[i-16]
 * before the update and W[i] after it. */
#define SCHED(i)                                                  \
    (w[(i) & 15] += SSIG1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] + \
                    SSIG0(w[((i) - 15) & 15]))

/* One round with the working variables renamed instead of shifted:
 * only d and h change (d += T1, h = T1 + T2). */
#define RND(a, b, c, d, e, f, g, h, i, wi)                                 \
    do {                                                                   \
        uint32_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + sha256_k[i] + (wi);  \
        uint32_t t2_ = BSIG0(a) + MAJ(a, b, c);                            \
        (d) += t1_;                                                        \
        (h) = t1_ + t2_;                                                   \
    } while (0)

#define RND8(i, W)                                          \
    do {                                                    \
        RND(a, b, c, d, e, f, g, h, (i) + 0, W((i) + 0));   \
        RND(h, a, b, c, d, e, f, g, (i) + 1, W((i) + 1));   \
        RND(g, h, a, b, c, d, e, f, (i) + 2, W((i) + 2));   \
        RND(f, g, h, a, b, c, d, e, (i) + 3, W((i) + 3));   \
        RND(e, f, g, h, a, b, c, d, (i) + 4, W((i) + 4));   \
        RND(d, e, f, g, h, a, b, c, (i) + 5, W((i) + 5));   \
        RND(c, d, e, f, g, h, a, b, (i) + 6, W((i) + 6));   \
        RND(b, c, d, e, f, g, h, a, (i) + 7, W((i) + 7));   \
    } while (0)

#define WLOAD(i) (w[(i)])

static void sha256_blocks_portable(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    while (nblocks--) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++) {
            w[i] = load_be32(p + 4 * i);
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];

        RND8(0, WLOAD);
        RND8(8, WLOAD);
        for (int i = 16; i < 64; i += 8) {
            RND8(i, SCHED);
        }

        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        p += 64;
    }
}

/* ------------------------------------------------------------------ */
/* SHA-NI block function                                               */
/* ------------------------------------------------------------------ */

#if CARRY_SHA_X86

/*
 * sha256rnds2 wants the state split as ABEF = {F, E, B, A} and
 * CDGH = {H, G, D, C} (32-bit lanes listed low to high). Each call performs
 * two rounds using the low two dwords of the W+K operand and returns the new
 * ABEF; the old ABEF becomes the new CDGH.
 */

/* Four rounds with message words m (W[k..k+3]). */
#define SHANI_QROUND(k, m)                                                   \
    do {                                                                     \
        __m128i wk_ = _mm_add_epi32((m),                                     \
            _mm_load_si128((const __m128i *)(const void *)&sha256_k[(k)]));  \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                       \
        wk_ = _mm_shuffle_epi32(wk_, 0x0E);                                  \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, wk_);                       \
    } while (0)

/* m0 = W[i-16..i-13], m1 = W[i-12..], m2 = W[i-8..], m3 = W[i-4..i-1];
 * replaces m0 with W[i..i+3]:
 *   msg1(m0, m1)          -> W[t-16] + s0(W[t-15])
 *   + alignr(m3, m2, 4)   -> + W[t-7]
 *   msg2(.., m3)          -> + s1(W[t-2])  (for t = i..i+3) */
#define SHANI_SCHED(m0, m1, m2, m3)                                          \
    (m0) = _mm_sha256msg2_epu32(                                             \
        _mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)),                      \
                      _mm_alignr_epi8((m3), (m2), 4)),                       \
        (m3))

#define SHANI_SCHED_QROUNDS(k)                                               \
    do {                                                                     \
        SHANI_SCHED(m0, m1, m2, m3); SHANI_QROUND((k) + 0, m0);              \
        SHANI_SCHED(m1, m2, m3, m0); SHANI_QROUND((k) + 4, m1);              \
        SHANI_SCHED(m2, m3, m0, m1); SHANI_QROUND((k) + 8, m2);              \
        SHANI_SCHED(m3, m0, m1, m2); SHANI_QROUND((k) + 12, m3);             \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_shani(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    /* Byte-swaps each 32-bit lane (message words are big-endian). */
    const __m128i bswap = _mm_set_epi64x(0x0C0D0E0F08090A0BLL, 0x0405060700010203LL);

    __m128i tmp = _mm_loadu_si128((const __m128i *)(const void *)&state[0]); /* A B C D */
    __m128i cdgh = _mm_loadu_si128((const __m128i *)(const void *)&state[4]); /* E F G H */
    tmp = _mm_shuffle_epi32(tmp, 0xB1);              /* B A D C */
    cdgh = _mm_shuffle_epi32(cdgh, 0x1B);            /* H G F E */
    __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);    /* F E B A */
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);         /* H G D C */

    while (nblocks--) {
        const __m128i abef_in = abef;
        const __m128i cdgh_in = cdgh;

        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 0)), bswap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), bswap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), bswap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), bswap);

        SHANI_QROUND(0, m0);
        SHANI_QROUND(4, m1);
        SHANI_QROUND(8, m2);
        SHANI_QROUND(12, m3);
        SHANI_SCHED_QROUNDS(16);
        SHANI_SCHED_QROUNDS(32);
        SHANI_SCHED_QROUNDS(48);

        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
        p += 64;
    }

    tmp = _mm_shuffle_epi32(abef, 0x1B);             /* A B E F */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);            /* G H C D */
    abef = _mm_blend_epi16(tmp, cdgh, 0xF0);         /* A B C D */
    cdgh = _mm_alignr_epi8(cdgh, tmp, 8);            /* E F G H */
    _mm_storeu_si128((__m128i *)(void *)&state[0], abef);
    _mm_storeu_si128((__m128i *)(void *)&state[4], cdgh);
}

/* 0 = not yet probed, 1 = portable, 2 = SHA-NI. Probing is idempotent, so a
 * race between first callers only repeats the same store. */
static int sha256_impl;

/* CPUID.(EAX=7,ECX=0):EBX bit 29 = SHA extensions. Used to confirm
 * __builtin_cpu_supports("sha"): that feature lives in __cpu_features2,
 * whose layout depends on the libgcc/compiler-rt linked in, and a false
 * positive would mean SIGILL. */
static int cpuid_has_sha(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return 0;
    }
    return (ebx >> 29) & 1u;
}

static int sha256_probe(void)
{
    __builtin_cpu_init();
    int hw = __builtin_cpu_supports("sha") &&
             __builtin_cpu_supports("sse4.1") &&
             __builtin_cpu_supports("ssse3") &&
             cpuid_has_sha();
    int impl = hw ? 2 : 1;
    __atomic_store_n(&sha256_impl, impl, __ATOMIC_RELAXED);
    return impl;
}

static inline int sha256_use_hw(void)
{
    int impl = __atomic_load_n(&sha256_impl, __ATOMIC_RELAXED);
    if (__builtin_expect(impl == 0, 0)) {
        impl = sha256_probe();
    }
    return impl == 2;
}

static inline sha256_blocks_fn sha256_blocks(void)
{
    return sha256_use_hw() ? sha256_blocks_shani : sha256_blocks_portable;
}

#else /* !CARRY_SHA_X86 */

static inline int sha256_use_hw(void)
{
    return 0;
}

static inline sha256_blocks_fn sha256_blocks(void)
{
    return sha256_blocks_portable;
}

#endif

/* ------------------------------------------------------------------ */
/* Streaming interface                                                 */
/* ------------------------------------------------------------------ */

static inline void sha256_update_with(carry_sha256_ctx *ctx, const uint8_t *p, size_t len,
                                      sha256_blocks_fn blocks)
{
    if (len == 0) {
        return;
    }
    ctx->total_len += (uint64_t)len;

    if (ctx->block_len != 0) {
        size_t have = ctx->block_len;
        size_t need = 64 - have;
        if (len < need) {
            memcpy(ctx->block + have, p, len);
            ctx->block_len = (uint32_t)(have + len);
            return;
        }
        memcpy(ctx->block + have, p, need);
        blocks(ctx->state, ctx->block, 1);
        p += need;
        len -= need;
        ctx->block_len = 0;
    }

    size_t nblocks = len / 64;
    if (nblocks != 0) {
        blocks(ctx->state, p, nblocks); /* straight from the caller's buffer */
        p += nblocks * 64;
        len -= nblocks * 64;
    }

    if (len != 0) {
        memcpy(ctx->block, p, len);
        ctx->block_len = (uint32_t)len;
    }
}

/* Resets ctx to H(0) with an empty message. */
void carry_sha256_init(carry_sha256_ctx *ctx)
{
    memcpy(ctx->state, sha256_h0, sizeof ctx->state);
    ctx->total_len = 0;
    ctx->block_len = 0;
}

/* Absorbs data using the fastest available block function. */
void carry_sha256_update(carry_sha256_ctx *ctx, const void *data, size_t len)
{
    sha256_update_with(ctx, (const uint8_t *)data, len, sha256_blocks());
}

/* Absorbs data using the portable block function only (tests). */
void carry_sha256_update_portable(carry_sha256_ctx *ctx, const void *data, size_t len)
{
    sha256_update_with(ctx, (const uint8_t *)data, len, sha256_blocks_portable);
}

/* Pads (0x80, zeros, 64-bit big-endian bit length) and emits the digest. */
void carry_sha256_final(carry_sha256_ctx *ctx, uint8_t out[32])
{
    /* Padding needs one block, or two if fewer than 9 bytes are free;
     * hash them in a single call so the state is loaded once. */
    uint8_t tail[128];
    size_t n = ctx->block_len;
    memcpy(tail, ctx->block, n);
    tail[n++] = 0x80;
    size_t total = (n <= 56) ? 64 : 128;
    memset(tail + n, 0, total - 8 - n);
    uint64_t bits = ctx->total_len << 3;
    store_be32(tail + total - 8, (uint32_t)(bits >> 32));
    store_be32(tail + total - 4, (uint32_t)bits);

    sha256_blocks()(ctx->state, tail, total / 64);

    for (int i = 0; i < 8; i++) {
        store_be32(out + 4 * i, ctx->state[i]);
    }
}

/* One-shot digest of a single buffer. */
void carry_sha256(const void *data, size_t len, uint8_t out[32])
{
    carry_sha256_ctx ctx;
    carry_sha256_init(&ctx);
    carry_sha256_update(&ctx, data, len);
    carry_sha256_final(&ctx, out);
}

/* Reports whether the dispatching functions use SHA-NI on this CPU. */
int carry_sha256_is_hardware(void)
{
    return sha256_use_hw();
}
