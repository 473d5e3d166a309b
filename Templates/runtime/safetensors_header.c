/* safetensors_header.c: parsing a safetensors header into a table of entries and checking their layout. */
/* Format (https://github.com/huggingface/safetensors): u64 little-endian N, N bytes of UTF-8 JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}},
 * then the data buffer; offsets are relative to the buffer's start and must tile it exactly. */

/* The reference implementation's limit on N. */
#define KILN_RT_ST_MAX_HEADER 100000000ULL
/* Dimensions stored per entry; more are counted (and make the shape mismatch) but not kept. */
#define KILN_RT_ST_MAX_RANK 8

/* The element types of the format with their sizes; the first four load (as float). */
typedef struct {
  const char *name;
  int size;
} kiln_rt_st_dtype;
enum { KILN_RT_ST_F32, KILN_RT_ST_F16, KILN_RT_ST_BF16, KILN_RT_ST_F64, KILN_RT_ST_LOADABLE };
KILN_RT_MAYBE_UNUSED static const kiln_rt_st_dtype kiln_rt_st_dtypes[] = {
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

/* One tensor of the header. Strings point into the (decoded in place) header text. */
typedef struct {
  const char *name;
  int dtype; /* index into kiln_rt_st_dtypes */
  long rank;
  unsigned long long dims[KILN_RT_ST_MAX_RANK];
  unsigned long long count; /* elements */
  unsigned long long begin, end;
  int used; /* matched by a required tensor, or an allowed extra */
} kiln_rt_st_entry;

typedef struct {
  kiln_rt_st_entry *items;
  long count, capacity;
} kiln_rt_st_table;

/* Appends a zeroed entry; NULL when out of memory. */
KILN_RT_MAYBE_UNUSED static kiln_rt_st_entry *kiln_rt_st_append(kiln_rt_st_table *table) {
  if (table->count == table->capacity) {
    long capacity = table->capacity < 16 ? 16 : table->capacity;
    if ((size_t)capacity > ((size_t)-1) / 2 / sizeof(kiln_rt_st_entry)) return NULL;
    kiln_rt_st_entry *items = realloc(table->items, 2 * (size_t)capacity * sizeof(kiln_rt_st_entry));
    if (items == NULL) return NULL;
    table->items = items;
    table->capacity = 2 * capacity;
  }
  kiln_rt_st_entry *entry = &table->items[table->count++];
  memset(entry, 0, sizeof *entry);
  return entry;
}

/* Parses `[d0, d1, ...]` into the entry's rank, dims and element count. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_shape(kiln_rt_json *json, kiln_rt_st_entry *entry) {
  entry->count = 1;
  if (!kiln_rt_json_expect(json, '[', "'[' to start the shape")) return 0;
  if (kiln_rt_json_take(json, ']')) return 1;
  do {
    unsigned long long dim;
    if (!kiln_rt_json_count(json, &dim)) return 0;
    if (entry->rank < KILN_RT_ST_MAX_RANK) entry->dims[entry->rank] = dim;
    entry->rank++;
    if (dim != 0 && entry->count > ULLONG_MAX / dim) {
      return kiln_rt_json_error(json, "tensor '%s': shape has too many elements", entry->name);
    }
    entry->count *= dim;
  } while (kiln_rt_json_take(json, ','));
  return kiln_rt_json_expect(json, ']', "',' or ']' in the shape");
}

/* Parses one tensor's `{"dtype": .., "shape": .., "data_offsets": [b, e]}`; returns a status code. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_entry_parse(kiln_rt_json *json, kiln_rt_st_entry *entry) {
  int seen_dtype = 0, seen_shape = 0, seen_offsets = 0;
  if (!kiln_rt_json_expect(json, '{', "'{' to start a tensor entry")) return KILN_ERR_FORMAT;
  if (!kiln_rt_json_take(json, '}')) {
    do {
      kiln_rt_json_peek(json);
      char *key_at = json->cursor; /* errors about the key point at it */
      const char *key = kiln_rt_json_string(json);
      if (key == NULL || !kiln_rt_json_expect(json, ':', "':' after a key")) return KILN_ERR_FORMAT;
      int *seen = strcmp(key, "dtype") == 0 ? &seen_dtype : strcmp(key, "shape") == 0 ? &seen_shape
                  : strcmp(key, "data_offsets") == 0 ? &seen_offsets : NULL;
      if (seen == NULL) {
        json->cursor = key_at;
        kiln_rt_json_error(json, "tensor '%s': unknown key '%s' (expected dtype, shape and data_offsets)",
            entry->name, key);
        return KILN_ERR_FORMAT;
      }
      if (*seen) {
        json->cursor = key_at;
        return kiln_rt_json_error(json, "tensor '%s': key '%s' appears twice", entry->name, key), KILN_ERR_FORMAT;
      }
      *seen = 1;
      if (seen == &seen_dtype) {
        const char *dtype = kiln_rt_json_string(json);
        if (dtype == NULL) return KILN_ERR_FORMAT;
        int found = -1;
        for (int i = 0; i < (int)(sizeof kiln_rt_st_dtypes / sizeof kiln_rt_st_dtypes[0]); i++) {
          if (strcmp(dtype, kiln_rt_st_dtypes[i].name) == 0) found = i;
        }
        if (found < 0) return kiln_rt_json_error(json, "tensor '%s' has unknown dtype '%s'", entry->name, dtype),
                       KILN_ERR_DTYPE;
        entry->dtype = found;
      } else if (seen == &seen_shape) {
        if (!kiln_rt_st_shape(json, entry)) return KILN_ERR_FORMAT;
      } else if (!kiln_rt_json_expect(json, '[', "'[' to start data_offsets") ||
                 !kiln_rt_json_count(json, &entry->begin) ||
                 !kiln_rt_json_expect(json, ',', "',' between the two data_offsets") ||
                 !kiln_rt_json_count(json, &entry->end) ||
                 !kiln_rt_json_expect(json, ']', "']': data_offsets are two integers [begin, end]")) {
        return KILN_ERR_FORMAT;
      }
    } while (kiln_rt_json_take(json, ','));
    if (!kiln_rt_json_expect(json, '}', "',' or '}' in a tensor entry")) return KILN_ERR_FORMAT;
  }
  if (!seen_dtype || !seen_shape || !seen_offsets) {
    const char *missing = !seen_dtype ? "dtype" : !seen_shape ? "shape" : "data_offsets";
    return kiln_rt_json_error(json, "tensor '%s' has no '%s'", entry->name, missing), KILN_ERR_FORMAT;
  }
  unsigned long long size = (unsigned long long)kiln_rt_st_dtypes[entry->dtype].size;
  if (entry->begin > entry->end) {
    return kiln_rt_json_error(json, "tensor '%s': data_offsets [%llu, %llu] end before they begin", entry->name,
               entry->begin, entry->end), KILN_ERR_FORMAT;
  }
  if (entry->count > ULLONG_MAX / size || entry->end - entry->begin != entry->count * size) {
    return kiln_rt_json_error(json,
               "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %llu elements of %s need %llu",
               entry->name, entry->begin, entry->end, entry->end - entry->begin, entry->count,
               kiln_rt_st_dtypes[entry->dtype].name, entry->count * size), KILN_ERR_FORMAT;
  }
  return KILN_OK;
}

/* Parses `__metadata__`: an object of strings, which the loader then ignores (so it does not look for a key
 * repeated inside it, which KilnData's reader refuses). */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_metadata(kiln_rt_json *json) {
  if (!kiln_rt_json_expect(json, '{', "'{': __metadata__ is an object of strings")) return 0;
  if (kiln_rt_json_take(json, '}')) return 1;
  do {
    if (kiln_rt_json_string(json) == NULL || !kiln_rt_json_expect(json, ':', "':' after a key")) return 0;
    if (kiln_rt_json_peek(json) != '"') return kiln_rt_json_error(json, "__metadata__ values must be strings");
    if (kiln_rt_json_string(json) == NULL) return 0;
  } while (kiln_rt_json_take(json, ','));
  return kiln_rt_json_expect(json, '}', "',' or '}' in __metadata__");
}

/* Parses the whole header (length bytes at text, decoded in place) into table. Returns a status code;
 * on error the message is in json->message. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_parse(kiln_rt_json *json, kiln_rt_st_table *table) {
  int seen_metadata = 0;
  if (!kiln_rt_json_expect(json, '{', "'{': the header is a JSON object")) return KILN_ERR_FORMAT;
  if (!kiln_rt_json_take(json, '}')) {
    do {
      kiln_rt_json_peek(json);
      char *name_at = json->cursor;
      const char *name = kiln_rt_json_string(json);
      if (name == NULL || !kiln_rt_json_expect(json, ':', "':' after a tensor name")) return KILN_ERR_FORMAT;
      if (strcmp(name, "__metadata__") == 0) {
        if (seen_metadata) {
          json->cursor = name_at;
          return kiln_rt_json_error(json, "__metadata__ appears twice"), KILN_ERR_FORMAT;
        }
        seen_metadata = 1;
        if (!kiln_rt_st_metadata(json)) return KILN_ERR_FORMAT;
        continue;
      }
      kiln_rt_st_entry *entry = kiln_rt_st_append(table);
      if (entry == NULL) return KILN_ERR_OUT_OF_MEMORY;
      entry->name = name;
      int code = kiln_rt_st_entry_parse(json, entry);
      if (code != KILN_OK) return code;
    } while (kiln_rt_json_take(json, ','));
    if (!kiln_rt_json_expect(json, '}', "',' or '}' after a tensor entry")) return KILN_ERR_FORMAT;
  }
  if (kiln_rt_json_peek(json) != -1) return kiln_rt_json_error(json, "text after the header object"), KILN_ERR_FORMAT;
  return KILN_OK;
}

KILN_RT_MAYBE_UNUSED static int kiln_rt_st_by_offsets(const void *a, const void *b) {
  const kiln_rt_st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

KILN_RT_MAYBE_UNUSED static int kiln_rt_st_by_name(const void *a, const void *b) {
  return strcmp(((const kiln_rt_st_entry *)a)->name, ((const kiln_rt_st_entry *)b)->name);
}

/* Every tensor lies inside the buffer, none overlaps another, and together they cover it with no holes
 * (the reference implementation's rule, which keeps files from hiding other content). Sorts the table by
 * offsets, then by name, checking that no name appears twice. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_st_check_layout(
    kiln_rt_st_table *table, unsigned long long buffer_size, char *detail, size_t detail_size) {
  if (table->count == 0) {
    if (buffer_size == 0) return KILN_OK;
    return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT, "bytes 0..<%llu of the data buffer belong to no tensor",
        buffer_size);
  }
  qsort(table->items, (size_t)table->count, sizeof(kiln_rt_st_entry), kiln_rt_st_by_offsets);
  unsigned long long covered = 0;
  const kiln_rt_st_entry *previous = NULL;
  for (long i = 0; i < table->count; i++) {
    const kiln_rt_st_entry *e = &table->items[i];
    if (e->end > buffer_size) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
          "tensor '%s': data_offsets [%llu, %llu] go beyond the data buffer of %llu bytes", e->name, e->begin, e->end,
          buffer_size);
    }
    if (previous != NULL && e->begin < covered) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
          "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' at [%llu, %llu]", e->name, e->begin, e->end,
          previous->name, previous->begin, previous->end);
    }
    if (e->begin > covered) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
          "bytes %llu..<%llu of the data buffer belong to no tensor", covered, e->begin);
    }
    if (e->end > covered || previous == NULL) {
      covered = e->end;
      previous = e;
    }
  }
  if (covered < buffer_size) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
        "bytes %llu..<%llu of the data buffer belong to no tensor", covered, buffer_size);
  }
  qsort(table->items, (size_t)table->count, sizeof(kiln_rt_st_entry), kiln_rt_st_by_name);
  for (long i = 1; i < table->count; i++) {
    if (strcmp(table->items[i - 1].name, table->items[i].name) == 0) {
      return kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT, "tensor '%s' appears twice in the header",
          table->items[i].name);
    }
  }
  return KILN_OK;
}
