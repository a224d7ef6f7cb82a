"""The Python peer the benchmarks compare against.

TextBlob itself when it can be imported; otherwise Debian's python3-pattern
Sentiment, built the way textblob.en builds its English analyzer (same
lexicon file, negations, modifiers, derived "-ly" adverbs), without importing
pattern.en (which wants WordNet downloads).

    from textblob_peer import analyzer, NAME
    polarity, subjectivity = analyzer(text)

`call_analyzer` / `CALL_NAME`: the same, plus the work TextBlob does around
its analyzer on every `TextBlob(text).sentiment` (read in sloria/TextBlob:
BaseBlob.__init__ lower-cases the text and strips all punctuation with a
regular expression; PatternAnalyzer.analyze builds its `Sentiment`
namedtuple type anew on each call, about 60 microseconds here). With
TextBlob itself they are the plain ones. The benchmarks use the plain
analyzer unless BENCH_PEER=textblob-call: the lower bound of TextBlob's
cost, not its whole.
"""
import os
import sys

NAME = None
analyzer = None

try:
    from textblob import TextBlob  # noqa: F401

    def analyzer(text):
        s = TextBlob(text).sentiment
        return s.polarity, s.subjectivity

    NAME = "textblob"
    call_analyzer, CALL_NAME = analyzer, NAME
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    from pattern.text import Sentiment as _Sentiment
    from pattern.text import find_tokens
    import pattern.text as _pt

    class _EnglishSentiment(_Sentiment):
        def load(self, path=None):
            _Sentiment.load(self, path)
            # textblob.en: map "terrible" to the adverb "terribly".
            if not path:
                for w, pos in list(dict.items(self)):
                    if "JJ" in pos:
                        if w.endswith("y"):
                            w = w[:-1] + "i"
                        if w.endswith("le"):
                            w = w[:-2]
                        p, s, i = pos["JJ"]
                        self.annotate(w + "ly", "RB", p, s, i)

    _sentiment = _EnglishSentiment(
        path=os.path.join(os.path.dirname(_pt.__file__), "en", "en-sentiment.xml"),
        synset="wordnet_id",
        negations=("no", "not", "n't", "never"),
        modifiers=("RB",),
        modifier=lambda w: w.endswith("ly"),
        tokenizer=find_tokens,
        language="en",
    )

    def analyzer(text):
        p, s = _sentiment(text)
        return p, s

    NAME = "python3-pattern"

    import re as _re
    import string as _string
    from collections import namedtuple as _namedtuple

    _punctuation = _re.compile("[%s]" % _re.escape(_string.punctuation))

    def call_analyzer(text):
        # TextBlob(text): the blob keeps a lower-cased, punctuation-free copy.
        _punctuation.sub("", text.lower().strip())
        # .sentiment: a fresh namedtuple type for each answer.
        result = _namedtuple("Sentiment", ["polarity", "subjectivity"])
        return result(*analyzer(text))

    CALL_NAME = "pattern+TextBlob calls"
