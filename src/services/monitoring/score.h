/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suspicion score of a session, 0..100, from its anomalies by type.  Each
 * type has a weight, the maximum points it can add.  The result includes
 * the weights and each type's contribution, for the proctor to read.
 *
 *   units  = episodes + seconds / unit seconds
 *   points = weight * (1 - 2^-units)
 *   score  = min(100, sum of points)
 *
 * One short episode adds half a type's weight, two add three quarters, and
 * repeats or long episodes approach the weight without passing it.
 */
#ifndef PW_SERVICES_MONITORING_SCORE_H
#define PW_SERVICES_MONITORING_SCORE_H

#include "core/base.h"
#include "services/monitoring/model.h"

struct score_config {
    double weights[MON_ANOMALY_TYPE_COUNT]; /* points, 0..100 */
    int64_t unit_ms; /* duration weighing as much as one more episode */
};

/* A session's anomalies summed by type. */
struct score_input {
    int count[MON_ANOMALY_TYPE_COUNT];           /* episodes */
    int64_t duration_ms[MON_ANOMALY_TYPE_COUNT]; /* their total length */
};

struct score_part {
    double weight; /* the type's weight */
    double units;  /* episodes + duration / unit */
    double points; /* what the type adds to the score */
};

struct score_result {
    double score; /* 0..100 */
    struct score_part parts[MON_ANOMALY_TYPE_COUNT]; /* by anomaly type */
};

/* Fill cfg with the default weights and a 60 s unit. */
void score_config_default(struct score_config *cfg);

/*
 * Set weights from spec, "type=points" pairs separated by commas (e.g.
 * "face_absent=20,tab_change=5"); types not named keep their weight.
 * Returns 0, or ERR_INVALID with a message in err for an unknown type or
 * a weight that is not a number in 0..100.
 */
int score_parse_weights(struct score_config *cfg, const char *spec,
                        char *err, size_t err_size);

/*
 * Fill cfg from PW_MONITOR_SCORE_WEIGHTS and PW_MONITOR_SCORE_UNIT.
 * Returns 0 or ERR_INVALID as score_parse_weights().
 */
int score_config_from_env(struct score_config *cfg, char *err,
                          size_t err_size);

/*
 * Add anomaly a (borrowed) to in.  An open anomaly counts up to now_ms.
 */
void score_input_add(struct score_input *in, const struct mon_anomaly *a,
                     int64_t now_ms);

/* Compute the score of in with cfg into *out. */
void score_compute(const struct score_config *cfg,
                   const struct score_input *in, struct score_result *out);

#endif
