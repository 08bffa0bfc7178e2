/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users service's HTTP routes (/users/...): each handler validates the
 * JSON body or query, calls one use case of service.h and maps its result
 * to a status.  docs/api/users.md is the reference for clients.
 */
#ifndef PW_SERVICES_USERS_API_H
#define PW_SERVICES_USERS_API_H

#include "http/http.h"
#include "services/users/service.h"

/* Largest request body of a users route, in bytes. */
#define USERS_MAX_BODY 16384

/*
 * Add the /users routes to s; svc is borrowed and must outlive s.
 * Returns 0 or the error of http_server_add_routes().
 */
int users_api_register(struct http_server *s, struct users_service *svc);

#endif
