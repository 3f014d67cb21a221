/*
 * sql: the small SQLite helpers of the store's modules (store.c, keyring.c), which share one
 * connection: prepared statements by table, optional values bound as NULL, failures logged
 * once with the operation that failed.
 */
#ifndef LCX_SQL_H
#define LCX_SQL_H

#include "lcx_proto.h"
#include "store.h"

#include <sqlite3.h>

/* Prepares n statements (persistent) into st. 0, or -1 with SQLite's reason in err. */
int sql_prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, int n, char *err,
                    size_t errlen);
void sql_finalize_all(sqlite3_stmt **st, int n);
/* Resets a statement and its bindings for reuse, and returns it. */
sqlite3_stmt *sql_reset(sqlite3_stmt *st);

/* Bind a value, or NULL when it is absent (text NULL, buffer or integer unset). */
void sql_bind_text(sqlite3_stmt *st, int index, const char *text);
void sql_bind_buf(sqlite3_stmt *st, int index, const lcx_buf_t *buf);
void sql_bind_opt_int(sqlite3_stmt *st, int index, const lcx_int_t *value);

/* Logs SQLite's error for the operation `what` and returns STORE_ERROR. */
store_rc_t sql_fail(sqlite3 *db, const char *what);
/* Steps a statement that returns no rows: STORE_OK, or sql_fail. */
store_rc_t sql_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what);

const char *sql_col_text(sqlite3_stmt *st, int col);
/* Sets msg's integer field from a column, unless the column is NULL. */
void sql_col_to_int(lcx_msg_t *msg, lcx_field_t field, sqlite3_stmt *st, int col);

#endif
