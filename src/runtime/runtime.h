/*
 * runtime.h — shards: threads, event loops, cross-shard messages.
 *
 * What: an rt_runtime is N shards. Each shard is one thread running its
 * own libuv loop, with an inbound message queue woken by a uv_async
 * handle, and one user-data slot for whoever builds on the runtime (the
 * node engine, exec/node.c, keeps its per-shard state there). Work for
 * another shard travels as a message (rt_msg, embedded in the caller's
 * struct) and runs on that shard's thread.
 *
 * Why a module of its own: it sits below storage users, exec and the
 * server, and knows nothing of CQL, storage or connections, so exec, the
 * network layer and the future cluster layer share one way to run code on
 * a shard. It depends on common/ and libuv only.
 *
 * Lifetime: rt_new (shards allocated, no threads), rt_set_ud per shard,
 * rt_start (threads run their start hook, then serve), rt_stop (every
 * shard runs its stop hook, ends its loop, is joined), rt_free.
 *
 * Invariants:
 *  1. rt_shard_for_token() maps contiguous token ranges to shards in order
 *     (shard 0 owns the lowest tokens), so a scan over shards in order is a
 *     scan in token order.
 *  2. A message posted with rt_post() runs exactly once, on the target
 *     shard's thread, in posting order per (sender, target) pair; posted
 *     to a stopped shard it is dropped with a warning (its sender is
 *     shutting down too).
 *  3. The start hook runs on the shard's thread before any message; the
 *     stop hook runs on it after every message posted before rt_stop.
 */
#ifndef HLN_RUNTIME_H
#define HLN_RUNTIME_H

#include <uv.h>

#include "common/common.h"

typedef struct rt_runtime rt_runtime;
typedef struct rt_shard rt_shard;

typedef struct rt_msg {
    void (*fn)(rt_shard *self, struct rt_msg *m); /* may free m */
    struct rt_msg *next;                          /* the runtime's */
} rt_msg;

typedef struct rt_hooks {
    /* On the shard's thread, its loop initialised, before it serves
     * messages. Nonzero: the shard ends and rt_start fails with this code
     * and err (the hook's handles on the loop are closed by the runtime). */
    int (*start)(rt_shard *s, void *ud, hln_error *err);
    /* On the shard's thread when it stops: close the handles the caller
     * put on the loop. Not called for a shard whose start failed. */
    void (*stop)(rt_shard *s, void *ud);
    void *ud;
} rt_hooks;

/* Allocates n shards (1..1024), no thread yet. */
int rt_new(rt_runtime **out, int nshards, hln_error *err);
/* Starts one thread per shard and waits until each ran its start hook.
 * On failure the shards that started are stopped and joined again (the
 * runtime can then only be freed). */
int rt_start(rt_runtime *rt, const rt_hooks *hooks, hln_error *err);
/* Stops every running shard and joins its thread. Off shard threads only.
 * Idempotent. */
void rt_stop(rt_runtime *rt);
/* After rt_stop (or a failed or skipped rt_start). NULL is fine. */
void rt_free(rt_runtime *rt);

int rt_nshards(const rt_runtime *rt);
rt_shard *rt_shard_at(rt_runtime *rt, int i);
int rt_shard_id(const rt_shard *s);
rt_runtime *rt_shard_runtime(rt_shard *s);
/* The shard's loop: touch it on the shard's thread only. */
uv_loop_t *rt_loop(rt_shard *s);
/* The user-data slot (set before rt_start, read from any thread). */
void rt_set_ud(rt_shard *s, void *ud);
void *rt_ud(const rt_shard *s);

/* Runs m->fn on shard `to`'s thread. Thread-safe; never blocks on I/O. */
void rt_post(rt_shard *to, rt_msg *m);
/* On s's thread: once the running batch of messages is done, poll the
 * queue for up to ns before the loop sleeps again, so that a message posted
 * meanwhile runs without a wake-up (a futex and an epoll round, tens of
 * microseconds on a virtual machine). For a caller that waits spinning and
 * posts its next message at once (the embedded API); the shard spends up
 * to ns of CPU when nothing comes. */
void rt_linger(rt_shard *s, int64_t ns);
/* The shard whose thread is calling, or NULL off shard threads. */
rt_shard *rt_current(void);
/* The shard owning a Murmur3 token among nshards (invariant 1). */
int rt_shard_for_token(int nshards, int64_t token);
/* Runs fn on every running shard's thread and waits for all of them (off
 * shard threads only: HLN_EINVAL on one, as it would wait for itself). */
int rt_run_on_all(rt_runtime *rt, void (*fn)(rt_shard *s, void *ud), void *ud);

#endif
