/* modules: common runtime */
/*
 * test_runtime.c — the shard runtime alone (src/runtime): token routing
 * (the exact split data directories depend on), per-(sender, target) FIFO
 * and exactly-once delivery across threads, rt_run_on_all, the user-data
 * slot, a failing start hook, stop with work still being posted, and
 * rt_linger (a message posted while the shard lingers runs in the same
 * loop iteration; the linger ends on time and on stop).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/runtime.h"

/* ---- routing ------------------------------------------------------------ */

static void test_routing(void **state)
{
    (void)state;
    assert_int_equal(rt_shard_for_token(1, INT64_MIN), 0);
    assert_int_equal(rt_shard_for_token(1, INT64_MAX), 0);
    assert_int_equal(rt_shard_for_token(2, INT64_MIN), 0);
    assert_int_equal(rt_shard_for_token(2, -1), 0);
    assert_int_equal(rt_shard_for_token(2, 0), 1);
    assert_int_equal(rt_shard_for_token(2, INT64_MAX), 1);
    assert_int_equal(rt_shard_for_token(4, INT64_MIN / 2 - 1), 0);
    assert_int_equal(rt_shard_for_token(4, INT64_MIN / 2), 1);
    assert_int_equal(rt_shard_for_token(4, 0), 2);
    assert_int_equal(rt_shard_for_token(4, INT64_MAX / 2 + 1), 3);
    assert_int_equal(rt_shard_for_token(3, INT64_MAX), 2);
    /* monotonic and contiguous for an odd count */
    int last = 0;
    for (int i = 0; i <= 1000; i++) {
        int64_t t = (int64_t)((uint64_t)INT64_MIN + (uint64_t)i * (UINT64_MAX / 1000));
        int sh = rt_shard_for_token(7, t);
        assert_true(sh >= last && sh <= last + 1 && sh < 7);
        last = sh;
    }
    assert_int_equal(last, 6);
}

/* ---- messages ------------------------------------------------------------ */

enum { NSHARDS = 3, NSENDERS = 4, PER_SENDER = 20000 };

typedef struct counters {
    int started[NSHARDS];
    int stopped[NSHARDS];
    /* next expected sequence number per (sender, target) */
    int next[NSENDERS][NSHARDS];
    _Atomic int received;
    _Atomic int out_of_order;
    _Atomic int wrong_thread;
} counters;

static counters C;

typedef struct seq_msg {
    rt_msg m;
    int sender, target, seq;
} seq_msg;

static void seq_fn(rt_shard *self, rt_msg *m)
{
    seq_msg *sm = (seq_msg *)m;
    if (rt_current() != self || rt_shard_id(self) != sm->target) C.wrong_thread++;
    if (C.next[sm->sender][sm->target] != sm->seq) C.out_of_order++;
    C.next[sm->sender][sm->target] = sm->seq + 1;
    C.received++;
    free(sm);
}

static int start_hook(rt_shard *s, void *ud, hln_error *err)
{
    (void)err;
    assert_ptr_equal(ud, &C);
    assert_ptr_equal(rt_current(), s);
    C.started[rt_shard_id(s)]++;
    return 0;
}

static void stop_hook(rt_shard *s, void *ud)
{
    (void)ud;
    C.stopped[rt_shard_id(s)]++;
}

typedef struct sender_arg {
    rt_runtime *rt;
    int id;
} sender_arg;

static void *sender(void *arg)
{
    sender_arg *a = arg;
    for (int i = 0; i < PER_SENDER; i++) {
        for (int t = 0; t < NSHARDS; t++) {
            seq_msg *sm = malloc(sizeof *sm);
            sm->m.fn = seq_fn;
            sm->sender = a->id;
            sm->target = t;
            sm->seq = i;
            rt_post(rt_shard_at(a->rt, t), &sm->m);
        }
    }
    return NULL;
}

static void count_fn(rt_shard *s, void *ud)
{
    _Atomic int *n = ud;
    assert_ptr_equal(rt_current(), s);
    (*n) += 1 << (4 * rt_shard_id(s));
}

static void test_fifo_and_run_on_all(void **state)
{
    (void)state;
    memset(&C, 0, sizeof C);
    rt_runtime *rt;
    hln_error err = {0};
    assert_int_equal(rt_new(&rt, NSHARDS, &err), 0);
    int uds[NSHARDS];
    for (int i = 0; i < NSHARDS; i++)
        rt_set_ud(rt_shard_at(rt, i), &uds[i]);
    rt_hooks h = {.start = start_hook, .stop = stop_hook, .ud = &C};
    assert_int_equal(rt_start(rt, &h, &err), 0);
    assert_null(rt_current());
    for (int i = 0; i < NSHARDS; i++) {
        assert_int_equal(C.started[i], 1);
        assert_ptr_equal(rt_ud(rt_shard_at(rt, i)), &uds[i]);
        assert_int_equal(rt_shard_id(rt_shard_at(rt, i)), i);
    }
    assert_int_equal(rt_nshards(rt), NSHARDS);

    pthread_t th[NSENDERS];
    sender_arg args[NSENDERS];
    for (int i = 0; i < NSENDERS; i++) {
        args[i] = (sender_arg){rt, i};
        pthread_create(&th[i], NULL, sender, &args[i]);
    }
    for (int i = 0; i < NSENDERS; i++)
        pthread_join(th[i], NULL);
    /* rt_run_on_all comes after every message each shard already has */
    _Atomic int n = 0;
    assert_int_equal(rt_run_on_all(rt, count_fn, &n), 0);
    assert_int_equal(n, 0x111);
    assert_int_equal(C.received, NSENDERS * NSHARDS * PER_SENDER);
    assert_int_equal(C.out_of_order, 0);
    assert_int_equal(C.wrong_thread, 0);

    rt_stop(rt);
    rt_stop(rt); /* idempotent */
    for (int i = 0; i < NSHARDS; i++)
        assert_int_equal(C.stopped[i], 1);
    rt_free(rt);
}

/* ---- failures ------------------------------------------------------------- */

static _Atomic int fail_stops;

static int failing_start(rt_shard *s, void *ud, hln_error *err)
{
    (void)ud;
    if (rt_shard_id(s) == 1) return hln_fail(err, HLN_EIO, "shard 1 cannot open");
    return 0;
}

static void failing_stop(rt_shard *s, void *ud)
{
    (void)ud;
    (void)s;
    fail_stops++;
}

static void test_start_failure(void **state)
{
    (void)state;
    rt_runtime *rt;
    hln_error err = {0};
    assert_int_equal(rt_new(&rt, 3, &err), 0);
    rt_hooks h = {.start = failing_start, .stop = failing_stop};
    assert_int_equal(rt_start(rt, &h, &err), HLN_EIO);
    assert_string_equal(err.msg, "shard 1 cannot open");
    assert_int_equal(fail_stops, 2); /* the two that started were stopped */
    rt_stop(rt);
    rt_free(rt);
    assert_int_not_equal(rt_new(&rt, 0, &err), 0);
}

/* A message that posts itself again forever: stop still ends the shard. */
static void again_fn(rt_shard *self, rt_msg *m)
{
    rt_post(self, m);
}

static void test_stop_while_busy(void **state)
{
    (void)state;
    rt_runtime *rt;
    hln_error err = {0};
    assert_int_equal(rt_new(&rt, 2, &err), 0);
    assert_int_equal(rt_start(rt, NULL, &err), 0);
    rt_msg m = {.fn = again_fn};
    rt_post(rt_shard_at(rt, 0), &m);
    rt_stop(rt);
    rt_free(rt);
}

/* ---- linger --------------------------------------------------------------
 * A uv_check handle counts the loop's iterations (it runs once after each
 * poll); a message records the count it ran in. */

static _Atomic long iterations;
static uv_check_t checker;

static void on_check(uv_check_t *h)
{
    (void)h;
    atomic_fetch_add(&iterations, 1);
}

static int check_start(rt_shard *s, void *ud, hln_error *err)
{
    (void)ud;
    (void)err;
    uv_check_init(rt_loop(s), &checker);
    uv_check_start(&checker, on_check);
    return 0;
}

static void check_stop(rt_shard *s, void *ud)
{
    (void)s;
    (void)ud;
    uv_close((uv_handle_t *)&checker, NULL);
}

typedef struct lmsg {
    rt_msg m;
    int64_t linger_ns;
    _Atomic long ran_in; /* the iteration count it ran in, -1 before */
} lmsg;

static void linger_fn(rt_shard *self, rt_msg *m)
{
    lmsg *l = (lmsg *)m;
    if (l->linger_ns) rt_linger(self, l->linger_ns);
    atomic_store(&l->ran_in, atomic_load(&iterations));
}

static void wait_ran(lmsg *l)
{
    while (atomic_load(&l->ran_in) < 0)
        sched_yield();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_linger(void **state)
{
    (void)state;
    rt_runtime *rt;
    hln_error err = {0};
    rt_hooks hooks = {.start = check_start, .stop = check_stop};
    assert_int_equal(rt_new(&rt, 1, &err), 0);
    assert_int_equal(rt_start(rt, &hooks, &err), 0);
    rt_shard *s = rt_shard_at(rt, 0);

    /* posted while the shard lingers: the same iteration */
    lmsg a = {.m.fn = linger_fn, .linger_ns = 2000000000, .ran_in = -1};
    lmsg b = {.m.fn = linger_fn, .ran_in = -1};
    rt_post(s, &a.m);
    wait_ran(&a);
    rt_post(s, &b.m);
    wait_ran(&b);
    assert_int_equal(atomic_load(&b.ran_in), atomic_load(&a.ran_in));

    /* after a short linger the loop sleeps: a later message runs in a
       later iteration */
    lmsg c = {.m.fn = linger_fn, .linger_ns = 1000000, .ran_in = -1};
    lmsg d = {.m.fn = linger_fn, .ran_in = -1};
    rt_post(s, &c.m);
    wait_ran(&c);
    struct timespec pause = {0, 100000000};
    nanosleep(&pause, NULL);
    rt_post(s, &d.m);
    wait_ran(&d);
    assert_true(atomic_load(&d.ran_in) > atomic_load(&c.ran_in));

    /* a shard lingering for a minute still stops at once */
    lmsg e = {.m.fn = linger_fn, .linger_ns = 60000000000, .ran_in = -1};
    rt_post(s, &e.m);
    wait_ran(&e);
    double t0 = now_s();
    rt_stop(rt);
    assert_true(now_s() - t0 < 10.0);
    rt_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),       cmocka_unit_test(test_fifo_and_run_on_all),
        cmocka_unit_test(test_start_failure), cmocka_unit_test(test_stop_while_busy),
        cmocka_unit_test(test_linger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
