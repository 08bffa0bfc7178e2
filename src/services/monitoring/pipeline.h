/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vision engine behind the monitoring service's analyser interface:
 * each vision worker gets its own hybrid detector (faces on every frame,
 * objects on a cadence and when the face count changes), and detections
 * are translated into the rules engine's record.
 */
#ifndef PW_SERVICES_MONITORING_PIPELINE_H
#define PW_SERVICES_MONITORING_PIPELINE_H

#include "core/base.h"
#include "services/monitoring/service.h"

/*
 * Fill *out with an analyser whose workers load the models of model_dir
 * (copied) with the XNNPACK back end, one inference thread each, running
 * the object detector every objects_every frames (0: only when the face
 * count changes).  The caller owns the analyser's ctx and passes it on
 * to mon_service_new(), which frees it.  Returns 0; the models are loaded
 * and checked when the service starts its workers.
 */
int pipeline_analyser(const char *model_dir, int objects_every,
                      struct mon_analyser *out);

/*
 * Return the model directory the configuration names: PW_MODEL_DIR, else
 * <PW_DATA_DIR>/models.  A new string the caller frees.
 */
char *pipeline_model_dir(void);

#endif
