/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calendar arithmetic for utc.h.  The day-count conversions use the
 * era-of-400-years decomposition: a 400-year Gregorian cycle has exactly
 * 146097 days, and counting years from March puts the leap day last, so
 * the day of the year follows from a linear formula on the month.
 */
#include "core/base.h"
#include "core/utc.h"

#include "core/err.h"

#include <time.h>

int64_t utc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t utc_monotonic_ms(void)
{
    return utc_monotonic_ns() / 1000000;
}

int64_t utc_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t utc_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t month_from_march = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 -
                         year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

void utc_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                           day_of_era / 36524 - day_of_era / 146096) /
                          365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 -
                                        year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;

    *day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (int)(month_from_march < 10 ? month_from_march + 3
                                         : month_from_march - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

char *utc_format(int64_t ms, char *buf)
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    int64_t in_day = ms - days * 86400000;
    int64_t year;
    int month, day;

    utc_civil_from_days(days, &year, &month, &day);
    if (year < 0)
        year = 0;
    if (year > 9999)
        year = 9999;
    snprintf(buf, UTC_ISO_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (int)year, month, day, (int)(in_day / 3600000),
             (int)(in_day / 60000 % 60), (int)(in_day / 1000 % 60),
             (int)(in_day % 1000));
    return buf;
}

/* Read exactly n digits at *p into *out and advance; false if not digits. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int64_t year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

int utc_parse(const char *s, int64_t *out)
{
    const char *p = s;
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
    int64_t offset_min = 0;

    if (!read_digits(&p, 4, &year) || *p++ != '-' ||
        !read_digits(&p, 2, &month) || *p++ != '-' ||
        !read_digits(&p, 2, &day))
        return ERR_INVALID;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return ERR_INVALID;
    if (*p == '\0')
        goto done;

    if (*p != 'T' && *p != 't' && *p != ' ')
        return ERR_INVALID;
    p++;
    if (!read_digits(&p, 2, &hour) || *p++ != ':' ||
        !read_digits(&p, 2, &minute) || *p++ != ':' ||
        !read_digits(&p, 2, &second))
        return ERR_INVALID;

    /* A leap second (:60) is accepted by RFC 3339 but not representable. */
    if (hour > 23 || minute > 59 || second > 59)
        return ERR_INVALID;

    if (*p == '.') {
        int scale = 100;

        p++;
        if (*p < '0' || *p > '9')
            return ERR_INVALID;
        for (; *p >= '0' && *p <= '9'; p++) {
            millis += (*p - '0') * scale;
            scale /= 10;
        }
    }

    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int off_h, off_m;

        p++;
        if (!read_digits(&p, 2, &off_h) || *p++ != ':' ||
            !read_digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
            return ERR_INVALID;
        offset_min = sign * (off_h * 60 + off_m);
    } else {
        return ERR_INVALID;
    }
    if (*p != '\0')
        return ERR_INVALID;

done:
    *out = utc_days_from_civil(year, month, day) * 86400000 +
           (int64_t)hour * 3600000 + (int64_t)minute * 60000 +
           (int64_t)second * 1000 + millis - offset_min * 60000;
    return 0;
}
