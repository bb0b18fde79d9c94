/* Tests of the C API (dlvk.h) against libdlvk.so, in C99. Every function, the error paths (NULL
 * arguments, bad directory, bad/truncated buffers, bad config JSON, out-of-range ids, a prompt longer
 * than the context, cancelling from the load-progress and the generate callbacks), and generation
 * compared with the `dlvk run` program (same seed and sampling -> same ids).
 *
 *   test_capi                      all tests with models/default ($DLVK_SOURCE_DIR), $DLVK_BIN for dlvk
 *   test_capi no-device EXAMPLE    run where Vulkan is unavailable (no driver or no loader): every entry
 *                                  that needs a device returns DLVK_NO_DEVICE, and so does EXAMPLE
 *   test_capi sharded DIR          a sharded checkpoint (DIR/model-*.safetensors) from memory buffers, in
 *                                  any order, computes the same logits as from the directory
 *
 * Any Vulkan validation message fails the run (dlvk_model_validation_messages, and ctest's
 * FAIL_REGULAR_EXPRESSION on the layer's stderr lines). */
#define _POSIX_C_SOURCE 200809L /* popen, pclose, pthreads */

#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <dlvk/dlvk.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    ++checks;                                                                    \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

/* Checks a call's status and, for errors, that dlvk_last_error() is one non-empty line holding
 * `contains` (when not NULL); for success, that it is empty. */
static dlvk_status expect(dlvk_status got, dlvk_status want, const char* contains, const char* expr, const char* file,
                          int line) {
  const char* err = dlvk_last_error();
  ++checks;
  if (got != want) {
    fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s); last error: %s\n", file, line, expr, (int)got,
            dlvk_status_name(got), (int)want, dlvk_status_name(want), err);
    ++failures;
  } else if (want == DLVK_OK) {
    if (err[0] != '\0') {
      fprintf(stderr, "%s:%d: %s succeeded but dlvk_last_error() is '%s'\n", file, line, expr, err);
      ++failures;
    }
  } else if (err[0] == '\0' || strchr(err, '\n') || (contains && !strstr(err, contains))) {
    fprintf(stderr, "%s:%d: %s: error message '%s' is empty, not one line, or lacks '%s'\n", file, line, expr, err,
            contains ? contains : "");
    ++failures;
  }
  return got;
}
#define EXPECT_OK(call) expect((call), DLVK_OK, NULL, #call, __FILE__, __LINE__)
#define EXPECT_ERR(call, status, contains) expect((call), (status), (contains), #call, __FILE__, __LINE__)

static char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  char* data;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = (char*)malloc((size_t)n + 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  if (data) data[n] = '\0';
  *size = (size_t)n;
  return data;
}

/* Runs a shell command; returns its exit status, output (stdout, and stderr when `merge`) in `out`. */
static int run_command(const char* cmd, char* out, size_t cap) {
  FILE* p = popen(cmd, "r");
  size_t n = 0, got;
  int st;
  if (!p) return -1;
  while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0) n += got;
  out[n] = '\0';
  st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char model_dir[4096];

/* ---------------------------------------------------------------------------------------------- */

static void test_version_and_status(void) {
  int s;
  CHECK(strcmp(dlvk_version(), DLVK_VERSION_STRING) == 0);
  CHECK(dlvk_version_number() == DLVK_VERSION);
  CHECK(DLVK_VERSION == DLVK_VERSION_MAJOR * 10000 + DLVK_VERSION_MINOR * 100 + DLVK_VERSION_PATCH);
  for (s = DLVK_OK; s <= DLVK_INTERNAL; ++s) {
    CHECK(dlvk_status_name((dlvk_status)s) != NULL);
    CHECK(strcmp(dlvk_status_name((dlvk_status)s), "unknown") != 0);
  }
  CHECK(strcmp(dlvk_status_name(DLVK_OK), "ok") == 0);
  CHECK(strcmp(dlvk_status_name(DLVK_CANCELLED), "cancelled") == 0);
  CHECK(strcmp(dlvk_status_name((dlvk_status)99), "unknown") == 0);
  CHECK(strcmp(dlvk_status_name((dlvk_status)-1), "unknown") == 0);
  CHECK(dlvk_last_error() != NULL);
}

static void test_devices(void) {
  dlvk_device_list* list = NULL;
  dlvk_device_info d;
  size_t n = 0, i, selected = 0;

  EXPECT_ERR(dlvk_device_list_create(NULL, NULL), DLVK_INVALID_ARGUMENT, "out_list");
  EXPECT_ERR(dlvk_device_list_create("huge", &list), DLVK_INVALID_ARGUMENT, "huge");
  CHECK(list == NULL);

  if (EXPECT_OK(dlvk_device_list_create(NULL, &list)) != DLVK_OK) return;
  EXPECT_OK(dlvk_device_list_count(list, &n));
  CHECK(n >= 1);
  for (i = 0; i < n; ++i) {
    EXPECT_OK(dlvk_device_list_get(list, i, &d));
    CHECK(d.index == i);
    CHECK(d.name && d.name[0]);
    CHECK(d.type_name && d.type_name[0]);
    CHECK(d.vendor_name && d.vendor_name[0]);
    if (d.type == DLVK_DEVICE_CPU && strstr(d.name, "llvmpipe")) CHECK(strcmp(d.vendor_name, "Mesa") == 0);
    CHECK(d.driver_name && d.driver_info);
    CHECK((int)d.type >= DLVK_DEVICE_OTHER && (int)d.type <= DLVK_DEVICE_CPU);
    CHECK(d.api_version >= (1u << 22));
    CHECK(d.subgroup_size >= 1);
    CHECK(d.max_shared_memory >= 16384);
    CHECK(d.max_storage_buffer_range >= (1u << 27));
    CHECK(d.max_allocation_size > 0);
    CHECK(d.max_workgroup_invocations >= 128 && d.max_workgroup_size[0] >= 128);
    CHECK(d.device_local_memory > 0);
    CHECK(strcmp(d.profile, "native") == 0 || getenv("DLVK_PROFILE"));
    selected += d.selected != 0;
    if (d.selected) CHECK(d.usable);
  }
  CHECK(selected == 1);
  EXPECT_ERR(dlvk_device_list_get(list, n, &d), DLVK_INVALID_ARGUMENT, "out of range");
  EXPECT_ERR(dlvk_device_list_get(list, 0, NULL), DLVK_INVALID_ARGUMENT, "out_info");
  EXPECT_ERR(dlvk_device_list_get(NULL, 0, &d), DLVK_INVALID_ARGUMENT, "list");
  EXPECT_ERR(dlvk_device_list_count(NULL, &n), DLVK_INVALID_ARGUMENT, "list");
  EXPECT_ERR(dlvk_device_list_count(list, NULL), DLVK_INVALID_ARGUMENT, "out_count");
  dlvk_device_list_free(list);

  /* A reduced profile clamps what is reported. */
  list = NULL;
  if (EXPECT_OK(dlvk_device_list_create("minimal", &list)) == DLVK_OK) {
    EXPECT_OK(dlvk_device_list_get(list, 0, &d));
    CHECK(strcmp(d.profile, "minimal") == 0);
    CHECK(d.max_shared_memory <= 16384);
    CHECK(!d.subgroup_arithmetic && !d.shader_float16 && !d.storage_16bit);
    CHECK(d.max_storage_buffer_range <= (64u << 20));
  }
  dlvk_device_list_free(list);
  dlvk_device_list_free(NULL);
}

/* ---------------------------------------------------------------------------------------------- */

struct progress_state {
  int calls;
  int cancel_at; /* call number that returns nonzero; 0: never */
  uint64_t first_done, last_done, total;
};

static int on_progress(uint64_t done, uint64_t total, void* user) {
  struct progress_state* p = (struct progress_state*)user;
  if (p->calls == 0) p->first_done = done;
  p->last_done = done;
  p->total = total;
  ++p->calls;
  return p->cancel_at && p->calls >= p->cancel_at;
}

struct files {
  char *config, *gen_config, *weights, *tokenizer;
  size_t config_size, gen_config_size, weights_size, tokenizer_size;
};

static dlvk_model_source source_of(const struct files* f) {
  dlvk_model_source s;
  static dlvk_buffer buf;
  buf.data = f->weights;
  buf.size = f->weights_size;
  s.config_json = f->config;
  s.config_json_size = f->config_size;
  s.generation_config_json = f->gen_config;
  s.generation_config_json_size = DLVK_NUL_TERMINATED;
  s.safetensors = &buf;
  s.safetensors_count = 1;
  s.tokenizer_json = f->tokenizer;
  s.tokenizer_json_size = f->tokenizer_size;
  return s;
}

static void test_load_errors(const struct files* f) {
  dlvk_model* m = NULL;
  dlvk_model_options o = dlvk_model_options_default();
  dlvk_model_source s;
  dlvk_buffer bufs[2];
  char path[4200];
  char* text;
  struct progress_state prog;

  CHECK(o.device_index == -1 && o.device_name == NULL && o.profile == NULL && o.validation == -1);
  CHECK(o.pipeline_cache_dir == NULL && o.progress == NULL && o.progress_user_data == NULL);

  /* Directory loads. */
  EXPECT_ERR(dlvk_model_load(NULL, NULL, &m), DLVK_INVALID_ARGUMENT, "dir");
  EXPECT_ERR(dlvk_model_load(model_dir, NULL, NULL), DLVK_INVALID_ARGUMENT, "out_model");
  EXPECT_ERR(dlvk_model_load("/nonexistent/model/dir", NULL, &m), DLVK_IO_ERROR, "/nonexistent/model/dir");
  CHECK(strstr(dlvk_last_error(), "dlvk_model_load") == dlvk_last_error()); /* names the function */
  snprintf(path, sizeof path, "%s/..", model_dir);                          /* a directory, no config.json */
  EXPECT_ERR(dlvk_model_load(path, NULL, &m), DLVK_IO_ERROR, "config.json");
  snprintf(path, sizeof path, "%s/config.json", model_dir); /* a file, not a directory */
  EXPECT_ERR(dlvk_model_load(path, NULL, &m), DLVK_IO_ERROR, "directory");
  CHECK(m == NULL);

  /* Bad options fail before any upload. */
  o.profile = "tiny-gpu";
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_INVALID_ARGUMENT, "tiny-gpu");
  o = dlvk_model_options_default();
  o.device_index = 99;
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_INVALID_ARGUMENT, "device index");
  o.device_index = -2;
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_INVALID_ARGUMENT, "device_index");
  o = dlvk_model_options_default();
  o.device_name = "no such GPU anywhere";
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_NO_DEVICE, "no such GPU anywhere");
  o.device_index = 0;
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_INVALID_ARGUMENT, "not both");
  o = dlvk_model_options_default();
  o.validation = 7;
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_INVALID_ARGUMENT, "validation");
  CHECK(m == NULL);

  /* Memory loads: bad config JSON, wrong model type, truncated or tiny safetensors, bad tokenizer. */
  EXPECT_ERR(dlvk_model_load_from_memory(NULL, NULL, &m), DLVK_INVALID_ARGUMENT, "source");
  s = source_of(f);
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, NULL), DLVK_INVALID_ARGUMENT, "out_model");
  s.config_json = NULL;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_INVALID_ARGUMENT, "config_json");
  s = source_of(f);
  s.config_json = "{\"vocab_size\": 4096, \"hidden_size\": ";
  s.config_json_size = DLVK_NUL_TERMINATED;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:config.json");
  s.config_json = "[1, 2, 3]";
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:config.json");
  s.config_json = f->config;
  s.config_json_size = 10; /* a truncated prefix */
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:config.json");
  text = (char*)malloc(f->config_size + 16);
  if (text) {
    /* Another model type is valid JSON that dlvk does not run. */
    char* at;
    memcpy(text, f->config, f->config_size + 1);
    at = strstr(text, "\"diffllama\"");
    CHECK(at != NULL);
    if (at) memcpy(at, "\"gptneox99\"", 11); /* same length; no NUL copied */
    s = source_of(f);
    s.config_json = text;
    s.config_json_size = DLVK_NUL_TERMINATED;
    EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_UNSUPPORTED, "model_type");
    free(text);
  }
  s = source_of(f);
  s.generation_config_json = "{\"eos_token_id\": \"x\"}";
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:generation_config.json");
  s = source_of(f);
  s.safetensors_count = 0;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_INVALID_ARGUMENT, "safetensors_count");
  s = source_of(f);
  s.safetensors = NULL;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_INVALID_ARGUMENT, "safetensors");
  bufs[0].data = NULL;
  bufs[0].size = 100;
  s.safetensors = bufs;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_INVALID_ARGUMENT, "NULL");
  bufs[0].data = f->weights;
  bufs[0].size = f->weights_size / 2; /* truncated: tensors past the end */
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:safetensors[0]");
  bufs[0].size = 7; /* shorter than the 8-byte header length */
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:safetensors[0]");
  bufs[0].data = NULL;
  bufs[0].size = 0;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:safetensors[0]");
  bufs[0].data = f->weights; /* the same tensors twice */
  bufs[0].size = f->weights_size;
  bufs[1] = bufs[0];
  s.safetensors_count = 2;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, NULL);
  s = source_of(f);
  s.tokenizer_json = "{\"model\": ";
  s.tokenizer_json_size = DLVK_NUL_TERMINATED;
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_BAD_MODEL, "memory:tokenizer.json");
  CHECK(m == NULL);

  /* Cancel from the progress callback: at its first call, and after some weights are uploaded. */
  memset(&prog, 0, sizeof prog);
  prog.cancel_at = 1;
  o = dlvk_model_options_default();
  o.progress = on_progress;
  o.progress_user_data = &prog;
  EXPECT_ERR(dlvk_model_load(model_dir, &o, &m), DLVK_CANCELLED, "cancelled");
  CHECK(prog.calls == 1 && prog.first_done == 0 && prog.total > 0);
  memset(&prog, 0, sizeof prog);
  prog.cancel_at = 3;
  s = source_of(f);
  EXPECT_ERR(dlvk_model_load_from_memory(&s, &o, &m), DLVK_CANCELLED, "progress callback");
  CHECK(prog.calls == 3 && prog.last_done > 0 && prog.last_done < prog.total);
  CHECK(m == NULL);
  dlvk_model_free(NULL);
}

/* ---------------------------------------------------------------------------------------------- */

static const char* kPrompt = "And it came to pass, that the LORD spake unto Moses";

static void test_model_info(dlvk_model* m) {
  dlvk_model_info i;
  size_t k;
  int has_eos = 0;
  uint64_t messages = 1;
  EXPECT_ERR(dlvk_model_get_info(NULL, &i), DLVK_INVALID_ARGUMENT, "model");
  EXPECT_ERR(dlvk_model_get_info(m, NULL), DLVK_INVALID_ARGUMENT, "out_info");
  EXPECT_OK(dlvk_model_get_info(m, &i));
  CHECK(i.vocab_size == 4096 && i.hidden_size == 256 && i.intermediate_size == 704);
  CHECK(i.num_layers == 4 && i.num_heads == 8 && i.num_kv_heads == 4 && i.head_dim == 32);
  CHECK(i.max_position_embeddings == 256);
  CHECK(i.bos_token_id == 4094);
  for (k = 0; k < i.eos_token_count; ++k) has_eos |= i.eos_token_ids[k] == 4095;
  CHECK(has_eos);
  CHECK(i.has_tokenizer && i.tokenizer_vocab_size == 4096);
  CHECK(i.weights_bytes >= 4096u * 256u * 2u); /* the f16 embedding at least */
  CHECK(i.device_name && i.device_name[0]);
  CHECK(strcmp(i.profile, getenv("DLVK_PROFILE") ? getenv("DLVK_PROFILE") : "native") == 0);
  {
    const char* v = getenv("DLVK_VALIDATION");
    CHECK(i.validation == (v && strcmp(v, "1") == 0));
  }
  EXPECT_ERR(dlvk_model_validation_messages(NULL, &messages), DLVK_INVALID_ARGUMENT, "model");
  EXPECT_ERR(dlvk_model_validation_messages(m, NULL), DLVK_INVALID_ARGUMENT, "out_count");
  EXPECT_OK(dlvk_model_validation_messages(m, &messages));
  CHECK(messages == 0);
}

static void test_text(dlvk_model* m, dlvk_model* no_tok) {
  int32_t ids[256], small[2];
  size_t n = 0, n2 = 0, len = 0, k, total = 0;
  char text[1024];
  char streamed[1024];
  const char* piece;
  size_t piece_size;
  dlvk_stream_decoder* dec = NULL;
  static const char* kUnicode = "Caf\xc3\xa9 \xe2\x80\x9cna\xc3\xafve\xe2\x80\x9d \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82!";

  /* Size query, too small, then the real call. */
  EXPECT_OK(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 1, NULL, 0, &n));
  CHECK(n > 5 && n < 64);
  EXPECT_ERR(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 1, small, 2, &n2), DLVK_INVALID_ARGUMENT, "buffer");
  CHECK(n2 == n);
  EXPECT_OK(dlvk_tokenize(m, kPrompt, strlen(kPrompt), 1, ids, 256, &n2));
  CHECK(n2 == n);
  CHECK(ids[0] == 4094); /* the post-processor adds BOS */
  EXPECT_OK(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 0, ids, 256, &n2));
  CHECK(n2 == n - 1 && ids[0] != 4094);
  EXPECT_OK(dlvk_tokenize(m, NULL, 0, 0, ids, 256, &n2));
  CHECK(n2 == 0);
  EXPECT_ERR(dlvk_tokenize(m, "ab\xff", DLVK_NUL_TERMINATED, 0, ids, 256, &n2), DLVK_INVALID_ARGUMENT, "UTF-8");
  EXPECT_ERR(dlvk_tokenize(NULL, kPrompt, DLVK_NUL_TERMINATED, 0, ids, 256, &n2), DLVK_INVALID_ARGUMENT, "model");
  EXPECT_ERR(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 0, NULL, 256, &n2), DLVK_INVALID_ARGUMENT, "ids");
  EXPECT_ERR(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 0, ids, 256, NULL), DLVK_INVALID_ARGUMENT, "out_count");
  EXPECT_ERR(dlvk_tokenize(m, NULL, 5, 0, ids, 256, &n2), DLVK_INVALID_ARGUMENT, "text");
  EXPECT_ERR(dlvk_tokenize(no_tok, kPrompt, DLVK_NUL_TERMINATED, 0, ids, 256, &n2), DLVK_INVALID_ARGUMENT,
             "no tokenizer");

  /* Round trip through detokenize. */
  EXPECT_OK(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 1, ids, 256, &n));
  EXPECT_OK(dlvk_detokenize(m, ids, n, 1, NULL, 0, &len));
  CHECK(len == strlen(kPrompt));
  EXPECT_ERR(dlvk_detokenize(m, ids, n, 1, text, len, &len), DLVK_INVALID_ARGUMENT, "NUL"); /* no room for NUL */
  EXPECT_OK(dlvk_detokenize(m, ids, n, 1, text, sizeof text, &len));
  CHECK(strcmp(text, kPrompt) == 0);
  EXPECT_OK(dlvk_detokenize(m, ids, n, 0, text, sizeof text, &len)); /* keeps the BOS text */
  CHECK(len > strlen(kPrompt) && strstr(text, kPrompt) != NULL);
  EXPECT_OK(dlvk_detokenize(m, NULL, 0, 0, text, sizeof text, &len));
  CHECK(len == 0 && text[0] == '\0');
  small[0] = 5;
  small[1] = 99999;
  EXPECT_ERR(dlvk_detokenize(m, small, 2, 0, text, sizeof text, &len), DLVK_INVALID_ARGUMENT, "99999");
  small[1] = -1;
  EXPECT_ERR(dlvk_detokenize(m, small, 2, 0, text, sizeof text, &len), DLVK_INVALID_ARGUMENT, "-1");
  EXPECT_ERR(dlvk_detokenize(m, NULL, 2, 0, text, sizeof text, &len), DLVK_INVALID_ARGUMENT, "ids");
  EXPECT_ERR(dlvk_detokenize(m, ids, n, 0, NULL, 10, &len), DLVK_INVALID_ARGUMENT, "text");
  EXPECT_ERR(dlvk_detokenize(m, ids, n, 0, text, sizeof text, NULL), DLVK_INVALID_ARGUMENT, "out_size");
  EXPECT_ERR(dlvk_detokenize(no_tok, ids, n, 0, text, sizeof text, &len), DLVK_INVALID_ARGUMENT, "no tokenizer");

  /* Streaming: multi-byte characters split over byte tokens come out whole; pieces concatenate to the
   * full decode. */
  EXPECT_OK(dlvk_tokenize(m, kUnicode, DLVK_NUL_TERMINATED, 0, ids, 256, &n));
  CHECK(n > 0);
  EXPECT_ERR(dlvk_stream_decoder_create(no_tok, 0, &dec), DLVK_INVALID_ARGUMENT, "no tokenizer");
  EXPECT_ERR(dlvk_stream_decoder_create(NULL, 0, &dec), DLVK_INVALID_ARGUMENT, "model");
  EXPECT_ERR(dlvk_stream_decoder_create(m, 0, NULL), DLVK_INVALID_ARGUMENT, "out_decoder");
  if (EXPECT_OK(dlvk_stream_decoder_create(m, 0, &dec)) != DLVK_OK) return;
  for (k = 0; k < n; ++k) {
    EXPECT_OK(dlvk_stream_decoder_push(dec, ids[k], &piece, &piece_size));
    CHECK(strlen(piece) == piece_size);
    if (total + piece_size < sizeof streamed) {
      memcpy(streamed + total, piece, piece_size);
      total += piece_size;
    }
  }
  EXPECT_OK(dlvk_stream_decoder_flush(dec, &piece, &piece_size));
  memcpy(streamed + total, piece, piece_size);
  total += piece_size;
  streamed[total] = '\0';
  CHECK(strcmp(streamed, kUnicode) == 0);
  /* An unknown id is refused and changes nothing. */
  EXPECT_ERR(dlvk_stream_decoder_push(dec, 4096 + 7, &piece, &piece_size), DLVK_INVALID_ARGUMENT, "4103");
  EXPECT_ERR(dlvk_stream_decoder_push(NULL, 5, &piece, &piece_size), DLVK_INVALID_ARGUMENT, "decoder");
  EXPECT_ERR(dlvk_stream_decoder_push(dec, 5, NULL, &piece_size), DLVK_INVALID_ARGUMENT, "out_text");
  EXPECT_ERR(dlvk_stream_decoder_push(dec, 5, &piece, NULL), DLVK_INVALID_ARGUMENT, "out_size");
  EXPECT_ERR(dlvk_stream_decoder_flush(NULL, &piece, &piece_size), DLVK_INVALID_ARGUMENT, "decoder");
  EXPECT_ERR(dlvk_stream_decoder_flush(dec, NULL, &piece_size), DLVK_INVALID_ARGUMENT, "out_text");
  EXPECT_ERR(dlvk_stream_decoder_flush(dec, &piece, NULL), DLVK_INVALID_ARGUMENT, "out_size");
  /* The first byte of a 4-byte character is held back; reset drops it, flush then has nothing. */
  EXPECT_OK(dlvk_tokenize(m, "\xf0\x9f\x99\x82", DLVK_NUL_TERMINATED, 0, ids, 256, &n));
  if (n > 1) {
    EXPECT_OK(dlvk_stream_decoder_push(dec, ids[0], &piece, &piece_size));
    CHECK(piece_size == 0 && piece[0] == '\0');
  }
  EXPECT_OK(dlvk_stream_decoder_reset(dec));
  EXPECT_ERR(dlvk_stream_decoder_reset(NULL), DLVK_INVALID_ARGUMENT, "decoder");
  EXPECT_OK(dlvk_stream_decoder_flush(dec, &piece, &piece_size));
  CHECK(piece_size == 0);
  /* The decoder keeps the model alive: it is freed after the model in main(). */
  dlvk_stream_decoder_free(dec);
  dlvk_stream_decoder_free(NULL);
}

/* ---------------------------------------------------------------------------------------------- */

#define MAX_GEN 64

struct gen_log {
  int32_t ids[MAX_GEN];
  int n;
  char text[4096];
  size_t text_size;
  int null_pieces, tail_calls;
  int cancel_after;               /* return nonzero after this many tokens; 0: never */
  dlvk_context* self;             /* re-entry test: the generating context */
  dlvk_context* other;            /* another context of the same model */
  const int32_t* other_tokens;
  dlvk_status self_eval, other_eval, self_logits;
};

static int on_token(int32_t id, const char* piece, size_t size, void* user) {
  struct gen_log* g = (struct gen_log*)user;
  if (id < 0) {
    ++g->tail_calls;
  } else if (g->n < MAX_GEN) {
    g->ids[g->n++] = id;
  }
  if (!piece) {
    ++g->null_pieces;
  } else if (g->text_size + size < sizeof g->text) {
    memcpy(g->text + g->text_size, piece, size);
    g->text_size += size;
    g->text[g->text_size] = '\0';
  }
  if (g->self && g->n == 1) {
    int32_t one = 5;
    const float* l;
    size_t nl;
    g->self_eval = dlvk_context_eval(g->self, &one, 1, NULL);
    g->self_logits = dlvk_context_logits(g->self, &l, &nl);
    g->other_eval = dlvk_context_eval(g->other, g->other_tokens, 2, NULL);
  }
  return g->cancel_after && g->n >= g->cancel_after;
}

static void reset_log(struct gen_log* g) { memset(g, 0, sizeof *g); }

/* The same loop as dlvk_generate, written with eval + logits + sampler. */
static int manual_generate(dlvk_context* ctx, const int32_t* prompt, size_t n_prompt, const dlvk_generate_params* p,
                           const int32_t* eos, size_t n_eos, int32_t* out) {
  int32_t history[512];
  size_t h = 0, k;
  int n = 0, i;
  dlvk_sampler* s = NULL;
  dlvk_context_info ci;
  const float* logits;
  size_t vocab;
  memcpy(history, prompt, n_prompt * sizeof *prompt);
  h = n_prompt;
  if (EXPECT_OK(dlvk_sampler_create(&p->sampling, &s)) != DLVK_OK) return -1;
  EXPECT_OK(dlvk_context_eval(ctx, prompt, n_prompt, NULL));
  for (i = 0; i < p->max_tokens; ++i) {
    int32_t id = -1;
    int stop = 0;
    EXPECT_OK(dlvk_context_logits(ctx, &logits, &vocab));
    EXPECT_OK(dlvk_sampler_sample(s, logits, vocab, history, h, &id));
    for (k = 0; k < n_eos; ++k) stop |= id == eos[k];
    if (stop) break;
    out[n++] = id;
    history[h++] = id;
    if (i + 1 == p->max_tokens) break;
    EXPECT_OK(dlvk_context_get_info(ctx, &ci));
    if (ci.position >= ci.context_length) break;
    EXPECT_OK(dlvk_context_eval(ctx, &id, 1, NULL));
  }
  dlvk_sampler_free(s);
  return n;
}

/* Ids printed by `dlvk run --print-ids` for the same model, prompt, seed and sampling. */
static int cli_generate(const dlvk_generate_params* p, int32_t* out) {
  const char* bin = getenv("DLVK_BIN");
  char cmd[8192], output[8192];
  char* at;
  int n = 0, rc;
  if (!bin) {
    fprintf(stderr, "DLVK_BIN is not set (run through ctest)\n");
    return -1;
  }
  snprintf(cmd, sizeof cmd,
           "'%s' run --model '%s' --prompt '%s' -n %d --seed %llu --temp %.9g --top-k %d --top-p %.9g "
           "--min-p %.9g --repeat-penalty %.9g --repeat-last-n %d --print-ids -q",
           bin, model_dir, kPrompt, (int)p->max_tokens, (unsigned long long)p->sampling.seed,
           (double)p->sampling.temperature, (int)p->sampling.top_k, (double)p->sampling.top_p,
           (double)p->sampling.min_p, (double)p->sampling.repeat_penalty, (int)p->sampling.repeat_last_n);
  rc = run_command(cmd, output, sizeof output);
  if (rc != 0) {
    fprintf(stderr, "%s\nexit %d, output: %s\n", cmd, rc, output);
    return -1;
  }
  at = output;
  while (*at && *at != '\n' && n < MAX_GEN) {
    out[n++] = (int32_t)strtol(at, &at, 10);
    if (*at == ',') ++at;
  }
  return n;
}

static void test_sampler(const float* logits, size_t vocab) {
  dlvk_sampling_params p = dlvk_sampling_params_default();
  dlvk_sampler* s = NULL;
  int32_t a[8], b[8], hist[2] = {1, 5000};
  int k;
  CHECK(fabsf(p.temperature - 0.8f) < 1e-6f && p.top_k == 40 && fabsf(p.top_p - 0.95f) < 1e-6f);
  CHECK(fabsf(p.min_p - 0.05f) < 1e-6f && p.repeat_penalty == 1.0f && p.repeat_last_n == 64 && p.seed == 0);
  p.seed = 42;
  p.repeat_penalty = 1.1f; /* the history matters (and is checked) only with a penalty */
  EXPECT_ERR(dlvk_sampler_create(NULL, &s), DLVK_INVALID_ARGUMENT, "params");
  EXPECT_ERR(dlvk_sampler_create(&p, NULL), DLVK_INVALID_ARGUMENT, "out_sampler");
  if (EXPECT_OK(dlvk_sampler_create(&p, &s)) != DLVK_OK) return;
  for (k = 0; k < 8; ++k) EXPECT_OK(dlvk_sampler_sample(s, logits, vocab, NULL, 0, &a[k]));
  EXPECT_OK(dlvk_sampler_reset(s, 42));
  for (k = 0; k < 8; ++k) EXPECT_OK(dlvk_sampler_sample(s, logits, vocab, NULL, 0, &b[k]));
  CHECK(memcmp(a, b, sizeof a) == 0);
  for (k = 0; k < 8; ++k) CHECK(a[k] >= 0 && (size_t)a[k] < vocab);
  EXPECT_ERR(dlvk_sampler_reset(NULL, 1), DLVK_INVALID_ARGUMENT, "sampler");
  EXPECT_ERR(dlvk_sampler_sample(NULL, logits, vocab, NULL, 0, &a[0]), DLVK_INVALID_ARGUMENT, "sampler");
  EXPECT_ERR(dlvk_sampler_sample(s, NULL, vocab, NULL, 0, &a[0]), DLVK_INVALID_ARGUMENT, "logits");
  EXPECT_ERR(dlvk_sampler_sample(s, logits, 0, NULL, 0, &a[0]), DLVK_INVALID_ARGUMENT, "vocab_size");
  EXPECT_ERR(dlvk_sampler_sample(s, logits, vocab, NULL, 2, &a[0]), DLVK_INVALID_ARGUMENT, "history");
  EXPECT_ERR(dlvk_sampler_sample(s, logits, vocab, hist, 2, &a[0]), DLVK_INVALID_ARGUMENT, "5000");
  EXPECT_ERR(dlvk_sampler_sample(s, logits, vocab, NULL, 0, NULL), DLVK_INVALID_ARGUMENT, "out_token");
  dlvk_sampler_free(s);
  dlvk_sampler_free(NULL);
  /* Greedy picks the argmax. */
  p.temperature = 0;
  s = NULL;
  if (EXPECT_OK(dlvk_sampler_create(&p, &s)) == DLVK_OK) {
    size_t best = 0, i;
    for (i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    EXPECT_OK(dlvk_sampler_sample(s, logits, vocab, NULL, 0, &a[0]));
    CHECK((size_t)a[0] == best);
  }
  dlvk_sampler_free(s);
  s = NULL;
  p = dlvk_sampling_params_default();
  p.repeat_penalty = 0;
  EXPECT_ERR(dlvk_sampler_create(&p, &s), DLVK_INVALID_ARGUMENT, "repeat_penalty");
  p = dlvk_sampling_params_default();
  p.temperature = (float)NAN;
  EXPECT_ERR(dlvk_sampler_create(&p, &s), DLVK_INVALID_ARGUMENT, NULL);
  p = dlvk_sampling_params_default();
  p.repeat_last_n = -2;
  EXPECT_ERR(dlvk_sampler_create(&p, &s), DLVK_INVALID_ARGUMENT, "repeat_last_n");
  CHECK(s == NULL);
}

static float max_abs(const float* v, size_t n) {
  float m = 0;
  size_t i;
  for (i = 0; i < n; ++i) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
  return m;
}

static void test_contexts(dlvk_model* m, dlvk_model* mem_model) {
  dlvk_context *ctx = NULL, *ctx2 = NULL, *small = NULL, *memctx = NULL;
  dlvk_context_params cp = dlvk_context_params_default();
  dlvk_context_info ci;
  dlvk_memory_info mi;
  dlvk_generate_params gp = dlvk_generate_params_default();
  dlvk_generate_result res;
  struct gen_log g, g2;
  int32_t prompt[64], manual[MAX_GEN], cli[MAX_GEN], bad[2] = {5, 4096};
  size_t n_prompt = 0, vocab = 0, i;
  const float* logits = NULL;
  float* all = NULL;
  float* first = NULL;
  int n_manual, n_cli;
  dlvk_model_info info;

  EXPECT_OK(dlvk_model_get_info(m, &info));
  CHECK(cp.context_length == 0 && cp.batch_size == 64);
  CHECK(gp.max_tokens == 128 && gp.stop_at_eos == 1 && gp.stop_ids == NULL && gp.stop_id_count == 0);
  CHECK(gp.skip_special == 0 && gp.sampling.top_k == 40);
  CHECK(gp.context_shift == 0 && gp.keep_first == 1 && gp.stop_strings == NULL && gp.stop_string_count == 0);
  EXPECT_OK(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 1, prompt, 64, &n_prompt));
  CHECK(n_prompt >= 9); /* longer than the 8-token context below */

  /* Creation errors. */
  EXPECT_ERR(dlvk_context_create(NULL, NULL, &ctx), DLVK_INVALID_ARGUMENT, "model");
  EXPECT_ERR(dlvk_context_create(m, NULL, NULL), DLVK_INVALID_ARGUMENT, "out_context");
  cp.context_length = 1u << 30; /* a KV cache larger than any binding */
  EXPECT_ERR(dlvk_context_create(m, &cp, &ctx), DLVK_INVALID_ARGUMENT, "context");
  CHECK(ctx == NULL);

  if (EXPECT_OK(dlvk_context_create(m, NULL, &ctx)) != DLVK_OK) return;
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.context_length == 256 && ci.batch_size == 64 && ci.position == 0 && ci.vocab_size == 4096);
  EXPECT_ERR(dlvk_context_get_info(NULL, &ci), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_ERR(dlvk_context_get_info(ctx, NULL), DLVK_INVALID_ARGUMENT, "out_info");
  EXPECT_OK(dlvk_context_memory(ctx, &mi));
  CHECK(mi.weights_bytes == info.weights_bytes);
  CHECK(mi.kv_cache_bytes >= 4u * 2u * 256u * 4u * 32u * 4u); /* layers x (K, V) x ctx x kv heads x d x f32 */
  CHECK(mi.scratch_bytes >= 4096u * 4u);                       /* the logits row at least */
  EXPECT_ERR(dlvk_context_memory(NULL, &mi), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_ERR(dlvk_context_memory(ctx, NULL), DLVK_INVALID_ARGUMENT, "out_info");

  /* Eval and logits. */
  EXPECT_ERR(dlvk_context_logits(ctx, &logits, &vocab), DLVK_INVALID_ARGUMENT, "no logits");
  EXPECT_ERR(dlvk_context_eval(ctx, bad, 2, NULL), DLVK_INVALID_ARGUMENT, "4096");
  bad[1] = -3;
  EXPECT_ERR(dlvk_context_eval(ctx, bad, 2, NULL), DLVK_INVALID_ARGUMENT, "-3");
  EXPECT_ERR(dlvk_context_eval(ctx, prompt, 0, NULL), DLVK_INVALID_ARGUMENT, "no tokens");
  EXPECT_ERR(dlvk_context_eval(ctx, NULL, 3, NULL), DLVK_INVALID_ARGUMENT, "tokens");
  EXPECT_ERR(dlvk_context_eval(NULL, prompt, 3, NULL), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == 0); /* refused before anything ran */

  all = (float*)malloc(n_prompt * 4096 * sizeof *all);
  first = (float*)malloc(4096 * sizeof *first);
  CHECK(all != NULL && first != NULL);
  if (!all || !first) goto done;
  EXPECT_OK(dlvk_context_eval(ctx, prompt, n_prompt, all));
  /* The rest of this test reads the logits: stop here (a reported failure, not a crash) without them. */
  if (EXPECT_OK(dlvk_context_logits(ctx, &logits, &vocab)) != DLVK_OK) goto done;
  CHECK(vocab == 4096);
  if (vocab != 4096) goto done;
  CHECK(memcmp(logits, all + (n_prompt - 1) * 4096, 4096 * sizeof *all) == 0);
  memcpy(first, logits, 4096 * sizeof *first);
  EXPECT_ERR(dlvk_context_logits(NULL, &logits, &vocab), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_ERR(dlvk_context_logits(ctx, NULL, &vocab), DLVK_INVALID_ARGUMENT, "out_logits");
  EXPECT_ERR(dlvk_context_logits(ctx, &logits, NULL), DLVK_INVALID_ARGUMENT, "out_count");
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == n_prompt);

  /* Truncate and re-run the tail: same logits (up to accumulation order of other chunk sizes). */
  EXPECT_OK(dlvk_context_truncate(ctx, 3));
  EXPECT_ERR(dlvk_context_logits(ctx, &logits, &vocab), DLVK_INVALID_ARGUMENT, "no logits");
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == 3);
  EXPECT_OK(dlvk_context_truncate(ctx, 100)); /* beyond the position: no change */
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == 3);
  EXPECT_OK(dlvk_context_eval(ctx, prompt + 3, n_prompt - 3, NULL));
  EXPECT_OK(dlvk_context_logits(ctx, &logits, &vocab));
  {
    float scale = max_abs(first, 4096), worst = 0;
    for (i = 0; i < 4096; ++i) worst = fabsf(logits[i] - first[i]) > worst ? fabsf(logits[i] - first[i]) : worst;
    CHECK(worst <= 1e-4f * scale);
  }
  EXPECT_ERR(dlvk_context_truncate(NULL, 0), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_OK(dlvk_context_reset(ctx));
  EXPECT_ERR(dlvk_context_reset(NULL), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == 0);
  EXPECT_ERR(dlvk_context_logits(ctx, &logits, &vocab), DLVK_INVALID_ARGUMENT, "no logits");

  /* The model loaded from memory computes the same logits, bit for bit, in the same mode (all logits:
     the LM head runs as a matmul over all rows; last-only runs it as a matrix-vector product, whose
     kernel may sum in another order). */
  if (EXPECT_OK(dlvk_context_create(mem_model, NULL, &memctx)) == DLVK_OK) {
    EXPECT_OK(dlvk_context_eval(memctx, prompt, n_prompt, all));
    EXPECT_OK(dlvk_context_logits(memctx, &logits, &vocab));
    CHECK(vocab == 4096 && memcmp(logits, first, 4096 * sizeof *first) == 0);
    EXPECT_OK(dlvk_context_reset(memctx));
  }

  test_sampler(first, 4096);

  /* Generation: the callback sees ids and text; the same loop by hand and `dlvk run` give the same ids. */
  gp.max_tokens = 24;
  gp.sampling.seed = 7;
  gp.sampling.repeat_penalty = 1.1f;
  reset_log(&g);
  EXPECT_OK(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g, &res));
  CHECK(res.prompt_tokens == n_prompt);
  CHECK(res.generated_tokens == (uint32_t)g.n && g.n >= 1);
  CHECK(res.stop == DLVK_STOP_MAX_TOKENS || res.stop == DLVK_STOP_EOS);
  CHECK(res.prompt_ms >= 0 && res.generate_ms >= 0);
  CHECK(g.null_pieces == 0);
  {
    char text[4096];
    size_t len = 0;
    EXPECT_OK(dlvk_detokenize(m, g.ids, (size_t)g.n, 0, text, sizeof text, &len));
    CHECK(len == g.text_size && strcmp(text, g.text) == 0);
  }
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == n_prompt + (size_t)g.n - (res.stop == DLVK_STOP_EOS ? 0 : 1));
  EXPECT_ERR(dlvk_context_logits(ctx, &logits, &vocab), DLVK_INVALID_ARGUMENT, "no logits");

  EXPECT_OK(dlvk_context_reset(ctx));
  n_manual = manual_generate(ctx, prompt, n_prompt, &gp, info.eos_token_ids, info.eos_token_count, manual);
  CHECK(n_manual == g.n && memcmp(manual, g.ids, (size_t)g.n * sizeof *manual) == 0);

  n_cli = cli_generate(&gp, cli);
  CHECK(n_cli == g.n);
  CHECK(n_cli == g.n && memcmp(cli, g.ids, (size_t)g.n * sizeof *cli) == 0);
  if (n_cli != g.n || memcmp(cli, g.ids, (size_t)g.n * sizeof *cli) != 0) {
    fprintf(stderr, "C API ids:");
    for (i = 0; i < (size_t)g.n; ++i) fprintf(stderr, " %d", (int)g.ids[i]);
    fprintf(stderr, "\ndlvk run ids:");
    for (i = 0; i < (size_t)(n_cli > 0 ? n_cli : 0); ++i) fprintf(stderr, " %d", (int)cli[i]);
    fprintf(stderr, "\n");
  }

  /* The model without a tokenizer: same ids, NULL pieces. */
  if (memctx) {
    reset_log(&g2);
    EXPECT_OK(dlvk_generate(memctx, prompt, n_prompt, &gp, on_token, &g2, NULL));
    CHECK(g2.n == g.n && memcmp(g2.ids, g.ids, (size_t)g.n * sizeof *g.ids) == 0);
    CHECK(g2.null_pieces == g2.n && g2.tail_calls == 0);
  }

  /* Cancel from the callback after 3 tokens; re-entering the generating context is refused, another
   * context of the same model works from inside the callback. */
  EXPECT_OK(dlvk_context_create(m, NULL, &ctx2));
  EXPECT_OK(dlvk_context_reset(ctx));
  reset_log(&g);
  g.cancel_after = 3;
  g.self = ctx;
  g.other = ctx2;
  g.other_tokens = prompt;
  EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g, &res), DLVK_CANCELLED, "cancelled");
  CHECK(g.n == 3 && res.generated_tokens == 3 && res.stop == DLVK_STOP_CANCELLED);
  CHECK(g.self_eval == DLVK_INVALID_ARGUMENT && g.self_logits == DLVK_INVALID_ARGUMENT);
  CHECK(g.other_eval == DLVK_OK);
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == n_prompt + 2);
  EXPECT_OK(dlvk_context_get_info(ctx2, &ci));
  CHECK(ci.position == 2);

  /* Stops: an extra stop id (the first token of the run above), max_tokens 0, a full context. */
  {
    int32_t stop = g.ids[0];
    EXPECT_OK(dlvk_context_reset(ctx));
    gp.stop_ids = &stop;
    gp.stop_id_count = 1;
    gp.stop_at_eos = 0;
    reset_log(&g);
    EXPECT_OK(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g, &res));
    CHECK(res.stop == DLVK_STOP_EOS && res.generated_tokens == 0 && g.n == 0);
    gp.stop_ids = NULL;
    EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g, &res), DLVK_INVALID_ARGUMENT, "stop_ids");
    gp.stop_id_count = 0;
    gp.stop_at_eos = 1;
  }
  /* Stop strings: the same generation again, ended at a piece of its own text (5 bytes from the
   * middle); the pieces then add up to the text before that string's first occurrence. */
  {
    char full[4096], stop[6];
    const char* stops[2] = {"\x01never", NULL};
    const char* hit;
    size_t half;
    EXPECT_OK(dlvk_context_reset(ctx));
    reset_log(&g);
    EXPECT_OK(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g, &res));
    memcpy(full, g.text, g.text_size + 1);
    half = g.text_size / 2;
    CHECK(g.text_size >= 20);
    memcpy(stop, full + half, 5);
    stop[5] = 0;
    stops[1] = stop;
    hit = strstr(full, stop);
    gp.stop_strings = stops;
    gp.stop_string_count = 2;
    EXPECT_OK(dlvk_context_reset(ctx));
    reset_log(&g2);
    EXPECT_OK(dlvk_generate(ctx, prompt, n_prompt, &gp, on_token, &g2, &res));
    CHECK(res.stop == DLVK_STOP_STRING);
    CHECK(hit != NULL && g2.text_size == (size_t)(hit - full) && memcmp(g2.text, full, g2.text_size) == 0);
    CHECK(g2.n <= g.n && memcmp(g2.ids, g.ids, (size_t)g2.n * sizeof *g.ids) == 0);
    if (g2.text_size != (size_t)(hit - full)) fprintf(stderr, "stop '%s': got '%s' of '%s'\n", stop, g2.text, full);
    /* Bad stop strings; a model without a tokenizer. */
    stops[1] = "";
    EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "stop_strings[1]");
    gp.stop_strings = NULL;
    EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "stop_strings");
    stops[1] = stop;
    gp.stop_strings = stops;
    if (memctx) {
      EXPECT_ERR(dlvk_generate(memctx, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "tokenizer");
    }
    gp.stop_strings = NULL;
    gp.stop_string_count = 0;
  }
  EXPECT_OK(dlvk_context_reset(ctx));
  gp.max_tokens = 0;
  EXPECT_OK(dlvk_generate(ctx, prompt, n_prompt, &gp, NULL, NULL, &res));
  CHECK(res.stop == DLVK_STOP_MAX_TOKENS && res.generated_tokens == 0);
  gp.max_tokens = -1;
  EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "max_tokens");
  gp.max_tokens = 24;
  gp.sampling.repeat_penalty = -1;
  EXPECT_ERR(dlvk_generate(ctx, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "repeat_penalty");
  gp.sampling.repeat_penalty = 1.1f;
  EXPECT_ERR(dlvk_generate(NULL, prompt, n_prompt, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_ERR(dlvk_generate(ctx, NULL, 3, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "prompt");
  EXPECT_ERR(dlvk_generate(ctx, prompt, 0, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "no tokens");
  bad[1] = 4096;
  EXPECT_ERR(dlvk_generate(ctx, bad, 2, &gp, NULL, NULL, &res), DLVK_INVALID_ARGUMENT, "out of range");

  cp = dlvk_context_params_default();
  cp.context_length = 8;
  cp.batch_size = 0; /* the default */
  if (EXPECT_OK(dlvk_context_create(m, &cp, &small)) == DLVK_OK) {
    EXPECT_OK(dlvk_context_get_info(small, &ci));
    CHECK(ci.context_length == 8 && ci.batch_size == 8);
    /* A prompt longer than the context is refused before anything runs. */
    EXPECT_ERR(dlvk_context_eval(small, prompt, 9, NULL), DLVK_CONTEXT_FULL, "context");
    EXPECT_ERR(dlvk_generate(small, prompt, 9, &gp, NULL, NULL, &res), DLVK_CONTEXT_FULL, "context");
    EXPECT_OK(dlvk_context_get_info(small, &ci));
    CHECK(ci.position == 0);
    /* Generation stops (without error) when the context fills: NULL params are the defaults. */
    reset_log(&g);
    EXPECT_OK(dlvk_generate(small, prompt, 5, NULL, on_token, &g, &res));
    CHECK(res.stop == DLVK_STOP_CONTEXT_FULL || res.stop == DLVK_STOP_EOS);
    if (res.stop == DLVK_STOP_CONTEXT_FULL) CHECK(g.n == 4);
    if (res.stop == DLVK_STOP_CONTEXT_FULL) {
      EXPECT_ERR(dlvk_context_eval(small, prompt, 1, NULL), DLVK_CONTEXT_FULL, "context");
    }
    CHECK(res.context_shifts == 0);
    /* With context_shift, generation goes on past the 8-token context (the first token and the last
     * 3 run again each time it fills), giving the ids `dlvk run --ctx 8` prints (it shifts by default). */
    CHECK(gp.context_shift == 0 && gp.keep_first == 1);
    {
      dlvk_generate_params sp = dlvk_generate_params_default();
      char cmd[8192], output[8192], want[4096], got[4096];
      size_t k, at = 0;
      sp.max_tokens = 20;
      sp.sampling.temperature = 0;
      sp.context_shift = 1;
      EXPECT_OK(dlvk_context_reset(small));
      reset_log(&g);
      EXPECT_OK(dlvk_generate(small, prompt, 5, &sp, on_token, &g, &res));
      CHECK(res.stop == DLVK_STOP_MAX_TOKENS || res.stop == DLVK_STOP_EOS);
      if (res.stop == DLVK_STOP_MAX_TOKENS) CHECK(g.n == 20 && res.context_shifts >= 4);
      CHECK(res.generated_tokens == (uint32_t)g.n);
      snprintf(cmd, sizeof cmd, "'%s' run --model '%s' --ids %d,%d,%d,%d,%d -n 20 --ctx 8 --temp 0 --print-ids -q",
               getenv("DLVK_BIN") ? getenv("DLVK_BIN") : "dlvk", model_dir, prompt[0], prompt[1], prompt[2],
               prompt[3], prompt[4]);
      CHECK(run_command(cmd, output, sizeof output) == 0);
      for (k = 0; k < sizeof want && output[k] && output[k] != '\n'; ++k) want[k] = output[k];
      want[k < sizeof want ? k : sizeof want - 1] = 0;
      got[0] = 0;
      for (k = 0; k < (size_t)g.n; ++k)
        at += (size_t)snprintf(got + at, sizeof got - at, k ? ",%d" : "%d", (int)g.ids[k]);
      if (strcmp(got, want) != 0) fprintf(stderr, "context shift: C API %s, dlvk run %s\n", got, want);
      CHECK(strcmp(got, want) == 0);
    }
  }

  /* Freeing the model first: its contexts keep it alive. */
  dlvk_model_free(mem_model);
  if (memctx) {
    EXPECT_OK(dlvk_context_eval(memctx, prompt, 2, NULL));
  }

done:
  free(all);
  free(first);
  dlvk_context_free(small);
  dlvk_context_free(ctx2);
  dlvk_context_free(ctx);
  dlvk_context_free(memctx); /* the last reference to mem_model */
  dlvk_context_free(NULL);
}

/* ---------------------------------------------------------------------------------------------- */
/* Perplexity: one window against -log softmax of dlvk_context_eval's logits, computed here; several
 * windows against `dlvk perplexity --json` (whose windows the model tests check against the NumPy
 * reference); a base context of the same weights (loaded from memory) gives KL 0 and full agreement. */

static double json_number(const char* json, const char* key) {
  char pattern[64];
  const char* at;
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  at = strstr(json, pattern);
  return at ? strtod(at + strlen(pattern), NULL) : NAN;
}

static void test_perplexity(dlvk_model* m, dlvk_model* mem) {
  static const char* text = "In the beginning God created the heaven and the earth. And the earth was without form, "
                            "and void; and darkness was upon the face of the deep.";
  dlvk_context *ctx = NULL, *base = NULL;
  dlvk_context_params cp = dlvk_context_params_default();
  dlvk_perplexity_params pp = dlvk_perplexity_params_default();
  dlvk_perplexity_result r;
  dlvk_context_info ci;
  dlvk_model_info mi;
  int32_t ids[256], seq[257];
  size_t n = 0, k, v;
  float* logits = NULL;
  const float* last;
  size_t last_n;
  double manual = 0;

  CHECK(pp.window == 0 && pp.stride == 0 && pp.bos_token_id == -1 && pp.max_windows == 0);
  EXPECT_OK(dlvk_model_get_info(m, &mi));
  EXPECT_OK(dlvk_tokenize(m, text, DLVK_NUL_TERMINATED, 0, ids, 256, &n));
  CHECK(n >= 30 && n < 200);
  cp.context_length = 64;
  if (EXPECT_OK(dlvk_context_create(m, &cp, &ctx)) != DLVK_OK || EXPECT_OK(dlvk_context_create(mem, &cp, &base)) != DLVK_OK)
    goto done;

  /* One window: [bos] + the first 40 ids, every id scored. */
  CHECK(mi.bos_token_id >= 0);
  seq[0] = mi.bos_token_id;
  for (k = 0; k < 40; ++k) seq[k + 1] = ids[k];
  logits = (float*)malloc(sizeof(float) * 41 * (size_t)mi.vocab_size);
  if (!logits || EXPECT_OK(dlvk_context_eval(ctx, seq, 41, logits)) != DLVK_OK) goto done;
  for (k = 0; k < 40; ++k) {
    const float* row = logits + k * (size_t)mi.vocab_size;
    double mx = row[0], sum = 0;
    for (v = 1; v < (size_t)mi.vocab_size; ++v) mx = row[v] > mx ? row[v] : mx;
    for (v = 0; v < (size_t)mi.vocab_size; ++v) sum += exp((double)row[v] - mx);
    manual += mx + log(sum) - row[seq[k + 1]];
  }
  EXPECT_OK(dlvk_context_logits(ctx, &last, &last_n));
  pp.window = 41;
  EXPECT_OK(dlvk_perplexity(ctx, ids, 40, &pp, NULL, &r));
  CHECK(r.tokens == 40 && r.windows == 1 && r.window == 41 && !r.compared);
  CHECK(fabs(r.nll_sum - manual) <= 1e-6 * fabs(manual));
  CHECK(fabs(r.mean_nll - manual / 40) <= 1e-6 * manual && fabs(r.perplexity - exp(r.mean_nll)) <= 1e-9 * r.perplexity);
  if (fabs(r.nll_sum - manual) > 1e-6 * fabs(manual)) fprintf(stderr, "perplexity: %.9g vs eval %.9g\n", r.nll_sum, manual);
  /* The context holds the window but its last id (only a target); the earlier eval's logits are gone. */
  EXPECT_OK(dlvk_context_get_info(ctx, &ci));
  CHECK(ci.position == 40);
  EXPECT_ERR(dlvk_context_logits(ctx, &last, &last_n), DLVK_INVALID_ARGUMENT, NULL);

  /* Several windows (16 tokens, stride 5) against the dlvk program, and a base of the same weights. */
  pp.window = 16;
  pp.stride = 5;
  EXPECT_OK(dlvk_perplexity(ctx, ids, n, &pp, base, &r));
  CHECK(r.windows >= 5 && r.tokens == n && r.window == 16 && r.stride == 5 && r.compared);
  /* (0 exactly with the same kernels; DLVK_PROFILE may give the directory's model other ones) */
  CHECK(r.kl_mean <= 1e-9 && r.kl_max <= 1e-7 && r.top1_agreement == 1);
  CHECK(fabs(r.base_perplexity - r.perplexity) <= 1e-6 * r.perplexity);
  {
    char cmd[8192], out[8192];
    size_t at;
    at = (size_t)snprintf(cmd, sizeof cmd, "'%s' perplexity --model '%s' --ctx 16 --stride 5 --json --ids ",
                          getenv("DLVK_BIN") ? getenv("DLVK_BIN") : "dlvk", model_dir);
    for (k = 0; k < n && at < sizeof cmd - 16; ++k) at += (size_t)snprintf(cmd + at, sizeof cmd - at, k ? ",%d" : "%d", (int)ids[k]);
    CHECK(run_command(cmd, out, sizeof out) == 0);
    CHECK(json_number(out, "tokens") == (double)r.tokens && json_number(out, "windows") == (double)r.windows);
    CHECK(fabs(json_number(out, "mean_nll") - r.mean_nll) <= 1e-9 * r.mean_nll);
    if (!(fabs(json_number(out, "mean_nll") - r.mean_nll) <= 1e-9 * r.mean_nll))
      fprintf(stderr, "perplexity: C API mean NLL %.12g, dlvk perplexity: %s\n", r.mean_nll, out);
  }
  /* No bos: ids[0] is context only. max_windows stops early. */
  pp.bos_token_id = -2;
  EXPECT_OK(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r));
  CHECK(r.tokens == n - 1 && !r.compared);
  pp.bos_token_id = -1;
  pp.max_windows = 2;
  EXPECT_OK(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r));
  CHECK(r.windows == 2 && r.tokens == 15 + 5);

  /* Errors: one line each, before anything runs. */
  pp = dlvk_perplexity_params_default();
  EXPECT_ERR(dlvk_perplexity(NULL, ids, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_ERR(dlvk_perplexity(ctx, NULL, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "ids");
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, NULL, NULL), DLVK_INVALID_ARGUMENT, "out_result");
  EXPECT_ERR(dlvk_perplexity(ctx, ids, 0, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "nothing to score");
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, ctx, &r), DLVK_INVALID_ARGUMENT, "base");
  for (k = 0; k < 100; ++k) seq[k] = ids[k % n];
  pp.window = 65; /* 100 ids: the window does not fit the 64-token context (a sequence shorter than it would) */
  EXPECT_ERR(dlvk_perplexity(ctx, seq, 100, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "context");
  EXPECT_OK(dlvk_perplexity(ctx, seq, 60, &pp, NULL, &r));
  pp.window = 16;
  pp.stride = 15;
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "stride");
  pp.stride = 0;
  pp.bos_token_id = -3;
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "bos_token_id");
  pp.bos_token_id = (int32_t)mi.vocab_size;
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "bos");
  pp.bos_token_id = -1;
  ids[3] = (int32_t)mi.vocab_size;
  EXPECT_ERR(dlvk_perplexity(ctx, ids, n, &pp, NULL, &r), DLVK_INVALID_ARGUMENT, "out of range");

done:
  free(logits);
  dlvk_context_free(base);
  dlvk_context_free(ctx);
}

/* ---------------------------------------------------------------------------------------------- */
/* Threads: two contexts of one model generating at once (their GPU work is serialized per model)
 * give the same ids as one after the other; dlvk_last_error() is per thread. */

struct thread_job {
  dlvk_context* ctx;
  const int32_t* prompt;
  size_t n_prompt;
  const dlvk_generate_params* params;
  struct gen_log log;
  dlvk_status status;
  int error_was_empty;
};

static void* generate_thread(void* arg) {
  struct thread_job* j = (struct thread_job*)arg;
  reset_log(&j->log);
  j->status = dlvk_context_reset(j->ctx);
  if (j->status == DLVK_OK) j->status = dlvk_generate(j->ctx, j->prompt, j->n_prompt, j->params, on_token, &j->log, NULL);
  j->error_was_empty = dlvk_last_error()[0] == '\0';
  return NULL;
}

static void test_threads(dlvk_model* m) {
  dlvk_context* ctx[2] = {NULL, NULL};
  struct thread_job jobs[2];
  pthread_t threads[2];
  dlvk_generate_params gp = dlvk_generate_params_default();
  struct gen_log ref;
  int32_t prompt[64];
  size_t n_prompt = 0;
  int k, started[2] = {0, 0};

  EXPECT_OK(dlvk_tokenize(m, kPrompt, DLVK_NUL_TERMINATED, 1, prompt, 64, &n_prompt));
  gp.max_tokens = 12;
  gp.sampling.seed = 11;
  for (k = 0; k < 2; ++k)
    if (EXPECT_OK(dlvk_context_create(m, NULL, &ctx[k])) != DLVK_OK) goto done;
  reset_log(&ref);
  EXPECT_OK(dlvk_generate(ctx[0], prompt, n_prompt, &gp, on_token, &ref, NULL));

  EXPECT_ERR(dlvk_context_eval(NULL, prompt, 1, NULL), DLVK_INVALID_ARGUMENT, "context"); /* this thread's error */
  for (k = 0; k < 2; ++k) {
    jobs[k].ctx = ctx[k];
    jobs[k].prompt = prompt;
    jobs[k].n_prompt = n_prompt;
    jobs[k].params = &gp;
    started[k] = pthread_create(&threads[k], NULL, generate_thread, &jobs[k]) == 0;
    CHECK(started[k]);
  }
  for (k = 0; k < 2; ++k) {
    if (!started[k]) continue;
    pthread_join(threads[k], NULL);
    CHECK(jobs[k].status == DLVK_OK && jobs[k].error_was_empty);
    CHECK(jobs[k].log.n == ref.n && memcmp(jobs[k].log.ids, ref.ids, (size_t)ref.n * sizeof *ref.ids) == 0);
    CHECK(strcmp(jobs[k].log.text, ref.text) == 0);
  }
  CHECK(strstr(dlvk_last_error(), "dlvk_context_eval") != NULL); /* untouched by the other threads */

done:
  dlvk_context_free(ctx[0]);
  dlvk_context_free(ctx[1]);
}

/* ---------------------------------------------------------------------------------------------- */

static void sharded_mode(const char* dir) {
  char path[4200];
  glob_t g;
  struct files shards[8];
  dlvk_buffer bufs[8];
  struct files cfg;
  dlvk_model_source s;
  dlvk_model *from_dir = NULL, *from_mem = NULL;
  dlvk_context *a = NULL, *b = NULL;
  dlvk_model_info info;
  int32_t ids[10];
  float *la = NULL, *lb = NULL;
  size_t n = 0, k;
  uint64_t messages = 1;

  snprintf(path, sizeof path, "%s/config.json", dir);
  cfg.config = read_file(path, &cfg.config_size);
  snprintf(path, sizeof path, "%s/model-*.safetensors", dir);
  if (glob(path, 0, NULL, &g) == 0) n = g.gl_pathc < 8 ? g.gl_pathc : 8;
  CHECK(cfg.config != NULL && n >= 2);
  for (k = 0; k < n; ++k) { /* reversed: the order of the buffers does not matter */
    shards[k].weights = read_file(g.gl_pathv[n - 1 - k], &shards[k].weights_size);
    CHECK(shards[k].weights != NULL);
    bufs[k].data = shards[k].weights;
    bufs[k].size = shards[k].weights_size;
  }
  if (n) globfree(&g);
  memset(&s, 0, sizeof s);
  s.config_json = cfg.config;
  s.config_json_size = cfg.config_size;
  s.safetensors = bufs;
  s.safetensors_count = n - 1; /* a shard missing: a tensor is missing */
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &from_mem), DLVK_BAD_MODEL, "memory:");
  s.safetensors_count = n;
  EXPECT_OK(dlvk_model_load_from_memory(&s, NULL, &from_mem));
  EXPECT_OK(dlvk_model_load(dir, NULL, &from_dir));
  if (from_mem && from_dir && EXPECT_OK(dlvk_model_get_info(from_mem, &info)) == DLVK_OK &&
      EXPECT_OK(dlvk_context_create(from_mem, NULL, &a)) == DLVK_OK &&
      EXPECT_OK(dlvk_context_create(from_dir, NULL, &b)) == DLVK_OK) {
    for (k = 0; k < 10; ++k) ids[k] = (int32_t)((k * 37 + 1) % (size_t)info.vocab_size);
    la = (float*)malloc(10 * (size_t)info.vocab_size * sizeof *la);
    lb = (float*)malloc(10 * (size_t)info.vocab_size * sizeof *lb);
    CHECK(la && lb);
    if (la && lb) {
      EXPECT_OK(dlvk_context_eval(a, ids, 10, la));
      EXPECT_OK(dlvk_context_eval(b, ids, 10, lb));
      CHECK(memcmp(la, lb, 10 * (size_t)info.vocab_size * sizeof *la) == 0);
      CHECK(max_abs(la, 10 * (size_t)info.vocab_size) > 0);
    }
    EXPECT_OK(dlvk_model_validation_messages(from_mem, &messages));
    CHECK(messages == 0);
    EXPECT_OK(dlvk_model_validation_messages(from_dir, &messages));
    CHECK(messages == 0);
  }
  free(la);
  free(lb);
  dlvk_context_free(a);
  dlvk_context_free(b);
  dlvk_model_free(from_mem);
  dlvk_model_free(from_dir);
  for (k = 0; k < n; ++k) free(shards[k].weights);
  free(cfg.config);
}

static int no_device_mode(const char* example, const struct files* f) {
  dlvk_device_list* list = NULL;
  dlvk_model* m = NULL;
  dlvk_model_source s = source_of(f);
  char cmd[8192], output[8192];
  int rc;
  EXPECT_ERR(dlvk_device_list_create(NULL, &list), DLVK_NO_DEVICE, "Vulkan");
  EXPECT_ERR(dlvk_model_load(model_dir, NULL, &m), DLVK_NO_DEVICE, "Vulkan");
  EXPECT_ERR(dlvk_model_load_from_memory(&s, NULL, &m), DLVK_NO_DEVICE, "Vulkan");
  CHECK(list == NULL && m == NULL);
  /* Input errors still come first, and are not masked by the missing device. */
  EXPECT_ERR(dlvk_model_load("/nonexistent/model/dir", NULL, &m), DLVK_IO_ERROR, "/nonexistent");
  snprintf(cmd, sizeof cmd, "'%s' '%s' 2>&1", example, model_dir);
  rc = run_command(cmd, output, sizeof output);
  CHECK(rc == 1);
  CHECK(strstr(output, "dlvk-c-example: error: listing devices:") != NULL);
  CHECK(strstr(output, "(no Vulkan device)") != NULL);
  if (rc != 1 || !strstr(output, "(no Vulkan device)")) fprintf(stderr, "example exit %d, output:\n%s\n", rc, output);
  return 0;
}

int main(int argc, char** argv) {
  const char* src = getenv("DLVK_SOURCE_DIR");
  struct files f;
  char path[4200];
  dlvk_model *m = NULL, *mem = NULL;
  dlvk_model_options o = dlvk_model_options_default();
  dlvk_model_source s;
  struct progress_state prog;
  uint64_t messages = 0;
  dlvk_device_info d0;
  dlvk_device_list* list = NULL;

  if (!src) {
    fprintf(stderr, "DLVK_SOURCE_DIR is not set (run through ctest)\n");
    return 2;
  }
  snprintf(model_dir, sizeof model_dir, "%s/models/default", src);
  snprintf(path, sizeof path, "%s/config.json", model_dir);
  f.config = read_file(path, &f.config_size);
  snprintf(path, sizeof path, "%s/generation_config.json", model_dir);
  f.gen_config = read_file(path, &f.gen_config_size);
  snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
  f.weights = read_file(path, &f.weights_size);
  snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
  f.tokenizer = read_file(path, &f.tokenizer_size);
  if (!f.config || !f.gen_config || !f.weights || !f.tokenizer) {
    fprintf(stderr, "cannot read %s\n", model_dir);
    return 2;
  }

  if (argc == 3 && strcmp(argv[1], "no-device") == 0) {
    no_device_mode(argv[2], &f);
  } else if (argc == 3 && strcmp(argv[1], "sharded") == 0) {
    sharded_mode(argv[2]);
  } else {
    test_version_and_status();
    test_devices();
    test_load_errors(&f);

    /* The directory, with a progress callback that lets it finish. */
    memset(&prog, 0, sizeof prog);
    o.progress = on_progress;
    o.progress_user_data = &prog;
    EXPECT_OK(dlvk_model_load(model_dir, &o, &m));
    CHECK(prog.calls >= 2 && prog.first_done == 0 && prog.last_done == prog.total);
    /* The same files from memory, without the tokenizer, on the first device picked by name. */
    o = dlvk_model_options_default();
    if (EXPECT_OK(dlvk_device_list_create(NULL, &list)) == DLVK_OK &&
        EXPECT_OK(dlvk_device_list_get(list, 0, &d0)) == DLVK_OK && d0.usable)
      o.device_name = d0.name;
    o.profile = "native";
    o.pipeline_cache_dir = "-";
    s = source_of(&f);
    s.config_json_size = DLVK_NUL_TERMINATED;
    s.tokenizer_json = NULL;
    EXPECT_OK(dlvk_model_load_from_memory(&s, &o, &mem));
    dlvk_device_list_free(list);
    if (m && mem) {
      dlvk_model_info mi;
      EXPECT_OK(dlvk_model_get_info(mem, &mi));
      CHECK(!mi.has_tokenizer && mi.tokenizer_vocab_size == 0 && mi.eos_token_count >= 1);
      test_model_info(m);
      test_text(m, mem);
      EXPECT_OK(dlvk_model_validation_messages(mem, &messages));
      CHECK(messages == 0);
      test_threads(m);
      test_perplexity(m, mem);
      test_contexts(m, mem); /* frees mem */
      EXPECT_OK(dlvk_model_validation_messages(m, &messages));
      CHECK(messages == 0);
    } else {
      dlvk_model_free(mem);
    }
    dlvk_model_free(m);
  }
  free(f.config);
  free(f.gen_config);
  free(f.weights);
  free(f.tokenizer);
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
