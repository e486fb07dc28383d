/* pg_job_repo.h -- the job_repo port over the orders database (tables jobs
 * and job_items, migration 007_jobs). */
#ifndef ORDER_PG_JOB_REPO_H
#define ORDER_PG_JOB_REPO_H

#include "application/ports/job_repo.h"
#include "oms/pg.h"

/* mark_attempt commits on its own through `pool` (the write pool). */
job_repo pg_job_repo(oms_pg_pool *pool);

#endif
