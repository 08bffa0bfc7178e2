/* SPDX-License-Identifier: Apache-2.0 */
/* `proctorwise config`: print the effective settings, secrets masked. */
#include "core/base.h"
#include "cli/commands.h"

#include "cli/common.h"
#include "core/config.h"
#include "services/monitoring/pipeline.h"

/* Print what the empty defaults above resolve to, as serve will use it. */
static void print_derived(void)
{
    char *url = cli_database_url();
    char *models = pipeline_model_dir();

    printf("\n# resolved\n");
    printf("database: %s\n", *config_str("PW_DATABASE_URL") ? "********"
                                                             : url);
    printf("model dir: %s\n", models);
    if (*config_str("PW_JWT_SECRET"))
        printf("token signing secret: PW_JWT_SECRET\n");
    else
        printf("token signing secret: %s/jwt.secret (made on first use)\n",
               config_str("PW_DATA_DIR"));
    free(models);
    free(url);
}

int cmd_config(int argc, char **argv)
{
    struct cli_common common = {0};

    for (int i = 1; i < argc;) {
        int r = cli_common_arg(&common, argc, argv, &i);

        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: proctorwise config [--data-dir DIR] "
                 "[--env-file FILE] [--listen HOST:PORT]\n\n"
                 "Print every setting with its effective value and where it "
                 "came from\n(default, .env, environment or flag).  Secrets "
                 "are masked.\n\nSettings:");
            config_print_help(stdout);
            return 0;
        }
        fprintf(stderr, "error: unknown argument \"%s\"\n", argv[i]);
        return 2;
    }

    if (cli_setup(&common))
        return 1;
    config_print(stdout);
    print_derived();
    return 0;
}
