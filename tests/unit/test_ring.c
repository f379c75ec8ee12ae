/* modules: cluster common */
/*
 * test_ring.c — src/cluster/ring.c against the Python driver.
 *
 * tests/unit/data/ring_placements.txt is written by
 * tests/unit/record_ring_placements.py from cassandra-driver's own
 * SimpleStrategy and NetworkTopologyStrategy (what a token-aware client
 * computes over system.peers) on rings built with Helenus's token
 * allocation and the driver's Murmur3. Here every ring of the file is
 * built with cx_ring_build: its tokens must be the file's, and the
 * replicas of every sample token under every strategy must be the
 * driver's, in the driver's order. Also: the configuration errors of
 * cx_ring_build, and explicit initial tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/ring.h"
#include "common/common.h"

#define MAXN 32

typedef struct tring {
    char cluster[CX_NAME_MAX];
    char addr[MAXN][CX_NAME_MAX], dc[MAXN][CX_NAME_MAX], rack[MAXN][CX_NAME_MAX];
    unsigned ntok[MAXN];
    size_t n;
    cx_ring *r;
    /* current strategy */
    bool nts;
    unsigned rf;
    cx_dc_rf dcs[8];
    char dcname[8][CX_NAME_MAX];
    size_t ndcs;
} tring;

static void build(tring *t)
{
    cx_node_spec specs[MAXN];
    for (size_t i = 0; i < t->n; i++)
        specs[i] = (cx_node_spec){t->addr[i], t->dc[i], t->rack[i], t->ntok[i], NULL, 0};
    char err[256];
    assert_int_equal(cx_ring_build(t->cluster, specs, t->n, &t->r, err, sizeof err), 0);
    assert_int_equal(cx_ring_nodes(t->r), t->n);
}

static void check_tokens(tring *t, char *line)
{
    char *save, *addr = strtok_r(line, " \n", &save);
    int i = cx_ring_find(t->r, addr);
    assert_true(i >= 0);
    size_t n;
    const int64_t *toks = cx_ring_node_tokens(t->r, (size_t)i, &n);
    size_t k = 0;
    for (char *w = strtok_r(NULL, " \n", &save); w; w = strtok_r(NULL, " \n", &save), k++) {
        assert_true(k < n);
        if (toks[k] != strtoll(w, NULL, 10))
            fail_msg("ring %s node %s token %zu: %lld, the driver's %s", t->cluster, addr, k,
                     (long long)toks[k], w);
    }
    assert_int_equal(k, n);
}

static void set_strategy(tring *t, char *spec)
{
    t->nts = strncmp(spec, "nts ", 4) == 0;
    t->ndcs = 0;
    if (!t->nts) {
        t->rf = (unsigned)atoi(spec + 7);
        return;
    }
    char *save;
    for (char *w = strtok_r(spec + 4, ",\n", &save); w; w = strtok_r(NULL, ",\n", &save)) {
        char *colon = strchr(w, ':');
        assert_non_null(colon);
        *colon = 0;
        snprintf(t->dcname[t->ndcs], CX_NAME_MAX, "%s", w);
        t->dcs[t->ndcs] = (cx_dc_rf){t->dcname[t->ndcs], (unsigned)atoi(colon + 1)};
        t->ndcs++;
    }
}

static size_t addr_index(const tring *t, const char *addr)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->addr[i], addr)) return i;
    fail_msg("unknown address %s", addr);
    return 0;
}

static int check_replicas(tring *t, char *line)
{
    char *save, *tok = strtok_r(line, " \n", &save);
    int64_t token = strtoll(tok, NULL, 10);
    int out[MAXN];
    size_t n = t->nts ? cx_replicas_nts(t->r, token, t->dcs, t->ndcs, out, MAXN)
                      : cx_replicas_simple(t->r, token, t->rf, out, MAXN);
    const char *want[MAXN];
    size_t k = 0;
    for (char *w = strtok_r(NULL, " \n", &save); w; w = strtok_r(NULL, " \n", &save), k++) {
        assert_true(k < MAXN);
        want[k] = w;
    }
    if (k != n) fail_msg("ring %s token %s: %zu replicas, the driver's %zu", t->cluster, tok, n, k);
    /* SimpleStrategy: the driver's order (the ring walk). NTS: the driver
       lists each datacenter's replicas together, so the order compared is
       the order within each datacenter (the walk, racks first) */
    for (size_t dc = 0; dc < (t->nts ? t->ndcs : 1); dc++) {
        size_t a = 0, b = 0;
        for (;;) {
            while (a < n && t->nts &&
                   strcmp(cx_ring_node(t->r, (size_t)out[a])->dc, t->dcs[dc].dc) != 0)
                a++;
            while (b < k && t->nts && strcmp(t->dc[addr_index(t, want[b])], t->dcs[dc].dc) != 0)
                b++;
            if (a == n || b == k) break;
            if (strcmp(cx_ring_node(t->r, (size_t)out[a])->addr, want[b]) != 0)
                fail_msg("ring %s token %s: replica %s where the driver has %s", t->cluster, tok,
                         cx_ring_node(t->r, (size_t)out[a])->addr, want[b]);
            a++;
            b++;
        }
        if ((a == n) != (b == k))
            fail_msg("ring %s token %s: replica counts differ", t->cluster, tok);
    }
    return 1;
}

static void test_against_the_driver(void **state)
{
    (void)state;
    FILE *f = fopen(HLN_TEST_DATA "/ring_placements.txt", "r");
    assert_non_null(f);
    static tring t;
    memset(&t, 0, sizeof t);
    char line[65536];
    int rings = 0, checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "ring ", 5)) {
            if (t.r) cx_ring_free(t.r);
            memset(&t, 0, sizeof t);
            char *name_end = strchr(line + 5, ' ');
            assert_non_null(name_end);
            snprintf(t.cluster, sizeof t.cluster, "%s", name_end + 1);
            rings++;
        } else if (!strncmp(line, "node ", 5)) {
            assert_true(t.n < MAXN);
            assert_int_equal(sscanf(line + 5, "%63s %63s %63s %u", t.addr[t.n], t.dc[t.n],
                                    t.rack[t.n], &t.ntok[t.n]),
                             4);
            t.n++;
        } else if (!strncmp(line, "tokens ", 7)) {
            if (!t.r) build(&t);
            check_tokens(&t, line + 7);
        } else if (!strncmp(line, "strategy ", 9)) {
            set_strategy(&t, line + 9);
        } else if (!strncmp(line, "replicas ", 9)) {
            checked += check_replicas(&t, line + 9);
        }
    }
    fclose(f);
    if (t.r) cx_ring_free(t.r);
    assert_true(rings >= 5);
    assert_true(checked >= 1000);
}

static void test_build_errors(void **state)
{
    (void)state;
    char err[256];
    cx_ring *r = NULL;
    cx_node_spec two[] = {{"127.0.0.1", "dc1", "r1", 4, NULL, 0},
                          {"127.0.0.1", "dc1", "r1", 4, NULL, 0}};
    assert_int_equal(cx_ring_build("c", two, 2, &r, err, sizeof err), HLN_EINVAL);
    assert_non_null(strstr(err, "listed twice"));
    assert_null(r);
    cx_node_spec none[] = {{"127.0.0.1", "dc1", "r1", 0, NULL, 0}};
    assert_int_equal(cx_ring_build("c", none, 1, &r, err, sizeof err), HLN_EINVAL);
    assert_non_null(strstr(err, "num_tokens"));
    assert_int_equal(cx_ring_build("", none, 1, &r, err, sizeof err), HLN_EINVAL);
    assert_int_equal(cx_ring_build("c", none, 0, &r, err, sizeof err), HLN_EINVAL);
    const int64_t dup[] = {5, 5};
    cx_node_spec d[] = {{"127.0.0.1", "dc1", "r1", 0, dup, 2}};
    assert_int_equal(cx_ring_build("c", d, 1, &r, err, sizeof err), HLN_EINVAL);
    assert_non_null(strstr(err, "used twice"));
}

static void test_initial_tokens(void **state)
{
    (void)state;
    /* three nodes at -100, 0, 100: the owner of t is the first token >= t */
    const int64_t a[] = {-100}, b[] = {0}, c[] = {100};
    cx_node_spec specs[] = {
        {"n1", "dc1", "r1", 0, a, 1}, {"n2", "dc1", "r1", 0, b, 1}, {"n3", "dc1", "r1", 0, c, 1}};
    char err[256];
    cx_ring *r;
    assert_int_equal(cx_ring_build("c", specs, 3, &r, err, sizeof err), 0);
    int out[3];
    const struct {
        int64_t t;
        int owner;
    } cases[] = {{-101, 0}, {-100, 0},      {-99, 1},          {0, 1}, {1, 2}, {100, 2},
                 {101, 0},  {INT64_MAX, 0}, {INT64_MIN + 1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(cx_replicas_simple(r, cases[i].t, 1, out, 3), 1);
        assert_int_equal(out[0], cases[i].owner);
    }
    assert_int_equal(cx_replicas_simple(r, 1, 5, out, 3), 3); /* rf > nodes */
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    cx_dc_rf other = {"dc9", 3};
    assert_int_equal(cx_replicas_nts(r, 1, &other, 1, out, 3), 0); /* no such dc */
    cx_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_the_driver),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_initial_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
