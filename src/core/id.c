/* SPDX-License-Identifier: Apache-2.0 */
/*
 * id.h's generator.  Within one millisecond the random part of the last id
 * is incremented instead of drawn again, which keeps ids made in the same
 * millisecond in order; the 80-bit random part cannot overflow in practice.
 */
#include "core/base.h"
#include "core/id.h"

#include "core/utc.h"

#include <pthread.h>
#include <sodium.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static uint8_t last_random[10];

static void increment(uint8_t *bytes, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (++bytes[i] != 0)
            break;
    }
}

void id_new(char out[ID_SIZE])
{
    uint8_t raw[16];
    int64_t now = utc_now_ms();

    pthread_mutex_lock(&lock);
    if (now <= last_ms) {
        increment(last_random, sizeof(last_random));
        now = last_ms;
    } else {
        randombytes_buf(last_random, sizeof(last_random));
        last_ms = now;
    }
    memcpy(raw + 6, last_random, sizeof(last_random));
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < 6; i++)
        raw[i] = (uint8_t)((uint64_t)now >> (40 - 8 * i));
    /*
     * 26 characters of 5 bits hold 130 bits: two zero bits, then the 128
     * bits of raw, most significant first.
     */
    for (int i = 0; i < ID_LEN; i++) {
        unsigned digit = 0;

        for (int b = 0; b < 5; b++) {
            int bit = i * 5 + b - 2;

            digit <<= 1;
            if (bit >= 0)
                digit |= (unsigned)(raw[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[i] = alphabet[digit];
    }
    out[ID_LEN] = '\0';
}

bool id_is_valid(const char *s)
{
    size_t i;

    for (i = 0; s[i] && i < ID_LEN; i++) {
        if (!strchr(alphabet, s[i]))
            return false;
    }
    return i == ID_LEN && s[i] == '\0' && s[0] <= '7';
}
