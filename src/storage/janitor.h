/*
 * janitor.h — a background thread that deletes obsolete files (private to
 * storage; see janitor.c).
 */
#ifndef HLN_STORAGE_JANITOR_H
#define HLN_STORAGE_JANITOR_H

#include "common/common.h"

typedef struct st_janitor st_janitor;

int jn_start(st_janitor **out, hln_error *err);
/* Queues path (taking ownership of the hln_malloc'd string) for deletion;
 * ud is the janitor (the signature of cl_set_deleter's callback). */
void jn_unlink(void *ud, char *path);
/* Deletes what is still queued, stops and frees. NULL is a no-op. */
void jn_stop(st_janitor *j);

#endif
