/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set-associative table of window counters.  A key hashes (SipHash with
 * a random key per limiter, so that nobody can aim collisions at another
 * key) to one set of SET_WAYS entries; a new key takes an empty entry of
 * its set, else the one used least recently.  An entry with a hash of 0 is
 * empty.
 */
#include "core/base.h"
#include "services/users/ratelimit.h"

#include "core/err.h"

#include <pthread.h>
#include <sodium.h>

#define SET_WAYS 8

struct entry {
    uint64_t hash;     /* keyed hash of the key; 0: empty */
    int64_t start_ms;  /* when the window of the first counted event began */
    int64_t last_ms;   /* last time the key was seen, for eviction */
    int count;         /* events counted in the window */
};

struct ratelimit {
    pthread_mutex_t lock;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct entry *entries; /* sets * SET_WAYS entries */
    size_t sets;
    int limit;             /* events allowed per window */
    int64_t window_ms;
};

struct ratelimit *ratelimit_new(size_t capacity, int limit,
                                int64_t window_ms)
{
    struct ratelimit *rl = xcalloc(1, sizeof(*rl));

    assert(limit > 0 && window_ms > 0);
    if (sodium_init() < 0)
        BUG("libsodium failed to initialise");
    rl->sets = MAX((capacity + SET_WAYS - 1) / SET_WAYS, 1);
    rl->entries = xcalloc(rl->sets * SET_WAYS, sizeof(*rl->entries));
    rl->limit = limit;
    rl->window_ms = window_ms;
    crypto_shorthash_keygen(rl->hash_key);
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->entries);
    free(rl);
}

static uint64_t hash_key(const struct ratelimit *rl, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, (const unsigned char *)key, strlen(key),
                     rl->hash_key);
    memcpy(&h, out, sizeof(h));
    return h ? h : 1;
}

static bool is_expired(const struct ratelimit *rl, const struct entry *en,
                       int64_t now_ms)
{
    return now_ms - en->start_ms >= rl->window_ms;
}

/*
 * Find key's entry; when absent and create is set, claim one (emptied) in
 * its set.  Returns NULL when absent and create is not set.  Called with
 * the lock held.
 */
static struct entry *find(struct ratelimit *rl, uint64_t h, int64_t now_ms,
                          bool create)
{
    struct entry *set = &rl->entries[(h % rl->sets) * SET_WAYS];
    struct entry *victim = NULL;

    for (int i = 0; i < SET_WAYS; i++) {
        struct entry *en = &set[i];

        if (en->hash == h) {
            if (is_expired(rl, en, now_ms))
                en->count = 0;
            return en;
        }
        if (!victim || en->hash == 0 ||
            (victim->hash != 0 && en->last_ms < victim->last_ms))
            victim = en;
    }
    if (!create)
        return NULL;

    victim->hash = h;
    victim->count = 0;
    victim->start_ms = now_ms;
    victim->last_ms = now_ms;
    return victim;
}

static int limited(const struct ratelimit *rl, const struct entry *en,
                   int64_t now_ms, int64_t *retry_after_s)
{
    int64_t left_ms;

    if (!en || en->count < rl->limit)
        return 0;
    left_ms = en->start_ms + rl->window_ms - now_ms;
    *retry_after_s = MAX((left_ms + 999) / 1000, 1);
    return ERR_RATE_LIMITED;
}

static void count(const struct ratelimit *rl, struct entry *en,
                  int64_t now_ms)
{
    if (en->count == 0)
        en->start_ms = now_ms;
    if (en->count < rl->limit)
        en->count++;
    en->last_ms = now_ms;
}

int ratelimit_check(struct ratelimit *rl, const char *key, int64_t now_ms,
                    int64_t *retry_after_s)
{
    uint64_t h = hash_key(rl, key);
    int ret;

    pthread_mutex_lock(&rl->lock);
    ret = limited(rl, find(rl, h, now_ms, false), now_ms, retry_after_s);
    pthread_mutex_unlock(&rl->lock);
    return ret;
}

void ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now_ms)
{
    uint64_t h = hash_key(rl, key);

    pthread_mutex_lock(&rl->lock);
    count(rl, find(rl, h, now_ms, true), now_ms);
    pthread_mutex_unlock(&rl->lock);
}

int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
                   int64_t *retry_after_s)
{
    uint64_t h = hash_key(rl, key);
    struct entry *en;
    int ret;

    pthread_mutex_lock(&rl->lock);
    en = find(rl, h, now_ms, true);
    ret = limited(rl, en, now_ms, retry_after_s);
    if (ret == 0)
        count(rl, en, now_ms);
    pthread_mutex_unlock(&rl->lock);
    return ret;
}

void ratelimit_forget(struct ratelimit *rl, const char *key)
{
    uint64_t h = hash_key(rl, key);
    struct entry *en;

    pthread_mutex_lock(&rl->lock);
    en = find(rl, h, 0, false);
    if (en)
        memset(en, 0, sizeof(*en));
    pthread_mutex_unlock(&rl->lock);
}
