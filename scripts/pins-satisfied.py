"""Exits 0 when every `name==version` pin in the given requirements files is
installed at that version in this interpreter's environment, 1 otherwise
(used by install-deps.sh to tell whether build/venv is up to date; lines
without `==` are not checked here; of `name[extra]==v` only name is)."""
import sys
from importlib.metadata import PackageNotFoundError, version

bad = []
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" not in line:
                continue
            name, want = (x.strip() for x in line.split("==", 1))
            name = name.split("[", 1)[0].strip()  # ray[data]: the extra's packages are ray's
            try:
                have = version(name)
            except PackageNotFoundError:
                have = None
            if have != want:
                bad.append("%s: want %s, have %s" % (name, want, have))
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
