/* kiln_status.h: the status codes every Kiln-generated module returns (0 = success, negative = error). */
/* NOTE: guarded so that a model's public header and its .c (which pastes the runtime) may both carry it, and
 * a program including two models' headers sees it once. The numbers are part of the ABI: never renumber. */
#ifndef KILN_STATUS_DEFINED
#define KILN_STATUS_DEFINED
enum kiln_status {
  KILN_OK = 0,
  /* A required pointer argument was NULL. */
  KILN_ERR_NULL_ARGUMENT = -1,
  /* An argument is out of its documented range (negative count, malformed tensor table). */
  KILN_ERR_INVALID_ARGUMENT = -2,
  /* The batch size is zero or negative. */
  KILN_ERR_BAD_BATCH = -3,
  /* The batch size is larger than the one the context was created for. */
  KILN_ERR_BATCH_TOO_LARGE = -4,
  /* A file could not be opened or read. */
  KILN_ERR_IO = -5,
  /* A file is not in the expected format: bad magic, corrupt header, malformed JSON, bad offsets. */
  KILN_ERR_FORMAT = -6,
  /* A tensor the network needs is not in the file. */
  KILN_ERR_MISSING_TENSOR = -7,
  /* The file holds a tensor the network has no use for. */
  KILN_ERR_UNEXPECTED_TENSOR = -8,
  /* A tensor's shape differs from the parameter's. */
  KILN_ERR_SHAPE_MISMATCH = -9,
  /* A tensor's element type cannot be loaded as float (only F32, F16, BF16 and F64 can). */
  KILN_ERR_DTYPE = -10,
  /* A weights file made for another network. */
  KILN_ERR_WRONG_NETWORK = -11,
  /* A file of the wrong size for what its header announces. */
  KILN_ERR_SIZE = -12,
  /* A weights file whose data does not match its checksum. */
  KILN_ERR_CHECKSUM = -13,
  /* A memory allocation failed. */
  KILN_ERR_OUT_OF_MEMORY = -14,
  /* No weights are loaded: a module whose weights live in a file needs one loaded before it can run. */
  KILN_ERR_NO_WEIGHTS = -15
};
#endif
