/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `proctorwise jobs run JOB`: run one batch job to completion, for cron,
 * systemd timers or any orchestrator.  Jobs: purge-evidence, which deletes
 * evidence snapshots older than PW_MONITOR_EVIDENCE_RETENTION days.
 */
#include "core/base.h"
#include "cli/commands.h"

#include "blob/blob.h"
#include "cli/common.h"
#include "core/config.h"
#include "core/err.h"
#include "core/utc.h"
#include "jobs/purge.h"
#include "store/store.h"

static void usage(FILE *out)
{
    fputs("usage: proctorwise jobs run JOB [--data-dir DIR] "
          "[--env-file FILE]\n"
          "\n"
          "Run one batch job to completion.  Jobs:\n"
          "  purge-evidence  delete evidence snapshots of anomalies older\n"
          "                  than PW_MONITOR_EVIDENCE_RETENTION days (the\n"
          "                  anomalies and their detection records stay)\n",
          out);
}

static int run_purge_evidence(void)
{
    struct blob_store *bs = NULL;
    struct store *st = NULL;
    int64_t days = config_int("PW_MONITOR_EVIDENCE_RETENTION");
    int64_t before = utc_now_ms() - days * 86400000;
    int64_t deleted = 0;
    char *dir = xasprintf("%s/blobs", config_str("PW_DATA_DIR"));
    int status = 1, ret;

    if (cli_open_store(&st))
        goto out_free_dir;
    ret = blob_store_open(dir, &bs);
    if (ret) {
        fprintf(stderr, "error: cannot open the blob store \"%s\": %s\n",
                dir, err_str(ret));
        goto out_free_store;
    }

    ret = purge_evidence(st, bs, before, &deleted);
    printf("purge-evidence: deleted %" PRId64 " snapshots older than %"
           PRId64 " days\n", deleted, days);
    if (ret)
        fprintf(stderr, "error: purge-evidence stopped: %s\n", err_str(ret));
    else
        status = 0;

    blob_store_free(bs);
out_free_store:
    store_free(st);
out_free_dir:
    free(dir);
    return status;
}

int cmd_jobs(int argc, char **argv)
{
    struct cli_common common = {0};
    const char *job = NULL;
    bool run = false;

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
        if (!run && !strcmp(argv[i], "run")) {
            run = true;
        } else if (run && !job && argv[i][0] != '-') {
            job = argv[i];
        } else {
            fprintf(stderr, "error: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!run || !job) {
        usage(stderr);
        return 2;
    }
    if (strcmp(job, "purge-evidence")) {
        fprintf(stderr, "error: unknown job \"%s\"\n", job);
        usage(stderr);
        return 2;
    }
    if (cli_setup(&common))
        return 1;
    return run_purge_evidence();
}
