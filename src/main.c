/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proctorwise: one binary for the whole platform.  main() only dispatches to
 * the subcommand named by the first argument; see cli/commands.h.
 */
#include "core/base.h"

#include "cli/commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run the platform's HTTP and WebSocket services"},
    {"migrate", cmd_migrate, "apply pending database migrations"},
    {"config", cmd_config, "print the effective configuration"},
    {"user", cmd_user, "manage accounts (add the first admin)"},
    {"analyze", cmd_analyze, "detect faces and objects in JPEG photos"},
    {"replay", cmd_replay, "stream recorded frames into a proctoring session"},
    {"jobs", cmd_jobs, "run a batch job (purge-evidence)"},
};

static void usage(FILE *out)
{
    fputs("usage: proctorwise COMMAND [ARGS...]\n\ncommands:\n", out);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fputs("\n`proctorwise COMMAND --help` describes a command's options.\n"
          "Settings come from PW_* environment variables or a .env file;\n"
          "`proctorwise config --help` lists them.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        puts("proctorwise " PW_VERSION);
        return 0;
    }

    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "error: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
