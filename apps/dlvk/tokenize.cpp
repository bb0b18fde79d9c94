// dlvk tokenize: encode a file with a tokenizer.json (ids on one line), decode ids, or benchmark.
//   dlvk tokenize --tokenizer PATH/tokenizer.json --file TEXT [--no-special]
//   dlvk tokenize --model DIR --file TEXT
//   dlvk tokenize --tokenizer PATH --ids 1,2,3 --decode [--skip-special]
//   dlvk tokenize --tokenizer PATH --file TEXT --bench [--seconds S]
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "dlvk/error.hpp"
#include "dlvk/tokenizer.hpp"

namespace {

struct Options {
  std::string tokenizer, model, file, ids;
  bool no_special = false, decode = false, skip_special = false, bench = false;
  double seconds = 2.0;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) dlvk::fail(dlvk::Status::io_error, "{}: cannot open text file", path);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) dlvk::fail(dlvk::Status::io_error, "{}: cannot read text file", path);
  return data;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find_first_of(", ", pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    if (!item.empty()) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || v < INT32_MIN || v > INT32_MAX) {
        dlvk::fail(dlvk::Status::invalid_argument, "tokenize: --ids: \"{}\" is not a token id", item);
      }
      ids.push_back(static_cast<int32_t>(v));
    }
    pos = end + 1;
  }
  return ids;
}

// Wall clock and process CPU time (the CPU time is what to compare on a shared, busy machine).
struct Clock {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = cpu_now();
  static double cpu_now() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  }
  double wall_s() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(); }
  double cpu_s() const { return cpu_now() - cpu; }
};

void write_all(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) {
    dlvk::fail(dlvk::Status::io_error, "tokenize: cannot write to standard output");
  }
}

void run(const Options& o) {
  std::string path = o.tokenizer;
  if (path.empty() && !o.model.empty()) path = o.model + "/tokenizer.json";
  if (path.empty()) dlvk::fail(dlvk::Status::invalid_argument, "tokenize: give --tokenizer FILE or --model DIR");

  Clock load_clock;
  dlvk::Tokenizer tok = dlvk::Tokenizer::from_file(path);
  double load_s = load_clock.wall_s(), load_cpu = load_clock.cpu_s();

  if (o.decode) {
    if (!o.file.empty()) dlvk::fail(dlvk::Status::invalid_argument, "tokenize: --decode takes --ids, not --file");
    write_all(tok.decode(parse_ids(o.ids), o.skip_special) + "\n");
    return;
  }
  if (!o.ids.empty()) dlvk::fail(dlvk::Status::invalid_argument, "tokenize: --ids needs --decode");
  if (o.file.empty()) dlvk::fail(dlvk::Status::invalid_argument, "tokenize: give --file TEXT (or --ids ... --decode)");
  std::string text = read_file(o.file);

  if (o.bench) {
    // The first pass starts with an empty word cache; then encode repeatedly for about o.seconds
    // (the steady state of a long-running process).
    Clock first;
    std::vector<int32_t> ids = tok.encode(text, !o.no_special);
    double first_s = first.wall_s(), first_cpu = first.cpu_s();
    int runs = 0;
    Clock steady;
    do {
      ids = tok.encode(text, !o.no_special);
      ++runs;
    } while (steady.wall_s() < o.seconds);
    double steady_s = steady.wall_s(), steady_cpu = steady.cpu_s();
    Clock dec;
    std::string decoded = tok.decode(ids);
    double decode_s = dec.wall_s(), decode_cpu = dec.cpu_s();
    double mb = static_cast<double>(text.size()) / 1e6;
    write_all(fmt::format(
        "tokenizer: {}\n"
        "load: {:.3f} s (cpu {:.3f} s)\n"
        "text: {} bytes, {} ids ({:.2f} bytes/id)\n"
        "encode, first pass: {:.4f} s, {:.2f} MB/s (per cpu second: {:.2f} MB/s)\n"
        "encode, steady ({} runs): {:.4f} s/run, {:.2f} MB/s (per cpu second: {:.2f} MB/s)\n"
        "decode: {:.4f} s, {:.2f} MB/s (per cpu second: {:.2f} MB/s)\n",
        path, load_s, load_cpu, text.size(), ids.size(),
        ids.empty() ? 0.0 : static_cast<double>(text.size()) / static_cast<double>(ids.size()), first_s, mb / first_s,
        mb / first_cpu, runs, steady_s / runs, mb * runs / steady_s, mb * runs / steady_cpu, decode_s,
        static_cast<double>(decoded.size()) / 1e6 / decode_s, static_cast<double>(decoded.size()) / 1e6 / decode_cpu));
    return;
  }

  std::vector<int32_t> ids = tok.encode(text, !o.no_special);
  std::string line;
  line.reserve(ids.size() * 7 + 1);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k) line.push_back(' ');
    line += std::to_string(ids[k]);
  }
  line.push_back('\n');
  write_all(line);
}

dlvk::cli::RegisterCommand reg([](CLI::App& app) {
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand("tokenize", "Encode a text file to token ids, decode ids, or benchmark a tokenizer.json");
  sub->add_option("--tokenizer", opts->tokenizer, "tokenizer.json file (or a directory holding one)");
  sub->add_option("--model", opts->model, "model directory (uses DIR/tokenizer.json)");
  sub->add_option("--file", opts->file, "text file to encode (raw bytes, UTF-8)");
  sub->add_flag("--no-special", opts->no_special, "do not add the post-processor's special tokens (e.g. BOS)");
  sub->add_option("--ids", opts->ids, "token ids to decode, separated by commas");
  sub->add_flag("--decode", opts->decode, "decode --ids and print the text");
  sub->add_flag("--skip-special", opts->skip_special, "with --decode: leave out special tokens");
  sub->add_flag("--bench", opts->bench, "print the load time and the encode/decode throughput of --file");
  sub->add_option("--seconds", opts->seconds, "with --bench: how long to repeat encoding (default 2)");
  sub->callback([opts] { run(*opts); });
});

}  // namespace
