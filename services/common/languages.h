/*
 * languages: the language definitions file (languages.conf), the one place a language is
 * described. INI-style:
 *
 *   [python]                      ; id, as clients name it
 *   name     = Python
 *   aliases  = py python3         ; other names accepted for this id
 *   file     = main.py            ; the source file's name in the scratch directory
 *   compile  = /usr/bin/gcc ...   ; optional; argv split on spaces, no shell
 *   run      = /usr/bin/python3 main.py
 *   version  = /usr/bin/python3 --version
 *   env      = PATH=/usr/bin:/bin LANG=C.UTF-8   ; the whole environment of the program
 *   template = print("Hello, World!")\n          ; \n \t \\ escapes
 *
 * Ids are lowercase; ids and aliases match case-insensitively, so two names that differ only
 * in case are duplicates. Lines starting with ';' or '#' are comments. Unknown keys, duplicate
 * ids, a section without `file` or `run` and malformed lines are errors naming the line.
 */
#ifndef LCX_LANGUAGES_H
#define LCX_LANGUAGES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *id;
    char *name;
    char **aliases; /* NULL-terminated */
    char *file;
    char **compile; /* NULL-terminated argv, or NULL when the language is interpreted */
    char **run;     /* NULL-terminated argv */
    char **version; /* NULL-terminated argv, or NULL */
    char **env;     /* NULL-terminated KEY=VALUE list (may be empty) */
    char *template_code;
} lcx_language_t;

typedef struct lcx_languages_t lcx_languages_t;

/* Loads a file; NULL with a message in err on any error. */
lcx_languages_t *lcx_languages_load(const char *path, char *err, size_t errlen);
/* Parses text (for tests and embedding); `origin` names it in errors. */
lcx_languages_t *lcx_languages_parse(const char *text, const char *origin, char *err,
                                     size_t errlen);
void lcx_languages_destroy(lcx_languages_t **self_p);

size_t lcx_languages_count(const lcx_languages_t *self);
const lcx_language_t *lcx_languages_at(const lcx_languages_t *self, size_t index);
/* By id or alias, case-insensitive ("Python", "C++"); NULL when unknown. The language's id is
 * the canonical name to store and return. */
const lcx_language_t *lcx_languages_find(const lcx_languages_t *self, const char *name);

/* The default path: LCX_LANGUAGES/--languages if set, else etc/languages.conf beside the
 * directory of the running binary (build/bin/../etc). Writes into buf; returns buf. */
char *lcx_languages_default_path(const char *configured, char *buf, size_t size);

#endif
