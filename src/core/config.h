/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: every setting is a PW_* variable declared once in the
 * table in config.c, with its type, default, bounds and help.  Values come
 * from, in rising priority: the default, a .env file, the environment, and
 * command-line flags (config_set).  config_load() validates everything up
 * front, so readers never see a malformed value.  Load and set before
 * threads start; afterwards the getters are read-only and thread-safe.
 */
#ifndef PW_CORE_CONFIG_H
#define PW_CORE_CONFIG_H

#include "core/base.h"

/*
 * Read env_file if it exists (a missing file is not an error) and the
 * environment, then validate every value.  Lines of the file are
 * KEY=VALUE, optionally prefixed by "export ", with # comments and values
 * optionally in single or double quotes; a variable already set in the
 * environment wins over the file.  On error returns ERR_INVALID or ERR_IO
 * and writes a message naming the variable (and file line) into err.
 */
int config_load(const char *env_file, char *err, size_t err_size);

/*
 * Set name from a command-line flag, overriding every other source.  value
 * is copied.  Returns 0, ERR_NOT_FOUND for an unknown name, or ERR_INVALID
 * with a message in err when the value does not fit the variable's type or
 * bounds.
 */
int config_set(const char *name, const char *value, char *err,
               size_t err_size);

/*
 * Typed getters.  name must be declared in the table (a BUG otherwise).
 * config_str() returns a string owned by the configuration, valid until
 * the process exits or the value is set again; "" for an empty value.
 */
const char *config_str(const char *name);
int64_t config_int(const char *name);
double config_double(const char *name);
bool config_bool(const char *name);

/*
 * Print every variable with its effective value and where it came from,
 * secrets masked, one per line, for `proctorwise config`.
 */
void config_print(FILE *out);

/* Print the variable list with types, defaults and help, for --help. */
void config_print_help(FILE *out);

/* Restore every variable to its default; for tests. */
void config_reset(void);

#endif
