"""TextBlob itself, the peer every benchmark compares against.

    from textblob_peer import analyzer, NAME
    polarity, subjectivity = analyzer(text)   # TextBlob(text).sentiment

TextBlob is imported as Python finds it: installed (`pip install textblob`;
it needs NLTK, Debian's python3-nltk), on PYTHONPATH, or from the folder
named by TEXTBLOB_PATH (a folder holding the `textblob` package, such as a
checkout's `src`). Nothing is emulated: when TextBlob cannot be imported,
importing this module says so and exits with status 3, and the benchmark
stops.
"""
import os
import sys

_path = os.environ.get("TEXTBLOB_PATH")
if _path:
    sys.path.insert(0, _path)
try:
    import textblob as _textblob
    from textblob import TextBlob
except ImportError as e:
    sys.stderr.write(
        "bench: TextBlob, the peer, cannot be imported (%s).\n"
        "bench: install it (pip install textblob; it needs python3-nltk), or\n"
        "bench: set TEXTBLOB_PATH to a folder holding the textblob package.\n"
        % e)
    sys.exit(3)


def analyzer(text):
    s = TextBlob(text).sentiment
    return s.polarity, s.subjectivity


NAME = "TextBlob (%s)" % os.path.dirname(os.path.abspath(_textblob.__file__))


if __name__ == "__main__":
    # `python3 textblob_peer.py`: says which TextBlob the benchmarks use.
    print(NAME)
