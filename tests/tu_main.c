/*
 * tu_main.c - the one main of the Check suites; see tu_suite.h. The fuzz
 * targets (tests/fuzz) keep their own entry points.
 */
#include "tu_suite.h"

#include "pgfixture.h"
#include "testutil.h"

int main(void)
{
    int failed, rc;
    SRunner *sr;

    if (tu_suite.pg)
        tu_pg_require();
    if (tu_suite.testbed != NULL)
        tu_testbed_require_all(tu_suite.testbed);
    if (tu_suite.setup != NULL && (rc = tu_suite.setup()) != 0)
        return rc;
    sr = srunner_create(tu_suite.make());
    srunner_run_all(sr, tu_suite.ck_env ? CK_ENV : CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (tu_suite.teardown != NULL)
        tu_suite.teardown();
    return failed == 0 ? 0 : 1;
}
