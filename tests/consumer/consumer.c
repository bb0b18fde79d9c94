/* A minimal C consumer of an installed dlvk: checks the header against the library, lists devices and,
 * given a model directory, generates a few tokens greedily.
 *   consumer [MODEL_DIR]      exit 0 on success */
#include <stdio.h>
#include <string.h>

#include <dlvk/dlvk.h>

static int on_token(int32_t token, const char* piece, size_t size, void* user) {
  (void)token;
  (void)user;
  if (piece) fwrite(piece, 1, size, stdout);
  return 0;
}

int main(int argc, char** argv) {
  dlvk_device_list* devices = NULL;
  dlvk_model* model = NULL;
  dlvk_context* ctx = NULL;
  dlvk_generate_params gen = dlvk_generate_params_default();
  dlvk_generate_result res;
  int32_t ids[64];
  size_t n = 0, count = 0;
  uint64_t messages = 0;
  dlvk_status st;

  if (strcmp(dlvk_version(), DLVK_VERSION_STRING) != 0 || dlvk_version_number() != DLVK_VERSION) {
    fprintf(stderr, "consumer: header %s, library %s\n", DLVK_VERSION_STRING, dlvk_version());
    return 1;
  }
  printf("dlvk %s\n", dlvk_version());
  st = dlvk_device_list_create(NULL, &devices);
  if (st == DLVK_OK) {
    dlvk_device_list_count(devices, &count);
    printf("%u device(s)\n", (unsigned)count);
  } else if (st != DLVK_NO_DEVICE) {
    fprintf(stderr, "consumer: error: %s\n", dlvk_last_error());
    return 1;
  }
  dlvk_device_list_free(devices);
  if (argc < 2) return 0;

  gen.max_tokens = 4;
  gen.sampling.temperature = 0; /* greedy */
  if ((st = dlvk_model_load(argv[1], NULL, &model)) != DLVK_OK ||
      (st = dlvk_context_create(model, NULL, &ctx)) != DLVK_OK ||
      (st = dlvk_tokenize(model, "In the beginning", DLVK_NUL_TERMINATED, 1, ids, 64, &n)) != DLVK_OK ||
      (st = dlvk_generate(ctx, ids, n, &gen, on_token, NULL, &res)) != DLVK_OK ||
      (st = dlvk_model_validation_messages(model, &messages)) != DLVK_OK) {
    fprintf(stderr, "consumer: error: %s (%s)\n", dlvk_last_error(), dlvk_status_name(st));
    dlvk_context_free(ctx);
    dlvk_model_free(model);
    return 1;
  }
  printf("\n%u tokens generated\n", (unsigned)res.generated_tokens);
  dlvk_context_free(ctx);
  dlvk_model_free(model);
  return messages == 0 && res.generated_tokens > 0 ? 0 : 1;
}
