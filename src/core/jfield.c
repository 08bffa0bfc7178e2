/* SPDX-License-Identifier: Apache-2.0 */
/* Field checks of jfield.h; every failure names the field and the rule. */
#include "core/base.h"
#include "core/jfield.h"

#include "core/err.h"

#include <math.h>

int jfield_fail(struct jfield_error *e, const char *field, const char *fmt,
                ...)
{
    va_list ap;

    strlcpy_pw(e->field, field, sizeof(e->field));
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

size_t jfield_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

int jfield_parse(const char *text, size_t len, json_t **out,
                 struct jfield_error *e)
{
    json_error_t jerr;
    json_t *root;

    if (len == 0)
        return jfield_fail(e, "", "the request body is empty");

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return jfield_fail(e, "", "invalid JSON at line %d, column %d: %s",
                           jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return jfield_fail(e, "", "the body must be a JSON object");
    }
    *out = root;
    return 0;
}

/* Fetch field name; 1 when absent or null and optional, 0 found, or error. */
static int lookup(json_t *obj, const char *name, unsigned flags,
                  json_t **value, struct jfield_error *e)
{
    *value = json_object_get(obj, name);
    if (*value && !json_is_null(*value))
        return 0;
    if (flags & JFIELD_REQUIRED)
        return jfield_fail(e, name, "%s is required", name);
    return 1;
}

int jfield_str(json_t *obj, const char *name, unsigned flags, size_t min_len,
               size_t max_len, const char **out, struct jfield_error *e)
{
    json_t *value;
    size_t len;
    int ret = lookup(obj, name, flags, &value, e);

    if (ret)
        return ret > 0 ? 0 : ret;
    if (!json_is_string(value))
        return jfield_fail(e, name, "%s must be a string", name);

    /* json_loadb() without JSON_ALLOW_NUL already rejects \u0000. */
    len = jfield_utf8_len(json_string_value(value));
    if (len < min_len)
        return jfield_fail(e, name, "%s must have at least %zu characters",
                           name, min_len);
    if (len > max_len)
        return jfield_fail(e, name, "%s must have at most %zu characters",
                           name, max_len);
    *out = json_string_value(value);
    return 0;
}

int jfield_int(json_t *obj, const char *name, unsigned flags, int64_t min,
               int64_t max, int64_t *out, struct jfield_error *e)
{
    json_t *value;
    int64_t v;
    int ret = lookup(obj, name, flags, &value, e);

    if (ret)
        return ret > 0 ? 0 : ret;
    if (!json_is_integer(value))
        return jfield_fail(e, name, "%s must be an integer", name);

    v = json_integer_value(value);
    if (v < min || v > max)
        return jfield_fail(e, name,
                           "%s must be between %" PRId64 " and %" PRId64,
                           name, min, max);
    *out = v;
    return 0;
}

int jfield_double(json_t *obj, const char *name, unsigned flags, double min,
                  double max, double *out, struct jfield_error *e)
{
    json_t *value;
    double v;
    int ret = lookup(obj, name, flags, &value, e);

    if (ret)
        return ret > 0 ? 0 : ret;
    if (!json_is_number(value))
        return jfield_fail(e, name, "%s must be a number", name);

    v = json_number_value(value);
    if (!isfinite(v) || v < min || v > max)
        return jfield_fail(e, name, "%s must be between %g and %g", name,
                           min, max);
    *out = v;
    return 0;
}

int jfield_bool(json_t *obj, const char *name, unsigned flags, bool *out,
                struct jfield_error *e)
{
    json_t *value;
    int ret = lookup(obj, name, flags, &value, e);

    if (ret)
        return ret > 0 ? 0 : ret;
    if (!json_is_boolean(value))
        return jfield_fail(e, name, "%s must be true or false", name);
    *out = json_is_true(value);
    return 0;
}

int jfield_enum(json_t *obj, const char *name, unsigned flags,
                const char *const *choices, int *out, struct jfield_error *e)
{
    const char *s = NULL;
    char list[128] = "";
    size_t used = 0;
    int ret = jfield_str(obj, name, flags, 0, 64, &s, e);

    if (ret || !s)
        return ret;
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(s, choices[i])) {
            *out = i;
            return 0;
        }
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used,
                                     "%s%s", i ? ", " : "", choices[i]);
    }
    return jfield_fail(e, name, "%s must be one of: %s", name, list);
}

int jfield_only(json_t *obj, const char *const *allowed,
                struct jfield_error *e)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value) {
        bool known = false;

        for (int i = 0; allowed[i]; i++) {
            if (!strcmp(key, allowed[i])) {
                known = true;
                break;
            }
        }
        if (!known)
            return jfield_fail(e, key, "unknown field %s", key);
    }
    return 0;
}
