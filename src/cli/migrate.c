/* SPDX-License-Identifier: Apache-2.0 */
/* `proctorwise migrate`: apply the pending schema migrations and stop. */
#include "core/base.h"
#include "cli/commands.h"

#include "cli/common.h"
#include "store/store.h"

static void usage(FILE *out)
{
    fputs("usage: proctorwise migrate [--data-dir DIR] [--env-file FILE]\n"
          "\n"
          "Apply the database migrations that are not applied yet.  The\n"
          "database is PW_DATABASE_URL, or <data dir>/proctorwise.db.\n",
          out);
}

int cmd_migrate(int argc, char **argv)
{
    struct cli_common common = {0};
    struct store *s;

    for (int i = 1; i < argc;) {
        int r = cli_common_arg(&common, argc, argv, &i);

        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "error: unknown argument \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }

    if (cli_setup(&common) || cli_open_store(&s))
        return 1;
    store_free(s);
    puts("database is up to date");
    return 0;
}
