/* json.c: a small strict JSON scanner for file headers: strings (decoded in place), non-negative integers,
 * punctuation. It follows RFC 8259 for what it accepts; callers walk the structure they expect, so it never
 * recurses and needs no memory of its own. */

typedef struct {
  char *begin;       /* the header's first byte, for positions in messages */
  char *cursor;      /* the next unread byte */
  char *end;         /* one past the last byte */
  int failed;        /* set by the first error; later errors keep the first message */
  char message[200]; /* what went wrong and where */
} kiln_rt_json;

/* Records the first error (with its byte position) and returns 0, so a failed step reads `return ...`. */
KILN_RT_MAYBE_UNUSED KILN_RT_PRINTF(2, 3) static int kiln_rt_json_error(kiln_rt_json *json, const char *format, ...) {
  if (json->failed) return 0;
  json->failed = 1;
  char what[160];
  va_list arguments;
  va_start(arguments, format);
  if (vsnprintf(what, sizeof what, format, arguments) < 0) what[0] = '\0';
  va_end(arguments);
  snprintf(json->message, sizeof json->message, "%s at byte %ld of the header", what,
      (long)(json->cursor - json->begin));
  return 0;
}

/* Skips JSON whitespace and returns the next byte (0..255), or -1 at the end. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_json_peek(kiln_rt_json *json) {
  while (json->cursor < json->end &&
         (*json->cursor == ' ' || *json->cursor == '\t' || *json->cursor == '\n' || *json->cursor == '\r')) {
    json->cursor++;
  }
  return json->cursor < json->end ? (unsigned char)*json->cursor : -1;
}

/* Consumes c if it is the next non-space byte; returns whether it did. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_json_take(kiln_rt_json *json, char c) {
  if (kiln_rt_json_peek(json) != (unsigned char)c) return 0;
  json->cursor++;
  return 1;
}

/* Consumes c or fails with "expected <what>". */
KILN_RT_MAYBE_UNUSED static int kiln_rt_json_expect(kiln_rt_json *json, char c, const char *what) {
  return kiln_rt_json_take(json, c) || kiln_rt_json_error(json, "expected %s", what);
}

/* The value of the 4 hex digits at text, or -1. */
KILN_RT_MAYBE_UNUSED static long kiln_rt_json_hex4(const char *text) {
  long value = 0;
  for (int i = 0; i < 4; i++) {
    char c = text[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/* The length of the valid UTF-8 sequence starting at bytes (at most available bytes), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
KILN_RT_MAYBE_UNUSED static int kiln_rt_utf8_length(const unsigned char *bytes, long available) {
  unsigned char lead = bytes[0];
  int length;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  else return 0;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  if (available < length || bytes[1] < low || bytes[1] > high) return 0;
  for (int i = 2; i < length; i++) {
    if (bytes[i] < 0x80 || bytes[i] > 0xBF) return 0;
  }
  return length;
}

/* Appends code point as UTF-8 at out; returns the byte after it. */
KILN_RT_MAYBE_UNUSED static char *kiln_rt_utf8_put(char *out, long code) {
  if (code < 0x80) {
    *out++ = (char)code;
  } else if (code < 0x800) {
    *out++ = (char)(0xC0 | code >> 6);
    *out++ = (char)(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    *out++ = (char)(0xE0 | code >> 12);
    *out++ = (char)(0x80 | (code >> 6 & 0x3F));
    *out++ = (char)(0x80 | (code & 0x3F));
  } else {
    *out++ = (char)(0xF0 | code >> 18);
    *out++ = (char)(0x80 | (code >> 12 & 0x3F));
    *out++ = (char)(0x80 | (code >> 6 & 0x3F));
    *out++ = (char)(0x80 | (code & 0x3F));
  }
  return out;
}

/* Parses a string, decoding its escapes in place, and returns it NUL-terminated (NULL on error).
 * NOTE: in place is safe because no escape decodes to more bytes than it is written with, so the write
 * position never passes the read position; the terminating NUL lands at or before the closing quote.
 * A string holding U+0000 is rejected: the result is a C string. */
KILN_RT_MAYBE_UNUSED static char *kiln_rt_json_string(kiln_rt_json *json) {
  if (!kiln_rt_json_expect(json, '"', "a string")) return NULL;
  char *start = json->cursor, *out = json->cursor;
  for (;;) {
    if (json->cursor >= json->end) return kiln_rt_json_error(json, "unterminated string"), NULL;
    unsigned char c = (unsigned char)*json->cursor;
    if (c == '"') break;
    if (c < 0x20) return kiln_rt_json_error(json, "control character 0x%02x in a string", c), NULL;
    if (c >= 0x80) {
      int length = kiln_rt_utf8_length((const unsigned char *)json->cursor, (long)(json->end - json->cursor));
      if (length == 0) return kiln_rt_json_error(json, "invalid UTF-8 in a string"), NULL;
      memmove(out, json->cursor, (size_t)length);
      out += length;
      json->cursor += length;
      continue;
    }
    if (c != '\\') {
      *out++ = *json->cursor++;
      continue;
    }
    if (json->end - json->cursor < 2) return kiln_rt_json_error(json, "unterminated string"), NULL;
    char escape = json->cursor[1];
    json->cursor += 2;
    switch (escape) {
    case '"': *out++ = '"'; break;
    case '\\': *out++ = '\\'; break;
    case '/': *out++ = '/'; break;
    case 'b': *out++ = '\b'; break;
    case 'f': *out++ = '\f'; break;
    case 'n': *out++ = '\n'; break;
    case 'r': *out++ = '\r'; break;
    case 't': *out++ = '\t'; break;
    case 'u': {
      long code = json->end - json->cursor >= 4 ? kiln_rt_json_hex4(json->cursor) : -1;
      if (code < 0) return kiln_rt_json_error(json, "\\u needs four hex digits"), NULL;
      json->cursor += 4;
      if (code >= 0xDC00 && code <= 0xDFFF) return kiln_rt_json_error(json, "unpaired low surrogate"), NULL;
      if (code >= 0xD800 && code <= 0xDBFF) {
        long low = json->end - json->cursor >= 6 && json->cursor[0] == '\\' && json->cursor[1] == 'u'
                       ? kiln_rt_json_hex4(json->cursor + 2) : -1;
        if (low < 0xDC00 || low > 0xDFFF) return kiln_rt_json_error(json, "unpaired high surrogate"), NULL;
        json->cursor += 6;
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      }
      if (code == 0) return kiln_rt_json_error(json, "\\u0000 in a string"), NULL;
      out = kiln_rt_utf8_put(out, code);
      break;
    }
    default:
      kiln_rt_json_error(json, "invalid escape '\\%c'", escape >= 0x20 && escape < 0x7F ? escape : '?');
      return NULL;
    }
  }
  json->cursor++; /* the closing quote */
  *out = '\0';
  return start;
}

/* Parses a non-negative integer (no sign, fraction or exponent; no leading zeros) into value. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_json_count(kiln_rt_json *json, unsigned long long *value) {
  int c = kiln_rt_json_peek(json);
  if (c < '0' || c > '9') return kiln_rt_json_error(json, "expected a non-negative integer");
  if (c == '0' && json->end - json->cursor > 1 && json->cursor[1] >= '0' && json->cursor[1] <= '9') {
    return kiln_rt_json_error(json, "leading zero in a number");
  }
  unsigned long long v = 0;
  while (json->cursor < json->end && *json->cursor >= '0' && *json->cursor <= '9') {
    unsigned digit = (unsigned)(*json->cursor - '0');
    if (v > (ULLONG_MAX - digit) / 10) return kiln_rt_json_error(json, "integer too large");
    v = v * 10 + digit;
    json->cursor++;
  }
  if (json->cursor < json->end && (*json->cursor == '.' || *json->cursor == 'e' || *json->cursor == 'E')) {
    return kiln_rt_json_error(json, "expected a non-negative integer, not a fraction or exponent");
  }
  *value = v;
  return 1;
}
