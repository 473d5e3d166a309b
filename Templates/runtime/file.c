/* file.c: reading files for the runtime: open, size, exact reads, little-endian integers, FNV-1a-64. */

/* Opens path for binary reading; on failure writes "cannot open '<path>': <reason>" and returns NULL.
 * NOTE: reasons come from strerror, which glibc and musl make safe to call from several threads. */
KILN_RT_MAYBE_UNUSED static FILE *kiln_rt_open(const char *path, char *detail, size_t detail_size) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  }
  return file;
}

/* Reads up to count bytes into buffer; returns how many it read, or -1 on a read error (not on end of file).
 * A directory opens on some systems and fails here. */
KILN_RT_MAYBE_UNUSED static long kiln_rt_read(FILE *file, void *buffer, size_t count) {
  size_t got = fread(buffer, 1, count, file);
  if (got < count && ferror(file)) return -1;
  return (long)got;
}

/* The size of an open file in bytes, or -1 when the stream cannot seek. Leaves the position at offset. */
KILN_RT_MAYBE_UNUSED static long kiln_rt_file_size(FILE *file, long offset) {
  if (fseek(file, 0, SEEK_END) != 0) return -1;
  long size = ftell(file);
  if (size < 0 || fseek(file, offset, SEEK_SET) != 0) return -1;
  return size;
}

/* The little-endian unsigned integers at bytes. */
KILN_RT_MAYBE_UNUSED static unsigned long kiln_rt_le32(const unsigned char *bytes) {
  return (unsigned long)bytes[0] | (unsigned long)bytes[1] << 8 | (unsigned long)bytes[2] << 16 |
         (unsigned long)bytes[3] << 24;
}

KILN_RT_MAYBE_UNUSED static unsigned long long kiln_rt_le64(const unsigned char *bytes) {
  return (unsigned long long)kiln_rt_le32(bytes) | (unsigned long long)kiln_rt_le32(bytes + 4) << 32;
}

/* The 64-bit FNV-1a hash: start from KILN_RT_FNV_OFFSET, then fold in bytes (unsigned arithmetic wraps). */
#define KILN_RT_FNV_OFFSET 0xcbf29ce484222325ULL
KILN_RT_MAYBE_UNUSED static unsigned long long kiln_rt_fnv1a(
    unsigned long long hash, const unsigned char *bytes, size_t count) {
  for (size_t i = 0; i < count; i++) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/* Whether floats are stored least significant byte first here (as they are in Kiln's files). */
KILN_RT_MAYBE_UNUSED static int kiln_rt_little_endian(void) {
  const unsigned int one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 1;
}

/* Rewrites count floats in place from little-endian byte order to the machine's. */
KILN_RT_MAYBE_UNUSED static void kiln_rt_floats_from_le(float *values, size_t count) {
  if (kiln_rt_little_endian()) return;
  for (size_t i = 0; i < count; i++) {
    unsigned char bytes[4];
    memcpy(bytes, &values[i], 4);
    uint32_t bits = (uint32_t)kiln_rt_le32(bytes);
    memcpy(&values[i], &bits, 4);
  }
}
