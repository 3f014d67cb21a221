/* render: protocol records to API JSON (see render.h). */
#include "render.h"
#include "alloc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

json_t *render_time(const lcx_int_t *epoch_ms)
{
    if (!epoch_ms->set) return json_null();
    char text[32];
    lcx_format_time(epoch_ms->v, text, sizeof text);
    return json_string(text);
}

static json_t *render_int(const lcx_int_t *value)
{
    return value->set ? json_integer(value->v) : json_null();
}

static json_t *render_bool(const lcx_int_t *value)
{
    return value->set ? json_boolean(value->v) : json_null();
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 when it is not valid. */
static size_t utf8_sequence(const unsigned char *p, size_t left)
{
    size_t n;
    unsigned min;
    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xe0) == 0xc0)
        n = 2, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        n = 3, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > left) return 0;
    unsigned cp = p[0] & (0xff >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* Output text as a JSON string, invalid bytes replaced with U+FFFD (and NUL kept). */
json_t *render_text(const lcx_buf_t *buf)
{
    if (!buf->ptr) return json_null();
    const unsigned char *p = (const unsigned char *)buf->ptr;
    char *clean = lcx_malloc(buf->len * 3 + 1);
    size_t out = 0;
    for (size_t i = 0; i < buf->len;) {
        size_t n = utf8_sequence(p + i, buf->len - i);
        if (n == 0) {
            memcpy(clean + out, "\xef\xbf\xbd", 3);
            out += 3;
            i++;
            continue;
        }
        memcpy(clean + out, p + i, n);
        out += n;
        i += n;
    }
    json_t *text = json_stringn_nocheck(clean, out);
    free(clean);
    return text;
}

static json_t *render_str(const lcx_buf_t *buf)
{
    return buf->ptr ? json_stringn(buf->ptr, buf->len) : json_null();
}

json_t *render_session(const lcx_msg_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "session_id", render_str(&s->session_id));
    json_object_set_new(o, "status", render_str(&s->status));
    json_object_set_new(o, "language", render_str(&s->language));
    json_object_set_new(o, "source_code", render_str(&s->source_code));
    json_object_set_new(o, "version", render_int(&s->version));
    json_object_set_new(o, "created_at", render_time(&s->created_at));
    json_object_set_new(o, "updated_at", render_time(&s->updated_at));
    return o;
}

json_t *render_session_saved(const lcx_msg_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "session_id", render_str(&s->session_id));
    json_object_set_new(o, "status", render_str(&s->status));
    json_object_set_new(o, "language", render_str(&s->language));
    json_object_set_new(o, "version", render_int(&s->version));
    json_object_set_new(o, "updated_at", render_time(&s->updated_at));
    return o;
}

json_t *render_execution_summary(const lcx_msg_t *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "execution_id", render_str(&e->execution_id));
    json_object_set_new(o, "session_id", render_str(&e->session_id));
    json_object_set_new(o, "language", render_str(&e->language));
    json_object_set_new(o, "status", render_str(&e->status));
    json_object_set_new(o, "reason", render_str(&e->reason));
    json_object_set_new(o, "exit_code", render_int(&e->exit_code));
    json_object_set_new(o, "signal", render_int(&e->signal));
    json_object_set_new(o, "execution_time_ms", render_int(&e->execution_time_ms));
    json_object_set_new(o, "cpu_time_ms", render_int(&e->cpu_time_ms));
    json_object_set_new(o, "memory_kb", render_int(&e->memory_kb));
    json_object_set_new(o, "stdout_truncated", render_bool(&e->stdout_truncated));
    json_object_set_new(o, "stderr_truncated", render_bool(&e->stderr_truncated));
    json_object_set_new(o, "attempts", render_int(&e->attempts));
    json_object_set_new(o, "queued_at", render_time(&e->queued_at));
    json_object_set_new(o, "started_at", render_time(&e->started_at));
    json_object_set_new(o, "finished_at", render_time(&e->finished_at));
    json_object_set_new(o, "sandbox", render_str(&e->sandbox));
    json_object_set_new(o, "source_version", render_int(&e->source_version));
    return o;
}

json_t *render_execution(const lcx_msg_t *e)
{
    json_t *o = render_execution_summary(e);
    json_object_set_new(o, "stdout", render_text(&e->stdout));
    json_object_set_new(o, "stderr", render_text(&e->stderr));
    json_object_set_new(o, "compile_output", render_text(&e->compile_output));
    return o;
}

json_t *render_executions(const lcx_msg_t *list)
{
    json_t *array = json_array();
    for (size_t i = 0; i < list->items.n; i++)
        json_array_append_new(array, render_execution_summary(list->items.v[i]));
    return array;
}

/* The version a runner advertised for id ("id=version" entries), or NULL. */
static const char *advertised_version(const lcx_msg_t *health, const char *id)
{
    if (!health) return NULL;
    size_t len = strlen(id);
    for (size_t i = 0; i < health->versions.n; i++) {
        const char *entry = health->versions.v[i];
        if (strncmp(entry, id, len) == 0 && entry[len] == '=') return entry + len + 1;
    }
    return NULL;
}

static bool served(const lcx_msg_t *health, const char *id)
{
    for (size_t i = 0; health && i < health->languages.n; i++)
        if (strcmp(health->languages.v[i], id) == 0) return true;
    return false;
}

json_t *render_languages(const lcx_languages_t *languages, const lcx_msg_t *health)
{
    json_t *array = json_array();
    for (size_t i = 0; i < lcx_languages_count(languages); i++) {
        const lcx_language_t *lang = lcx_languages_at(languages, i);
        const char *version = advertised_version(health, lang->id);
        json_t *aliases = json_array();
        for (char **a = lang->aliases; a && *a; a++)
            json_array_append_new(aliases, json_string(*a));
        json_array_append_new(
            array, json_pack("{s:s, s:s, s:o, s:b, s:s, s:o, s:b}", "id", lang->id, "name",
                             lang->name, "version", version ? json_string(version) : json_null(),
                             "compiled", lang->compile != NULL, "template", lang->template_code,
                             "aliases", aliases, "available", served(health, lang->id)));
    }
    return array;
}

json_t *render_runner(const lcx_msg_t *r)
{
    json_t *langs = json_array();
    for (size_t i = 0; i < r->languages.n; i++)
        json_array_append_new(langs, json_string(r->languages.v[i]));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "runner_id", render_str(&r->runner_id),
                     "slots", render_int(&r->slots), "free_slots", render_int(&r->free_slots),
                     "draining", render_bool(&r->draining), "languages", langs, "sandbox",
                     render_str(&r->sandbox));
}

json_t *render_key(const lcx_msg_t *k)
{
    json_t *quotas =
        json_pack("{s:o, s:o, s:o, s:o}", "runs_per_minute", render_int(&k->runs_per_minute),
                  "concurrent_runs", render_int(&k->concurrent_runs), "max_time_ms",
                  render_int(&k->max_time_ms), "max_memory_mb", render_int(&k->max_memory_mb));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "key_id",
                     render_str(&k->key_id), "name", render_str(&k->name), "role",
                     render_str(&k->role), "quotas", quotas, "created_at",
                     render_time(&k->created_at), "expires_at", render_time(&k->expires_at),
                     "revoked_at", render_time(&k->revoked_at), "last_used_at",
                     render_time(&k->last_used_at), "webhook_url", render_str(&k->webhook_url));
}

json_t *render_keys(const lcx_msg_t *keys)
{
    json_t *list = json_array();
    for (size_t i = 0; i < keys->items.n; i++)
        json_array_append_new(list, render_key(keys->items.v[i]));
    return list;
}
