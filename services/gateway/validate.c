/* validate: request bodies to protocol requests (see validate.h). */
#include "validate.h"
#include "alloc.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void problem(json_t *details, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(json_t *details, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_array_append_new(details, json_string(text));
}

json_t *validate_parse_object(const char *body, size_t len, bool allow_empty, json_t *details)
{
    if (len == 0) {
        if (allow_empty) return json_object();
        problem(details, "a JSON object body is required");
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        problem(details, "invalid JSON at line %d, column %d: %s", error.line, error.column,
                error.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        problem(details, "the body must be a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* One detail "label: a, b, c" for a list of allowed values: a client (or a person) reads the
 * whole choice in one line, not one line per value. name_at(i) gives the i-th of n. */
typedef const char *(name_at_fn)(const void *list, size_t i);

static void list_problem(json_t *details, const char *label, const void *list, size_t n,
                         name_at_fn *name_at)
{
    size_t len = strlen(label) + 2;
    for (size_t i = 0; i < n; i++)
        len += strlen(name_at(list, i)) + 2;
    char *text = lcx_malloc(len + 1);
    char *p = text + sprintf(text, "%s:", label);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s %s", i ? "," : "", name_at(list, i));
    json_array_append_new(details, json_string(text));
    free(text);
}

static const char *string_at(const void *list, size_t i)
{
    return ((const char *const *)list)[i];
}

static const char *language_at(const void *list, size_t i)
{
    return lcx_languages_at(list, i)->id;
}

/* Rejects fields the call does not define: a typo should not pass silently. The fields it
 * does define follow in one detail. */
static void check_known_fields(json_t *object, const char *const *known, const char *where,
                               json_t *details)
{
    const char *key;
    json_t *value;
    bool unknown = false;
    json_object_foreach(object, key, value)
    {
        bool found = false;
        for (const char *const *k = known; *k && !found; k++)
            found = strcmp(*k, key) == 0;
        if (!found) problem(details, "unknown field '%s%s'", where, key);
        unknown |= !found;
    }
    size_t n = 0;
    while (known[n])
        n++;
    if (!unknown) return;
    char label[64] = "allowed fields";
    if (where[0]) /* "limits." -> "allowed fields in 'limits'" */
        snprintf(label, sizeof label, "allowed fields in '%.*s'", (int)strlen(where) - 1, where);
    list_problem(details, label, known, n, string_at);
}

/* A string field: NULL when absent; a problem when present with another type. */
static const char *string_field(json_t *object, const char *name, json_t *details)
{
    json_t *value = json_object_get(object, name);
    if (!value) return NULL;
    if (!json_is_string(value)) {
        problem(details, "'%s' must be a string", name);
        return NULL;
    }
    return json_string_value(value);
}

static const lcx_language_t *resolve_language(const validate_ctx_t *ctx, const char *name,
                                              json_t *details)
{
    const lcx_language_t *lang = lcx_languages_find(ctx->languages, name);
    if (lang) return lang;
    problem(details, "unknown language '%s'", name);
    list_problem(details, "supported", ctx->languages, lcx_languages_count(ctx->languages),
                 language_at);
    return NULL;
}

static void check_source_size(const validate_ctx_t *ctx, const char *source, json_t *details)
{
    if (source && strlen(source) > (size_t)ctx->settings->max_source_bytes)
        problem(details, "'source_code' is larger than %ld bytes", ctx->settings->max_source_bytes);
}

static const char *const session_fields[] = {"language", "source_code", NULL};

lcx_msg_t *validate_session_create(const validate_ctx_t *ctx, json_t *body, json_t *details)
{
    size_t before = json_array_size(details);
    check_known_fields(body, session_fields, "", details);
    const char *language = string_field(body, "language", details);
    const char *source = string_field(body, "source_code", details);
    const lcx_language_t *lang = NULL;
    if (!json_object_get(body, "language") || language)
        lang =
            resolve_language(ctx, language ? language : ctx->settings->default_language, details);
    check_source_size(ctx, source, details);
    if (json_array_size(details) > before || !lang) return NULL;
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_SESSION_CREATE);
    lcx_msg_set_str(msg, LCX_F_language, lang->id);
    lcx_msg_set_str(msg, LCX_F_source_code, source ? source : lang->template_code);
    return msg;
}

lcx_msg_t *validate_session_update(const validate_ctx_t *ctx, json_t *body, const char *id,
                                   json_t *details)
{
    size_t before = json_array_size(details);
    check_known_fields(body, session_fields, "", details);
    const char *language = string_field(body, "language", details);
    const char *source = string_field(body, "source_code", details);
    const lcx_language_t *lang = language ? resolve_language(ctx, language, details) : NULL;
    if (!json_object_get(body, "language") && !json_object_get(body, "source_code"))
        problem(details, "give 'language', 'source_code' or both");
    check_source_size(ctx, source, details);
    if (json_array_size(details) > before) return NULL;
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_SESSION_UPDATE);
    lcx_msg_set_str(msg, LCX_F_session_id, id);
    if (lang) lcx_msg_set_str(msg, LCX_F_language, lang->id);
    if (source) lcx_msg_set_str(msg, LCX_F_source_code, source);
    return msg;
}

/* An integer limit in 1..max; absent leaves the field unset. */
static void limit_field(json_t *limits, const char *name, long max, lcx_msg_t *msg,
                        lcx_field_t field, json_t *details)
{
    json_t *value = json_object_get(limits, name);
    if (!value) return;
    if (!json_is_integer(value)) {
        problem(details, "'limits.%s' must be an integer", name);
        return;
    }
    json_int_t n = json_integer_value(value);
    if (n < 1 || n > max) {
        problem(details, "'limits.%s' must be between 1 and %ld", name, max);
        return;
    }
    lcx_msg_set_int(msg, field, n);
}

static void run_limits(const validate_ctx_t *ctx, json_t *body, lcx_msg_t *msg, json_t *details)
{
    static const char *const limit_fields[] = {"time_ms", "memory_mb", NULL};
    json_t *limits = json_object_get(body, "limits");
    if (!limits) return;
    if (!json_is_object(limits)) {
        problem(details, "'limits' must be an object");
        return;
    }
    check_known_fields(limits, limit_fields, "limits.", details);
    limit_field(limits, "time_ms", ctx->settings->max_time_ms, msg, LCX_F_time_ms, details);
    limit_field(limits, "memory_mb", ctx->settings->max_memory_mb, msg, LCX_F_memory_mb, details);
}

static void run_args(const validate_ctx_t *ctx, json_t *body, lcx_msg_t *msg, json_t *details)
{
    json_t *args = json_object_get(body, "args");
    if (!args) return;
    if (!json_is_array(args)) {
        problem(details, "'args' must be an array of strings");
        return;
    }
    if (json_array_size(args) > (size_t)ctx->settings->max_args) {
        problem(details, "'args' has more than %ld elements", ctx->settings->max_args);
        return;
    }
    size_t i, total = 0;
    json_t *arg;
    lcx_msg_list_touch(msg, LCX_F_args);
    json_array_foreach(args, i, arg)
    {
        if (!json_is_string(arg) || memchr(json_string_value(arg), '\0', json_string_length(arg))) {
            problem(details, "'args[%zu]' must be a string without NUL characters", i);
            continue;
        }
        total += json_string_length(arg) + 1; /* as the runner passes it: with its NUL */
        lcx_msg_list_append(msg, LCX_F_args, json_string_value(arg));
    }
    /* The runner hands the whole command line to the sandbox in one bounded request: what it
     * cannot take is refused here, not failed there (settings.def, max_args_bytes). */
    if (total > (size_t)ctx->settings->max_args_bytes)
        problem(details,
                "'args' take %zu bytes (each argument's bytes + 1); at most %ld are allowed", total,
                ctx->settings->max_args_bytes);
}

/* source_code? (saved, then run) and version? (the saved version the client expects). */
static void run_source(const validate_ctx_t *ctx, json_t *body, lcx_msg_t *msg, json_t *details)
{
    const char *source = string_field(body, "source_code", details);
    check_source_size(ctx, source, details);
    if (source) lcx_msg_set_str(msg, LCX_F_source_code, source);
    json_t *version = json_object_get(body, "version");
    if (!version) return;
    if (!json_is_integer(version) || json_integer_value(version) < 1)
        problem(details, "'version' must be a positive integer (a session version)");
    else
        lcx_msg_set_int(msg, LCX_F_version, json_integer_value(version));
}

lcx_msg_t *validate_run(const validate_ctx_t *ctx, json_t *body, const char *id,
                        const char *idempotency_key, json_t *details)
{
    static const char *const run_fields[] = {"stdin",       "args",    "limits",
                                             "source_code", "version", NULL};
    size_t before = json_array_size(details);
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_RUN);
    lcx_msg_set_str(msg, LCX_F_session_id, id);
    check_known_fields(body, run_fields, "", details);
    const char *input = string_field(body, "stdin", details);
    json_t *stdin_value = json_object_get(body, "stdin");
    if (input && json_string_length(stdin_value) > (size_t)ctx->settings->max_stdin_bytes)
        problem(details, "'stdin' is larger than %ld bytes", ctx->settings->max_stdin_bytes);
    else if (input)
        lcx_msg_set_bytes(msg, LCX_F_stdin, input, json_string_length(stdin_value));
    run_args(ctx, body, msg, details);
    run_limits(ctx, body, msg, details);
    run_source(ctx, body, msg, details);
    if (idempotency_key && (strlen(idempotency_key) == 0 || strlen(idempotency_key) > 255))
        problem(details, "the Idempotency-Key header must have 1 to 255 characters");
    else if (idempotency_key)
        lcx_msg_set_str(msg, LCX_F_idempotency_key, idempotency_key);
    if (json_array_size(details) > before) lcx_msg_destroy(&msg);
    return msg;
}

/* A query parameter that is an integer from min to max; absent: `absent`. -1 with a detail
 * when malformed or out of range. */
static long query_int(const char *text, const char *name, long min, long max, long absent,
                      const char *unit, json_t *details)
{
    if (!text) return absent;
    errno = 0;
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min || value > max) {
        problem(details, "'%s' must be an integer from %ld to %ld%s", name, min, max, unit);
        return -1;
    }
    return value;
}

long validate_wait(const validate_ctx_t *ctx, const char *text, json_t *details)
{
    return query_int(text, "wait", 0, ctx->settings->max_wait_ms, 0, " (milliseconds)", details);
}

long validate_limit(const validate_ctx_t *ctx, const char *text, json_t *details)
{
    return query_int(text, "limit", 1, ctx->settings->max_list_limit, ctx->settings->list_limit, "",
                     details);
}

/* ---------------------------------------------------------------------------------------- */
/* API keys and session tokens                                                               */

/* A quota: an integer from 0 (off) to max, or null (update only: back to the default, -1). */
static void quota_field(json_t *quotas, const char *name, long max, bool create, lcx_msg_t *msg,
                        lcx_field_t field, json_t *details)
{
    json_t *value = json_object_get(quotas, name);
    if (!value) return;
    if (json_is_null(value) && !create) {
        lcx_msg_set_int(msg, field, -1);
        return;
    }
    json_int_t n = json_is_integer(value) ? json_integer_value(value) : -1;
    if (n < 0 || n > max) {
        problem(details, "'quotas.%s' must be an integer from 0 (no limit) to %ld%s", name, max,
                create ? "" : ", or null (the default)");
        return;
    }
    lcx_msg_set_int(msg, field, n);
}

static void key_quotas(const validate_ctx_t *ctx, json_t *body, bool create, lcx_msg_t *msg,
                       json_t *details)
{
    static const char *const quota_fields[] = {"runs_per_minute", "concurrent_runs", "max_time_ms",
                                               "max_memory_mb", NULL};
    json_t *quotas = json_object_get(body, "quotas");
    if (!quotas) return;
    if (!json_is_object(quotas)) {
        problem(details, "'quotas' must be an object");
        return;
    }
    const lcx_settings_t *s = ctx->settings;
    check_known_fields(quotas, quota_fields, "quotas.", details);
    quota_field(quotas, "runs_per_minute", 1000000, create, msg, LCX_F_runs_per_minute, details);
    quota_field(quotas, "concurrent_runs", s->queue_max, create, msg, LCX_F_concurrent_runs,
                details);
    quota_field(quotas, "max_time_ms", s->max_time_ms, create, msg, LCX_F_max_time_ms, details);
    quota_field(quotas, "max_memory_mb", s->max_memory_mb, create, msg, LCX_F_max_memory_mb,
                details);
}

/* expires_at: an RFC 3339 time in the future, or null (never). */
static void key_expiry(json_t *body, lcx_msg_t *msg, json_t *details)
{
    json_t *value = json_object_get(body, "expires_at");
    int64_t at = 0;
    if (!value) return;
    if (json_is_null(value)) {
        lcx_msg_set_int(msg, LCX_F_expires_at, 0);
    } else if (!json_is_string(value) || lcx_parse_time(json_string_value(value), &at) != 0) {
        problem(details, "'expires_at' must be an RFC 3339 UTC time such as "
                         "\"2027-01-31T00:00:00Z\", or null");
    } else if (at <= lcx_now_ms()) {
        problem(details, "'expires_at' must be in the future");
    } else {
        lcx_msg_set_int(msg, LCX_F_expires_at, at);
    }
}

/* webhook_url: an http or https URL, or null (none: "" to the store). */
static void key_webhook(json_t *body, lcx_msg_t *msg, json_t *details)
{
    json_t *value = json_object_get(body, "webhook_url");
    if (!value) return;
    const char *url = json_is_string(value) ? json_string_value(value) : NULL;
    if (json_is_null(value))
        lcx_msg_set_str(msg, LCX_F_webhook_url, "");
    else if (!url || strlen(url) > 2048 ||
             (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
             strpbrk(url, " \t\r\n"))
        problem(details, "'webhook_url' must be an http:// or https:// URL (at most 2048 "
                         "characters), or null");
    else
        lcx_msg_set_str(msg, LCX_F_webhook_url, url);
}

lcx_msg_t *validate_key(const validate_ctx_t *ctx, json_t *body, bool create, json_t *details)
{
    static const char *const create_fields[] = {"name",       "role",        "quotas",
                                                "expires_at", "webhook_url", NULL};
    static const char *const update_fields[] = {"name", "quotas", "expires_at", "webhook_url",
                                                NULL};
    static const char *const roles[] = {"admin", "client"};
    size_t before = json_array_size(details);
    check_known_fields(body, create ? create_fields : update_fields, "", details);
    lcx_msg_t *msg = lcx_msg_new(create ? LCX_CMD_KEY_CREATE : LCX_CMD_KEY_UPDATE);
    const char *name = string_field(body, "name", details);
    const char *role = create ? string_field(body, "role", details) : NULL;
    if (create && !json_object_get(body, "name")) problem(details, "'name' is required");
    if (name && (!*name || strlen(name) > 200))
        problem(details, "'name' must have from 1 to 200 characters");
    else if (name)
        lcx_msg_set_str(msg, LCX_F_name, name);
    if (create && !json_object_get(body, "role")) problem(details, "'role' is required");
    if (role && strcmp(role, "admin") != 0 && strcmp(role, "client") != 0) {
        problem(details, "unknown role '%s'", role);
        list_problem(details, "supported", roles, 2, string_at);
    } else if (role) {
        lcx_msg_set_str(msg, LCX_F_role, role);
    }
    key_quotas(ctx, body, create, msg, details);
    key_expiry(body, msg, details);
    key_webhook(body, msg, details);
    if (!create && json_object_size(body) == 0)
        problem(details, "nothing to change: send name, quotas, expires_at or webhook_url");
    if (json_array_size(details) > before) lcx_msg_destroy(&msg);
    return msg;
}

long validate_token_ttl(const validate_ctx_t *ctx, json_t *body, json_t *details)
{
    static const char *const token_fields[] = {"ttl_s", NULL};
    size_t before = json_array_size(details);
    check_known_fields(body, token_fields, "", details);
    json_t *value = json_object_get(body, "ttl_s");
    long max = ctx->settings->max_token_ttl_s;
    json_int_t ttl = value ? (json_is_integer(value) ? json_integer_value(value) : -1)
                           : ctx->settings->token_ttl_s;
    if (ttl < 1 || ttl > max) problem(details, "'ttl_s' must be an integer from 1 to %ld", max);
    return json_array_size(details) > before ? -1 : (long)ttl;
}
