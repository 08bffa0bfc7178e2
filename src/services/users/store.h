/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users service's SQL: struct users_repo over src/store, on the
 * calling thread's connection.  The table is created by the users
 * migration (migrations/<dialect>/NNNN_users.sql).
 */
#ifndef PW_SERVICES_USERS_STORE_H
#define PW_SERVICES_USERS_STORE_H

#include "services/users/service.h"

/*
 * Return the repo whose ctx is a struct store * (borrowed, migrated).  The
 * table is static.  Store errors pass through as ERR_DB, ERR_BUSY or
 * ERR_NOMEM.
 */
const struct users_repo *users_store_repo(void);

#endif
