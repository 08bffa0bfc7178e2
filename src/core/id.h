/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sortable unique ids: 26 characters of Crockford base32 encoding a 48-bit
 * millisecond timestamp then 80 random bits (the ULID layout).  Ids made by
 * one process sort in creation order, even within one millisecond, so a
 * primary key on them appends and keyset pagination can use them.
 */
#ifndef PW_CORE_ID_H
#define PW_CORE_ID_H

#include "core/base.h"

#define ID_LEN  26
#define ID_SIZE (ID_LEN + 1)

/* Write a new id and its NUL into out (ID_SIZE bytes).  Thread-safe. */
void id_new(char out[ID_SIZE]);

/* Whether s is a well-formed id (26 Crockford base32 characters). */
bool id_is_valid(const char *s);

#endif
