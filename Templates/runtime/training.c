/* training.c: what only a training module pastes: per-step dropout seeds and checkpoint metadata. */
/* A checkpoint is a safetensors file (safetensors_save.c writes it atomically): the weights under PyTorch's names,
 * the optimizer state as `<parameter>.<slot>`, and the step, learning rate and seed as `__metadata__` strings. */

/* CounterRandom.mix: the SplitMix64 finalizer (unsigned arithmetic wraps, as Swift's &* does). */
KILN_RT_MAYBE_UNUSED static uint64_t kiln_rt_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* CounterRandom.stepSeed(base:step:): the dropout seed of optimizer step `step` (1 for the first). */
KILN_RT_MAYBE_UNUSED static uint64_t kiln_rt_step_seed(uint64_t base, int64_t step) {
  return kiln_rt_mix(base + (uint64_t)step * 0x9E3779B97F4A7C15ULL);
}

/* Walks a whole safetensors header (tensor entries parsed and checked as the loader checks them, not kept),
 * copying the `__metadata__` strings called keys[0..count) into values[i] (value_size bytes each). Returns
 * KILN_OK, or KILN_ERR_FORMAT with the reason in json->message. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_scan_metadata(kiln_rt_json *json, int count, const char *const *keys,
    char *const *values, size_t value_size) {
  if (!kiln_rt_json_expect(json, '{', "'{': the header is a JSON object")) return KILN_ERR_FORMAT;
  if (kiln_rt_json_take(json, '}')) return KILN_OK;
  do {
    const char *name = kiln_rt_json_string(json);
    if (name == NULL || !kiln_rt_json_expect(json, ':', "':' after a tensor name")) return KILN_ERR_FORMAT;
    if (strcmp(name, "__metadata__") != 0) {
      kiln_rt_st_entry entry;
      memset(&entry, 0, sizeof entry);
      entry.name = name;
      if (kiln_rt_st_entry_parse(json, &entry) != KILN_OK) return KILN_ERR_FORMAT;
      continue;
    }
    if (!kiln_rt_json_expect(json, '{', "'{': __metadata__ is an object of strings")) return KILN_ERR_FORMAT;
    if (kiln_rt_json_take(json, '}')) continue;
    do {
      const char *key = kiln_rt_json_string(json);
      if (key == NULL || !kiln_rt_json_expect(json, ':', "':' after a key")) return KILN_ERR_FORMAT;
      if (kiln_rt_json_peek(json) != '"') {
        return kiln_rt_json_error(json, "__metadata__ values must be strings"), KILN_ERR_FORMAT;
      }
      const char *value = kiln_rt_json_string(json);
      if (value == NULL) return KILN_ERR_FORMAT;
      for (int i = 0; i < count; i++) {
        if (strcmp(key, keys[i]) != 0) continue;
        size_t length = strlen(value);
        if (length >= value_size) {
          return kiln_rt_json_error(json, "__metadata__ entry '%s' is longer than %zu bytes", key, value_size - 1),
                 KILN_ERR_FORMAT;
        }
        memcpy(values[i], value, length + 1);
      }
    } while (kiln_rt_json_take(json, ','));
    if (!kiln_rt_json_expect(json, '}', "',' or '}' in __metadata__")) return KILN_ERR_FORMAT;
  } while (kiln_rt_json_take(json, ','));
  if (!kiln_rt_json_expect(json, '}', "',' or '}' after a tensor entry")) return KILN_ERR_FORMAT;
  if (kiln_rt_json_peek(json) != -1) return kiln_rt_json_error(json, "text after the header object"), KILN_ERR_FORMAT;
  return KILN_OK;
}

/* Reads the `__metadata__` strings called keys[0..count) of the safetensors file at path into values[i] (each
 * value_size bytes, NUL-terminated). Returns KILN_OK, or KILN_ERR_IO / KILN_ERR_FORMAT / KILN_ERR_OUT_OF_MEMORY
 * with detail naming the file and the first key that is missing or malformed. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_read_metadata(const char *path, int count, const char *const *keys,
    char *const *values, size_t value_size, char *detail, size_t detail_size) {
  for (int i = 0; i < count; i++) values[i][0] = '\0';
  FILE *file = kiln_rt_open(path, detail, detail_size);
  if (file == NULL) return KILN_ERR_IO;
  int code = KILN_OK;
  char *header = NULL;
  unsigned char prefix[8];
  long got = kiln_rt_read(file, prefix, 8);
  long size = got < 0 ? -1 : kiln_rt_file_size(file, 8);
  unsigned long long length = got == 8 ? kiln_rt_le64(prefix) : 0;
  if (got < 0 || size < 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
  } else if (got < 8 || size < 8 || length > KILN_RT_ST_MAX_HEADER || length > (unsigned long long)(size - 8)) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT, "'%s' has no safetensors header", path);
  } else if ((header = malloc((size_t)length + 1)) == NULL) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_OUT_OF_MEMORY, "no memory for a header of %llu bytes", length);
  } else if (kiln_rt_read(file, header, (size_t)length) != (long)length) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read the header of '%s'", path);
  } else {
    kiln_rt_json json = {header, header, header + length, 0, {0}};
    code = kiln_rt_st_scan_metadata(&json, count, keys, values, value_size);
    if (code != KILN_OK) {
      code = kiln_rt_fail(detail, detail_size, code, "bad safetensors header in '%s': %s", path, json.message);
    }
  }
  for (int i = 0; code == KILN_OK && i < count; i++) {
    if (values[i][0] == '\0') {
      code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
          "'%s' has no __metadata__ entry '%s': it is not a Kiln training checkpoint", path, keys[i]);
    }
  }
  if (code == KILN_OK) code = kiln_rt_succeed(detail, detail_size);
  free(header);
  fclose(file);
  return code;
}
