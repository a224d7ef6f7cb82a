/* lang: which language a customer wrote in, from the text alone.
 *
 * The supported languages are the ones the detector has lexicons for; a
 * text in another language is recognised as such when its script or its
 * letters say so (its code, e.g. "pl" or "ru", or "und" when nothing
 * does), so that it is never scored as English by mistake. Everything the
 * identifier needs is compiled in. Pure: no I/O; the tables are static
 * and read-only, so any number of threads may call lang_detect. */
#ifndef LANG_LANG_H
#define LANG_LANG_H

#include <stdbool.h>
#include <stddef.h>

/* The supported languages, in a fixed order (tables are indexed by it). */
#define LANG_MAP(X)                                                            \
  X(EN, "en", "English")                                                       \
  X(FR, "fr", "French")                                                        \
  X(DE, "de", "German")                                                        \
  X(ES, "es", "Spanish")                                                       \
  X(IT, "it", "Italian")                                                       \
  X(NL, "nl", "Dutch")                                                         \
  X(PT, "pt", "Portuguese")

enum lang {
#define X(id, code, name) LANG_##id,
  LANG_MAP(X)
#undef X
      LANG_N,
  LANG_OTHER = LANG_N /* a language the service does not support */
};

/* "en", "fr"... for a supported language; "und" for LANG_OTHER. */
const char *lang_code(enum lang l);

/* "English", "French"... ; "another language" for LANG_OTHER. */
const char *lang_name(enum lang l);

/* The language of an ISO 639-1 code (case-insensitive; a region suffix
 * such as "pt-BR" or "fr_CA" is ignored): LANG_OTHER for a code of an
 * unsupported language, -1 when s is not a language code at all. */
int lang_from_code(const char *s, size_t len);

struct lang_guess {
  enum lang lang;    /* LANG_OTHER when not a supported language */
  char code[4];      /* ISO 639-1 of the guess ("en", "pl"), "und" when
                        unknown; NUL-terminated */
  double confidence; /* 0..1: how sure the guess is */
};

/* Guesses the language of text[0..len) (UTF-8; invalid bytes are read as
 * unknown letters). A text with nothing to go by (empty, digits, emoji
 * only) is guessed English with confidence 0: scoring it as English
 * changes nothing. Allocates nothing; linear in len, bounded work per
 * byte. */
void lang_detect(const char *text, size_t len, struct lang_guess *out);

#endif
