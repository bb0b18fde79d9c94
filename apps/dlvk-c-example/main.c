/* dlvk-c-example: the C API in one page (C99, dlvk.h only).
 *
 *   dlvk-c-example MODEL_DIR [PROMPT] [N_TOKENS] [SEED]
 *
 * Lists the Vulkan devices, loads the model (with a progress line), generates N_TOKENS tokens (default
 * 32) from PROMPT with streaming output, and prints speed and memory use. Errors: one line on stderr,
 * exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlvk/dlvk.h>

static int fail_with(const char* what, dlvk_status st) {
  fprintf(stderr, "dlvk-c-example: error: %s: %s (%s)\n", what, dlvk_last_error(), dlvk_status_name(st));
  return 1;
}

static int on_progress(uint64_t done, uint64_t total, void* user) {
  int* last = (int*)user;
  int pct = total ? (int)(done * 100 / total) : 100;
  if (pct / 10 != *last / 10) fprintf(stderr, "\rloading %3d%%", pct);
  *last = pct;
  return 0; /* nonzero would cancel the load */
}

static int on_token(int32_t token, const char* piece, size_t size, void* user) {
  (void)user;
  if (piece)
    fwrite(piece, 1, size, stdout);
  else
    printf(" %d", (int)token); /* a model without tokenizer.json */
  fflush(stdout);
  return 0; /* nonzero would stop generation (dlvk_generate returns DLVK_CANCELLED) */
}

int main(int argc, char** argv) {
  const char* dir;
  const char* prompt = "And it came to pass";
  int n_tokens = 32;
  unsigned long long seed = 1;
  dlvk_device_list* devices = NULL;
  dlvk_model* model = NULL;
  dlvk_context* ctx = NULL;
  dlvk_model_options mopt = dlvk_model_options_default();
  dlvk_model_info info;
  dlvk_generate_params gen = dlvk_generate_params_default();
  dlvk_generate_result res;
  dlvk_memory_info mem;
  int32_t* ids = NULL;
  size_t n_ids = 0, n_devices = 0, i;
  int progress = -100, rc = 1;
  dlvk_status st;

  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: %s MODEL_DIR [PROMPT] [N_TOKENS] [SEED]\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  if (argc > 2) prompt = argv[2];
  if (argc > 3) n_tokens = atoi(argv[3]);
  if (argc > 4) seed = strtoull(argv[4], NULL, 10);
  printf("dlvk %s\n", dlvk_version());

  if ((st = dlvk_device_list_create(NULL, &devices)) != DLVK_OK) return fail_with("listing devices", st);
  dlvk_device_list_count(devices, &n_devices);
  for (i = 0; i < n_devices; ++i) {
    dlvk_device_info d;
    dlvk_device_list_get(devices, i, &d);
    printf("device %u: %s (%s, %s)%s, %.0f MiB device-local, subgroup %u, shared memory %u KiB, fp16 %s\n",
           (unsigned)d.index, d.name, d.vendor_name, d.type_name, d.selected ? " [selected]" : "", (double)d.device_local_memory / (1024.0 * 1024.0),
           (unsigned)d.subgroup_size, (unsigned)(d.max_shared_memory / 1024), d.shader_float16 ? "yes" : "no");
  }
  dlvk_device_list_free(devices);

  mopt.progress = on_progress;
  mopt.progress_user_data = &progress;
  if ((st = dlvk_model_load(dir, &mopt, &model)) != DLVK_OK) return fail_with("loading the model", st);
  fprintf(stderr, "\n");
  dlvk_model_get_info(model, &info);
  printf("model: %lld layers, hidden %lld, vocabulary %lld, on %s\n", (long long)info.num_layers,
         (long long)info.hidden_size, (long long)info.vocab_size, info.device_name);

  if ((st = dlvk_context_create(model, NULL, &ctx)) != DLVK_OK) {
    fail_with("creating a context", st);
    goto done;
  }
  if (!info.has_tokenizer) {
    fprintf(stderr, "dlvk-c-example: error: %s has no tokenizer.json\n", dir);
    goto done;
  }
  /* Ask for the length, then tokenize into a buffer of that size. */
  if ((st = dlvk_tokenize(model, prompt, DLVK_NUL_TERMINATED, 1, NULL, 0, &n_ids)) != DLVK_OK) {
    fail_with("tokenizing", st);
    goto done;
  }
  ids = (int32_t*)malloc((n_ids ? n_ids : 1) * sizeof *ids);
  if (!ids || (st = dlvk_tokenize(model, prompt, DLVK_NUL_TERMINATED, 1, ids, n_ids, &n_ids)) != DLVK_OK) {
    fail_with("tokenizing", ids ? st : DLVK_OUT_OF_MEMORY);
    goto done;
  }

  gen.max_tokens = n_tokens;
  gen.sampling.seed = seed;
  printf("%s", prompt);
  st = dlvk_generate(ctx, ids, n_ids, &gen, on_token, NULL, &res);
  printf("\n");
  if (st != DLVK_OK) {
    fail_with("generating", st);
    goto done;
  }
  dlvk_context_memory(ctx, &mem);
  printf("%u prompt tokens (%.1f ms), %u generated (%.1f tokens/s); weights %.1f MiB, KV cache %.1f MiB, scratch %.1f MiB\n",
         (unsigned)res.prompt_tokens, res.prompt_ms, (unsigned)res.generated_tokens,
         res.generate_ms > 0 ? res.generated_tokens * 1000.0 / res.generate_ms : 0.0,
         (double)mem.weights_bytes / 1048576.0, (double)mem.kv_cache_bytes / 1048576.0,
         (double)mem.scratch_bytes / 1048576.0);
  rc = 0;

done:
  free(ids);
  dlvk_context_free(ctx);
  dlvk_model_free(model);
  return rc;
}
