/*
 * janitor.c — deletes files on a background thread.
 *
 * What: a queue of paths and one thread that unlinks them in order. The
 * engine hands it the commitlog segments that flushes made obsolete.
 *
 * Why: unlinking a 32 MiB segment took ~40 ms on the reference machine
 * (ext4 frees the file's blocks in the unlink), and a flush often retires
 * two at once: that was the largest stall left on the shard thread under a
 * steady write load.
 *
 * Invariants:
 *  1. Only files that nothing needs any more are queued: losing a queued
 *     deletion to a crash leaves a segment that replay applies again, which
 *     is harmless (reconciliation is idempotent).
 *  2. jn_stop unlinks everything still queued before it returns.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "storage/janitor.h"

struct st_janitor {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **paths;
    size_t n, cap;
    bool stop;
};

static void delete_one(char *p)
{
    if (unlink(p) < 0 && errno != ENOENT)
        HLN_ERR("storage: cannot delete %s: %s (deleted at the next start)", p, strerror(errno));
    else
        HLN_DEBUG("storage: deleted %s", p);
    hln_free(p);
}

static void *janitor_main(void *arg)
{
    st_janitor *j = arg;
    pthread_setname_np(pthread_self(), "hln-janitor");
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && j->n == 0)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->n == 0) break; /* stopping, and drained */
        char *p = j->paths[0];
        memmove(j->paths, j->paths + 1, (j->n - 1) * sizeof(*j->paths));
        j->n--;
        pthread_mutex_unlock(&j->mu);
        delete_one(p);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int jn_start(st_janitor **out, hln_error *err)
{
    *out = NULL;
    st_janitor *j = hln_calloc(1, sizeof(*j));
    if (!j) return hln_fail(err, HLN_ENOMEM, "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    int e = pthread_create(&j->th, NULL, janitor_main, j);
    if (e) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        hln_free(j);
        return hln_fail(err, HLN_ESERVER, "cannot start the janitor thread: %s", strerror(e));
    }
    *out = j;
    return 0;
}

void jn_unlink(void *ud, char *path)
{
    st_janitor *j = ud;
    pthread_mutex_lock(&j->mu);
    if (j->n == j->cap) {
        size_t ncap = j->cap ? j->cap * 2 : 8;
        char **np = hln_realloc(j->paths, ncap * sizeof(*np));
        if (!np) { /* no room: delete it here */
            pthread_mutex_unlock(&j->mu);
            delete_one(path);
            return;
        }
        j->paths = np;
        j->cap = ncap;
    }
    j->paths[j->n++] = path;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void jn_stop(st_janitor *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->th, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    hln_free(j->paths);
    hln_free(j);
}
