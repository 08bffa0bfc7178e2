/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counters of events per key (an account, a client address) over a fixed
 * window, in a table of fixed size: memory never grows with the number of
 * keys.  When the table is full the key seen least recently in its set is
 * evicted.  Keys are stored as keyed 64-bit hashes, so the table holds no
 * email address.  Thread-safe: one mutex guards the table.
 */
#ifndef PW_SERVICES_USERS_RATELIMIT_H
#define PW_SERVICES_USERS_RATELIMIT_H

#include "core/base.h"

struct ratelimit;

/*
 * Create a limiter allowing limit events per key within window_ms, the
 * window starting at a key's first counted event.  capacity is the number
 * of keys kept, rounded up to a multiple of the set size (8).  Returns a new
 * limiter freed with ratelimit_free(); aborts on out-of-memory.
 */
struct ratelimit *ratelimit_new(size_t capacity, int limit,
                                int64_t window_ms);

/* Free rl; NULL does nothing. */
void ratelimit_free(struct ratelimit *rl);

/*
 * Check key at now_ms without counting.  Returns 0 while key is under its
 * limit, or ERR_RATE_LIMITED with *retry_after_s (rounded up, at least 1)
 * set to the seconds until its window ends.
 */
int ratelimit_check(struct ratelimit *rl, const char *key, int64_t now_ms,
                    int64_t *retry_after_s);

/* Count one event for key at now_ms. */
void ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms);

/*
 * Check and count in one step: when key is under its limit, count the
 * event and return 0; otherwise return ERR_RATE_LIMITED as
 * ratelimit_check() does, without counting.
 */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
                   int64_t *retry_after_s);

/* Forget key's events, e.g. after a successful login. */
void ratelimit_forget(struct ratelimit *rl, const char *key);

#endif
