/* err: the one error type of the project.
 *
 * Every function that can fail returns enum err; ERR_OK is 0 so that
 * `if (rc)` reads "if it failed". Names and messages come from one table. */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#define ERR_MAP(X)                                   \
  X(OK, "success")                                   \
  X(INVALID, "invalid input")                        \
  X(UTF8, "invalid UTF-8")                           \
  X(TOO_BIG, "input exceeds a size limit")           \
  X(TOO_DEEP, "input nested too deeply")             \
  X(NOT_FOUND, "not found")                          \
  X(IO, "input/output error")                        \
  X(STORE, "storage backend failed")                 \
  X(NET, "network error")                            \
  X(UNSUPPORTED, "unsupported")                      \
  X(DUPLICATE, "duplicate")                          \
  X(BUSY, "in use by another process")               \
  X(INTERNAL, "internal error")

/* Marks a function whose result must be looked at: the compiler warns when
 * a call drops it (curl's habit). GCC warns even through a (void) cast, so
 * a call whose failure really does not matter says why in a comment and
 * tests the result with an empty branch. */
#if defined(__GNUC__)
#define WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
#define WARN_UNUSED_RESULT
#endif

enum err {
#define X(name, msg) ERR_##name,
  ERR_MAP(X)
#undef X
};

/* Returns a static human-readable message for rc; never NULL. */
const char *err_str(enum err rc);

/* Returns the static name of rc ("OK", "INVALID", ...); never NULL. */
const char *err_name(enum err rc);

/* Drops a result that may be ignored, as a (void) cast would if GCC
 * honoured one for WARN_UNUSED_RESULT. The call says why ignoring is
 * right there. */
static inline void err_ignore(enum err rc)
{
  (void)rc;
}

#endif
