/* log: one-line, leveled log records on a file descriptor (stderr).
 *
 * Each record is "2025-01-31T12:00:00.123Z INFO  text\n", written with a
 * single write(2) so lines from several threads never interleave (records
 * are capped at LOG_LINE_MAX bytes, below PIPE_BUF). The logger holds no
 * global state: whoever logs is handed a struct log. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdbool.h>

#include "base/err.h"

/* Longest record, newline included; longer ones are cut and end in "...". */
#define LOG_LINE_MAX 2048

enum log_level {
  LOG_DEBUG,
  LOG_INFO,
  LOG_WARN,
  LOG_ERROR,
};

struct log {
  enum log_level level; /* records below this level are dropped */
  int fd;               /* where records go; not owned */
};

/* Parses "debug", "info", "warn" or "error" into *out; ERR_INVALID
 * otherwise. */
enum err log_level_parse(const char *name, enum log_level *out);

/* Sets up a logger writing records of at least level to fd. */
void log_init(struct log *lg, enum log_level level, int fd);

/* True when a record of level lvl would be written. */
bool log_enabled(const struct log *lg, enum log_level lvl);

/* Formats and writes one record (the newline is added). Thread-safe. */
void log_write(const struct log *lg, enum log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
