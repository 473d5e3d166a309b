/* embed: LeNet-5 inference from plain C, built against generated/lenet5 with no Swift involved.
 *
 *   make && ./embed [weights.safetensors]
 *
 * Classifies a synthetic 28x28 image (a bright vertical bar) with the weights compiled into the module,
 * or with a safetensors file saved from PyTorch with the spec's layer names. It then shows that bad
 * calls are refused with error codes rather than crashing. */
#include <stdio.h>
#include <stdlib.h>

#include "lenet5.h"

int main(int argc, char **argv) {
  lenet5_ctx *ctx = lenet5_create();
  if (!ctx) {
    fprintf(stderr, "lenet5_create failed: out of memory\n");
    return 1;
  }
  if (argc > 1) {
    int rc = lenet5_load_weights(ctx, argv[1]);
    if (rc != KILN_OK) {
      fprintf(stderr, "%s: %s: %s\n", argv[1], lenet5_strerror(rc), lenet5_last_error(ctx));
      lenet5_destroy(ctx);
      return 1;
    }
  }
  lenet5_set_threads(ctx, 2);

  /* Two images: a vertical bar, and the same bar shifted right. */
  enum { N = 2 };
  static float images[N * LENET5_INPUT_SIZE];
  for (int s = 0; s < N; s++)
    for (int r = 4; r < 24; r++)
      for (int c = 12 + 3 * s; c < 16 + 3 * s; c++) images[s * LENET5_INPUT_SIZE + r * 28 + c] = 1.0f;

  static float logits[N * LENET5_OUTPUT_SIZE];
  int rc = lenet5_infer(ctx, images, N, logits);
  if (rc != KILN_OK) {
    fprintf(stderr, "lenet5_infer: %s: %s\n", lenet5_strerror(rc), lenet5_last_error(ctx));
    lenet5_destroy(ctx);
    return 1;
  }
  for (int s = 0; s < N; s++) {
    int best = 0;
    printf("image %d logits:", s);
    for (int k = 0; k < LENET5_OUTPUT_SIZE; k++) {
      printf(" %.6f", logits[s * LENET5_OUTPUT_SIZE + k]);
      if (logits[s * LENET5_OUTPUT_SIZE + k] > logits[s * LENET5_OUTPUT_SIZE + best]) best = k;
    }
    printf("  -> class %d\n", best);
  }

  /* Mistakes are error codes, never crashes. */
  rc = lenet5_infer(ctx, images, LENET5_MAX_BATCH + 1, logits);
  printf("batch %d: %s (%s)\n", LENET5_MAX_BATCH + 1, lenet5_strerror(rc), lenet5_last_error(ctx));
  rc = lenet5_infer(ctx, NULL, 1, logits);
  printf("NULL input: %s\n", lenet5_strerror(rc));
  rc = lenet5_load_weights(ctx, "/nonexistent.safetensors");
  printf("missing weights file: %s (%s)\n", lenet5_strerror(rc), lenet5_last_error(ctx));

  printf("arena %d bytes, weights %d bytes, max batch %d\n", LENET5_ARENA_BYTES, LENET5_PARAMS_BYTES, LENET5_MAX_BATCH);
  lenet5_destroy(ctx);
  return 0;
}
