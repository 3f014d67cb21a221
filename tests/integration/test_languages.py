"""GET /languages and a hello world in every language (templates and our own programs)."""

from harness import (Checker, check_execution_shape, check_keys, describe, expect, expect_error,
                     expect_status, short, timeout)

REQUIRED = ("python", "javascript", "java", "c", "cpp", "bash")
# Inferred: `compiled` is true exactly for the languages with a compile step.
COMPILED = {"python": False, "javascript": False, "java": True, "c": True, "cpp": True,
            "bash": False}

HELLO = "Hello, World!\n"

# Our own programs, different from the templates. Java's file is assumed to be Main.java
# (inferred: the class must be named Main, as in Judge0 and Piston).
CUSTOM = {
    "python": "import sys\nparts = ['Hello', 'World!']\nsys.stdout.write(', '.join(parts) + '\\n')\n",
    "javascript": "const parts = ['Hello', 'World!'];\nprocess.stdout.write(parts.join(', ') + '\\n');\n",
    "java": ("public class Main {\n"
             "    public static void main(String[] args) {\n"
             "        StringBuilder sb = new StringBuilder(\"Hello, \");\n"
             "        sb.append(\"World!\");\n"
             "        System.out.println(sb);\n"
             "    }\n"
             "}\n"),
    "c": "#include <stdio.h>\nint main(void) {\n    printf(\"%s, %s!\\n\", \"Hello\", \"World\");\n    return 0;\n}\n",
    "cpp": ("#include <iostream>\n#include <string>\n"
            "int main() {\n    std::string w = \"World\";\n"
            "    std::cout << \"Hello, \" << w << \"!\" << std::endl;\n    return 0;\n}\n"),
    "bash": "w=World\necho \"Hello, ${w}!\"\n",
}


def test_languages_list(stack):
    r = stack.get("/languages")
    expect_status(r, 200, "GET /languages")
    expect(isinstance(r.body, list), "GET /languages is not a list: %s" % short(r.body))
    ck = Checker()
    ids = []
    for l in r.body:
        # Extra fields (e.g. aliases) are allowed here: the five named ones are required.
        ck.run("language entry", check_keys, l, ("id", "name", "version", "compiled", "template"),
               "language %s" % (l.get("id") if isinstance(l, dict) else l), exact=False)
        if not isinstance(l, dict):
            continue
        ids.append(l.get("id"))
        for k in ("id", "name", "version", "template"):
            ck.check(isinstance(l.get(k), str) and l.get(k) != "",
                     "language %s: %s is %r, expected a non-empty string"
                     % (l.get("id"), k, l.get(k)))
        ck.check(isinstance(l.get("compiled"), bool),
                 "language %s: compiled is %r" % (l.get("id"), l.get("compiled")))
        if l.get("id") in COMPILED:
            ck.check(l.get("compiled") == COMPILED[l["id"]],
                     "language %s: compiled is %r, expected %r (inferred)"
                     % (l["id"], l.get("compiled"), COMPILED[l["id"]]))
    for need in REQUIRED:
        ck.check(need in ids, "GET /languages lacks %s (has %s)" % (need, ids))
    ck.check(len(ids) == len(set(ids)), "duplicate ids in GET /languages: %s" % ids)
    ck.check("c++" not in ids, "c++ is an alias of cpp, not its own entry: %s" % ids)
    ck.done()


@timeout(240)
def test_hello_world_every_language(stack):
    """Every language's template and a custom program print Hello, World!. Starts all runs,
    then waits for each (the queue holds what the 2 slots cannot take yet)."""
    langs = {l["id"]: l for l in stack.get("/languages").body}
    runs = []  # (label, execution id)
    ck = Checker()
    for lang in REQUIRED:
        if lang not in langs:
            ck.check(False, "%s is not in GET /languages" % lang)
            continue
        s = ck.run("create %s template session" % lang, stack.create_session, lang)
        if s is None:
            continue
        ck.check(s["source_code"] == langs[lang]["template"],
                 "%s session source is not the template from GET /languages" % lang)
        eid = ck.run("run %s template" % lang, stack.start_run, s["session_id"])
        if eid:
            runs.append(("%s template" % lang, eid, lang))
        s = ck.run("create %s custom session" % lang, stack.create_session, lang, CUSTOM[lang])
        if s is None:
            continue
        eid = ck.run("run %s custom" % lang, stack.start_run, s["session_id"])
        if eid:
            runs.append(("%s custom" % lang, eid, lang))
    # The alias c++, with a custom program.
    s = ck.run("create c++ session", stack.create_session, "c++", CUSTOM["cpp"])
    if s is not None:
        eid = ck.run("run c++ custom", stack.start_run, s["session_id"])
        if eid:
            runs.append(("c++ (alias) custom", eid, "cpp"))
    for label, eid, lang in runs:
        e = ck.run("wait %s" % label, stack.wait_execution, eid, 150)
        if e is None:
            continue
        ck.run("%s shape" % label, check_execution_shape, e, label)
        ck.check(e.get("status") == "COMPLETED" and e.get("stdout") == HELLO,
                 "%s: %s" % (label, describe(e)))
        ck.check(e.get("language") == lang, "%s: execution.language %r, expected %r"
                 % (label, e.get("language"), lang))
        if e.get("status") == "COMPLETED":
            ck.check(e.get("exit_code") == 0 and e.get("signal") is None
                     and e.get("reason") is None,
                     "%s COMPLETED but exit_code/signal/reason = %r/%r/%r"
                     % (label, e.get("exit_code"), e.get("signal"), e.get("reason")))
            ck.check(e.get("stderr") in ("", None), "%s wrote to stderr: %r"
                     % (label, e.get("stderr")))
    ck.done()


def test_language_names_match_in_any_case(stack):
    """"Python", "C++", "BASH": ids and aliases match case-insensitively; what is stored and
    returned is the canonical lowercase id."""
    ck = Checker()
    for given, canonical in (("Python", "python"), ("C++", "cpp"), ("PY", "python"),
                             ("JavaScript", "javascript"), ("bash", "bash")):
        r = stack.post("/code-sessions", json={"language": given})
        ck.check(r.status == 201 and r.body.get("language") == canonical,
                 "POST language %r: %r" % (given, r))
        if r.status != 201:
            continue
        sid = r.body["session_id"]
        p = stack.patch("/code-sessions/%s" % sid, json={"language": given.upper()})
        ck.check(p.status == 200 and p.body.get("language") == canonical,
                 "PATCH language %r: %r" % (given.upper(), p))
        g = stack.get("/code-sessions/%s" % sid)
        ck.check(g.body.get("language") == canonical, "GET after %r: %r" % (given, g))
    ck.done()


def test_unknown_field_lists_allowed_in_one_detail(stack):
    s = stack.create_session()
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={"colour": 1})
    expect_error(r, 400, "run with an unknown field")
    lists = [d for d in r.body["details"] if d.startswith("allowed fields: ")]
    expect(len(lists) == 1 and "stdin" in lists[0] and "source_code" in lists[0],
           "no single 'allowed fields: ...' detail: %s" % short(r.body))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={"limits": {"cpu": 1}})
    expect_error(r, 400, "run with an unknown limit")
    expect(any(d == "allowed fields in 'limits': time_ms, memory_mb" for d in r.body["details"]),
           "limits: %s" % short(r.body))
