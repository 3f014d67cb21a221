"""The documentation keeps up with the code: every setting is in the README's table."""
import os
import re

from harness import expect

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_readme_lists_every_setting(stack):
    names = re.findall(r"^X\((\w+),", _read("services/common/settings.def"), re.M)
    readme = _read("README.md")
    missing = [n for n in names if "`LCX_%s`" % n.upper() not in readme]
    expect(names, "no settings found in settings.def")
    expect(not missing, "README.md's configuration table lacks: %s" % ", ".join(missing))
