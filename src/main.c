/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point placeholder; replaced by the subcommand dispatcher. */
#include "core/base.h"

int main(void)
{
    return 0;
}
