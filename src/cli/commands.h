/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subcommands of the proctorwise binary.  Each takes the arguments after
 * its own name (argv[0] is the subcommand) and returns the process exit
 * status: 0 on success, 1 on failure, 2 on a usage error.
 */
#ifndef PW_CLI_COMMANDS_H
#define PW_CLI_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_jobs(int argc, char **argv);

#endif
