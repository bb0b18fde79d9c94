/* dlvk.h: the C API of dlvk, DiffLlama inference on Vulkan compute (C99, usable from C++).
 *
 * Errors
 *   Every function that can fail returns a dlvk_status (DLVK_OK = 0). On failure, dlvk_last_error()
 *   gives a one-line message with context (the function, the file or tensor, the limit); on success it
 *   is reset to "". Output arguments are written only on success unless a function says otherwise.
 *   No C++ exception crosses this API. The few functions that cannot fail (version, names, defaults,
 *   last error, the *_free functions) return their value directly.
 *
 * Ownership
 *   Objects are opaque handles created by *_create / *_load functions and released by the matching
 *   *_free function; every *_free accepts NULL. A context, a stream decoder and the pointers a model
 *   hands out keep what they need alive: a model may be freed while its contexts and stream decoders
 *   still exist (it is destroyed with the last of them). Input buffers (text, ids, model bytes) are
 *   only read during the call; the caller keeps ownership. Strings returned as `const char*` are
 *   NUL-terminated UTF-8 owned by the library; each function says how long they stay valid.
 *
 * Threads
 *   - dlvk_last_error() is per thread.
 *   - Models may be loaded and devices listed from several threads (Vulkan instance creation is
 *     serialized internally).
 *   - A model is immutable after loading: dlvk_model_get_info, tokenization and
 *     dlvk_stream_decoder_create may be called on one model from several threads at once.
 *   - Each model owns one Vulkan device (instance, logical device, one queue). Calls that use the GPU
 *     (context create/free, eval, generate) take a per-model lock, so different contexts of one model
 *     may be used from different threads: their GPU work is serialized. Contexts of different models
 *     run in parallel.
 *   - A context, a stream decoder and a sampler must be used by one thread at a time.
 *   - Callbacks run on the calling thread. From a generate callback the app may call into other
 *     contexts (the lock is recursive) but not into the context that is generating
 *     (DLVK_INVALID_ARGUMENT: "context is busy"), and must not free it. Callbacks must not throw or
 *     longjmp.
 *
 * Environment (read when a device is opened)
 *   DLVK_DEVICE=I (device index), DLVK_PROFILE=native|minimal|mobile-like, DLVK_VALIDATION=1 (Khronos
 *   validation layer; messages are counted, see dlvk_model_validation_messages), DLVK_CACHE_DIR
 *   (pipeline cache), DLVK_VULKAN_LOADER=PATH (a Vulkan loader library to open instead of
 *   libvulkan.so.1; read once, when Vulkan is first used in the process). The library never links libvulkan: without a loader or a device, loading a model
 *   or listing devices returns DLVK_NO_DEVICE.
 */
#ifndef DLVK_H
#define DLVK_H

#include <stddef.h>
#include <stdint.h>

#define DLVK_VERSION_MAJOR 0
#define DLVK_VERSION_MINOR 3
#define DLVK_VERSION_PATCH 0
/* Before 1.0 a new minor version may change structs: rebuild against its header (0.2 added
 * dlvk_generate_params.context_shift / keep_first / stop_strings and dlvk_generate_result.context_shifts;
 * 0.3 added dlvk_perplexity). */
/* major * 10000 + minor * 100 + patch of this header; dlvk_version_number() gives the library's. */
#define DLVK_VERSION (DLVK_VERSION_MAJOR * 10000 + DLVK_VERSION_MINOR * 100 + DLVK_VERSION_PATCH)
#define DLVK_VERSION_STRING "0.3.0"

#if defined(__GNUC__) || defined(__clang__)
#define DLVK_API __attribute__((visibility("default")))
#else
#define DLVK_API
#endif

/* For text lengths: the text is NUL-terminated. */
#define DLVK_NUL_TERMINATED ((size_t)-1)

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Status, version, errors                                                                        */

/* The same numeric values as dlvk::Status in the C++ API. */
typedef enum dlvk_status {
  DLVK_OK = 0,
  DLVK_INVALID_ARGUMENT = 1, /* bad argument or option, NULL pointer, token id out of range */
  DLVK_IO_ERROR = 2,         /* missing or unreadable file or directory */
  DLVK_BAD_MODEL = 3,        /* config / safetensors / tokenizer content is wrong */
  DLVK_UNSUPPORTED = 4,      /* valid but not implemented (rope type, dtype, tokenizer component) */
  DLVK_NO_DEVICE = 5,        /* no Vulkan loader, no driver or no usable device */
  DLVK_OUT_OF_MEMORY = 6,    /* device memory (or host memory) exhausted */
  DLVK_VULKAN_ERROR = 7,     /* any other Vulkan failure */
  DLVK_CONTEXT_FULL = 8,     /* tokens do not fit the context's KV cache */
  DLVK_CANCELLED = 9,        /* a callback asked to stop */
  DLVK_INTERNAL = 10         /* a bug in dlvk */
} dlvk_status;

/* "0.3.0": the library's version (may differ from DLVK_VERSION_STRING of the header used). */
DLVK_API const char* dlvk_version(void);
/* The library's DLVK_VERSION number. */
DLVK_API int dlvk_version_number(void);
/* A short name for a status ("ok", "invalid argument", ...); "unknown" for other values. */
DLVK_API const char* dlvk_status_name(dlvk_status status);
/* The message of this thread's last failed call ("" after a successful one). Valid until the next
 * dlvk call on this thread. Never NULL. */
DLVK_API const char* dlvk_last_error(void);

/* ---------------------------------------------------------------------------------------------- */
/* Devices                                                                                        */

/* The values of VkPhysicalDeviceType. */
typedef enum dlvk_device_type {
  DLVK_DEVICE_OTHER = 0,
  DLVK_DEVICE_INTEGRATED_GPU = 1,
  DLVK_DEVICE_DISCRETE_GPU = 2,
  DLVK_DEVICE_VIRTUAL_GPU = 3,
  DLVK_DEVICE_CPU = 4
} dlvk_device_type;

/* One Vulkan device and the capabilities dlvk chooses kernel variants from (after the profile the
 * list was made with). Strings are valid while the list lives. */
typedef struct dlvk_device_info {
  uint32_t index;           /* for dlvk_model_options.device_index */
  const char* name;         /* e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" */
  const char* type_name;    /* "discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other" */
  dlvk_device_type type;
  uint32_t vendor_id;       /* PCI vendor id (0x10DE NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x10005 Mesa) */
  const char* vendor_name;  /* "NVIDIA", "AMD", "Intel", "Apple", "ARM", "Qualcomm", "Mesa", ... or "unknown" */
  uint32_t device_id;
  const char* driver_name;  /* "" when the driver does not report it */
  const char* driver_info;
  uint32_t api_version;     /* Vulkan encoding: major << 22 | minor << 12 | patch */
  int usable;               /* Vulkan >= 1.1 and a compute queue: a model can be loaded on it */
  int selected;             /* the device a model load picks by default (DLVK_DEVICE or the best) */
  const char* profile;      /* the capability profile applied ("native", "minimal", "mobile-like") */

  uint64_t device_local_memory;  /* bytes in device-local heaps */
  uint64_t host_memory;          /* bytes in the other heaps */
  int unified_memory;            /* device-local memory is host-visible (integrated GPU, CPU) */

  uint32_t subgroup_size;
  int subgroup_basic;       /* subgroup barrier/elect in compute shaders */
  int subgroup_arithmetic;  /* subgroupAdd/Max in compute shaders */
  int shader_float16;       /* float16 arithmetic */
  int shader_int8;
  int storage_16bit;        /* 16-bit types in storage buffers */
  int integer_dot_product;
  uint32_t max_shared_memory;         /* bytes per workgroup */
  uint64_t max_storage_buffer_range;  /* bytes one binding may cover */
  uint64_t max_allocation_size;
  uint32_t max_workgroup_invocations;
  uint32_t max_workgroup_size[3];
  int timestamps;                     /* the compute queue can time dispatches */
} dlvk_device_info;

typedef struct dlvk_device_list dlvk_device_list;

/* Enumerates the Vulkan devices (without the validation layer: this only reads properties).
 * profile: NULL for DLVK_PROFILE or "native"; else "native", "minimal" or "mobile-like" (others:
 * DLVK_INVALID_ARGUMENT). No loader, no driver or no device: DLVK_NO_DEVICE. */
DLVK_API dlvk_status dlvk_device_list_create(const char* profile, dlvk_device_list** out_list);
DLVK_API dlvk_status dlvk_device_list_count(const dlvk_device_list* list, size_t* out_count);
DLVK_API dlvk_status dlvk_device_list_get(const dlvk_device_list* list, size_t index, dlvk_device_info* out_info);
DLVK_API void dlvk_device_list_free(dlvk_device_list* list);

/* ---------------------------------------------------------------------------------------------- */
/* Models                                                                                         */

typedef struct dlvk_model dlvk_model;

/* Load progress: bytes of weights uploaded so far and in total; first called with done = 0. Return
 * nonzero to cancel the load (it then returns DLVK_CANCELLED and frees what it made). */
typedef int (*dlvk_progress_callback)(uint64_t done_bytes, uint64_t total_bytes, void* user_data);

typedef struct dlvk_model_options {
  int device_index;        /* >= 0: that device; -1 (default): device_name, else DLVK_DEVICE, else the best */
  const char* device_name; /* NULL (default) or "": unused; else the first device whose name contains it */
  const char* profile;     /* NULL (default): DLVK_PROFILE or "native"; "minimal"; "mobile-like" */
  int validation;          /* -1 (default): DLVK_VALIDATION; 0: off; 1: on (the layer must be installed) */
  const char* pipeline_cache_dir; /* NULL (default): $DLVK_CACHE_DIR or ~/.cache/dlvk; "-": no disk cache */
  dlvk_progress_callback progress; /* NULL (default): none */
  void* progress_user_data;
} dlvk_model_options;

DLVK_API dlvk_model_options dlvk_model_options_default(void);

/* Loads a Hugging Face model directory: config.json (+ generation_config.json), model.safetensors or
 * the shards of model.safetensors.index.json, and tokenizer.json when present. Everything is parsed
 * and validated before a device is opened; the weights are uploaded in their stored dtype.
 * options: NULL for the defaults. Errors: DLVK_IO_ERROR (missing directory or file), DLVK_BAD_MODEL,
 * DLVK_UNSUPPORTED, DLVK_NO_DEVICE, DLVK_OUT_OF_MEMORY, DLVK_CANCELLED (progress callback). */
DLVK_API dlvk_status dlvk_model_load(const char* dir, const dlvk_model_options* options, dlvk_model** out_model);

/* A byte buffer. */
typedef struct dlvk_buffer {
  const void* data;
  size_t size;
} dlvk_buffer;

/* A model held in memory. Text lengths may be DLVK_NUL_TERMINATED. The buffers are read during
 * dlvk_model_load_from_memory only (the weights are on the device when it returns). */
typedef struct dlvk_model_source {
  const char* config_json;            /* config.json text (required) */
  size_t config_json_size;
  const char* generation_config_json; /* generation_config.json text, or NULL */
  size_t generation_config_json_size;
  const dlvk_buffer* safetensors;     /* one or more .safetensors files (shards: any order) */
  size_t safetensors_count;
  const char* tokenizer_json;         /* tokenizer.json text, or NULL (then no text functions) */
  size_t tokenizer_json_size;
} dlvk_model_source;

DLVK_API dlvk_status dlvk_model_load_from_memory(const dlvk_model_source* source, const dlvk_model_options* options,
                                                 dlvk_model** out_model);

/* Releases the caller's reference; the model lives on while contexts or stream decoders use it. */
DLVK_API void dlvk_model_free(dlvk_model* model);

/* Pointers are valid while the model lives. */
typedef struct dlvk_model_info {
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_layers;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t max_position_embeddings;
  int32_t bos_token_id;           /* -1: none */
  const int32_t* eos_token_ids;   /* config.json then generation_config.json ids */
  size_t eos_token_count;
  int has_tokenizer;
  int32_t tokenizer_vocab_size;   /* 0 without a tokenizer */
  uint64_t weights_bytes;         /* device memory holding the weights */
  uint32_t device_index;
  const char* device_name;
  const char* profile;            /* capability profile in use */
  int validation;                 /* the Khronos validation layer is on for the model's device */
} dlvk_model_info;

DLVK_API dlvk_status dlvk_model_get_info(const dlvk_model* model, dlvk_model_info* out_info);

/* Debugging: Vulkan validation-layer messages (warnings and errors) seen so far on the model's device;
 * always 0 with validation off. Any message is a bug in dlvk. */
DLVK_API dlvk_status dlvk_model_validation_messages(const dlvk_model* model, uint64_t* out_count);

/* ---------------------------------------------------------------------------------------------- */
/* Text (needs a tokenizer; without one: DLVK_INVALID_ARGUMENT)                                   */

/* Encodes UTF-8 text (Hugging Face encode(text, add_special_tokens)). Writes up to `capacity` ids and
 * sets *out_count to the number of ids of the text. ids may be NULL with capacity 0 to ask for the
 * count (DLVK_OK). A capacity smaller than the count: DLVK_INVALID_ARGUMENT, *out_count set, nothing
 * written. Invalid UTF-8: DLVK_INVALID_ARGUMENT. */
DLVK_API dlvk_status dlvk_tokenize(const dlvk_model* model, const char* text, size_t text_size, int add_special,
                                   int32_t* ids, size_t capacity, size_t* out_count);

/* Decodes ids to UTF-8 text (Hugging Face decode(ids, skip_special_tokens)), NUL-terminated. Sets
 * *out_size to the text's length without the NUL. text may be NULL with capacity 0 to ask for the
 * size; capacity must be at least *out_size + 1, else DLVK_INVALID_ARGUMENT (size set, nothing
 * written). An id the tokenizer does not know: DLVK_INVALID_ARGUMENT. */
DLVK_API dlvk_status dlvk_detokenize(const dlvk_model* model, const int32_t* ids, size_t count, int skip_special,
                                     char* text, size_t capacity, size_t* out_size);

/* Incremental detokenizer: feed ids one at a time, get the new text. The pieces concatenate to
 * dlvk_detokenize of all ids and never end inside a UTF-8 character (text is held back until the
 * character is complete). */
typedef struct dlvk_stream_decoder dlvk_stream_decoder;

DLVK_API dlvk_status dlvk_stream_decoder_create(const dlvk_model* model, int skip_special,
                                                dlvk_stream_decoder** out_decoder);
/* *out_text (NUL-terminated, often "") is valid until the next call on this decoder. An unknown id:
 * DLVK_INVALID_ARGUMENT, the decoder unchanged. */
DLVK_API dlvk_status dlvk_stream_decoder_push(dlvk_stream_decoder* decoder, int32_t id, const char** out_text,
                                              size_t* out_size);
/* Returns the held-back text (an incomplete character comes out as U+FFFD) and resets the decoder. */
DLVK_API dlvk_status dlvk_stream_decoder_flush(dlvk_stream_decoder* decoder, const char** out_text, size_t* out_size);
DLVK_API dlvk_status dlvk_stream_decoder_reset(dlvk_stream_decoder* decoder);
DLVK_API void dlvk_stream_decoder_free(dlvk_stream_decoder* decoder);

/* ---------------------------------------------------------------------------------------------- */
/* Contexts: a KV cache and the recorded GPU work of one sequence                                 */

typedef struct dlvk_context dlvk_context;

typedef struct dlvk_context_params {
  uint32_t context_length; /* KV cache length in tokens; 0 (default): min(max_position_embeddings, 4096) */
  uint32_t batch_size;     /* prompt tokens per GPU submission; 0: the default, 64 */
} dlvk_context_params;

DLVK_API dlvk_context_params dlvk_context_params_default(void);

/* Allocates the KV cache and scratch memory on the model's device. params: NULL for the defaults.
 * A context longer than the device can hold: DLVK_INVALID_ARGUMENT or DLVK_OUT_OF_MEMORY. The batch
 * may be lowered to fit the device's binding limit (see dlvk_context_get_info). */
DLVK_API dlvk_status dlvk_context_create(dlvk_model* model, const dlvk_context_params* params,
                                         dlvk_context** out_context);
DLVK_API void dlvk_context_free(dlvk_context* context);

typedef struct dlvk_context_info {
  uint32_t context_length;
  uint32_t batch_size;
  uint32_t position;  /* tokens in the KV cache */
  int64_t vocab_size; /* floats per logits row */
} dlvk_context_info;

DLVK_API dlvk_status dlvk_context_get_info(const dlvk_context* context, dlvk_context_info* out_info);

typedef struct dlvk_memory_info {
  uint64_t weights_bytes;  /* the model's weights (shared by its contexts) */
  uint64_t kv_cache_bytes; /* this context's KV cache */
  uint64_t scratch_bytes;  /* this context's activations, parameters and logits read-back */
} dlvk_memory_info;

DLVK_API dlvk_status dlvk_context_memory(const dlvk_context* context, dlvk_memory_info* out_info);

/* Runs `count` tokens at positions position .. position + count - 1 and appends them to the KV cache.
 * all_logits: NULL, or room for count * vocab_size floats that receive every token's logits.
 * Ids outside [0, vocab_size), count 0 (DLVK_INVALID_ARGUMENT) and tokens that do not fit
 * (DLVK_CONTEXT_FULL) are refused before anything runs; the context is then unchanged. */
DLVK_API dlvk_status dlvk_context_eval(dlvk_context* context, const int32_t* tokens, size_t count,
                                       float* all_logits);

/* The logits (vocab_size floats) of the last token evaluated. The pointer is into the context's
 * read-back memory: valid until the next eval, generate, reset, truncate or free of this context.
 * Before any eval, and after reset, truncate or generate: DLVK_INVALID_ARGUMENT. */
DLVK_API dlvk_status dlvk_context_logits(const dlvk_context* context, const float** out_logits,
                                         size_t* out_count);

/* Forgets every token (position 0). */
DLVK_API dlvk_status dlvk_context_reset(dlvk_context* context);
/* Forgets the tokens at positions >= n (no change when n >= position). */
DLVK_API dlvk_status dlvk_context_truncate(dlvk_context* context, uint32_t n);

/* ---------------------------------------------------------------------------------------------- */
/* Sampling and generation                                                                        */

/* Order: repeat penalty -> top-k -> softmax(logits / temperature) -> top-p -> min-p -> draw.
 * Deterministic for a seed on every platform. */
typedef struct dlvk_sampling_params {
  float temperature;    /* 0.8; <= 0: greedy (argmax after the penalty, lowest id on ties) */
  int32_t top_k;        /* 40; <= 0 or >= vocabulary: off */
  float top_p;          /* 0.95; >= 1: off */
  float min_p;          /* 0.05; <= 0: off; keeps p >= min_p * p_max */
  float repeat_penalty; /* 1.0 (off); must be > 0 */
  int32_t repeat_last_n; /* 64: recent tokens the penalty looks at; 0: none; -1: all */
  uint64_t seed;        /* 0 */
} dlvk_sampling_params;

DLVK_API dlvk_sampling_params dlvk_sampling_params_default(void);

/* A sampler for custom loops (dlvk_context_eval + dlvk_context_logits + dlvk_sampler_sample); it is
 * what dlvk_generate uses, so the same loop gives the same ids. NaN parameters, repeat_penalty <= 0,
 * repeat_last_n < -1: DLVK_INVALID_ARGUMENT. */
typedef struct dlvk_sampler dlvk_sampler;

DLVK_API dlvk_status dlvk_sampler_create(const dlvk_sampling_params* params, dlvk_sampler** out_sampler);
/* history: the ids so far, oldest first (prompt and generated), for the repeat penalty; may be NULL
 * when history_count is 0. An id in history outside the vocabulary: DLVK_INVALID_ARGUMENT. */
DLVK_API dlvk_status dlvk_sampler_sample(dlvk_sampler* sampler, const float* logits, size_t vocab_size,
                                         const int32_t* history, size_t history_count, int32_t* out_token);
/* Restarts the random stream with a seed. */
DLVK_API dlvk_status dlvk_sampler_reset(dlvk_sampler* sampler, uint64_t seed);
DLVK_API void dlvk_sampler_free(dlvk_sampler* sampler);

/* Called for each generated token. piece: the text the token completes (NUL-terminated, often "" while
 * a character is incomplete; NULL when the model has no tokenizer), valid during the call only. Return
 * nonzero to stop: dlvk_generate then returns DLVK_CANCELLED. When generation ends with text still
 * held back (an incomplete character), the callback is called once more with token -1 and that text
 * (its return value is then ignored). */
typedef int (*dlvk_token_callback)(int32_t token, const char* piece, size_t piece_size, void* user_data);

typedef struct dlvk_generate_params {
  int32_t max_tokens;           /* 128; tokens to generate at most (>= 0) */
  dlvk_sampling_params sampling;
  int stop_at_eos;              /* 1: stop at the model's eos ids (dlvk_model_info.eos_token_ids) */
  const int32_t* stop_ids;      /* more ids that stop generation, or NULL */
  size_t stop_id_count;
  int skip_special;             /* 0: pieces include special tokens' text */
  int context_shift;            /* 0: a full KV cache stops generation (DLVK_STOP_CONTEXT_FULL); 1: the first
                                   keep_first tokens of the cache and the most recent ones, half the context
                                   in all, are evaluated again from position 0 and generation goes on */
  uint32_t keep_first;          /* 1: the first token (usually the bos) stays at position 0 */
  const char* const* stop_strings; /* NUL-terminated texts that end generation (models with a tokenizer),
                                      or NULL: pieces then hold back text that may begin one, and at the
                                      first one the text ends right before it (DLVK_STOP_STRING) */
  size_t stop_string_count;
} dlvk_generate_params;

DLVK_API dlvk_generate_params dlvk_generate_params_default(void);

typedef enum dlvk_stop_reason {
  DLVK_STOP_EOS = 0,          /* a stop id was sampled (it is not passed to the callback) */
  DLVK_STOP_MAX_TOKENS = 1,
  DLVK_STOP_CONTEXT_FULL = 2, /* the KV cache is full */
  DLVK_STOP_CANCELLED = 3,    /* the callback returned nonzero */
  DLVK_STOP_STRING = 4        /* a stop string was generated (the token that completed it was passed to the
                                 callback with the text before the stop string) */
} dlvk_stop_reason;

typedef struct dlvk_generate_result {
  uint32_t prompt_tokens;
  uint32_t generated_tokens; /* tokens passed to the callback */
  double prompt_ms;          /* prompt evaluation */
  double generate_ms;        /* sampling and per-token evaluation */
  dlvk_stop_reason stop;
  uint32_t context_shifts;   /* times the cache was cut to half the context (context_shift) */
} dlvk_generate_result;

/* Evaluates the prompt (count >= 1) at the context's position, then samples up to max_tokens tokens,
 * evaluating each one. After an eos stop the KV cache holds the prompt and every token passed to the
 * callback; after the other stops, all but the last of them (it was not evaluated: feed it first to
 * continue the sequence). dlvk_context_get_info gives the position.
 * Returns DLVK_OK for stops by eos, max_tokens, a full context or a stop string; DLVK_CANCELLED when the callback
 * stopped it. result (may be NULL) is filled in both cases. A prompt that does not fit the context:
 * DLVK_CONTEXT_FULL before anything runs. callback may be NULL. */
DLVK_API dlvk_status dlvk_generate(dlvk_context* context, const int32_t* prompt, size_t prompt_count,
                                   const dlvk_generate_params* params, dlvk_token_callback callback, void* user_data,
                                   dlvk_generate_result* out_result);

/* ---------------------------------------------------------------------------------------------- */
/* Perplexity: how well a model predicts a long text (e.g. to check a quantized model on the device) */

typedef struct dlvk_perplexity_params {
  uint32_t window;      /* tokens per window, the bos included; 0 (default): the context's length */
  uint32_t stride;      /* tokens between window starts; 0 (default): half a window's text tokens */
  int32_t bos_token_id; /* put in front of each window: -1 (default) the model's bos (the tokenizer's, else
                           config.json's; none if neither has one), -2 none, >= 0 this id */
  uint32_t max_windows; /* 0 (default): all */
} dlvk_perplexity_params;

DLVK_API dlvk_perplexity_params dlvk_perplexity_params_default(void);

typedef struct dlvk_perplexity_result {
  uint64_t tokens;        /* ids scored, each exactly once */
  uint32_t windows;       /* windows run */
  uint32_t window, stride;
  double nll_sum;         /* sum of -log p(id | its window's earlier ids), natural log */
  double mean_nll;        /* nats per token; bits per byte of a text: nll_sum / (ln 2 * its bytes) */
  double perplexity;      /* exp(mean_nll) */
  int compared;           /* 1 when a base context ran too; then: */
  double base_perplexity; /* the base's perplexity on the same windows */
  double kl_mean, kl_max; /* KL(base || context) of the next-token distributions, nats per token */
  double top1_agreement;  /* share of tokens where both put the same id first */
} dlvk_perplexity_result;

/* Scores ids[0 .. count) in overlapping windows, each a fresh sequence ([bos] + window - 1 ids) evaluated
 * in `context` from position 0: window 0 scores all its ids, each later window only the ids after those
 * already scored (`dlvk perplexity`, whose figures it reproduces). The context is reset and left holding
 * the last window but its last id (earlier logits are no longer valid). base: NULL, or a context of another model with the same vocabulary (e.g. the
 * same checkpoint loaded without quantization) that runs the same windows, for KL and top-token
 * agreement. A window longer than a context (unless the ids and the bos fit it), stride >= the window's
 * text tokens, nothing to score, ids outside the vocabulary, vocabulary sizes that differ:
 * DLVK_INVALID_ARGUMENT before anything runs. */
DLVK_API dlvk_status dlvk_perplexity(dlvk_context* context, const int32_t* ids, size_t count,
                                     const dlvk_perplexity_params* params, dlvk_context* base,
                                     dlvk_perplexity_result* out_result);

#ifdef __cplusplus
}
#endif

#endif /* DLVK_H */
