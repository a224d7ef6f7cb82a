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

enum err {
#define X(name, msg) ERR_##name,
  ERR_MAP(X)
#undef X
};

/* Returns a static human-readable message for rc; never NULL. */
const char *err_str(enum err rc);

/* Returns the static name of rc ("OK", "INVALID", ...); never NULL. */
const char *err_name(enum err rc);

#endif
