"""Black-box tests of tools/langlexgen.py, the build step that compiles the
per-language lexicons (data/lang/<code>.txt) into C:

- a well-formed file becomes a table of its entries, in file order; a
  missing file is an empty table, so the build works without it;
- each malformed line stops it with "PATH:LINE: why" (format of
  data/lang/README.md);
- the committed lexicons pass.

Run by CTest with SRC_DIR in the environment.
"""
import glob
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("SRC_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
GEN = os.path.join(SRC, "tools", "langlexgen.py")

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def gen(d, files):
    """Runs the generator on {code: text or None (missing)}; returns the
    process and the C it wrote."""
    args = []
    for code, text in files.items():
        path = os.path.join(d, code + ".txt")
        if text is not None:
            with open(path, "wb") as f:
                f.write(text.encode("utf-8") if isinstance(text, str) else text)
        args.append("%s=%s" % (code, path))
    out = os.path.join(d, "out.c")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([sys.executable, GEN, out] + args, capture_output=True, timeout=60)
    c = open(out, encoding="utf-8").read() if os.path.exists(out) else ""
    return p, c


def test_good_and_missing():
    good = ("# comment\n@valence\nnul\t-2.5\nd\u00e9\u00e7u\t-2.2  # trailing comment\n"
            "\n@negators\npas\n@repeat\nencore une fois\n@money\nrembours*\n"
            "@strong\nnul\n")
    with tempfile.TemporaryDirectory() as d:
        p, c = gen(d, {"fr": good, "de": None})
        check(p.returncode == 0, "good file: %s" % p.stderr[:300])
        check('{"nul", LANGLEX_VALENCE, -2.5}' in c, "valence entry")
        check('{"d\\303\\251\\303\\247u", LANGLEX_VALENCE, -2.2}' in c, "UTF-8 entry")
        check('{"encore une fois", LANGLEX_REPEAT, 0.0}' in c, "phrase entry")
        check('{"rembours*", LANGLEX_MONEY, 0.0}' in c, "stem entry")
        check(c.index('"nul", LANGLEX_VALENCE') < c.index('"pas", LANGLEX_NEGATORS'), "file order")
        check("[LANG_FR] = {fr_entries, 6}" in c, "six entries: %r" % c[-300:])
        check("[LANG_DE] = {NULL, 0}" in c, "missing file: empty table")


def test_malformed_lines_fail():
    cases = [
        ("@valence\nNul\t-2\n", 2, "lower case"),
        ("@valence\nnul -2\n", 2, "TAB"),
        ("@valence\nnul\t9\n", 2, "outside"),
        ("@valence\nnul\tbad\n", 2, "not a number"),
        ("@valence\nnul\t0\n", 2, "or 0"),
        ("@valence\ntr\u00e8s nul\t-2\n", 2, "single words"),
        ("nul\n", 1, "before any @section"),
        ("@feelings\nnul\n", 1, "unknown section"),
        ("@wait\nj'attends\n", 2, "elided"),
        ("@wait\nj\u2019attends\n", 2, "elided"),
        ("@wait\na b c d e\n", 2, "at most 4 words"),
        ("@wait\nattends  encore\n", 2, "empty word"),
        ("@broken\nab*\n", 2, "at least 4"),
        ("@broken\npan*ne\n", 2, "may only end a word"),
        ("@wait\nwarte* seit\n", 2, "may only end an entry"),
        ("@thanks\nmerci\n@wait\nmerci\n", 4, "already in @thanks at line 2"),
        ("@valence\nnul\t-2\n@negators\nnul\n", 4, "already in @valence"),
        ("@thanks\nmerci\t1\n", 2, "no TAB"),
        ("@thanks\nme\u0301rci\n", 2, "NFC"),
        (b"@thanks\nmerci \xff\n", 2, "not UTF-8"),
    ]
    with tempfile.TemporaryDirectory() as d:
        for text, line, why in cases:
            p, _ = gen(d, {"fr": text})
            err = p.stderr.decode("utf-8", "replace")
            where = "%s:%d: " % (os.path.join(d, "fr.txt"), line)
            check(p.returncode != 0 and where in err and why in err,
                  "%r: expected %r ... %r, got %d %r" % (text, where, why, p.returncode, err))
            check(not os.path.exists(os.path.join(d, "out.c")), "%r: no output" % text)


def test_committed_lexicons_pass():
    files = {os.path.basename(f)[:-4]: open(f, encoding="utf-8").read()
             for f in glob.glob(os.path.join(SRC, "data", "lang", "*.txt"))}
    with tempfile.TemporaryDirectory() as d:
        p, _ = gen(d, files)
        check(p.returncode == 0, "data/lang: %s" % p.stderr[:300])


for t in (test_good_and_missing, test_malformed_lines_fail, test_committed_lexicons_pass):
    t()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
