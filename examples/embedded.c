/*
 * embedded.c — Helenus inside your own program: open a data directory,
 * create a table, write and read rows with bound values. Built and run by
 * the tests (ctest: example.embedded).
 *
 * Usage: embedded_example [DATADIR]   (default ./example-data)
 */
#include <stdio.h>
#include <string.h>

#include "helenus.h"

#define CHECK(db, call)                                                                            \
    do {                                                                                           \
        if ((call) != HLN_OK) {                                                                    \
            fprintf(stderr, "%s failed: %s\n", #call, hln_db_errmsg(db));                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "./example-data";
    hln_db *db;
    if (hln_open(dir, NULL, &db) != HLN_OK) {
        fprintf(stderr, "open %s: %s\n", dir, hln_db_errmsg(db));
        hln_close(db);
        return 1;
    }
    CHECK(db, hln_exec(db,
                       "CREATE KEYSPACE IF NOT EXISTS demo WITH replication = "
                       "{'class': 'SimpleStrategy', 'replication_factor': 1}",
                       NULL, 0, NULL));
    CHECK(db, hln_exec(db,
                       "CREATE TABLE IF NOT EXISTS demo.features (entity text, name text, "
                       "value double, PRIMARY KEY (entity, name))",
                       NULL, 0, NULL));
    const char *names[] = {"clicks", "spend", "visits"};
    for (int i = 0; i < 3; i++) {
        hln_value v[3] = {hln_text("user-42"), hln_text(names[i]), hln_double(1.5 * (i + 1))};
        CHECK(db, hln_exec(db, "INSERT INTO demo.features (entity, name, value) VALUES (?, ?, ?)",
                           v, 3, NULL));
    }
    hln_value key = hln_text("user-42");
    hln_result *res;
    CHECK(db,
          hln_exec(db, "SELECT name, value FROM demo.features WHERE entity = ?", &key, 1, &res));
    int rows = 0;
    double sum = 0;
    while (hln_result_next(res)) {
        printf("%s = %s\n", hln_result_text(res, 0, NULL), hln_result_text(res, 1, NULL));
        sum += hln_result_double(res, 1);
        rows++;
    }
    hln_result_free(res);
    CHECK(db, hln_close(db));
    if (rows != 3 || sum != 9.0) {
        fprintf(stderr, "expected 3 rows summing to 9, got %d rows summing to %g\n", rows, sum);
        return 1;
    }
    printf("ok: %d rows\n", rows);
    return 0;
}
