/* safetensors.c: kiln_rt_load_safetensors, loading a network's parameters from a safetensors file. */

/* One parameter the network needs: its name, where it goes, and its shape. */
typedef struct {
  const char *name;
  long offset; /* in floats into params */
  int rank;    /* 0 to 4 */
  long shape[4];
} kiln_rt_tensor;

/* Compares name with the string prefix[0..prefix_length) followed by suffix, as strcmp would compare it with
 * their concatenation (prefix holds no NUL). */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_compare(
    const char *name, const char *prefix, size_t prefix_length, const char *suffix) {
  int order = strncmp(name, prefix, prefix_length);
  return order != 0 ? order : strcmp(name + prefix_length, suffix);
}

/* The required tensor named prefix+suffix in sorted (by name), or NULL. */
KILN_RT_MAYBE_UNUSED static const kiln_rt_tensor *kiln_rt_st_find_tensor(const kiln_rt_tensor *const *sorted,
    int count, const char *prefix, size_t prefix_length, const char *suffix) {
  int low = 0, high = count;
  while (low < high) {
    int middle = low + (high - low) / 2;
    int order = kiln_rt_st_compare(sorted[middle]->name, prefix, prefix_length, suffix);
    if (order == 0) return sorted[middle];
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return NULL;
}

/* The header entry called name in the table sorted by name, or NULL. */
KILN_RT_MAYBE_UNUSED static kiln_rt_st_entry *kiln_rt_st_find_entry(const kiln_rt_st_table *table, const char *name) {
  long low = 0, high = table->count;
  while (low < high) {
    long middle = low + (high - low) / 2;
    int order = strcmp(table->items[middle].name, name);
    if (order == 0) return &table->items[middle];
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return NULL;
}

KILN_RT_MAYBE_UNUSED static int kiln_rt_st_by_tensor_name(const void *a, const void *b) {
  return strcmp((*(const kiln_rt_tensor *const *)a)->name, (*(const kiln_rt_tensor *const *)b)->name);
}

/* Writes "[d0,d1,...]" into text (truncated to size); ",..." stands for dimensions beyond the stored ones. */
KILN_RT_MAYBE_UNUSED static void kiln_rt_shape_text(
    char *text, size_t size, const unsigned long long *dims, long rank, long stored) {
  char inner[96];
  size_t used = 0;
  long shown = rank < stored ? rank : stored;
  inner[0] = '\0';
  for (long i = 0; i < shown && used < sizeof inner; i++) {
    int n = snprintf(inner + used, sizeof inner - used, "%s%llu", i == 0 ? "" : ",", dims[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  snprintf(text, size, "[%s%s]", inner, rank > shown ? ",..." : "");
}

/* An IEEE half (binary16) as float, exactly (every half is a float), NaN payloads kept. */
KILN_RT_MAYBE_UNUSED static float kiln_rt_half_to_float(unsigned int half) {
  uint32_t sign = (uint32_t)(half >> 15 & 1) << 31, exponent = half >> 10 & 0x1F, mantissa = half & 0x3FF, bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | mantissa << 13;
  } else if (exponent != 0) {
    bits = sign | (exponent + 112) << 23 | mantissa << 13;
  } else if (mantissa == 0) {
    bits = sign;
  } else { /* subnormal: normalize; the value is mantissa * 2^-24 */
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      exponent--;
    }
    bits = sign | exponent << 23 | (mantissa & 0x3FF) << 13;
  }
  float value;
  memcpy(&value, &bits, 4);
  return value;
}

/* A double as float, rounded to nearest. NOTE: C leaves converting an out-of-range double undefined, so
 * magnitudes at or above the midpoint between FLT_MAX and 2^128 become infinity explicitly (IEEE's result),
 * and NaN becomes a quiet float NaN of the same sign. */
KILN_RT_MAYBE_UNUSED static float kiln_rt_double_to_float(double value) {
  if (value != value || value >= 0x1.ffffffp127 || value <= -0x1.ffffffp127) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    uint32_t single = (uint32_t)(bits >> 63) << 31 | 0x7F800000u;
    if (value != value) single |= 0x00400000u | (uint32_t)(bits >> 29 & 0x3FFFFF);
    float result;
    memcpy(&result, &single, 4);
    return result;
  }
  return (float)value;
}

/* One stored element at bytes (little-endian, of a loadable dtype) as float. */
KILN_RT_MAYBE_UNUSED static float kiln_rt_st_element(const unsigned char *bytes, int dtype) {
  switch (dtype) {
  case KILN_RT_ST_F16: return kiln_rt_half_to_float((unsigned int)(bytes[0] | bytes[1] << 8));
  case KILN_RT_ST_BF16: {
    uint32_t bits = (uint32_t)(bytes[0] | bytes[1] << 8) << 16;
    float value;
    memcpy(&value, &bits, 4);
    return value;
  }
  case KILN_RT_ST_F64: {
    uint64_t bits = kiln_rt_le64(bytes);
    double value;
    memcpy(&value, &bits, 8);
    return kiln_rt_double_to_float(value);
  }
  default: {
    uint32_t bits = (uint32_t)kiln_rt_le32(bytes);
    float value;
    memcpy(&value, &bits, 4);
    return value;
  }
  }
}

/* Reads entry's data (the buffer starts at data_start in file) into out as floats. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_copy(FILE *file, long data_start, const kiln_rt_st_entry *entry,
    float *out, char *detail, size_t detail_size) {
  unsigned char chunk[4096];
  size_t size = (size_t)kiln_rt_st_dtypes[entry->dtype].size, per_chunk = sizeof chunk / size;
  if (fseek(file, data_start + (long)entry->begin, SEEK_SET) != 0) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot seek to tensor '%s'", entry->name);
  }
  for (unsigned long long done = 0; done < entry->count;) {
    size_t n = entry->count - done < per_chunk ? (size_t)(entry->count - done) : per_chunk;
    if (kiln_rt_read(file, chunk, n * size) != (long)(n * size)) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read the data of tensor '%s'", entry->name);
    }
    for (size_t i = 0; i < n; i++) out[done + i] = kiln_rt_st_element(chunk + i * size, entry->dtype);
    done += n;
  }
  return KILN_OK;
}

/* Checks each required tensor against the header (present, loadable dtype, same shape), then that every
 * other tensor of the file is allowed: only `<layer>.num_batches_tracked` beside a required
 * `<layer>.running_mean` (PyTorch BatchNorm state_dicts carry it). */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_match(kiln_rt_st_table *table, const kiln_rt_tensor *tensors,
    const kiln_rt_tensor *const *sorted, int count, char *detail, size_t detail_size) {
  for (int i = 0; i < count; i++) {
    const kiln_rt_tensor *t = &tensors[i];
    kiln_rt_st_entry *e = kiln_rt_st_find_entry(table, t->name);
    if (e == NULL) return kiln_rt_fail(detail, detail_size, KILN_ERR_MISSING_TENSOR, "missing tensor '%s'", t->name);
    e->used = 1;
    if (e->dtype >= KILN_RT_ST_LOADABLE) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_DTYPE,
          "tensor '%s' has dtype %s, expected F32, F16, BF16 or F64", t->name, kiln_rt_st_dtypes[e->dtype].name);
    }
    int same = e->rank == t->rank;
    unsigned long long expected[4];
    for (int d = 0; d < t->rank; d++) {
      expected[d] = (unsigned long long)t->shape[d];
      same = same && e->dims[d] == expected[d];
    }
    if (!same) {
      char found_text[128], expected_text[128];
      kiln_rt_shape_text(found_text, sizeof found_text, e->dims, e->rank, KILN_RT_ST_MAX_RANK);
      kiln_rt_shape_text(expected_text, sizeof expected_text, expected, t->rank, 4);
      return kiln_rt_fail(detail, detail_size, KILN_ERR_SHAPE_MISMATCH, "tensor '%s' has shape %s, expected %s",
          t->name, found_text, expected_text);
    }
  }
  static const char tracked[] = ".num_batches_tracked";
  for (long i = 0; i < table->count; i++) {
    kiln_rt_st_entry *e = &table->items[i];
    if (e->used) continue;
    size_t length = strlen(e->name), suffix = sizeof tracked - 1;
    if (length > suffix && strcmp(e->name + length - suffix, tracked) == 0 &&
        kiln_rt_st_find_tensor(sorted, count, e->name, length - suffix, ".running_mean") != NULL) {
      continue;
    }
    return kiln_rt_fail(detail, detail_size, KILN_ERR_UNEXPECTED_TENSOR,
        "unexpected tensor '%s': the network has no parameter of that name", e->name);
  }
  return KILN_OK;
}

/* Loads the count tensors listed in tensors from the safetensors file at path into params (each at its
 * offset, converted to float from F32, F16, BF16 or F64). Returns KILN_OK only when the whole file checked out:
 * a strict header (see safetensors_header.c), every tensor present with its shape, no tensor the network lacks
 * (but `<layer>.num_batches_tracked`). On error, detail says what and where (e.g. "missing tensor 'fc1.bias'").
 * NOTE: params is written only after every header check passed, but a read error midway leaves it partly
 * written; load into a staging copy when the previous values must survive a failure. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_load_safetensors(const char *path, const kiln_rt_tensor *tensors, int count,
    float *params, char *detail, size_t detail_size) {
  if (path == NULL || params == NULL || (tensors == NULL && count > 0)) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_NULL_ARGUMENT, "path, tensors and params must not be NULL");
  }
  if (count < 0) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_INVALID_ARGUMENT, "tensor count %d is negative", count);
  }
  for (int i = 0; i < count; i++) {
    int valid = tensors[i].name != NULL && tensors[i].offset >= 0 && tensors[i].rank >= 0 && tensors[i].rank <= 4;
    for (int d = 0; valid && d < tensors[i].rank; d++) valid = tensors[i].shape[d] >= 0;
    if (!valid) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_INVALID_ARGUMENT,
          "tensor table entry %d is malformed (NULL name, negative offset, rank outside 0...4 or negative size)", i);
    }
  }
  int code = KILN_OK;
  FILE *file = NULL;
  char *header = NULL;
  kiln_rt_st_table table = {NULL, 0, 0};
  const kiln_rt_tensor **sorted = malloc(((size_t)count + 1) * sizeof *sorted);
  if (sorted == NULL) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_OUT_OF_MEMORY, "no memory for %d tensor names", count);
  }
  for (int i = 0; i < count; i++) sorted[i] = &tensors[i];
  qsort(sorted, (size_t)count, sizeof *sorted, kiln_rt_st_by_tensor_name);
  for (int i = 1; i < count; i++) {
    if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
      code = kiln_rt_fail(
          detail, detail_size, KILN_ERR_INVALID_ARGUMENT, "tensor '%s' is listed twice", sorted[i]->name);
      goto done;
    }
  }
  file = kiln_rt_open(path, detail, detail_size);
  if (file == NULL) {
    code = KILN_ERR_IO;
    goto done;
  }
  unsigned char prefix[8];
  long got = kiln_rt_read(file, prefix, 8);
  long size = got < 0 ? -1 : kiln_rt_file_size(file, 8);
  if (got < 0 || size < 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    goto done;
  }
  if (got < 8) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
        "file is %ld bytes, too short for the 8-byte header length of a safetensors file", got);
    goto done;
  }
  if (size < 8) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "'%s' changed while it was read", path);
    goto done;
  }
  unsigned long long header_length = kiln_rt_le64(prefix);
  if (header_length > KILN_RT_ST_MAX_HEADER || header_length > (unsigned long long)(size - 8)) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
        "header length %llu is beyond the end of the file (%ld bytes follow it) or above the limit of %llu bytes",
        header_length, size - 8, KILN_RT_ST_MAX_HEADER);
    goto done;
  }
  header = malloc((size_t)header_length + 1);
  if (header == NULL) {
    code = kiln_rt_fail(
        detail, detail_size, KILN_ERR_OUT_OF_MEMORY, "no memory for a header of %llu bytes", header_length);
    goto done;
  }
  if (kiln_rt_read(file, header, (size_t)header_length) != (long)header_length) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read the header of '%s'", path);
    goto done;
  }
  kiln_rt_json json = {header, header, header + header_length, 0, {0}};
  code = kiln_rt_st_parse(&json, &table);
  if (code == KILN_ERR_OUT_OF_MEMORY) {
    code = kiln_rt_fail(detail, detail_size, code, "no memory for the header's tensor table");
    goto done;
  }
  if (code != KILN_OK) {
    code = kiln_rt_fail(detail, detail_size, code, "bad safetensors header: %s", json.message);
    goto done;
  }
  code = kiln_rt_st_check_layout(&table, (unsigned long long)size - 8 - header_length, detail, detail_size);
  if (code == KILN_OK) code = kiln_rt_st_match(&table, tensors, sorted, count, detail, detail_size);
  for (int i = 0; code == KILN_OK && i < count; i++) {
    const kiln_rt_st_entry *entry = kiln_rt_st_find_entry(&table, tensors[i].name);
    code = kiln_rt_st_copy(file, 8 + (long)header_length, entry, params + tensors[i].offset, detail, detail_size);
  }
  if (code == KILN_OK) code = kiln_rt_succeed(detail, detail_size);
done:
  free(sorted);
  free(table.items);
  free(header);
  if (file != NULL) fclose(file);
  return code;
}
