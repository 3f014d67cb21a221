/* Unit tests: the store modules' SQLite helpers (services/session/sql.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sql.h"

static const char *const SQL[] = {
    "CREATE TABLE t (a TEXT, b BLOB, c INTEGER)",
};

static void absent_values_bind_as_null_and_present_ones_as_given(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *create[1];
    char err[128];
    assert_int_equal(sql_prepare_all(db, SQL, create, 1, err, sizeof err), 0);
    assert_int_equal(sql_step_done(db, create[0], "create"), STORE_OK);
    sql_finalize_all(create, 1);
    const char *const more[] = {"INSERT INTO t VALUES (?1, ?2, ?3)",
                                "SELECT a, b IS NULL, c FROM t ORDER BY rowid"};
    sqlite3_stmt *st[2];
    assert_int_equal(sql_prepare_all(db, more, st, 2, err, sizeof err), 0);
    lcx_buf_t none = {0}, some = {"xy", 2};
    lcx_int_t unset = {0}, seven = {7, true};
    sql_bind_text(sql_reset(st[0]), 1, NULL);
    sql_bind_buf(st[0], 2, &none);
    sql_bind_opt_int(st[0], 3, &unset);
    assert_int_equal(sql_step_done(db, st[0], "insert"), STORE_OK);
    sql_bind_text(sql_reset(st[0]), 1, "a");
    sql_bind_buf(st[0], 2, &some);
    sql_bind_opt_int(st[0], 3, &seven);
    assert_int_equal(sql_step_done(db, st[0], "insert"), STORE_OK);
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_EXECUTION);
    sqlite3_stmt *q = sql_reset(st[1]);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_null(sql_col_text(q, 0));
    assert_int_equal(sqlite3_column_int(q, 1), 1);
    sql_col_to_int(m, LCX_F_exit_code, q, 2);
    assert_false(m->exit_code.set);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal(sql_col_text(q, 0), "a");
    assert_int_equal(sqlite3_column_int(q, 1), 0);
    sql_col_to_int(m, LCX_F_exit_code, q, 2);
    assert_int_equal(m->exit_code.v, 7);
    lcx_msg_destroy(&m);
    /* A statement that returns a row is not "done": the helper says so and logs it. */
    assert_int_equal(sql_step_done(db, sql_reset(st[1]), "select"), STORE_ERROR);
    sql_finalize_all(st, 2);
    const char *const bad[] = {"SELECT FROM nowhere"};
    assert_int_equal(sql_prepare_all(db, bad, st, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "sqlite prepare"));
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(absent_values_bind_as_null_and_present_ones_as_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
