/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Functions that must not be used: unbounded copies and formats, the
 * tokenizer with hidden state, number parsing without error checks, and
 * time conversions that read the host's time zone or share a static buffer.
 * Each becomes a compile error naming its replacement.
 */
#ifndef PW_CORE_BANNED_H
#define PW_CORE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy_use_strlcpy_pw)
#undef strcat
#define strcat(x, y) BANNED(strcat_use_a_buf)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy_use_strlcpy_pw)
#undef sprintf
#define sprintf(...) BANNED(sprintf_use_snprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf_use_vsnprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok_use_strtok_r)
#undef atoi
#define atoi(x) BANNED(atoi_use_strtol)
#undef atol
#define atol(x) BANNED(atol_use_strtol)
#undef gmtime
#define gmtime(t) BANNED(gmtime_use_time_civil)
#undef localtime
#define localtime(t) BANNED(localtime_times_are_utc)
#undef localtime_r
#define localtime_r(t, tm) BANNED(localtime_r_times_are_utc)

#endif
