/*
 * languages: the parser of languages.conf (see languages.h for the format).
 *
 * The parser reads one line at a time and fills the language of the current section. It is
 * strict: every error names origin:line and stops the parse. Besides whole-line comments, a
 * value other than `template` may end in an inline comment that starts with whitespace and ';'
 * (as in the example in languages.h); a template is taken verbatim because code contains ';'.
 */
#include "languages.h"
#include "alloc.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The largest languages.conf we read. */
#define LANGUAGES_MAX_FILE (1024 * 1024)

struct lcx_languages_t {
    lcx_language_t *items;
    size_t count;
    size_t capacity;
};

/* The keys a section may hold. */
typedef enum {
    KEY_NAME,
    KEY_ALIASES,
    KEY_FILE,
    KEY_COMPILE,
    KEY_RUN,
    KEY_VERSION,
    KEY_ENV,
    KEY_TEMPLATE,
    KEY_COUNT
} conf_key_t;

static const char *const key_names[KEY_COUNT] = {
    "name", "aliases", "file", "compile", "run", "version", "env", "template",
};

/* Parser state: where we are and which keys the current section has set. */
typedef struct {
    const char *origin;
    int line;
    char *err;
    size_t errlen;
    lcx_languages_t *langs;
    lcx_language_t *cur; /* language of the open section, or NULL before the first one */
    int section_line;
    int aliases_line;
    unsigned seen; /* bit per conf_key_t */
} parser_t;

/* --------------------------------------------------------------------------------------------
 * Small helpers
 */

/* Writes "origin:line: message" into the error buffer; returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(parser_t *p, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (p->err && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s", p->origin, p->line, message);
    return -1;
}

__attribute__((format(printf, 3, 4))) static void set_error(char *err, size_t errlen,
                                                            const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks at both ends in place; returns the new start. */
static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_blank(s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* Cuts an inline comment: whitespace followed by ';'. */
static void cut_inline_comment(char *s)
{
    for (char *c = s; *c; c++) {
        if (*c == ';' && c > s && is_blank(c[-1])) {
            *c = '\0';
            return;
        }
    }
}

/* Ids and aliases: letters, digits and . _ + - */
static bool valid_name(const char *s)
{
    if (*s == '\0') return false;
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* An id is stored and returned as written, so it is the canonical, lowercase form. */
static bool lowercase(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') return false;
    return true;
}

static void free_strv(char **v)
{
    if (!v) return;
    for (char **s = v; *s; s++)
        free(*s);
    free(v);
}

/* Splits on blanks into a NULL-terminated vector of copies. */
static char **split_words(const char *text)
{
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        if (!is_blank(*c)) cap++;
    char **v = lcx_calloc(cap, sizeof *v);
    size_t n = 0;
    const char *c = text;
    while (*c) {
        while (is_blank(*c))
            c++;
        size_t len = 0;
        while (c[len] && !is_blank(c[len]))
            len++;
        if (len == 0) break;
        v[n++] = lcx_strndup(c, len);
        c += len;
    }
    return v;
}

/* --------------------------------------------------------------------------------------------
 * Languages set
 */

static void language_free(lcx_language_t *lang)
{
    free(lang->id);
    free(lang->name);
    free_strv(lang->aliases);
    free(lang->file);
    free_strv(lang->compile);
    free_strv(lang->run);
    free_strv(lang->version);
    free_strv(lang->env);
    free(lang->template_code);
    memset(lang, 0, sizeof *lang);
}

void lcx_languages_destroy(lcx_languages_t **self_p)
{
    if (!self_p || !*self_p) return;
    lcx_languages_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        language_free(&self->items[i]);
    free(self->items);
    free(self);
    *self_p = NULL;
}

size_t lcx_languages_count(const lcx_languages_t *self)
{
    return self ? self->count : 0;
}

const lcx_language_t *lcx_languages_at(const lcx_languages_t *self, size_t index)
{
    return self && index < self->count ? &self->items[index] : NULL;
}

/* True when `name` is the id or an alias of `lang`, in any case: "Python" and "C++" are
 * what people type. Names are ASCII (valid_name), so strcasecmp needs no locale. */
static bool language_is(const lcx_language_t *lang, const char *name)
{
    if (lang->id && strcasecmp(lang->id, name) == 0) return true;
    for (size_t i = 0; lang->aliases && lang->aliases[i]; i++)
        if (strcasecmp(lang->aliases[i], name) == 0) return true;
    return false;
}

/* The language other than `except` known as `name`, or NULL. */
static const lcx_language_t *find_other(const lcx_languages_t *self, const char *name,
                                        const lcx_language_t *except)
{
    for (size_t i = 0; self && name && i < self->count; i++)
        if (&self->items[i] != except && language_is(&self->items[i], name)) return &self->items[i];
    return NULL;
}

const lcx_language_t *lcx_languages_find(const lcx_languages_t *self, const char *name)
{
    return find_other(self, name, NULL);
}

/* Appends a zeroed language. */
static lcx_language_t *languages_push(lcx_languages_t *self)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 8;
        self->items = lcx_realloc(self->items, capacity * sizeof *self->items);
        self->capacity = capacity;
    }
    lcx_language_t *lang = &self->items[self->count++];
    memset(lang, 0, sizeof *lang);
    return lang;
}

/* --------------------------------------------------------------------------------------------
 * Values
 */

/* Decodes \n \t \\ into a new string. NULL on error with *bad set: the character after the
 * backslash (0 for a backslash at the end). */
static char *unescape(const char *text, int *bad)
{
    char *out = lcx_malloc(strlen(text) + 1);
    char *o = out;
    for (const char *c = text; *c; c++) {
        if (*c != '\\') {
            *o++ = *c;
            continue;
        }
        c++;
        if (*c == 'n' || *c == 't' || *c == '\\') {
            *o++ = *c == 'n' ? '\n' : *c == 't' ? '\t' : '\\';
            continue;
        }
        *bad = (unsigned char)*c;
        free(out);
        return NULL;
    }
    *o = '\0';
    return out;
}

static int set_template(parser_t *p, const char *value)
{
    int bad = 0;
    p->cur->template_code = unescape(value, &bad);
    if (p->cur->template_code) return 0;
    if (bad == 0) return fail(p, "bad escape: backslash at end of template");
    return fail(p, "bad escape '\\%c' in template (only \\n \\t \\\\)", bad);
}

/* A command: words, the first one an absolute path or ./relative to the scratch directory. */
static int set_command(parser_t *p, char ***slot, const char *key, const char *value)
{
    *slot = split_words(value);
    const char *prog = (*slot)[0];
    if (!prog) return fail(p, "empty %s command", key);
    if (prog[0] != '/' && strncmp(prog, "./", 2) != 0)
        return fail(p, "%s program '%s' must be an absolute path or start with ./", key, prog);
    return 0;
}

static int set_env(parser_t *p, const char *value)
{
    p->cur->env = split_words(value);
    for (char **e = p->cur->env; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) return fail(p, "env entry '%s' is not KEY=VALUE", *e);
    }
    return 0;
}

static int set_aliases(parser_t *p, const char *value)
{
    p->cur->aliases = split_words(value);
    for (char **a = p->cur->aliases; *a; a++)
        if (!valid_name(*a)) return fail(p, "invalid alias '%s'", *a);
    p->aliases_line = p->line;
    return 0;
}

static int set_file(parser_t *p, const char *value)
{
    if (!*value || strchr(value, '/') || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
        return fail(p, "file must be a plain file name, not '%s'", value);
    if (strpbrk(value, " \t")) return fail(p, "file name '%s' contains a blank", value);
    p->cur->file = lcx_strdup(value);
    return 0;
}

static int set_name(parser_t *p, const char *value)
{
    if (!*value) return fail(p, "empty name");
    p->cur->name = lcx_strdup(value);
    return 0;
}

static int set_value(parser_t *p, conf_key_t key, const char *value)
{
    lcx_language_t *lang = p->cur;
    switch (key) {
    case KEY_NAME:
        return set_name(p, value);
    case KEY_ALIASES:
        return set_aliases(p, value);
    case KEY_FILE:
        return set_file(p, value);
    case KEY_COMPILE:
        return set_command(p, &lang->compile, "compile", value);
    case KEY_RUN:
        return set_command(p, &lang->run, "run", value);
    case KEY_VERSION:
        return set_command(p, &lang->version, "version", value);
    case KEY_ENV:
        return set_env(p, value);
    case KEY_TEMPLATE:
        return set_template(p, value);
    default:
        return fail(p, "internal error: key %d", (int)key);
    }
}

/* --------------------------------------------------------------------------------------------
 * Sections
 */

/* Checks the aliases of the current section against itself and every other language. */
static int check_aliases(parser_t *p)
{
    char **aliases = p->cur->aliases;
    for (size_t i = 0; aliases && aliases[i]; i++) {
        const lcx_language_t *other = find_other(p->langs, aliases[i], p->cur);
        bool twice = strcasecmp(aliases[i], p->cur->id) == 0;
        for (size_t j = 0; j < i && !twice; j++)
            twice = strcasecmp(aliases[i], aliases[j]) == 0;
        if (other || twice) {
            p->line = p->aliases_line;
            return fail(p, "duplicate id: alias '%s' is already a name of [%s]", aliases[i],
                        other ? other->id : p->cur->id);
        }
    }
    return 0;
}

/* Closes the open section: required keys, defaults, alias clashes. */
static int finish_section(parser_t *p)
{
    lcx_language_t *lang = p->cur;
    if (!lang) return 0;
    int line = p->line;
    p->line = p->section_line;
    if (!lang->file) return fail(p, "section [%s] has no file", lang->id);
    if (!lang->run) return fail(p, "section [%s] has no run", lang->id);
    p->line = line;
    if (!lang->name) lang->name = lcx_strdup(lang->id);
    if (!lang->aliases) lang->aliases = lcx_calloc(1, sizeof(char *));
    if (!lang->env) lang->env = lcx_calloc(1, sizeof(char *));
    if (!lang->template_code) lang->template_code = lcx_strdup("");
    return check_aliases(p);
}

/* "[id]" optionally followed by a comment. */
static int parse_section(parser_t *p, char *line)
{
    char *close = strchr(line, ']');
    if (!close) return fail(p, "malformed section header (no ']')");
    char *rest = trim(close + 1);
    if (*rest && *rest != ';' && *rest != '#')
        return fail(p, "malformed section header (text after ']')");
    *close = '\0';
    char *id = trim(line + 1);
    if (!valid_name(id)) return fail(p, "invalid language id '%s'", id);
    if (!lowercase(id)) return fail(p, "language id '%s' must be lowercase", id);
    if (finish_section(p) != 0) return -1;
    const lcx_language_t *other = lcx_languages_find(p->langs, id);
    if (other && strcasecmp(other->id, id) == 0) return fail(p, "duplicate id '%s'", id);
    if (other) return fail(p, "duplicate id '%s' (an alias of [%s])", id, other->id);
    p->cur = languages_push(p->langs);
    p->cur->id = lcx_strdup(id);
    p->section_line = p->line;
    p->aliases_line = p->line;
    p->seen = 0;
    return 0;
}

static int find_key(const char *name)
{
    for (int k = 0; k < KEY_COUNT; k++)
        if (strcmp(key_names[k], name) == 0) return k;
    return -1;
}

/* "key = value" */
static int parse_assignment(parser_t *p, char *line)
{
    char *eq = strchr(line, '=');
    if (!eq) return fail(p, "malformed line (expected [id], key = value or a comment)");
    *eq = '\0';
    char *name = trim(line);
    if (!*name) return fail(p, "malformed line (no key before '=')");
    int key = find_key(name);
    if (key < 0) return fail(p, "unknown key '%s'", name);
    if (!p->cur) return fail(p, "key '%s' outside a [language] section", name);
    if (p->seen & (1u << key)) return fail(p, "duplicate key '%s' in [%s]", name, p->cur->id);
    p->seen |= 1u << key;
    char *value = eq + 1;
    if (key != KEY_TEMPLATE) cut_inline_comment(value);
    return set_value(p, (conf_key_t)key, trim(value));
}

static int parse_line(parser_t *p, char *line)
{
    line = trim(line);
    if (*line == '\0' || *line == ';' || *line == '#') return 0;
    if (*line == '[') return parse_section(p, line);
    return parse_assignment(p, line);
}

/* --------------------------------------------------------------------------------------------
 * Entry points
 */

lcx_languages_t *lcx_languages_parse(const char *text, const char *origin, char *err, size_t errlen)
{
    parser_t p = {.origin = origin ? origin : "<text>", .err = err, .errlen = errlen};
    p.langs = lcx_calloc(1, sizeof *p.langs);
    if (!text) {
        set_error(err, errlen, "%s: no text", p.origin);
        lcx_languages_destroy(&p.langs);
        return NULL;
    }
    int rc = 0;
    const char *c = text;
    while (rc == 0 && *c) {
        size_t len = strcspn(c, "\n");
        char *line = lcx_strndup(c, len);
        p.line++;
        rc = parse_line(&p, line);
        free(line);
        c += len + (c[len] == '\n');
    }
    if (rc == 0) rc = finish_section(&p);
    if (rc != 0) lcx_languages_destroy(&p.langs);
    return p.langs;
}

/* Reads a whole file into a NUL-terminated buffer; NULL with err set. */
static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *file = fopen(path, "re");
    if (!file) {
        set_error(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    const char *problem = NULL;
    char *text = lcx_malloc(LANGUAGES_MAX_FILE + 1);
    size_t len = fread(text, 1, LANGUAGES_MAX_FILE + 1, file);
    if (ferror(file))
        problem = strerror(errno);
    else if (len > LANGUAGES_MAX_FILE)
        problem = "file too large";
    else if (memchr(text, '\0', len))
        problem = "file contains a NUL byte";
    fclose(file);
    if (problem) {
        set_error(err, errlen, "%s: %s", path, problem);
        free(text);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

lcx_languages_t *lcx_languages_load(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_error(err, errlen, "languages: no file given");
        return NULL;
    }
    char *text = read_file(path, err, errlen);
    if (!text) return NULL;
    lcx_languages_t *self = lcx_languages_parse(text, path, err, errlen);
    free(text);
    return self;
}

char *lcx_languages_default_path(const char *configured, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    if (configured && *configured) {
        snprintf(buf, size, "%s", configured);
        return buf;
    }
    return lcx_etc_path("languages.conf", buf, size);
}
