/* weights_file.c: kiln_rt_load_weights_file, loading a network's parameters from a Kiln weights file. */
/* Format (all integers little-endian), written by Kiln's WeightsFile.encode:
 *   "KILNWTS1"                 8 bytes of magic
 *   u32 header_bytes           the size of the header that follows: 28 + name length
 *   u64 fingerprint            FNV-1a-64 of the network's parameter names and shapes ("name:d0,d1,...;" each)
 *   u64 float_count            the number of floats in the data
 *   u64 checksum               FNV-1a-64 of the data bytes
 *   u32 name_length, name      the network's name (UTF-8, for messages)
 *   float_count float32 values the parameters, in the network's order */

#define KILN_RT_WEIGHTS_MAGIC "KILNWTS1"
/* Fixed header bytes before the name, and the longest name accepted. */
#define KILN_RT_WEIGHTS_FIXED 28UL
#define KILN_RT_WEIGHTS_MAX_NAME 4096UL

/* Loads count floats into params from the weights file at path, made for the network whose parameter
 * fingerprint is expected_fingerprint (network names it in messages). Checks the magic (FORMAT), the
 * fingerprint (WRONG_NETWORK; the name alone may differ), the float count and the exact file size (SIZE),
 * and the data checksum (CHECKSUM). On error, detail says what was found and what was expected.
 * NOTE: the data is read straight into params, so params is partly or wholly overwritten when the read fails
 * or the checksum does not match; load into a staging copy when the previous values must survive. */
KILN_RT_MAYBE_UNUSED static int kiln_rt_load_weights_file(const char *path, const char *network,
    unsigned long long expected_fingerprint, float *params, long count, char *detail, size_t detail_size) {
  if (path == NULL || network == NULL || params == NULL) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_NULL_ARGUMENT, "path, network and params must not be NULL");
  }
  if (count < 0) {
    return kiln_rt_fail(detail, detail_size, KILN_ERR_INVALID_ARGUMENT, "float count %ld is negative", count);
  }
  FILE *file = kiln_rt_open(path, detail, detail_size);
  if (file == NULL) return KILN_ERR_IO;
  int code = KILN_OK;
  unsigned char header[KILN_RT_WEIGHTS_FIXED + KILN_RT_WEIGHTS_MAX_NAME + 1];
  char name[KILN_RT_WEIGHTS_MAX_NAME + 1];
  long got = kiln_rt_read(file, header, 12);
  if (got < 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    goto done;
  }
  if (got < 8 || memcmp(header, KILN_RT_WEIGHTS_MAGIC, 8) != 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT, "not a Kiln weights file (it does not start with %s)",
        KILN_RT_WEIGHTS_MAGIC);
    goto done;
  }
  if (got < 12) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_SIZE, "file is %ld bytes, truncated inside its header", got);
    goto done;
  }
  unsigned long header_bytes = kiln_rt_le32(header + 8);
  if (header_bytes < KILN_RT_WEIGHTS_FIXED || header_bytes > KILN_RT_WEIGHTS_FIXED + KILN_RT_WEIGHTS_MAX_NAME) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT, "header size %lu is outside %lu...%lu", header_bytes,
        KILN_RT_WEIGHTS_FIXED, KILN_RT_WEIGHTS_FIXED + KILN_RT_WEIGHTS_MAX_NAME);
    goto done;
  }
  got = kiln_rt_read(file, header, header_bytes);
  if (got != (long)header_bytes) {
    code = got < 0 ? kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read '%s': %s", path, strerror(errno))
                   : kiln_rt_fail(detail, detail_size, KILN_ERR_SIZE, "file is %ld bytes, truncated inside its header",
                         12 + got);
    goto done;
  }
  unsigned long long fingerprint = kiln_rt_le64(header), floats = kiln_rt_le64(header + 8);
  unsigned long long checksum = kiln_rt_le64(header + 16);
  unsigned long name_length = kiln_rt_le32(header + 24);
  if (name_length != header_bytes - KILN_RT_WEIGHTS_FIXED || memchr(header + KILN_RT_WEIGHTS_FIXED, 0, name_length)) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_FORMAT,
        "network name of %lu bytes does not fill the %lu-byte header, or holds a NUL", name_length, header_bytes);
    goto done;
  }
  memcpy(name, header + KILN_RT_WEIGHTS_FIXED, name_length);
  name[name_length] = '\0';
  if (fingerprint != expected_fingerprint) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_WRONG_NETWORK,
        "weights file is for network '%s' (fingerprint %016llx), not '%s' (fingerprint %016llx)", name, fingerprint,
        network, expected_fingerprint);
    goto done;
  }
  if (floats != (unsigned long long)count) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_SIZE, "weights file holds %llu floats, network '%s' has %ld",
        floats, network, count);
    goto done;
  }
  long data_start = 12 + (long)header_bytes;
  long size = kiln_rt_file_size(file, data_start);
  if (size < 0) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot seek in '%s'", path);
    goto done;
  }
  unsigned long long expected_size = (unsigned long long)data_start + 4ULL * (unsigned long long)count;
  if ((unsigned long long)size != expected_size) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_SIZE,
        "file is %ld bytes, expected %llu (a %ld-byte header and %ld floats)", size, expected_size, data_start, count);
    goto done;
  }
  unsigned long long hash = KILN_RT_FNV_OFFSET;
  for (long loaded = 0; loaded < count;) {
    long n = count - loaded < 65536 ? count - loaded : 65536;
    if (kiln_rt_read(file, params + loaded, (size_t)n * 4) != n * 4) {
      code = kiln_rt_fail(detail, detail_size, KILN_ERR_IO, "cannot read the data of '%s'", path);
      goto done;
    }
    hash = kiln_rt_fnv1a(hash, (const unsigned char *)(params + loaded), (size_t)n * 4);
    kiln_rt_floats_from_le(params + loaded, (size_t)n);
    loaded += n;
  }
  if (hash != checksum) {
    code = kiln_rt_fail(detail, detail_size, KILN_ERR_CHECKSUM,
        "data checksum %016llx does not match the header's %016llx: the file is corrupt", hash, checksum);
    goto done;
  }
  code = kiln_rt_succeed(detail, detail_size);
done:
  fclose(file);
  return code;
}
