/*
 * sql: SQLite helpers of the store's modules (see sql.h).
 */
#include "sql.h"
#include "log.h"

#include <stdio.h>

int sql_prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, int n, char *err,
                    size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(db));
            return -1;
        }
    }
    return 0;
}

void sql_finalize_all(sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++)
        sqlite3_finalize(st[i]);
}

sqlite3_stmt *sql_reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

void sql_bind_text(sqlite3_stmt *st, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(st, index, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, index);
}

void sql_bind_buf(sqlite3_stmt *st, int index, const lcx_buf_t *buf)
{
    if (buf->ptr)
        sqlite3_bind_blob(st, index, buf->ptr, (int)buf->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, index);
}

void sql_bind_opt_int(sqlite3_stmt *st, int index, const lcx_int_t *value)
{
    if (value->set)
        sqlite3_bind_int64(st, index, value->v);
    else
        sqlite3_bind_null(st, index);
}

store_rc_t sql_fail(sqlite3 *db, const char *what)
{
    lcx_log(LCX_ERROR, "database error", "operation", what, "error", sqlite3_errmsg(db), NULL);
    return STORE_ERROR;
}

store_rc_t sql_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(db, what);
}

const char *sql_col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

void sql_col_to_int(lcx_msg_t *msg, lcx_field_t field, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        lcx_msg_set_int(msg, field, sqlite3_column_int64(st, col));
}
