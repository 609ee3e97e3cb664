/*
 * sbx_nonce -- the vendor's anti-replay memory: a thread-safe hash set of
 * nonces, each remembered for a fixed window (10 minutes by default).
 *
 * Entries are kept in arrival order as well, so expired ones are dropped
 * from the front on every insert: memory is bounded by the number of nonces
 * seen within one window.
 */
#ifndef SBX_NONCE_H
#define SBX_NONCE_H

#include <stddef.h>
#include <stdint.h>

struct sbx_nonce_set;

/* New empty set (free with sbx_nonce_free), or NULL on OOM. */
struct sbx_nonce_set *sbx_nonce_new(int64_t window_ms);
void sbx_nonce_free(struct sbx_nonce_set *set);

/*
 * Check nonce at time now_ms (any monotonic clock in ms; the set never lets
 * time go backwards) and, if remember is non-zero and it is fresh, remember
 * it. Returns 1 if the nonce was seen within the window (replay), 0 if it
 * was fresh, -1 on OOM (nothing remembered).
 */
int sbx_nonce_check_add(struct sbx_nonce_set *set, const char *nonce,
                        int64_t now_ms, int remember);

/* Number of nonces currently remembered. */
size_t sbx_nonce_count(struct sbx_nonce_set *set);

#endif
