/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suspicion score.  The saturating curve keeps one type from filling the
 * score on its own: a type can never add more than its weight, however
 * many episodes it had, so the weights read as each type's share.
 */
#include "core/base.h"
#include "services/monitoring/score.h"

#include "core/config.h"
#include "core/err.h"

#include <math.h>

void score_config_default(struct score_config *cfg)
{
    static const double weights[MON_ANOMALY_TYPE_COUNT] = {
        [MON_ANOMALY_FACE_ABSENT] = 20,
        [MON_ANOMALY_MULTIPLE_FACES] = 30,
        [MON_ANOMALY_FORBIDDEN_OBJECT] = 25,
        [MON_ANOMALY_TAB_CHANGE] = 10,
        [MON_ANOMALY_WEBCAM_DISABLED] = 30,
        [MON_ANOMALY_POOR_LIGHTING] = 3,
        [MON_ANOMALY_FULLSCREEN_EXIT] = 5,
        [MON_ANOMALY_CLIPBOARD] = 5,
    };

    memcpy(cfg->weights, weights, sizeof(weights));
    cfg->unit_ms = 60000;
}

int score_parse_weights(struct score_config *cfg, const char *spec,
                        char *err, size_t err_size)
{
    const char *p = spec;

    while (*p) {
        const char *end = strchr(p, ',');
        const char *eq;
        char name[32], *num_end;
        enum mon_anomaly_type type;
        size_t name_len;
        double weight;

        if (!end)
            end = p + strlen(p);
        eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            snprintf(err, err_size,
                     "invalid score weight \"%.*s\": expected type=points",
                     (int)(end - p), p);
            return ERR_INVALID;
        }

        name_len = MIN((size_t)(eq - p), sizeof(name) - 1);
        memcpy(name, p, name_len);
        name[name_len] = '\0';
        if (mon_anomaly_type_parse(name, &type)) {
            snprintf(err, err_size,
                     "invalid score weight: unknown anomaly type \"%s\"",
                     name);
            return ERR_INVALID;
        }

        errno = 0;
        weight = strtod(eq + 1, &num_end);
        if (errno || num_end != end || num_end == eq + 1 ||
            !(weight >= 0 && weight <= 100)) {
            snprintf(err, err_size,
                     "invalid score weight for %s \"%.*s\": expected a "
                     "number between 0 and 100", name,
                     (int)(end - eq - 1), eq + 1);
            return ERR_INVALID;
        }
        cfg->weights[type] = weight;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int score_config_from_env(struct score_config *cfg, char *err,
                          size_t err_size)
{
    score_config_default(cfg);
    cfg->unit_ms = config_int("PW_MONITOR_SCORE_UNIT") * 1000;
    return score_parse_weights(cfg, config_str("PW_MONITOR_SCORE_WEIGHTS"),
                               err, err_size);
}

void score_input_add(struct score_input *in, const struct mon_anomaly *a,
                     int64_t now_ms)
{
    int64_t end = a->ended_ms ? a->ended_ms : now_ms;

    assert((size_t)a->type < MON_ANOMALY_TYPE_COUNT);
    in->count[a->type]++;
    in->duration_ms[a->type] += MAX(end - a->started_ms, 0);
}

/*
 * NEEDSWORK: every episode counts in full whatever its confidence, so a
 * face_absent of confidence 0.55 weighs as much as one of 1.0.  Weighting
 * units by confidence needs the weights re-tuned on real sessions, and
 * there are none yet.  Until then a proctor should read the parts, not
 * only the total.
 */
void score_compute(const struct score_config *cfg,
                   const struct score_input *in, struct score_result *out)
{
    double unit = (double)MAX(cfg->unit_ms, 1);
    double total = 0;

    for (int i = 0; i < MON_ANOMALY_TYPE_COUNT; i++) {
        struct score_part *part = &out->parts[i];

        part->weight = cfg->weights[i];
        part->units = in->count[i] + (double)in->duration_ms[i] / unit;
        part->points = part->weight * (1.0 - exp2(-part->units));
        total += part->points;
    }
    out->score = MIN(total, 100.0);
}
