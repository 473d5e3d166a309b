/* safetensors_save.c: kiln_rt_save_safetensors, writing float tensors and metadata as safetensors, atomically. */
/* Only training modules paste it (a checkpoint is written by <name>_save). The file appears whole or not at all:
 * the bytes go to `<path>.tmp`, which is flushed to disk and then renamed over path. */
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define KILN_RT_HAVE_FSYNC 1
#endif

/* A growing text buffer; `failed` is set (and the text dropped) when memory runs out. */
typedef struct {
  char *text;
  size_t length, capacity;
  int failed;
} kiln_rt_text;

/* Appends printf-style text. */
KILN_RT_MAYBE_UNUSED KILN_RT_PRINTF(2, 3) static void kiln_rt_text_append(kiln_rt_text *t, const char *format, ...) {
  if (t->failed) return;
  va_list arguments;
  va_start(arguments, format);
  int needed = vsnprintf(NULL, 0, format, arguments);
  va_end(arguments);
  if (needed < 0) {
    t->failed = 1;
    return;
  }
  if (t->length + (size_t)needed + 1 > t->capacity) {
    size_t capacity = t->capacity < 256 ? 256 : t->capacity;
    while (capacity < t->length + (size_t)needed + 1) capacity *= 2;
    char *text = realloc(t->text, capacity);
    if (text == NULL) {
      t->failed = 1;
      return;
    }
    t->text = text;
    t->capacity = capacity;
  }
  va_start(arguments, format);
  vsnprintf(t->text + t->length, (size_t)needed + 1, format, arguments);
  va_end(arguments);
  t->length += (size_t)needed;
}

/* Appends s as a JSON string: quotes, with `"`, `\` and control characters escaped. */
KILN_RT_MAYBE_UNUSED static void kiln_rt_text_append_json(kiln_rt_text *t, const char *s) {
  kiln_rt_text_append(t, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
    if (*c == '"' || *c == '\\') kiln_rt_text_append(t, "\\%c", *c);
    else if (*c < 0x20) kiln_rt_text_append(t, "\\u%04x", (unsigned)*c);
    else kiln_rt_text_append(t, "%c", *c);
  }
  kiln_rt_text_append(t, "\"");
}

/* Writes count floats from values to file in little-endian order; returns whether every byte was written. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_write_floats_le(FILE *file, const float *values, size_t count) {
  if (kiln_rt_little_endian()) return fwrite(values, sizeof(float), count, file) == count;
  for (size_t i = 0; i < count; i++) {
    uint32_t bits;
    memcpy(&bits, &values[i], 4);
    unsigned char bytes[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
        (unsigned char)(bits >> 24)};
    if (fwrite(bytes, 1, 4, file) != 4) return 0;
  }
  return 1;
}

/* Saves the count tensors of table (each read at its offset in floats from base, shaped as listed) as F32
 * safetensors with the metadata_count string pairs as `__metadata__`, in table order, to path, atomically.
 * Returns KILN_OK, or KILN_ERR_IO / KILN_ERR_OUT_OF_MEMORY with detail naming the file; on failure path is
 * untouched and no `<path>.tmp` is left behind. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_save_safetensors(const char *path, const kiln_rt_tensor *table, int count,
    const float *base, const char *const *metadata_keys, const char *const *metadata_values, int metadata_count,
    char *detail, size_t detail_size) {
  if (path == NULL || base == NULL || (table == NULL && count > 0)) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_NULL_ARGUMENT, "path, tensors and values must not be NULL");
  }
  kiln_rt_text header = {NULL, 0, 0, 0};
  kiln_rt_text_append(&header, "{\"__metadata__\":{");
  for (int i = 0; i < metadata_count; i++) {
    kiln_rt_text_append(&header, "%s", i == 0 ? "" : ",");
    kiln_rt_text_append_json(&header, metadata_keys[i]);
    kiln_rt_text_append(&header, ":");
    kiln_rt_text_append_json(&header, metadata_values[i]);
  }
  kiln_rt_text_append(&header, "}");
  unsigned long long offset = 0;
  for (int i = 0; i < count; i++) {
    unsigned long long elements = 1;
    kiln_rt_text_append(&header, ",");
    kiln_rt_text_append_json(&header, table[i].name);
    kiln_rt_text_append(&header, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < table[i].rank; d++) {
      kiln_rt_text_append(&header, "%s%ld", d == 0 ? "" : ",", table[i].shape[d]);
      elements *= (unsigned long long)table[i].shape[d];
    }
    kiln_rt_text_append(&header, "],\"data_offsets\":[%llu,%llu]}", offset, offset + 4 * elements);
    offset += 4 * elements;
  }
  kiln_rt_text_append(&header, "}");
  /* Spaces pad the header to a multiple of 8 bytes, so the data that follows is 8-byte aligned (as the
   * reference implementation writes it). */
  while (!header.failed && header.length % 8 != 0) kiln_rt_text_append(&header, " ");
  size_t path_length = strlen(path);
  char *temporary = malloc(path_length + 5);
  if (header.failed || temporary == NULL) {
    free(header.text);
    free(temporary);
    return kiln_rt_fail(detail, detail_size, KILN_ERR_OUT_OF_MEMORY, "no memory for the header of '%s'", path);
  }
  memcpy(temporary, path, path_length);
  memcpy(temporary + path_length, ".tmp", 5);
  int code = KILN_OK;
  FILE *file = fopen(temporary, "wb");
  if (file == NULL) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot create '%s': %s", temporary, strerror(errno));
    goto done;
  }
  unsigned char length[8];
  for (int b = 0; b < 8; b++) length[b] = (unsigned char)((unsigned long long)header.length >> (8 * b));
  int written = fwrite(length, 1, 8, file) == 8 && fwrite(header.text, 1, header.length, file) == header.length;
  for (int i = 0; written && i < count; i++) {
    size_t elements = 1;
    for (int d = 0; d < table[i].rank; d++) elements *= (size_t)table[i].shape[d];
    written = kiln_rt_write_floats_le(file, base + table[i].offset, elements);
  }
  written = written && fflush(file) == 0;
#ifdef KILN_RT_HAVE_FSYNC
  written = written && fsync(fileno(file)) == 0;
#endif
  if (fclose(file) != 0) written = 0;
  if (!written) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot write '%s': %s", temporary, strerror(errno));
    remove(temporary);
    goto done;
  }
  if (rename(temporary, path) != 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot rename '%s' over '%s': %s", temporary, path,
        strerror(errno));
    remove(temporary);
    goto done;
  }
  code = kiln_rt_succeed(detail, detail_size);
done:
  free(temporary);
  free(header.text);
  return code;
}
