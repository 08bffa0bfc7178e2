/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitoring service's HTTP and WebSocket routes (/monitoring/...):
 * each handler validates the body or query, calls one use case of
 * service.h and maps its result to a status.  docs/api/monitoring.md is
 * the reference for clients.
 */
#ifndef PW_SERVICES_MONITORING_API_H
#define PW_SERVICES_MONITORING_API_H

#include "http/http.h"
#include "services/monitoring/service.h"

/* Largest JSON body of a monitoring route, in bytes. */
#define MON_MAX_BODY 16384

/* Hub topic of every exam's live messages. */
#define MON_TOPIC_ALL "monitoring/all"

/*
 * Add the /monitoring routes to s and make svc publish its live messages
 * to the hub topics "monitoring/exam/<exam_id>" and MON_TOPIC_ALL.
 * frame_max is the largest JPEG a frame route accepts, in bytes.  svc is
 * borrowed and must outlive s.  Call once per process.  Returns 0 or the
 * error of http_server_add_routes().
 */
int mon_api_register(struct http_server *s, struct mon_service *svc,
                     size_t frame_max);

#endif
