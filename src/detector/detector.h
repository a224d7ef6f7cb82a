/* detector: the support-tuned frustration detector (FRUSTRATION_DETECTOR=
 * model).
 *
 * A logistic regression over hashed word unigrams and bigrams, character
 * 4- and 5-grams within words, and hand-built signals: TextBlob polarity and
 * subjectivity (given by the caller, computed on the raw text), VADER's
 * valence with its rules over its own lexicon, a support-domain phrase
 * lexicon ("still waiting", "third time", "refund", "not working"...),
 * capitals, "!" and "?", negations and length. The text is first cleaned
 * for this detector only: URLs, e-mail addresses, @handles, quoted reply
 * lines, signatures and HTML entities.
 *
 * The caller says the text's language. English is read with VADER's
 * lexicon and support.c's phrases; French, German, Spanish, Italian, Dutch
 * and Portuguese with their own lexicons (data/lang/, compiled in), under
 * the same rules and into the same signals (langread.c); a language
 * without lexicons (LANG_OTHER) only for what does not depend on it:
 * emoji and emoticons, capitals, marks and length, never as English.
 *
 * The result is a score in [0, 1] (the model's probability that the writer
 * is frustrated), the verdict at the model's operating point, and the
 * reasons: the signals that raised the score most, in words a support agent
 * reads ("repeated contact: 'third time'", "shouting (ALL CAPS)").
 *
 * Pure: no I/O, no globals. A detector may be shared by threads: all that
 * changes in it after detector_new is its memo of the words and tokens it
 * has read (6 MiB at most, filled lock-free, never changing a result).
 * Each thread scores into its own result, whose buffers are reused, so
 * scoring allocates nothing once warm.
 *
 * One file per stage of the pipeline: clean.c, tokens.c and words.c (the
 * text read into tokens and words, through the memos of memo.c; for the
 * other languages langread.c and langlex.c), vader.c and support.c (the
 * lexicons), features.c, score.c and reasons.c;
 * detector.c holds the lifetime, model.c the weights, and detector_int.h
 * what the stages share. */
#ifndef DETECTOR_DETECTOR_H
#define DETECTOR_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/jsonw.h"
#include "lang/lang.h"

/* Bumped whenever feature extraction changes: a model trained for another
 * version is refused, since its weights would mean something else. */
#define DETECTOR_FEATURE_VERSION 4

/* Hashed feature space: 2^bits weights. */
#define DETECTOR_MIN_HASH_BITS 10
#define DETECTOR_MAX_HASH_BITS 24

/* At most this many reasons per message, each at most DETECTOR_REASON_MAX
 * bytes (NUL included; quoted words are shortened to fit). */
#define DETECTOR_MAX_REASONS 5
#define DETECTOR_REASON_MAX 160

/* Longer texts are scored on their first DETECTOR_MAX_TEXT bytes (cut at a
 * character boundary): 64 KiB, the service's default body limit and far
 * beyond a customer message; it bounds the result's scratch space. */
#define DETECTOR_MAX_TEXT ((size_t)64 << 10)

/* The hand-built signals, in model order: name (for trainers and
 * debugging). */
#define DETECTOR_DENSE_MAP(X)                                                  \
  X(POLARITY, "TextBlob polarity")                                             \
  X(POLARITY_NEG, "TextBlob polarity below 0")                                 \
  X(POL_VNEG, "TextBlob polarity <= -0.5")                                     \
  X(POL_NEG, "TextBlob polarity in (-0.5, -0.1]")                              \
  X(POL_NEU, "TextBlob polarity in (-0.1, 0.1)")                               \
  X(POL_POS, "TextBlob polarity in [0.1, 0.5)")                                \
  X(SUBJECTIVITY, "TextBlob subjectivity")                                     \
  X(VADER_COMPOUND, "VADER compound")                                          \
  X(VADER_NEG, "VADER negative share")                                         \
  X(VADER_POS, "VADER positive share")                                         \
  X(VADER_VNEG, "VADER compound <= -0.5")                                      \
  X(VADER_NEG_CUT, "VADER compound in (-0.5, -0.05]")                          \
  X(VADER_NEU, "VADER compound in (-0.05, 0.05)")                              \
  X(VADER_POS_CUT, "VADER compound in [0.05, 0.5)")                            \
  X(VADER_MIN, "VADER most negative word")                                     \
  X(VADER_NEG_WORDS, "VADER negative words")                                   \
  X(VADER_POS_WORDS, "VADER positive words")                                   \
  X(SUP_REPEAT, "support: repeated contact")                                   \
  X(SUP_WAIT, "support: waiting, no answer")                                   \
  X(SUP_BROKEN, "support: not working")                                        \
  X(SUP_MONEY, "support: refund, charges, cancellation")                       \
  X(SUP_ESCALATE, "support: escalation, leaving")                              \
  X(SUP_STRONG, "support: strong complaint")                                   \
  X(SUP_THANKS, "support: thanks, resolved")                                   \
  X(SUP_SERVICE, "support: a service named (order, account, booking)")         \
  X(SUP_ANY, "support: any complaint phrase")                                  \
  X(CAPS_RATIO, "capital letters share")                                       \
  X(SHOUTING, "ALL CAPS words")                                                \
  X(EXCLAIM, "exclamation marks")                                              \
  X(EXCLAIM_MULTI, "!! or more")                                               \
  X(QUESTION, "question marks")                                                \
  X(QUESTION_MULTI, "?? or ?!")                                                \
  X(NEGATIONS, "negations")                                                    \
  X(LEN_TINY, "1-3 words")                                                     \
  X(LEN_SHORT, "4-8 words")                                                    \
  X(LEN_MEDIUM, "9-16 words")                                                  \
  X(LEN_LONG, "17-32 words")                                                   \
  X(LEN_HUGE, "33+ words")                                                     \
  X(LANG_OTHER, "language without lexicons")                                   \
  X(ADDRESSED, "addressed to an @handle")

enum detector_dense {
#define X(name, desc) DETECTOR_DENSE_##name,
  DETECTOR_DENSE_MAP(X)
#undef X
      DETECTOR_N_DENSE
};

/* Static description of signal i (< DETECTOR_N_DENSE); never NULL. */
const char *detector_dense_name(size_t i);

/* ---- Model: the weights ------------------------------------------------ */

/* A trained model: plain data. score = sigmoid(bias + sum of dense_w[i] *
 * (x[i] - dense_mean[i]) + sum of hashed values times hash_w). Frustrated
 * when score >= threshold. */
struct detector_model {
  uint32_t feature_version; /* DETECTOR_FEATURE_VERSION it was trained for */
  uint32_t hash_bits;       /* hash_w has 1 << hash_bits weights */
  float bias;
  float threshold; /* operating point, in (0, 1) */
  float dense_w[DETECTOR_N_DENSE];
  float dense_mean[DETECTOR_N_DENSE];
  float *hash_w;     /* owned */
  char sources[512]; /* comma-separated "source" values trained on */
};

/* A zeroed model (threshold 0.5) of 2^hash_bits hashed weights, for
 * trainers. Returns NULL when hash_bits is out of range. Caller frees with
 * detector_model_free. */
struct detector_model *detector_model_new(uint32_t hash_bits);
void detector_model_free(struct detector_model *m); /* NULL is fine */

/* Decodes a model file (the bytes of data/model/frustration-model.bin or of
 * one made by fa-train). ERR_INVALID when it is not one, ERR_UNSUPPORTED
 * when it was made for another feature version. Sets *out; caller frees. */
enum err detector_model_parse(const void *data, size_t len,
                              struct detector_model **out);

/* Decodes the model compiled into the binary. ERR_NOT_FOUND when the
 * binary was built without one. Sets *out; caller frees. */
enum err detector_model_builtin(struct detector_model **out);

/* Appends the file form of m to out (little-endian, portable). */
enum err detector_model_serialize(const struct detector_model *m,
                                  struct buf *out);

/* Was m trained on records whose source is source? (Records of those
 * sources outside the held-out split must not be used to evaluate it.) */
bool detector_model_trained_on(const struct detector_model *m,
                               const char *source);

/* ---- Detector: scoring ------------------------------------------------- */

struct detector; /* opaque */

/* Builds a detector (lexicons indexed, weights copied: m may be freed
 * afterwards). ERR_UNSUPPORTED for a model of another feature version,
 * ERR_INTERNAL when a compiled-in lexicon is missing. Sets *out; release
 * with detector_free. */
enum err detector_new(const struct detector_model *m, struct detector **out);

/* detector_new for batch scoring (score, eval): its memos (6 MiB) in huge
 * pages where the system has them, a few percent faster, but resident a
 * huge page at a time (the service, with its memory budget, uses
 * detector_new, whose pages come as they are used). */
enum err detector_new_batch(const struct detector_model *m,
                            struct detector **out);
void detector_free(struct detector *d); /* NULL is fine */

/* The operating point of the detector's model. */
double detector_threshold(const struct detector *d);

struct detector_reason {
  const char *text; /* e.g. "negative words: 'terrible', 'worst'"; borrowed
                       from the result until its next use */
  double weight;    /* how much it raised the log-odds, > 0; 0 for the
                       note that the language is not supported */
  bool plain;       /* text has no byte that JSON escapes (when false, it
                       may have one) */
};

/* The extracted features, exposed for trainers (fa-train learns on exactly
 * what scoring computes). The hashed ones are filled only when the result's
 * keep_features is set. Valid until the result's next use. */
struct detector_features {
  const uint32_t *idx; /* bucket of each hashed feature, < 2^hash_bits */
  const float *val;    /* its signed value */
  size_t n;
  double dense[DETECTOR_N_DENSE];
};

struct detector_result {
  double score;     /* 0..1 */
  bool frustrated;  /* score >= the model's threshold */
  double threshold; /* that threshold */
  struct detector_reason reasons[DETECTOR_MAX_REASONS]; /* strongest first */
  size_t n_reasons;
  struct detector_features features;
  bool shouting;      /* capitals that shout: a word in capitals of five
                         letters or more, or three in a row, not acronyms,
                         codes or redaction masks ("SFO-PDX", "XXXX") */
  bool keep_features; /* set by trainers: fill features.idx/val/n */
  bool skip_reasons;  /* set by callers that show no reasons: n_reasons
                         stays 0, and scoring is a little cheaper */
  void *priv;         /* scratch owned by the result */
};

void detector_result_init(struct detector_result *r);
void detector_result_cleanup(struct detector_result *r);

/* Scores text[0..len) (UTF-8), written in language lang (LANG_OTHER for
 * a language without lexicons), with the TextBlob polarity and
 * subjectivity of the same raw text (0 where the language has no TextBlob
 * lexicon), filling r. ERR_UTF8 on invalid UTF-8 (r then holds a score of
 * 0 and no reasons). Thread-safe when each thread has its own r. */
enum err detector_score(const struct detector *d, const char *text, size_t len,
                        enum lang lang, double polarity, double subjectivity,
                        struct detector_result *r);

/* detector_score for a text the caller already knows is valid UTF-8 (the
 * check is skipped; anything else is undefined). */
void detector_score_valid(const struct detector *d, const char *text,
                          size_t len, enum lang lang, double polarity,
                          double subjectivity, struct detector_result *r);

/* Writes "frustration": {"score", "threshold", "frustrated", "reasons":
 * [{"text", "weight"}...]} as a key/value pair into the object open in w. */
void detector_write_json(const struct detector_result *r, struct jsonw *w);

/* ---- Cleaning ---------------------------------------------------------- */

/* Writes into out (room for len bytes) the text as the detector reads it:
 * quoted reply lines ("> ...") and pasted code and logs (fenced blocks,
 * indented code after a line ending in ':' or a blank line, lines opening
 * with an ISO date and time with seconds) dropped; the text ends at a
 * signature ("-- ",
 * "Sent from my iPhone", "Get Outlook for ...") and at the quoted or
 * forwarded part of a mail (an attribution line "On <date>, <who> wrote:"
 * in seven languages, also wrapped, a "-----Original Message-----" rule,
 * a "From:"/"Sent:" header block); URLs and e-mail
 * addresses removed, @handles, [NAME]-style masks, redaction masks ("XXXX",
 * "XX/XX/XXXX") and simple tags ("<p>", "</div>") replaced by a space;
 * a text holding HTML markup is first read as the text a reader sees,
 * down to a mail client's quoted part (see clean.c);
 * HTML entities (&amp;, &#39;...) decoded. Never longer than the input; valid
 * UTF-8 in, valid UTF-8 out. Returns the length written. */
size_t detector_clean(const char *text, size_t len, char *out);

/* The writer's own words in text[0..len): the lines detector_clean keeps,
 * as they are (without the quoted or forwarded mail, the signature, the
 * "> " quotes and pasted code or logs). What the model's language and
 * polarity are read from; the original rule's polarity reads the whole
 * text. Returns text when they are text[0..*n) (nearly always: one line
 * is all the writer's, and so is a text none of whose lines is kept),
 * else scratch's bytes, *n of them. */
const char *detector_own_words(const char *text, size_t len,
                               struct buf *scratch, size_t *n);

/* A quick scan: true when detector_clean would return text unchanged (one
 * line with nothing to remove or decode), so that scoring may read the
 * text in place. False means it may change it. */
bool detector_clean_keeps(const char *text, size_t len);

/* Does text start, after white space and an optional '.', with an @handle
 * that detector_clean removes ("@acme ...", ".@acme ...")? What cleaning
 * leaves of a post written to someone in public. */
bool detector_starts_with_handle(const char *text, size_t len);

/* ---- Data splits ------------------------------------------------------- */

/* Records are cut into this many folds for cross-fitting. */
#define DETECTOR_FOLDS 5

/* The documented, deterministic split of a labeled record: -1 when it is
 * held out (its meta.orig_split is "dev" or "test", GoEmotions' own
 * evaluation splits: never used by training), else its fold, 0 to
 * DETECTOR_FOLDS - 1: the FNV-1a 64 hash of its text modulo DETECTOR_FOLDS.
 * orig_split may be NULL. */
int detector_fold_of(const char *text, size_t len, const char *orig_split);

#endif
