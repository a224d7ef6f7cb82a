/* err: names and messages of enum err, from the ERR_MAP table. */
#include "base/err.h"

const char *err_str(enum err rc)
{
  switch (rc) {
#define X(name, msg) \
  case ERR_##name:   \
    return msg;
    ERR_MAP(X)
#undef X
  }
  return "unknown error";
}

const char *err_name(enum err rc)
{
  switch (rc) {
#define X(name, msg) \
  case ERR_##name:   \
    return #name;
    ERR_MAP(X)
#undef X
  }
  return "UNKNOWN";
}
