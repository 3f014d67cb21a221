/*
 * keyring: the API keys table (see keyring.h).
 */
#include "keyring.h"
#include "alloc.h"
#include "log.h"
#include "sql.h"
#include "util.h"

#include <czmq.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLUMNS                                                                                \
    "id, name, role, created_at, expires_at, revoked_at, last_used_at, webhook_url,"               \
    " runs_per_minute, concurrent_runs, max_time_ms, max_memory_mb"

#define KEYRING_STATEMENTS(X)                                                                      \
    X(FIND, "SELECT id, role, secret_hash, coalesce(expires_at, 0), coalesce(revoked_at, 0),"      \
            " coalesce(last_used_at, 0), runs_per_minute, concurrent_runs, max_time_ms,"           \
            " max_memory_mb FROM api_keys WHERE id = ?1")                                          \
    X(TOUCH, "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")                                \
    X(INSERT, "INSERT INTO api_keys (id, name, role, secret_hash, runs_per_minute,"                \
              " concurrent_runs, max_time_ms, max_memory_mb, webhook_url, created_at,"             \
              " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                \
    X(SELECT, "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?1")                                \
    X(LIST, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at DESC, rowid DESC")           \
    X(UPDATE, "UPDATE api_keys SET name = coalesce(?2, name),"                                     \
              " runs_per_minute = CASE WHEN ?3 IS NULL THEN runs_per_minute"                       \
              "   WHEN ?3 < 0 THEN NULL ELSE ?3 END,"                                              \
              " concurrent_runs = CASE WHEN ?4 IS NULL THEN concurrent_runs"                       \
              "   WHEN ?4 < 0 THEN NULL ELSE ?4 END,"                                              \
              " max_time_ms = CASE WHEN ?5 IS NULL THEN max_time_ms"                               \
              "   WHEN ?5 < 0 THEN NULL ELSE ?5 END,"                                              \
              " max_memory_mb = CASE WHEN ?6 IS NULL THEN max_memory_mb"                           \
              "   WHEN ?6 < 0 THEN NULL ELSE ?6 END,"                                              \
              " expires_at = CASE WHEN ?7 IS NULL THEN expires_at WHEN ?7 = 0 THEN NULL"           \
              "   ELSE ?7 END,"                                                                    \
              " webhook_url = CASE WHEN ?8 IS NULL THEN webhook_url WHEN ?8 = '' THEN NULL"        \
              "   ELSE ?8 END WHERE id = ?1")                                                      \
    X(REVOKE, "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1")           \
    X(RETIRE_BOOTSTRAP, "UPDATE api_keys SET revoked_at = ?2 WHERE name = 'bootstrap'"             \
                        " AND id != ?1 AND revoked_at IS NULL")                                    \
    X(UPSERT_BOOTSTRAP, "INSERT INTO api_keys (id, name, role, secret_hash, created_at)"           \
                        " VALUES (?1, 'bootstrap', 'admin', ?2, ?3) ON CONFLICT (id) DO UPDATE"    \
                        " SET secret_hash = excluded.secret_hash, role = 'admin'")

enum {
#define X(name, sql) KS_##name,
    KEYRING_STATEMENTS(X)
#undef X
        KS_COUNT
};

static const char *const keyring_sql[KS_COUNT] = {
#define X(name, sql) sql,
    KEYRING_STATEMENTS(X)
#undef X
};

/* A key is used "now" for last_used_at within this much. */
#define TOUCH_EVERY_MS 60000
/* Keys are remembered this long (every request of a caller with a key looks its key up):
 * a change made through this store takes effect at once, one made elsewhere in the database
 * within this time. */
#define KEY_CACHE_MS 1000
#define KEY_CACHE_MAX 10000

typedef struct {
    keyring_key_t key;
    int64_t until; /* monotonic ms */
} key_entry_t;

struct keyring_t {
    sqlite3 *db;
    sqlite3_stmt *st[KS_COUNT];
    keyring_defaults_t defaults;
    zhashx_t *cache; /* key id -> key_entry_t */
};

static void free_entry(void **item)
{
    free(*item);
    *item = NULL;
}

keyring_t *keyring_new(store_t *store, const keyring_defaults_t *defaults, char *err, size_t errlen)
{
    keyring_t *self = lcx_calloc(1, sizeof *self);
    self->db = store_db(store);
    self->defaults = *defaults;
    self->cache = zhashx_new();
    zhashx_set_destructor(self->cache, free_entry);
    if (sql_prepare_all(self->db, keyring_sql, self->st, KS_COUNT, err, errlen) != 0) {
        keyring_destroy(&self);
        return NULL;
    }
    return self;
}

void keyring_destroy(keyring_t **self_p)
{
    if (!self_p || !*self_p) return;
    sql_finalize_all((*self_p)->st, KS_COUNT);
    zhashx_destroy(&(*self_p)->cache);
    free(*self_p);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Statement helpers                                                                         */

static sqlite3_stmt *stmt(keyring_t *self, int which)
{
    return sql_reset(self->st[which]);
}

static store_rc_t fail(keyring_t *self, const char *what)
{
    return sql_fail(self->db, what);
}

static store_rc_t step_done(keyring_t *self, sqlite3_stmt *st, const char *what)
{
    return sql_step_done(self->db, st, what);
}

static long quota_col(sqlite3_stmt *st, int col, long fallback)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? fallback
                                                       : (long)sqlite3_column_int64(st, col);
}

/* ---------------------------------------------------------------------------------------- */
/* Checking a caller's key                                                                   */

static keyring_defaults_t quotas_of(const keyring_t *self, sqlite3_stmt *st, int first)
{
    return (keyring_defaults_t){quota_col(st, first, self->defaults.runs_per_minute),
                                quota_col(st, first + 1, self->defaults.concurrent_runs),
                                quota_col(st, first + 2, self->defaults.max_time_ms),
                                quota_col(st, first + 3, self->defaults.max_memory_mb)};
}

void keyring_forget(keyring_t *self)
{
    zhashx_purge(self->cache);
}

static void remember(keyring_t *self, const keyring_key_t *key)
{
    if (zhashx_size(self->cache) >= KEY_CACHE_MAX) zhashx_purge(self->cache);
    key_entry_t *entry = lcx_malloc(sizeof *entry);
    *entry = (key_entry_t){*key, lcx_mono_ms() + KEY_CACHE_MS};
    zhashx_update(self->cache, key->id, entry);
}

static store_rc_t find_in_db(keyring_t *self, const char *key_id, keyring_key_t *out);

store_rc_t keyring_find(keyring_t *self, const char *key_id, keyring_key_t *out)
{
    key_entry_t *entry = zhashx_lookup(self->cache, key_id);
    if (entry && entry->until > lcx_mono_ms()) {
        *out = entry->key;
        return STORE_OK;
    }
    store_rc_t rc = find_in_db(self, key_id, out);
    if (rc == STORE_OK) remember(self, out);
    return rc;
}

static store_rc_t find_in_db(keyring_t *self, const char *key_id, keyring_key_t *out)
{
    sqlite3_stmt *st = stmt(self, KS_FIND);
    sql_bind_text(st, 1, key_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (keyring_key_t){0};
        snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(st, 0));
        out->admin = strcmp((const char *)sqlite3_column_text(st, 1), "admin") == 0;
        if (sqlite3_column_bytes(st, 2) == APIKEY_HASH_LEN)
            memcpy(out->hash, sqlite3_column_blob(st, 2), APIKEY_HASH_LEN);
        out->expires_at = sqlite3_column_int64(st, 3);
        out->revoked_at = sqlite3_column_int64(st, 4);
        out->last_used_at = sqlite3_column_int64(st, 5);
        out->quotas = quotas_of(self, st, 6);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    return rc == SQLITE_ROW ? STORE_OK : fail(self, "key select");
}

store_rc_t keyring_touch(keyring_t *self, keyring_key_t *key, int64_t now)
{
    if (now - key->last_used_at < TOUCH_EVERY_MS) return STORE_OK;
    sqlite3_stmt *st = stmt(self, KS_TOUCH);
    sql_bind_text(st, 1, key->id);
    sqlite3_bind_int64(st, 2, now);
    key->last_used_at = now;
    key_entry_t *entry = zhashx_lookup(self->cache, key->id);
    if (entry) entry->key.last_used_at = now;
    return step_done(self, st, "key touch");
}

/* ---------------------------------------------------------------------------------------- */
/* The KEY_* commands                                                                        */

/* A KEY record from a row of KEY_COLUMNS. */
static void row_to_key(const keyring_t *self, sqlite3_stmt *st, lcx_msg_t *out)
{
    lcx_msg_set_str(out, LCX_F_key_id, (const char *)sqlite3_column_text(st, 0));
    lcx_msg_set_str(out, LCX_F_name, (const char *)sqlite3_column_text(st, 1));
    lcx_msg_set_str(out, LCX_F_role, (const char *)sqlite3_column_text(st, 2));
    sql_col_to_int(out, LCX_F_created_at, st, 3);
    sql_col_to_int(out, LCX_F_expires_at, st, 4);
    sql_col_to_int(out, LCX_F_revoked_at, st, 5);
    sql_col_to_int(out, LCX_F_last_used_at, st, 6);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        lcx_msg_set_str(out, LCX_F_webhook_url, (const char *)sqlite3_column_text(st, 7));
    keyring_defaults_t q = quotas_of(self, st, 8);
    lcx_msg_set_int(out, LCX_F_runs_per_minute, q.runs_per_minute);
    lcx_msg_set_int(out, LCX_F_concurrent_runs, q.concurrent_runs);
    lcx_msg_set_int(out, LCX_F_max_time_ms, q.max_time_ms);
    lcx_msg_set_int(out, LCX_F_max_memory_mb, q.max_memory_mb);
}

static store_rc_t select_key(keyring_t *self, const char *key_id, lcx_msg_t *out)
{
    sqlite3_stmt *st = stmt(self, KS_SELECT);
    sql_bind_text(st, 1, key_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) row_to_key(self, st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    return rc == SQLITE_ROW ? STORE_OK : fail(self, "key select");
}

/* What a create or an update sets must fit: NULL, or the reason it does not. */
static const char *unfit(const lcx_msg_t *req)
{
    if (req->role.ptr && strcmp(req->role.ptr, "admin") != 0 && strcmp(req->role.ptr, "client"))
        return "role: must be admin or client";
    if (req->name.ptr && (req->name.len == 0 || req->name.len > 200))
        return "name: from 1 to 200 characters";
    const lcx_int_t *quotas[] = {&req->runs_per_minute, &req->concurrent_runs, &req->max_time_ms,
                                 &req->max_memory_mb};
    for (size_t i = 0; i < sizeof quotas / sizeof quotas[0]; i++)
        if (quotas[i]->set && quotas[i]->v < -1) return "quotas: must be 0 or more";
    if (req->expires_at.set && req->expires_at.v < 0) return "expires_at: must be a time";
    return NULL;
}

store_rc_t keyring_create(keyring_t *self, const lcx_msg_t *req, lcx_msg_t *out, const char **why)
{
    if ((*why = unfit(req)) || !apikey_id_valid(req->key_id.ptr) ||
        req->secret_hash.len != APIKEY_HASH_LEN) {
        if (!*why) *why = "key_id or secret_hash: not a key's";
        return STORE_INVALID;
    }
    zhashx_delete(self->cache, req->key_id.ptr);
    sqlite3_stmt *st = stmt(self, KS_INSERT);
    sql_bind_text(st, 1, req->key_id.ptr);
    sql_bind_text(st, 2, req->name.ptr);
    sql_bind_text(st, 3, req->role.ptr);
    sqlite3_bind_blob(st, 4, req->secret_hash.ptr, APIKEY_HASH_LEN, SQLITE_STATIC);
    const lcx_int_t *q[] = {&req->runs_per_minute, &req->concurrent_runs, &req->max_time_ms,
                            &req->max_memory_mb};
    for (int i = 0; i < 4; i++)
        if (q[i]->set && q[i]->v >= 0) sqlite3_bind_int64(st, 5 + i, q[i]->v);
    sql_bind_text(st, 9, req->webhook_url.len ? req->webhook_url.ptr : NULL);
    sqlite3_bind_int64(st, 10, lcx_now_ms());
    if (req->expires_at.v > 0) sqlite3_bind_int64(st, 11, req->expires_at.v);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT) return STORE_CONFLICT;
    if (rc != SQLITE_DONE) return fail(self, "key insert");
    return select_key(self, req->key_id.ptr, out);
}

store_rc_t keyring_list(keyring_t *self, lcx_msg_t *out)
{
    sqlite3_stmt *st = stmt(self, KS_LIST);
    lcx_msg_list_touch(out, LCX_F_items);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lcx_msg_t *item = lcx_msg_new(LCX_CMD_KEY);
        row_to_key(self, st, item);
        lcx_msg_items_append(out, &item);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(self, "key list");
}

store_rc_t keyring_update(keyring_t *self, const lcx_msg_t *req, lcx_msg_t *out, const char **why)
{
    if ((*why = unfit(req))) return STORE_INVALID;
    zhashx_delete(self->cache, req->key_id.ptr);
    sqlite3_stmt *st = stmt(self, KS_UPDATE);
    sql_bind_text(st, 1, req->key_id.ptr);
    sql_bind_text(st, 2, req->name.ptr);
    sql_bind_opt_int(st, 3, &req->runs_per_minute);
    sql_bind_opt_int(st, 4, &req->concurrent_runs);
    sql_bind_opt_int(st, 5, &req->max_time_ms);
    sql_bind_opt_int(st, 6, &req->max_memory_mb);
    sql_bind_opt_int(st, 7, &req->expires_at);
    sql_bind_text(st, 8, req->webhook_url.ptr);
    store_rc_t rc = step_done(self, st, "key update");
    if (rc != STORE_OK) return rc;
    return sqlite3_changes(self->db) ? select_key(self, req->key_id.ptr, out) : STORE_NOT_FOUND;
}

store_rc_t keyring_revoke(keyring_t *self, const char *key_id, lcx_msg_t *out)
{
    zhashx_delete(self->cache, key_id);
    sqlite3_stmt *st = stmt(self, KS_REVOKE);
    sql_bind_text(st, 1, key_id);
    sqlite3_bind_int64(st, 2, lcx_now_ms());
    store_rc_t rc = step_done(self, st, "key revoke");
    if (rc != STORE_OK) return rc;
    return sqlite3_changes(self->db) ? select_key(self, key_id, out) : STORE_NOT_FOUND;
}

int keyring_bootstrap(keyring_t *self, const apikey_t *key, char *err, size_t errlen)
{
    int64_t now = lcx_now_ms();
    keyring_forget(self);
    sqlite3_stmt *retire = stmt(self, KS_RETIRE_BOOTSTRAP);
    sql_bind_text(retire, 1, key->id);
    sqlite3_bind_int64(retire, 2, now);
    sqlite3_stmt *upsert = stmt(self, KS_UPSERT_BOOTSTRAP);
    sql_bind_text(upsert, 1, key->id);
    sqlite3_bind_blob(upsert, 2, key->hash, APIKEY_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(upsert, 3, now);
    bool ok = sqlite3_exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
              step_done(self, retire, "bootstrap key") == STORE_OK &&
              step_done(self, upsert, "bootstrap key") == STORE_OK &&
              sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "cannot register the bootstrap key: %s", sqlite3_errmsg(self->db));
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return ok ? 0 : -1;
}
