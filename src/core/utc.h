/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTC time as int64 milliseconds since the Unix epoch, with ISO 8601 /
 * RFC 3339 parsing and formatting.  Conversions use the proleptic Gregorian
 * calendar computed here, never the C library's time-zone machinery, so the
 * host's TZ cannot change a result.
 */
#ifndef PW_CORE_UTC_H
#define PW_CORE_UTC_H

#include "core/base.h"

/* Buffer size that holds any utc_format() output and its NUL. */
#define UTC_ISO_SIZE 32

/* Return the wall-clock time in ms since the epoch (CLOCK_REALTIME). */
int64_t utc_now_ms(void);

/* Return a monotonic time in ms for measuring durations (CLOCK_MONOTONIC). */
int64_t utc_monotonic_ms(void);

/* Return a monotonic time in ns, for latency histograms and benchmarks. */
int64_t utc_monotonic_ns(void);

/*
 * Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (UTC_ISO_SIZE bytes).
 * Returns buf.  Years outside 0000..9999 are clamped.
 */
char *utc_format(int64_t ms, char *buf);

/*
 * Parse an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS", optional fraction
 * (any digits, kept to the millisecond), then "Z" or "+HH:MM"/"-HH:MM".
 * A space may stand for the "T".  A bare date "YYYY-MM-DD" is midnight
 * UTC.  The whole string must match.  Returns 0 and *out, or ERR_INVALID
 * (a field out of range, such as February 30 or an hour of 24).
 */
int utc_parse(const char *s, int64_t *out);

/* Days since 1970-01-01 of a civil date (month 1..12, day 1..31). */
int64_t utc_days_from_civil(int64_t year, int month, int day);

/* The civil date of days since 1970-01-01. */
void utc_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

#endif
