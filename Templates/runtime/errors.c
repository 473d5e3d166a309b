/* errors.c: the runtime's shared includes, status strings and per-call detail messages. */
/* Everything here is static and prefixed kiln_rt_: the runtime is pasted into each model's .c, so two models
 * linked into one program never clash. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A generated module uses only some of the runtime; the rest must not trip -Wunused-function. */
#if defined(__GNUC__) || defined(__clang__)
#define KILN_RT_MAYBE_UNUSED __attribute__((unused))
#define KILN_RT_PRINTF(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))
#else
#define KILN_RT_MAYBE_UNUSED
#define KILN_RT_PRINTF(format_index, first_arg)
#endif

/* A short English description of a status code; "unknown status code" for any other value. Never NULL. */
KILN_RT_MAYBE_UNUSED static const char *kiln_rt_strerror(int code) {
  switch (code) {
  case KILN_OK: return "success";
  case KILN_ERR_NULL_ARGUMENT: return "a required argument is NULL";
  case KILN_ERR_INVALID_ARGUMENT: return "an argument is out of range";
  case KILN_ERR_BAD_BATCH: return "the batch size must be at least 1";
  case KILN_ERR_BATCH_TOO_LARGE: return "the batch size is larger than the context's maximum";
  case KILN_ERR_IO: return "a file could not be opened or read";
  case KILN_ERR_FORMAT: return "the file is not in the expected format";
  case KILN_ERR_MISSING_TENSOR: return "a tensor the network needs is missing from the file";
  case KILN_ERR_UNEXPECTED_TENSOR: return "the file holds a tensor the network does not have";
  case KILN_ERR_SHAPE_MISMATCH: return "a tensor has the wrong shape";
  case KILN_ERR_DTYPE: return "a tensor has an element type that cannot be loaded as float";
  case KILN_ERR_WRONG_NETWORK: return "the weights file belongs to another network";
  case KILN_ERR_SIZE: return "the file has the wrong size";
  case KILN_ERR_CHECKSUM: return "the weights file's data does not match its checksum";
  case KILN_ERR_OUT_OF_MEMORY: return "out of memory";
  case KILN_ERR_NO_WEIGHTS: return "no weights are loaded";
  default: return "unknown status code";
  }
}

/* Writes a printf-style message into detail (truncated, always NUL-terminated; nothing when detail is NULL
 * or detail_size is 0) and returns code, so that a failing check reads `return kiln_rt_fail(...)`. */
KILN_RT_MAYBE_UNUSED KILN_RT_PRINTF(4, 5) static int kiln_rt_fail(
    char *detail, size_t detail_size, int code, const char *format, ...) {
  if (detail != NULL && detail_size > 0) {
    va_list arguments;
    va_start(arguments, format);
    if (vsnprintf(detail, detail_size, format, arguments) < 0) detail[0] = '\0';
    va_end(arguments);
  }
  return code;
}

/* Clears detail and returns KILN_OK. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_succeed(char *detail, size_t detail_size) {
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  return KILN_OK;
}
