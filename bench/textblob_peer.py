"""The Python peer the benchmarks compare against.

TextBlob itself when it can be imported; otherwise Debian's python3-pattern
Sentiment, built the way textblob.en builds its English analyzer (same
lexicon file, negations, modifiers, derived "-ly" adverbs), without importing
pattern.en (which wants WordNet downloads).

    from textblob_peer import analyzer, NAME
    polarity, subjectivity = analyzer(text)
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
